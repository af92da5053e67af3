"""The library surface of the course's old environment, which today's numpy and scipy removed.

Installed in the child before submission code runs (``--no-compat`` leaves it
out); every use is recorded, and the report says what was emulated.

* NumPy names removed in 1.20-2.4 (``np.float``, ``np.mat``, ``np.asfarray``,
  ``np.product``, ``np.bool8``, ``np.in1d``, ``np.trapz`` ...) resolve again
  through numpy's module ``__getattr__`` (``NUMPY_ALIASES``); a name numpy
  still has is left alone.
* ``scipy.misc`` has the SciPy 1.2 image functions on Pillow (imread,
  imresize, imsave, toimage, bytescale, fromimage, imrotate, imfilter) with
  their semantics: ``toimage`` scales any non-uint8 array's [min, max] to
  [0, 255] (``bytescale``), so ``imresize`` returns uint8 whatever it is
  given; ``size`` is (h, w[, c]), a float fraction or an int percentage. It is
  an attribute of ``scipy`` after ``import scipy`` or ``import scipy.io``, as
  SciPy < 1.2 had it, and its removed maths functions (comb, factorial,
  logsumexp ...) are scipy.special's. ``scipy.ndimage.imread`` is imread.
* A library students use (``THIRD_PARTY``: cv2, skimage ...) that the
  submission imports but is not installed here becomes a stand-in module, so
  the module still imports and checks that never use the library are graded;
  the first use raises ModuleNotFoundError naming the library. Plotting and
  progress bars (matplotlib, tqdm) and numba's decorators are emulated as
  no-ops. Any other missing name keeps its ImportError (it may be a file the
  submission forgot), and so do imports guarded by ``try/except ImportError``
  and imports from installed code (numpy probing for an optional library).

This module is sent to the child: standard library and numpy at import time;
Pillow and scipy are imported when a shim needs them.
"""
from __future__ import annotations

import ast
import importlib.machinery
import os
import re
import site
import sys
import types

import numpy as np

_SCIPY_IMAGE_FUNCTIONS_LEFT = "SciPy 1.3.0"
_RESAMPLE = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "cubic": 3}
_MISSING_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_NUMPY_REMOVED = re.compile(r"`np\.(\w+)` was removed")

used: list[str] = []            # the shims used since the child's main thread last drained this


def record(name: str) -> None:
    if name not in used:
        used.append(name)


def drain() -> list[str]:
    names = list(used)
    used.clear()
    return names


# --- numpy ---------------------------------------------------------------------------------------------

def _asfarray(a, dtype=np.float64):
    """np.asfarray (NumPy < 2.0): an array of an inexact type, float64 unless ``dtype`` is inexact."""
    if not np.issubdtype(dtype, np.inexact):
        dtype = np.float64
    return np.asarray(a, dtype=dtype)


def _in1d(ar1, ar2, assume_unique=False, invert=False, **kwargs):
    """np.in1d (NumPy < 2.4): np.isin on the flattened first argument."""
    return np.isin(np.asarray(ar1).ravel(), ar2, assume_unique=assume_unique, invert=invert, **kwargs)


def _find_common_type(array_types, scalar_types):
    """np.find_common_type (NumPy < 2.0): the array types' common type, unless a scalar is of a higher kind."""
    arrays = [np.dtype(item) for item in array_types]
    scalars = [np.dtype(item) for item in scalar_types]
    common_array = np.result_type(*arrays) if arrays else None
    common_scalar = np.result_type(*scalars) if scalars else None
    if common_scalar is None or common_array is None:
        return common_array if common_scalar is None else common_scalar
    kinds = "buifcSUVOMm"
    if kinds.index(common_scalar.kind) > kinds.index(common_array.kind):
        return np.promote_types(common_scalar, common_array)
    return common_array


class _Cast(dict):
    """np.cast (NumPy < 2.0): ``np.cast[dtype](values)`` converts to that dtype."""

    def __missing__(self, key):
        dtype = np.dtype(key)
        return lambda values: np.asarray(values).astype(dtype)


def _issubclass(arg1, arg2):
    try:
        return issubclass(arg1, arg2)
    except TypeError:
        return False


def _deprecate(*args, **kwargs):
    """np.deprecate (NumPy < 2.0), as a decorator or a decorator factory; the function is returned as is."""
    if args and callable(args[0]):
        return args[0]
    return lambda function: function


