"""Frames on the private pipes between the harness and its sandbox child.

Both ends run this module: the parent imports it and its source is sent to
the child, so it imports only the standard library and numpy. Every function
it calls at run time is bound when the module executes, before submission
code runs, so a submission that patches os, json or numpy cannot change how
the child frames its replies.

    frame  = header | meta length (u32) | meta (JSON) | array buffers, each after zero padding
             that starts it at a multiple of 64 bytes from the body's start
    header = b"NNSB" | nonce (16 bytes) | request id (u64) | kind (u8) | body length (u64)

The parent draws a nonce per child and sends it in the first frame (never in
the environment or argv). A frame with another nonce, another request id, an
unknown kind or more bytes than allowed is a ProtocolError. Arrays travel as
raw C-order buffers that the meta describes by dtype string and shape; the
receiver accepts only the dtypes of WIRE_DTYPES, bounds every shape before
anything is allocated, and rebuilds the array with np.frombuffer. Nothing is
unpickled. Whatever bytes arrive, decoding ends in a Frame or a ProtocolError:
the parent treats every frame as hostile (tests/sandbox/test_channel.py fuzzes
the decoder).

The receiver reads a body into a 64-byte aligned buffer, so every array it
rebuilds is cache-line aligned: a misaligned array sends numpy down its
unaligned loops, three times slower for some (np.add.at), which made a
submission's timing depend on the length of the frame's metadata.
"""
from __future__ import annotations

import json.encoder
import json.scanner
import struct
from hmac import compare_digest
from math import prod
from os import readv as _readv, urandom, write as _write
from select import POLLERR, POLLHUP, POLLIN, POLLOUT, poll as _poll
from time import monotonic as _monotonic

import numpy as np

MAGIC = b"NNSB"
NONCE_BYTES = 16
HEADER = struct.Struct(">4s16sQBQ")
META_LENGTH = struct.Struct(">I")
MAX_META_BYTES = 8 << 20
MAX_DIMENSIONS = 32
MAX_ARRAYS = 10_000
MAX_NAME_CHARS = 200
MAX_ARRAY_BYTES = 1 << 40        # also for the non-zero sides of an empty array: numpy refuses far less
HELLO, READY, REQUEST, NOTICE, REPLY = 1, 2, 3, 4, 5
WIRE_DTYPES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "f16",
                         "c8", "c16", "c32"})
BYTE_ORDERS = "<>|="
_CHUNK = 1 << 20
ALIGNMENT = 64

_frombuffer = np.frombuffer
_empty = np.empty
_dtype = np.dtype
_uint8 = np.uint8
# The C encoder and scanner behind json.dumps / json.loads, built now: patching the
# json module's Python layer afterwards does not reach them.
_encode_json = json.encoder.c_make_encoder(None, None, json.encoder.encode_basestring_ascii, None,
                                           ":", ",", False, False, True)
_scan_json = json.scanner.c_make_scanner(json.JSONDecoder())


class ProtocolError(Exception):
    """The bytes on the channel are not a well-formed frame from the expected sender."""


class ChannelClosed(Exception):
    """The other end closed its side of the pipe (the child exited)."""


class ChannelTimeout(Exception):
    """The deadline passed before a whole frame arrived or could be written."""


class Frame:
    __slots__ = ("kind", "request_id", "meta", "arrays", "nbytes")

    def __init__(self, kind: int, request_id: int, meta: dict, arrays: dict, nbytes: int):
        self.kind, self.request_id, self.meta, self.arrays, self.nbytes = kind, request_id, meta, arrays, nbytes


def new_nonce() -> bytes:
    return urandom(NONCE_BYTES)


def dumps(value) -> bytes:
    return "".join(_encode_json(value, 0)).encode("ascii")


