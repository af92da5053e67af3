"""The frame format on its own: round trips, and every malformed or foreign frame rejected."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from harness.sandbox import channel

NONCE = bytes(range(16))
DTYPES = ["float16", "float32", "float64", ">f8", "int8", "uint8", "int16", "uint32", "int64", "uint64", "bool",
          "complex64", "complex128", "longdouble"]


@pytest.fixture
def pipe():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


def reader(read_fd, nonce=NONCE, max_body=1 << 20):
    return channel.FrameReader(read_fd, nonce, max_body, (channel.REPLY, channel.NOTICE))


def send(write_fd, frame_parts):
    channel.write_frame(write_fd, frame_parts, time.monotonic() + 5)


def soon():
    return time.monotonic() + 5


@settings(max_examples=40)
@given(st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_side=4))))
def test_arrays_round_trip_bit_exactly_in_their_dtype(array):
    read_fd, write_fd = os.pipe()
    try:
        os.set_blocking(read_fd, False)
        send(write_fd, channel.encode(channel.REPLY, NONCE, 7, {"status": "ok"}, {"value": array}))
        frame = reader(read_fd).read(7, soon())
    finally:
        os.close(read_fd)
        os.close(write_fd)
    received = frame.arrays["value"]
    assert received.dtype == array.dtype and received.shape == array.shape
    assert received.tobytes() == array.tobytes()
    assert frame.meta == {"status": "ok"}


def test_non_contiguous_and_empty_arrays_arrive_whole(pipe):
    read_fd, write_fd = pipe
    strided = np.arange(24.0).reshape(4, 6)[::2, 1::2]
    empty = np.zeros((0, 3), dtype=np.int32)
    send(write_fd, channel.encode(channel.REPLY, NONCE, 1, {}, {"strided": strided, "empty": empty}))
    frame = reader(read_fd).read(1, soon())
    np.testing.assert_array_equal(frame.arrays["strided"], strided)
    assert frame.arrays["empty"].shape == (0, 3) and frame.arrays["empty"].dtype == np.int32


@pytest.mark.parametrize("nonce, request_id, kind, why", [
    (bytes(16), 3, channel.REPLY, "wrong nonce"),
    (NONCE, 4, channel.REPLY, "request 4"),
    (NONCE, 3, channel.HELLO, "unexpected frame kind"),
])
def test_frames_from_anyone_else_or_for_another_request_are_rejected(pipe, nonce, request_id, kind, why):
    read_fd, write_fd = pipe
    send(write_fd, channel.encode(kind, nonce, request_id, {"status": "ok"}))
    with pytest.raises(channel.ProtocolError, match=why):
        reader(read_fd).read(3, soon())


def test_a_frame_announcing_more_than_the_limit_is_rejected_before_its_body_is_read(pipe):
    read_fd, write_fd = pipe
    send(write_fd, channel.encode(channel.REPLY, NONCE, 1, {}, {"big": np.zeros(1000)}))
    with pytest.raises(channel.ProtocolError, match="limit 4000"):
        reader(read_fd, max_body=4000).read(1, soon())


def test_junk_is_a_protocol_error(pipe):
    read_fd, write_fd = pipe
    os.write(write_fd, b"x" * channel.HEADER.size)
    with pytest.raises(channel.ProtocolError, match="magic"):
        reader(read_fd).read(1, soon())


def _frame_with_meta(meta_bytes: bytes, payload: bytes = b"") -> bytes:
    """A frame whose payload starts where the first array would: at the next 64-byte boundary."""
    body = channel.META_LENGTH.pack(len(meta_bytes)) + meta_bytes
    if payload:
        body += bytes(-len(body) % channel.ALIGNMENT) + payload
    return channel.HEADER.pack(channel.MAGIC, NONCE, 1, channel.REPLY, len(body)) + body


@pytest.mark.parametrize("meta, payload, why", [
    (b'{"arrays": [{"name": "x", "dtype": "|O", "shape": [1]}]}', b"\0" * 8, "unsupported dtype"),
    (b'{"arrays": [{"name": "x", "dtype": "<f8", "shape": [2]}]}', b"\0" * 8, "runs past the end"),
    (b'{"arrays": [{"name": "x", "dtype": "<f8", "shape": [1]}]}', b"\0" * 9, "no array accounts for"),
    (b'{"arrays": [{"name": "x", "dtype": "<f8", "shape": [-1]}]}', b"", "invalid shape"),
    (b'{"arrays": [{"name": "x", "dtype": "<V8", "shape": [1]}]}', b"\0" * 8, "unsupported dtype"),
    (b'{"arrays": []', b"", "not valid JSON"),
    (b'[1, 2]', b"", "not an object"),
])
def test_malformed_bodies_are_rejected(pipe, meta, payload, why):
    read_fd, write_fd = pipe
    os.write(write_fd, _frame_with_meta(meta, payload))
    with pytest.raises(channel.ProtocolError, match=why):
        reader(read_fd).read(1, soon())


def test_a_closed_pipe_and_a_silent_one_are_told_apart(pipe):
    read_fd, write_fd = pipe
    with pytest.raises(channel.ChannelTimeout):
        reader(read_fd).read(1, time.monotonic() + 0.05)
    os.write(write_fd, b"NNSB")                  # half a header, then the writer goes away
    os.close(write_fd)
    with pytest.raises(channel.ChannelClosed):
        reader(read_fd).read(1, soon())


def test_the_reader_adopts_the_first_nonce_when_it_has_none(pipe):
    read_fd, write_fd = pipe
    send(write_fd, channel.encode(channel.HELLO, NONCE, 0, {"config": {}}))
    send(write_fd, channel.encode(channel.REQUEST, bytes(16), 1, {}))
    adopting = channel.FrameReader(read_fd, None, 1 << 20, (channel.HELLO, channel.REQUEST))
    assert adopting.read(0, soon()).meta == {"config": {}}
    assert adopting.nonce == NONCE
    with pytest.raises(channel.ProtocolError, match="wrong nonce"):
        adopting.read(1, soon())


def test_arrays_arrive_cache_line_aligned(pipe):
    """Misaligned arrays run numpy's slow unaligned loops: a submission's timing must not depend on
    how long the frame's metadata happens to be."""
    read_fd, write_fd = pipe
    arrays = {"odd": np.arange(3, dtype=np.int8), "x": np.arange(5.0), "y": np.ones((2, 3), np.float32)}
    for meta in ({}, {"pad": "a"}, {"pad": "abc"}):
        channel.write_frame(write_fd, channel.encode(channel.REPLY, NONCE, 1, meta, arrays))
        frame = reader(read_fd).read(1, soon())
        for name, array in arrays.items():
            np.testing.assert_array_equal(frame.arrays[name], array)
            assert frame.arrays[name].__array_interface__["data"][0] % channel.ALIGNMENT == 0, name