def _recfromcsv(fname, **kwargs):
    kwargs.setdefault("case_sensitive", "lower")
    kwargs.setdefault("names", True)
    kwargs.setdefault("delimiter", ",")
    kwargs.setdefault("dtype", None)
    return np.genfromtxt(fname, **kwargs).view(np.recarray)


def _recfromtxt(fname, **kwargs):
    kwargs.setdefault("dtype", None)
    return np.genfromtxt(fname, **kwargs).view(np.recarray)


def _set_string_function(f, repr=True):
    """Printing only: how numpy prints arrays never reaches a check, so this keeps numpy's own format."""
    return None


def _loads(data, *args, **kwargs):
    import pickle
    return pickle.loads(data, *args, **kwargs)


def _safe_eval(source):
    return ast.literal_eval(source)


def _math():
    import math
    return math


def _sctypes():
    return {"int": [np.int8, np.int16, np.int32, np.int64], "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
            "float": [np.float16, np.float32, np.float64, np.longdouble],
            "complex": [np.complex64, np.complex128, np.clongdouble], "others": [bool, object, bytes, str, np.void]}


# name -> value, or a function of no arguments giving it (for values that need an import)
NUMPY_ALIASES = {
    # NumPy 1.20-1.24: the aliases of builtins
    "float": float, "int": int, "object": object, "complex": complex, "str": str, "unicode": str, "long": int,
    "bool": bool,
    # NumPy 1.24: the "0"/"8" spellings of scalar types
    "int0": np.intp, "uint0": np.uintp, "bool8": np.bool_, "object0": np.object_, "str0": np.str_,
    "bytes0": np.bytes_, "void0": np.void,
    # NumPy 1.17-1.23
    "asscalar": lambda a: np.asarray(a).item(), "rank": np.ndim, "alen": lambda a: len(np.array(a, ndmin=1)),
    "loads": _loads, "typeDict": np.sctypeDict,
    # NumPy 2.0 (numpy/_expired_attrs_2_0.py and the release notes)
    "float_": np.float64, "complex_": np.complex128, "longfloat": np.longdouble, "singlecomplex": np.complex64,
    "cfloat": np.complex128, "longcomplex": np.clongdouble, "clongfloat": np.clongdouble,
    "string_": np.bytes_, "unicode_": np.str_, "NaN": np.nan, "Inf": np.inf, "Infinity": np.inf,
    "infty": np.inf, "PINF": np.inf, "NINF": -np.inf, "PZERO": 0.0, "NZERO": -0.0,
    "product": np.prod, "cumproduct": np.cumprod, "alltrue": np.all, "sometrue": np.any, "round_": np.round,
    "asfarray": _asfarray, "msort": lambda a: np.sort(a, axis=0), "mat": np.asmatrix, "cast": _Cast(),
    "find_common_type": _find_common_type, "sctype2char": lambda sctype: np.dtype(sctype).char,
    "obj2sctype": lambda rep, default=None: np.dtype(rep).type, "issubclass_": _issubclass,
    "issctype": lambda rep: isinstance(rep, type) and issubclass(rep, np.generic),
    "issubsctype": lambda arg1, arg2: np.issubdtype(arg1, arg2), "sctypes": _sctypes(),
    "maximum_sctype": lambda t: {"i": np.int64, "u": np.uint64, "f": np.longdouble,
                                 "c": np.clongdouble}.get(np.dtype(t).kind, np.dtype(t).type),
    "deprecate": _deprecate, "deprecate_with_doc": lambda message: _deprecate, "safe_eval": _safe_eval,
    "recfromcsv": _recfromcsv, "recfromtxt": _recfromtxt, "set_string_function": _set_string_function,
    "fastCopyAndTranspose": lambda a: np.asarray(a).T.copy(), "nbytes": lambda t: np.dtype(t).itemsize,
    "disp": lambda mesg, device=None, linefeed=True: print(mesg, end="\n" if linefeed else ""),
    "compare_chararrays": lambda *args: np.char.compare_chararrays(*args),
    "format_parser": lambda *args, **kwargs: np.rec.format_parser(*args, **kwargs),
    "byte_bounds": lambda a: np.lib.array_utils.byte_bounds(a), "math": _math,
    # NumPy 2.4
    "in1d": _in1d, "trapz": lambda *args, **kwargs: np.trapezoid(*args, **kwargs),
    "row_stack": np.vstack,
}
_NEEDS_CALL = {"math"}           # values computed when first used