def loads(data) -> object:
    try:
        text = bytes(data).decode("ascii")
        value, end = _scan_json(text, 0)
    except (StopIteration, ValueError, RecursionError) as error:        # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"the frame's metadata is not valid JSON ({type(error).__name__})") from None
    if end != len(text):
        raise ProtocolError("the frame's metadata has trailing bytes")
    return value


def encode(kind: int, nonce: bytes, request_id: int, meta: dict, arrays: dict | None = None) -> list:
    """The frame as a list of buffers (array data is not copied). ``arrays`` maps names to ndarrays."""
    descriptors, buffers = [], []
    for name, array in (arrays or {}).items():
        contiguous = array if array.flags.c_contiguous else array.copy(order="C")   # (ascontiguousarray makes 0-d 1-d)
        descriptors.append({"name": name, "dtype": contiguous.dtype.str, "shape": list(contiguous.shape)})
        buffers.append(memoryview(contiguous.reshape(-1).view(_uint8)))
    meta_bytes = dumps({**meta, "arrays": descriptors})
    chunks, offset = [], META_LENGTH.size + len(meta_bytes)
    for buffer in buffers:
        padding = _padding(offset)
        if padding:
            chunks.append(bytes(padding))
        chunks.append(buffer)
        offset += padding + len(buffer)
    header = HEADER.pack(MAGIC, nonce, request_id, kind, offset) + META_LENGTH.pack(len(meta_bytes))
    return [header, meta_bytes, *chunks]


def _padding(offset: int) -> int:
    """Zero bytes that move ``offset`` to the next multiple of ALIGNMENT."""
    return -offset % ALIGNMENT


def write_frame(fd: int, chunks: list, deadline: float | None = None) -> None:
    """Write every chunk; with a deadline the fd must be non-blocking and ChannelTimeout is raised on expiry."""
    poller = _poller(fd, POLLOUT) if deadline is not None else None
    for chunk in chunks:
        view = memoryview(chunk)
        while len(view):
            if poller is not None:
                _wait(poller, deadline)
            try:
                written = _write(fd, view[:_CHUNK])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise ChannelClosed("the other end closed the pipe") from None
            view = view[written:]


class FrameReader:
    """Reads frames from one fd, checking the nonce, the kind, the request id and the sizes.

    Without a nonce the first frame's nonce is adopted (the child learns it from the hello).
    """

    def __init__(self, fd: int, nonce: bytes | None, max_body: int, kinds: tuple[int, ...]):
        self.fd, self.nonce, self.max_body, self.kinds = fd, nonce, max_body, kinds
        self._poller = _poller(fd, POLLIN)

    def read(self, request_id: int | None = None, deadline: float | None = None, max_body: int | None = None) -> Frame:
        header = self._read_exact(HEADER.size, deadline)
        magic, nonce, frame_id, kind, body_length = HEADER.unpack(header)
        if magic != MAGIC:
            raise ProtocolError("a frame did not start with the channel's magic bytes")
        if self.nonce is None:
            self.nonce = nonce
        elif not compare_digest(nonce, self.nonce):
            raise ProtocolError("a frame carried the wrong nonce")
        if kind not in self.kinds:
            raise ProtocolError(f"unexpected frame kind {kind}")
        if request_id is not None and frame_id != request_id:
            raise ProtocolError(f"a frame answered request {frame_id} while request {request_id} was running")
        limit = self.max_body if max_body is None else max_body
        if body_length > limit or body_length < META_LENGTH.size:
            raise ProtocolError(f"a frame announced {body_length} bytes (limit {limit})")
        body = self._read_exact(body_length, deadline)
        meta, arrays = decode_body(body)
        return Frame(kind, frame_id, meta, arrays, HEADER.size + body_length)

    def _read_exact(self, size: int, deadline: float | None) -> memoryview:
        buffer, received = _aligned_buffer(size), 0
        while received < size:
            if deadline is not None:
                _wait(self._poller, deadline)
            try:
                count = _readv(self.fd, [buffer[received:received + _CHUNK]])     # straight into the buffer
            except BlockingIOError:
                continue
            if not count:
                raise ChannelClosed("the pipe was closed")
            received += count
        return buffer