# --- every frame is hostile: decoding ends in arrays within the frame, or a ProtocolError ---------------

def _body(meta: dict, payload: bytes = b"") -> bytes:
    meta_bytes = channel.dumps(meta)
    body = channel.META_LENGTH.pack(len(meta_bytes)) + meta_bytes
    return body + bytes(-len(body) % channel.ALIGNMENT) + payload if payload else body


def _decoded_or_refused(body: bytes) -> None:
    try:
        meta, arrays = channel.decode_body(bytearray(body))
    except channel.ProtocolError:
        return
    assert isinstance(meta, dict) and "arrays" not in meta
    for array in arrays.values():
        assert array.nbytes <= len(body) and array.dtype.str[1:] in channel.WIRE_DTYPES


@pytest.mark.parametrize("shape", [[0, 2 ** 70], [2 ** 70, 0], [0, 2 ** 40, 2 ** 40], [2 ** 62, 2 ** 62], [3, -1],
                                   [1.5], ["1"], [True], None, 7, [1] * 33])
def test_impossible_shapes_are_refused_before_any_allocation(shape):
    with pytest.raises(channel.ProtocolError):
        channel.decode_body(_body({"arrays": [{"name": "out", "dtype": "<f8", "shape": shape}]}, b"\0" * 64))


@pytest.mark.parametrize("dtype", ["|O", "<V8", "<M8[s]", "<m8", "<U4", "|S4", "f8,i4", "float64", "<f3", "",
                                   None, 8, "<<f8"])
def test_only_plain_numeric_dtypes_cross_the_channel(dtype):
    with pytest.raises(channel.ProtocolError):
        channel.decode_body(_body({"arrays": [{"name": "out", "dtype": dtype, "shape": [1]}]}, b"\0" * 64))


_DESCRIPTORS = st.fixed_dictionaries({
    "name": st.one_of(st.text(max_size=8), st.integers(), st.none()),
    "dtype": st.one_of(st.sampled_from(sorted("<>|="[i] + code for i in range(4) for code in channel.WIRE_DTYPES)),
                       st.text(max_size=6)),
    "shape": st.one_of(st.lists(st.one_of(st.integers(-2, 4), st.integers(0, 2 ** 80), st.floats(), st.text()),
                                max_size=5), st.none(), st.integers()),
})


@settings(max_examples=150, deadline=None)
@given(arrays=st.lists(_DESCRIPTORS, max_size=4), payload=st.binary(max_size=256),
       extra=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3))
def test_fuzzed_array_descriptors_never_escape_as_anything_but_protocol_errors(arrays, payload, extra):
    _decoded_or_refused(_body({**extra, "arrays": arrays}, payload))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=512))
def test_fuzzed_bytes_never_escape_as_anything_but_protocol_errors(body):
    _decoded_or_refused(body)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=4), max_leaves=20),
       st.dictionaries(st.text(max_size=4), hnp.arrays(np.float64, 2), max_size=2))
def test_fuzzed_reply_metadata_is_a_result_or_a_protocol_error(meta, arrays):
    from harness.sandbox.reply import parse_result
    for candidate in (meta, {"status": "ok", "values": meta}, {"status": "error", "values": {}, "error": meta}):
        if not isinstance(candidate, dict):
            continue
        try:
            parse_result(candidate, arrays)
        except channel.ProtocolError:
            pass