# name -> (release that removed it, what to use instead): the hint given when emulation is off
REMOVED = {
    **{f"numpy.{name}": ("NumPy 1.24", f"the builtin {builtin}")
       for name, builtin in (("float", "float"), ("int", "int"), ("object", "object"), ("complex", "complex"),
                             ("str", "str"), ("unicode", "str"), ("long", "int"), ("bool", "bool"))},
    **{f"numpy.{name}": ("NumPy 1.24", instead)
       for name, instead in (("int0", "np.intp"), ("uint0", "np.uintp"), ("bool8", "np.bool_"),
                             ("object0", "np.object_"), ("str0", "np.str_"), ("bytes0", "np.bytes_"),
                             ("void0", "np.void"))},
    "numpy.asscalar": ("NumPy 1.23", "a.item()"),
    "numpy.alen": ("NumPy 1.23", "len(a)"),
    "numpy.rank": ("NumPy 1.18", "np.ndim(a)"),
    "numpy.loads": ("NumPy 1.17", "pickle.loads"),
    "numpy.typeDict": ("NumPy 1.21", "np.sctypeDict"),
    "numpy.math": ("NumPy 1.25", "the math module"),
    **{f"numpy.{name}": ("NumPy 2.0", replacement)
       for name, replacement in (("float_", "np.float64"), ("complex_", "np.complex128"), ("NaN", "np.nan"),
                                 ("Inf", "np.inf"), ("Infinity", "np.inf"), ("infty", "np.inf"),
                                 ("PINF", "np.inf"), ("NINF", "-np.inf"), ("PZERO", "0.0"), ("NZERO", "-0.0"),
                                 ("product", "np.prod"), ("cumproduct", "np.cumprod"), ("alltrue", "np.all"),
                                 ("sometrue", "np.any"), ("round_", "np.round"), ("asfarray", "np.asarray"),
                                 ("msort", "np.sort(a, axis=0)"), ("mat", "np.asmatrix"),
                                 ("longfloat", "np.longdouble"), ("singlecomplex", "np.complex64"),
                                 ("cfloat", "np.complex128"), ("longcomplex", "np.clongdouble"),
                                 ("clongfloat", "np.clongdouble"), ("string_", "np.bytes_"),
                                 ("unicode_", "np.str_"), ("cast", "np.asarray(a, dtype=dtype)"),
                                 ("find_common_type", "np.result_type"), ("sctype2char", "np.dtype(t).char"),
                                 ("obj2sctype", "np.dtype(t).type"), ("issubclass_", "issubclass"),
                                 ("issctype", "issubclass(t, np.generic)"), ("issubsctype", "np.issubdtype"),
                                 ("sctypes", "explicit dtypes"), ("maximum_sctype", "an explicit dtype"),
                                 ("deprecate", "warnings.warn"), ("deprecate_with_doc", "warnings.warn"),
                                 ("safe_eval", "ast.literal_eval"), ("recfromcsv", "np.genfromtxt"),
                                 ("recfromtxt", "np.genfromtxt"), ("set_string_function", "np.set_printoptions"),
                                 ("fastCopyAndTranspose", "a.T.copy()"), ("nbytes", "np.dtype(t).itemsize"),
                                 ("disp", "print"), ("compare_chararrays", "np.char.compare_chararrays"),
                                 ("format_parser", "np.rec.format_parser"),
                                 ("byte_bounds", "np.lib.array_utils.byte_bounds"))},
    **{f"numpy.{name}": ("NumPy 2.4", instead)
       for name, instead in (("in1d", "np.isin"), ("trapz", "np.trapezoid"), ("row_stack", "np.vstack"))},
    "numpy.random.random_integers": ("NumPy 2.x", "np.random.randint(low, high + 1)"),
    **{f"scipy.misc.{name}": (_SCIPY_IMAGE_FUNCTIONS_LEFT, "Pillow (PIL.Image) or imageio")
       for name in ("imread", "imresize", "imsave", "imfilter", "imrotate", "imshow", "bytescale", "fromimage",
                    "toimage")},
    "scipy.ndimage.imread": ("SciPy 1.2.0", "imageio.imread or PIL.Image"),
    **{f"scipy.misc.{name}": ("SciPy 1.12.0", instead)
       for name, instead in (("derivative", "scipy.differentiate.derivative or a finite difference"),
                             ("central_diff_weights", "a finite-difference formula"),
                             ("face", "scipy.datasets.face"), ("ascent", "scipy.datasets.ascent"),
                             ("electrocardiogram", "scipy.datasets.electrocardiogram"))},
    **{f"scipy.misc.{name}": (_SCIPY_IMAGE_FUNCTIONS_LEFT, f"scipy.special.{name}")
       for name in ("comb", "factorial", "factorial2", "factorialk", "logsumexp")},
}