def _aligned_buffer(size: int) -> memoryview:
    """A writable ``size``-byte buffer whose first byte sits at a multiple of ALIGNMENT in memory."""
    raw = _empty(size + ALIGNMENT, _uint8)
    start = _padding(raw.__array_interface__["data"][0])
    return memoryview(raw[start:start + size])


def decode_body(body) -> tuple[dict, dict]:
    """(meta without "arrays", name -> array) from a frame's body; ProtocolError for anything malformed."""
    try:
        return _decode_body(body)
    except ProtocolError:
        raise
    except (ValueError, TypeError, OverflowError, MemoryError, KeyError, AttributeError, RecursionError,
            struct.error) as error:               # a check above missed a case: still the frame's fault
        raise ProtocolError(f"the frame could not be decoded ({type(error).__name__})") from None


def _decode_body(body) -> tuple[dict, dict]:
    if len(body) < META_LENGTH.size:
        raise ProtocolError("the frame is too short for its metadata length")
    (meta_length,) = META_LENGTH.unpack_from(body)
    if meta_length > min(MAX_META_BYTES, len(body) - META_LENGTH.size):
        raise ProtocolError("the frame's metadata length is out of bounds")
    offset = META_LENGTH.size + meta_length
    meta = loads(memoryview(body)[META_LENGTH.size:offset])
    if not isinstance(meta, dict) or not isinstance(meta.get("arrays"), list):
        raise ProtocolError("the frame's metadata is not an object with an array list")
    if len(meta["arrays"]) > MAX_ARRAYS:
        raise ProtocolError(f"the frame describes more than {MAX_ARRAYS} arrays")
    arrays = {}
    for descriptor in meta.pop("arrays"):
        name, dtype, shape = _checked_descriptor(descriptor)
        if name in arrays:
            raise ProtocolError(f"array {name!r} appears twice in one frame")
        count = prod(shape)
        offset += _padding(offset)
        end = offset + count * dtype.itemsize
        if end > len(body):
            raise ProtocolError(f"array {name!r} runs past the end of the frame")
        arrays[name] = _frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)
        offset = end
    if offset != len(body):
        raise ProtocolError("the frame has bytes no array accounts for")
    return meta, arrays


def _checked_descriptor(descriptor) -> tuple:
    if not isinstance(descriptor, dict):
        raise ProtocolError("an array descriptor is not an object")
    name, dtype, shape = descriptor.get("name"), descriptor.get("dtype"), descriptor.get("shape")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _wire_dtype(dtype):
        raise ProtocolError(f"array descriptor {str(descriptor)[:80]} has no name or an unsupported dtype")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMENSIONS
            or not all(type(side) is int and 0 <= side <= MAX_ARRAY_BYTES for side in shape)):
        raise ProtocolError(f"array {name[:80]!r} has an invalid shape")
    dtype = _dtype(dtype)
    if prod(max(side, 1) for side in shape) * dtype.itemsize > MAX_ARRAY_BYTES:
        raise ProtocolError(f"array {name[:80]!r} has a shape too large for any frame")
    return name, dtype, tuple(shape)


def _wire_dtype(text) -> bool:
    """An allowed dtype string: an optional byte order and a code of WIRE_DTYPES ("<f8", "|b1", "u2")."""
    if not isinstance(text, str):
        return False
    if text and text[0] in BYTE_ORDERS:
        text = text[1:]
    return text in WIRE_DTYPES


def _poller(fd: int, events: int):
    poller = _poll()
    poller.register(fd, events | POLLERR | POLLHUP)
    return poller


def _wait(poller, deadline: float) -> None:
    remaining = deadline - _monotonic()
    if remaining <= 0 or not poller.poll(remaining * 1000):
        raise ChannelTimeout("the deadline passed")