def removed_api_hint(exc: BaseException) -> str | None:
    """"np.float was removed in NumPy 1.24; use the builtin float" for an AttributeError on a removed name."""
    if not isinstance(exc, AttributeError):
        return None
    key = _missing_attribute(exc)
    if key not in REMOVED:
        return None
    release, instead = REMOVED[key]
    shown = key.replace("numpy.", "np.", 1)
    return f"{shown} was removed in {release}; use {instead} instead"


def _missing_attribute(exc: AttributeError) -> str | None:
    """"numpy.float" from the exception's name and owner, or from numpy's own messages (which set neither)."""
    owner = getattr(getattr(exc, "obj", None), "__name__", None)
    if owner and isinstance(getattr(exc, "name", None), str):
        return f"{owner}.{exc.name}"
    text = str(exc)
    match = _MISSING_ATTRIBUTE.search(text)
    if match:
        return f"{match.group(1)}.{match.group(2)}"
    match = _NUMPY_REMOVED.search(text)
    return f"numpy.{match.group(1)}" if match else None


# --- installation ----------------------------------------------------------------------------------------

def install() -> None:
    """Bring back the removed names and modules; call before submission code runs."""
    original = np.__getattr__

    def __getattr__(name):
        if name in NUMPY_ALIASES:
            record(f"numpy.{name}")
            value = NUMPY_ALIASES[name]
            return value() if name in _NEEDS_CALL else value
        return original(name)
    np.__getattr__ = __getattr__
    np.load = _legacy_load(np.load)
    if not hasattr(np.random, "random_integers"):
        np.random.random_integers = _recorded("numpy.random", _random_integers)
    misc = _scipy_misc()
    sys.meta_path.insert(0, _ShimFinder({"scipy.misc": misc}, {"scipy": _patch_scipy, "scipy.ndimage": _patch_ndimage}))
    sys.meta_path.append(_MissingLibraryFinder())
    for name, patch in (("scipy", _patch_scipy), ("scipy.ndimage", _patch_ndimage)):
        if name in sys.modules:
            patch(sys.modules[name])


def _random_integers(low, high=None, size=None):
    """np.random.random_integers: integers from low to high inclusive (1 to low when high is None)."""
    if high is None:
        low, high = 1, low
    return np.random.randint(low, high + 1, size)


def _patch_scipy(scipy) -> None:
    """``scipy.misc`` an attribute of scipy as soon as scipy is imported, as SciPy < 1.2's scipy.io made it."""
    scipy.misc = importlib.import_module("scipy.misc")


def _patch_ndimage(ndimage) -> None:
    if not hasattr(ndimage, "imread"):
        ndimage.imread = _recorded("scipy.ndimage", imread)


class _ShimFinder:
    """Serves prepared module objects for their dotted names, and runs a patch after some real modules load."""

    def __init__(self, modules: dict, patches: dict):
        self.modules = modules
        self.patches = patches

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.modules:
            return importlib.machinery.ModuleSpec(fullname, self, origin="sandbox compatibility shim")
        if fullname in self.patches:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, self.patches[fullname])
            return spec
        return None

    def create_module(self, spec):
        return self.modules[spec.name]

    def exec_module(self, module):
        pass


class _PatchingLoader:
    """The real loader, then a patch on the loaded module."""

    def __init__(self, loader, patch):
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


# --- scipy.misc ----------------------------------------------------------------------------------------

def _scipy_misc() -> types.ModuleType:
    module = types.ModuleType("scipy.misc", "Compatibility shim: SciPy 1.2's scipy.misc image functions on Pillow.")
    for function in (imread, imresize, imsave, bytescale, toimage, fromimage, imrotate, imfilter, imshow):
        setattr(module, function.__name__, _recorded("scipy.misc", function))

    def __getattr__(name):
        if name in ("comb", "factorial", "factorial2", "factorialk", "logsumexp"):
            special = importlib.import_module("scipy.special")
            record(f"scipy.misc.{name}")
            return getattr(special, name)
        key = f"scipy.misc.{name}"
        if key in REMOVED:
            release, instead = REMOVED[key]
            raise AttributeError(f"{key} was removed in {release} and the grader provides no replacement; "
                                 f"use {instead}")
        raise AttributeError(f"module 'scipy.misc' has no attribute {name!r}")
    module.__getattr__ = __getattr__
    return module


def _recorded(owner: str, function):
    def shim(*args, **kwargs):
        record(f"{owner}.{function.__name__}")
        return function(*args, **kwargs)
    shim.__name__ = shim.__qualname__ = function.__name__
    shim.__doc__ = function.__doc__
    return shim


# The functions below follow scipy/misc/pilutil.py of SciPy 1.2 line by line in behaviour.

def bytescale(data, cmin=None, cmax=None, high=255, low=0):
    """Scale [cmin, cmax] (default: the data's range) to [low, high] as uint8; uint8 input is returned as is."""
    data = np.asarray(data)
    if data.dtype == np.uint8:
        return data
    if high > 255:
        raise ValueError("`high` should be less than or equal to 255.")
    if low < 0:
        raise ValueError("`low` should be greater than or equal to 0.")
    if high < low:
        raise ValueError("`high` should be greater than or equal to `low`.")
    cmin = data.min() if cmin is None else cmin
    cmax = data.max() if cmax is None else cmax
    span = cmax - cmin
    if span < 0:
        raise ValueError("`cmax` should be larger than `cmin`.")
    if span == 0:
        span = 1
    scale = float(high - low) / span
    scaled = (data - cmin) * scale + low
    return (scaled.clip(low, high) + 0.5).astype(np.uint8)


def fromimage(im, flatten=False, mode=None):
    """A PIL image as an array, converting palettes to RGB(A) and 1-bit images to L like the old function."""
    from PIL import Image
    if not isinstance(im, Image.Image):
        raise TypeError("Input is not a PIL image.")
    if mode is not None:
        if mode != im.mode:
            im = im.convert(mode)
    elif im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if flatten:
        im = im.convert("F")
    elif im.mode == "1":
        im = im.convert("L")
    return np.array(im)


def toimage(arr, high=255, low=0, cmin=None, cmax=None, pal=None, mode=None, channel_axis=None):
    """An array as a PIL image: 2-D -> L (or F, P, 1, I), 3-D with a 3- or 4-long axis -> RGB / RGBA, after
    bytescale (so a float image in [0, 1] becomes 0..255 by its own range, not by 255)."""
    from PIL import Image
    data = np.asarray(arr)
    if np.iscomplexobj(data):
        raise ValueError("Cannot convert a complex-valued array.")
    shape = list(data.shape)
    if not (len(shape) == 2 or (len(shape) == 3 and (3 in shape or 4 in shape))):
        raise ValueError("'arr' does not have a suitable array shape for any mode.")
    if len(shape) == 2:
        return _grey_image(Image, data, (shape[1], shape[0]), high, low, cmin, cmax, pal, mode)
    if channel_axis is None:
        channel_axis = shape.index(3) if 3 in shape else shape.index(4)
    channels = shape[channel_axis]
    if channels not in (3, 4):
        raise ValueError("Channel axis dimension is not valid.")
    pixels = np.moveaxis(bytescale(data, high=high, low=low, cmin=cmin, cmax=cmax), channel_axis, 2)
    mode = mode or ("RGB" if channels == 3 else "RGBA")
    if mode not in ("RGB", "RGBA", "YCbCr", "CMYK"):
        raise ValueError("Mode is unknown or incompatible with input array shape.")
    if (mode in ("RGB", "YCbCr") and channels != 3) or (mode in ("RGBA", "CMYK") and channels != 4):
        raise ValueError("Invalid array shape for mode.")
    return Image.frombytes(mode, (pixels.shape[1], pixels.shape[0]), np.ascontiguousarray(pixels).tobytes())


def _grey_image(Image, data, size, high, low, cmin, cmax, pal, mode):
    if mode == "F":
        return Image.frombytes("F", size, data.astype(np.float32).tobytes())
    if mode in (None, "L", "P"):
        image = Image.frombytes("L", size, bytescale(data, high=high, low=low, cmin=cmin, cmax=cmax).tobytes())
        if pal is not None:
            image.putpalette(np.asarray(pal, dtype=np.uint8).tobytes())
        elif mode == "P":
            grey = np.arange(0, 256, 1, dtype=np.uint8)[:, np.newaxis] * np.ones((3,), dtype=np.uint8)[np.newaxis, :]
            image.putpalette(grey.tobytes())
        return image
    if mode == "1":                 # one byte per pixel read as packed bits, as the old function did
        return Image.frombytes("1", size, (data > high).tobytes())
    if mode == "I":
        cmin = np.amin(data) if cmin is None else cmin
        cmax = np.amax(data) if cmax is None else cmax
        scaled = (data * 1.0 - cmin) * (high - low) / (cmax - cmin) + low
        return Image.frombytes("I", size, scaled.astype(np.uint32).astype(np.int32).tobytes())
    raise ValueError("Mode is unknown or incompatible with input array shape.")


def imread(name, flatten=False, mode=None):
    """Read an image file into an array (uint8 for 8-bit images), as scipy.misc.imread did."""
    from PIL import Image
    with Image.open(name) as image:
        image.load()
        return fromimage(image, flatten=flatten, mode=mode)


def imresize(arr, size, interp="bilinear", mode=None):
    """Resize to ``size``: a signed int is a percentage, a float a fraction, a sequence (height, width[, c]).

    The array goes through toimage first, so the result is uint8 scaled by the input's range.
    """
    image = toimage(arr, mode=mode)
    if np.issubdtype(type(size), np.signedinteger):
        new_size = tuple((np.array(image.size) * (size / 100.0)).astype(int))
    elif np.issubdtype(type(size), np.floating):
        new_size = tuple((np.array(image.size) * size).astype(int))
    else:
        new_size = (size[1], size[0])
    # Pillow 6 took numpy integers (and, with classic division, the ints Python 2 code computed)
    new_size = tuple(int(extent) for extent in new_size)
    return fromimage(image.resize(new_size, resample=_RESAMPLE[interp]))


def imsave(name, arr, format=None):
    """Save an array as an image, scaled to uint8 like imresize's input (the channels on the last axis)."""
    image = toimage(arr, channel_axis=2)
    if format is None:
        image.save(name)
    else:
        image.save(name, format)


def imrotate(arr, angle, interp="bilinear"):
    """Rotate by ``angle`` degrees counter-clockwise, keeping the size (uint8, through toimage)."""
    image = toimage(np.asarray(arr))
    return fromimage(image.rotate(angle, resample=_RESAMPLE[interp]))


def imfilter(arr, ftype):
    """One of Pillow's named filters (blur, contour, detail, edge_enhance ..., sharpen) on the image."""
    from PIL import ImageFilter
    filters = {"blur": ImageFilter.BLUR, "contour": ImageFilter.CONTOUR, "detail": ImageFilter.DETAIL,
               "edge_enhance": ImageFilter.EDGE_ENHANCE, "edge_enhance_more": ImageFilter.EDGE_ENHANCE_MORE,
               "emboss": ImageFilter.EMBOSS, "find_edges": ImageFilter.FIND_EDGES, "smooth": ImageFilter.SMOOTH,
               "smooth_more": ImageFilter.SMOOTH_MORE, "sharpen": ImageFilter.SHARPEN}
    image = toimage(arr)
    if ftype not in filters:
        raise ValueError("Unknown filter type.")
    return fromimage(image.filter(filters[ftype]))


def imshow(arr):
    """Showing an image is never graded: the array is checked as the old function did, nothing is shown."""
    toimage(arr)


# --- libraries that are not installed ------------------------------------------------------------------

_INSTALLATION = tuple(os.path.realpath(root) + os.sep for root in {
    sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
    *(site.getsitepackages() if hasattr(site, "getsitepackages") else []),
    *([site.getusersitepackages()] if hasattr(site, "getusersitepackages") else []),
})
_IMPORTLIB_DIR = os.path.dirname(importlib.__file__) + os.sep


class _MissingLibraryFinder:
    """Last on sys.meta_path: a top-level module nothing else found, imported by the submission's own code."""

    def find_spec(self, fullname, path=None, target=None):
        top, _, rest = fullname.partition(".")
        if rest:
            parent = getattr(sys.modules.get(top), "__spec__", None)
            if getattr(parent, "loader", None) is not self:
                return None
        elif not _may_stand_in(fullname) or not _imported_by_submission(sys._getframe(1)):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin="stand-in for a library not installed",
                                              is_package=True)

    def create_module(self, spec):
        top = spec.name.partition(".")[0]
        if "." not in spec.name:
            record(f"{top} (not installed: {_EMULATED[top][0] if top in _EMULATED else 'a stand-in that fails when used'})")
        factory = _EMULATED.get(top, (None, _StandIn))[1]
        module = factory(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


# Libraries students import that a grading environment may lack. Only these get stand-ins: any other
# name may be a file the submission forgot (``from layers_9 import Conv``), whose ImportError must stay.
THIRD_PARTY = frozenset((
    "cv2", "skimage", "imageio", "PIL", "scipy", "matplotlib", "pylab", "seaborn", "plotly", "bokeh", "tqdm",
    "numba", "cupy", "numexpr", "bottleneck", "sklearn", "pandas", "h5py", "tables", "yaml", "easydict",
    "torch", "torchvision", "torchsummary", "tensorflow", "keras", "mxnet", "caffe", "paddle", "jax", "jittor",
    "tensorboardX", "tensorboard", "visdom", "wandb", "imutils", "imgaug", "albumentations", "tifffile",
    "progressbar", "termcolor", "colorama", "prettytable", "tabulate", "IPython", "ipdb", "memory_profiler",
    "line_profiler", "psutil", "GPUtil", "lmdb", "sympy", "PyQt5", "pyqtgraph", "openpyxl", "xlrd", "xlwt",
    "requests", "wget", "gdown", "Cython", "pyximport",
))


def _may_stand_in(name: str) -> bool:
    return name in THIRD_PARTY or name in _EMULATED


def _imported_by_submission(frame) -> bool:
    """Whether the import statement running is the submission's, outside any ``try/except ImportError``."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen importlib") or filename.startswith(_IMPORTLIB_DIR):
            if frame.f_code.co_name == "find_spec" and filename.startswith(_IMPORTLIB_DIR):
                return False              # importlib.util.find_spec: a question, not an import
            frame = frame.f_back
            continue
        if filename.startswith("<") or os.path.realpath(filename).startswith(_INSTALLATION):
            return False                  # the harness's child code, numpy, scipy ...: their ImportError stays
        return not _inside_import_guard(filename, frame.f_lineno)
    return False


_GUARDS = ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")
_guarded_lines: dict = {}


def _inside_import_guard(filename: str, line: int) -> bool:
    """Whether ``line`` of ``filename`` is in the body of a try whose handlers catch ImportError."""
    if filename not in _guarded_lines:
        _guarded_lines[filename] = _import_guards(filename)
    return any(first <= line <= last for first, last in _guarded_lines[filename])


def _import_guards(filename: str) -> list[tuple[int, int]]:
    try:
        with open(filename, "rb") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, ValueError):
        return []
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(handler) for handler in node.handlers):
            spans.append((node.body[0].lineno, node.body[-1].end_lineno))
    return spans


def _catches_import_error(handler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    names = {kind.id if isinstance(kind, ast.Name) else getattr(kind, "attr", None) for kind in kinds}
    return bool(names & set(_GUARDS))


_READERS = (("scipy", "scipy"), ("PIL", "Pillow (PIL.Image)"), ("imageio", "imageio"))


def _missing(what: str, library: str) -> ModuleNotFoundError:
    import importlib.util
    installed = ["numpy"] + [shown for name, shown in _READERS if importlib.util.find_spec(name) is not None]
    return ModuleNotFoundError(
        f"{what} needs the library {library}, which is not installed in the grading environment (the grader let "
        f"`import {library}` pass so that checks not using it still run); installed: {', '.join(installed)}",
        name=library)


class _StandIn(types.ModuleType):
    """A library that is not installed: importing it and its names works, using anything from it raises."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Unavailable(f"{self.__name__}.{name}", self.__name__.partition(".")[0])

    def __call__(self, *args, **kwargs):
        raise _missing(self.__name__, self.__name__.partition(".")[0])

    def __mro_entries__(self, bases):
        raise _missing(f"a class based on {self.__name__}", self.__name__.partition(".")[0])


class _Unavailable:
    """A name from a library that is not installed; any use raises ModuleNotFoundError naming the library."""

    __slots__ = ("_what", "_library")

    def __init__(self, what: str, library: str):
        object.__setattr__(self, "_what", what)
        object.__setattr__(self, "_library", library)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Unavailable(f"{self._what}.{name}", self._library)

    def _fail(self, *args, **kwargs):
        raise _missing(self._what, self._library)

    __call__ = __getitem__ = __iter__ = __len__ = __bool__ = __float__ = __int__ = __index__ = _fail
    __array__ = __mro_entries__ = __enter__ = __setattr__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __or__ = __ror__ = _fail

    def __repr__(self):
        return f"<{self._what}: {self._library} is not installed>"


class _Anything:
    """Plotting and similar calls that never matter to a check: every use gives another one."""

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Anything()

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __getitem__(self, key):
        return _Anything()

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Plotting(types.ModuleType):
    """matplotlib (and pylab) as no-ops; ``subplots`` returns a figure and an array of axes of the asked shape."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name == "subplots":
            return _subplots
        return _Anything()


def _subplots(nrows=1, ncols=1, *args, squeeze=True, **kwargs):
    axes = np.empty((nrows, ncols), dtype=object)
    for index in np.ndindex(axes.shape):
        axes[index] = _Anything()
    if squeeze:
        axes = axes.squeeze()
        axes = axes.item() if axes.ndim == 0 else axes
    return _Anything(), axes


class _Progress:
    """tqdm: iterates over what it wraps; the progress display is left out."""

    def __init__(self, iterable=None, *args, total=None, **kwargs):
        self.iterable, self.total, self.n = iterable, total, 0

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def __len__(self):
        return len(self.iterable) if self.iterable is not None else int(self.total or 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.n += n

    def __getattr__(self, name):                  # set_description, set_postfix, close, refresh, write ...
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


class _ProgressModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in ("trange", "tnrange"):
            return lambda *args, **kwargs: _Progress(range(*args))
        return _Progress


def _jit(*args, **kwargs):
    """numba.jit / njit, bare or with options: the plain Python function (numba is a speed-up only)."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda function: function


class _Numba(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in ("jit", "njit", "generated_jit", "stencil", "cfunc"):
            return _jit
        if name == "prange":
            return range
        if name == "vectorize":
            return lambda *args, **kwargs: (np.vectorize(args[0]) if len(args) == 1 and callable(args[0])
                                            else np.vectorize)
        return _Anything()


# top-level name -> (what the report says, the module class)
_EMULATED = {
    "matplotlib": ("plotting calls do nothing", _Plotting),
    "pylab": ("plotting calls do nothing", _Plotting),
    "tqdm": ("progress bars left out", _ProgressModule),
    "numba": ("its decorators leave functions as plain Python", _Numba),
}


def _legacy_load(load):
    """np.load as NumPy < 1.16.3 had it: an object array (exp 2-1's save_model pickles a dict into weight.npy,
    which exp 2-2's template reads with ``np.load(path).item()``) loads without ``allow_pickle=True``.

    Only a call that does not say allow_pickle and fails for want of it is retried, and recorded; the
    child is the sandbox, so unpickling there gives a submission nothing it does not have.
    """
    def legacy_load(file, *args, **kwargs):
        if args[1:2] or "allow_pickle" in kwargs:
            return load(file, *args, **kwargs)
        start = file.tell() if hasattr(file, "tell") and hasattr(file, "seek") else None
        try:
            return load(file, *args, **kwargs)
        except ValueError as error:
            if "allow_pickle" not in str(error):
                raise
        record("numpy.load allow_pickle")
        if start is not None:
            file.seek(start)
        return load(file, *args, allow_pickle=True, **kwargs)
    legacy_load.__name__ = legacy_load.__qualname__ = "load"
    legacy_load.__doc__ = load.__doc__
    return legacy_load
