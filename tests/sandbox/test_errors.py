"""What the student reads when their code fails: file, line, the step, a hint, the names that do exist."""
from __future__ import annotations

import numpy as np
import pytest

from sandbox_helpers import assert_still_serves, call, program, ref, run_function

CONV = """
import numpy as np

class ConvolutionalLayer:
    def __init__(self, kernel_size, channel_in, channel_out, padding, stride):
        self.kernel_size, self.stride = kernel_size, stride

    def forward_rwa(self, x):
        return x

    def forward(self, x):
        n, c, h, w = x.shape
        out_h = (h - self.kernel_size) / self.stride + 1
        return np.zeros((n, c, out_h, out_h))

    def backward(self, top_diff):
        raise ValueError("top_diff has the wrong shape")
"""


@pytest.fixture
def conv_session(submission, open_session):
    return open_session(submission(**{"layers_2.py": CONV}))


def construct_and(method: str, *args) -> dict:
    return program({"import": "layers_2", "as": "m"}, call("m.ConvolutionalLayer", 3, 1, 1, 0, 1, as_="layer"),
                   call(f"layer.{method}", *args, as_="out"), outputs=["out"])


def test_an_exception_names_the_file_line_and_step_and_shows_only_the_submissions_frames(conv_session):
    reply = conv_session.run(construct_and("backward", ref("x")), {"x": np.ones(2)})
    error = reply.error
    assert reply.status == "error"
    assert (error.exc_type, error.message) == ("ValueError", "top_diff has the wrong shape")
    assert (error.file, error.line) == ("layers_2.py", 17)
    assert error.source_line.strip() == 'raise ValueError("top_diff has the wrong shape")'
    assert error.step == "calling ConvolutionalLayer.backward"
    assert 'File "layers_2.py", line 17, in backward' in error.traceback
    assert "sandbox" not in error.traceback and "site-packages" not in error.traceback


def test_a_float_size_gets_the_integer_division_hint(conv_session):
    reply = conv_session.run(construct_and("forward", ref("x")), {"x": np.ones((1, 1, 5, 5))})
    assert reply.error.exc_type == "TypeError" and reply.error.line == 14
    assert "//" in reply.error.hint


def test_a_misspelt_method_reports_what_the_class_has(conv_session):
    reply = conv_session.run(construct_and("forward_raw", ref("x")), {"x": np.ones(2)})
    error = reply.error
    assert error.exc_type == "AttributeError" and error.missing_name == "forward_raw"
    assert error.message == "ConvolutionalLayer object has no attribute 'forward_raw'"
    assert "forward_rwa" in error.candidates and "backward" in error.candidates


def test_a_missing_class_reports_what_the_module_defines(submission, open_session):
    session = open_session(submission(**{"layers_2.py": "class ConvLayer:\n    pass\n"}))
    reply = session.run(program({"import": "layers_2", "as": "m"}, call("m.ConvolutionalLayer", as_="layer")))
    assert reply.error.message == "layers_2.py does not define 'ConvolutionalLayer'"
    assert reply.error.candidates == ["ConvLayer"]


def test_a_call_with_the_wrong_arguments_points_at_the_definition(conv_session):
    reply = conv_session.run(program({"import": "layers_2", "as": "m"}, call("m.ConvolutionalLayer", 3, 1)))
    error = reply.error
    assert error.exc_type == "TypeError" and "missing 3 required positional arguments" in error.message
    assert (error.file, error.line) == ("layers_2.py", 5) and error.source_line.lstrip().startswith("def __init__")
    assert error.step == "constructing ConvolutionalLayer"


def test_python2_source_fails_at_import_with_its_line_and_a_hint(submission, open_session):
    session = open_session(submission(**{"layers_1.py": 'import numpy as np\n\nprint "loading"\n'}))
    reply = run_function(session, "layers_1", "anything")
    error = reply.error
    assert (error.exc_type, error.file, error.line) == ("SyntaxError", "layers_1.py", 3)
    assert error.step == "importing layers_1" and "Python 2" in error.hint
    assert_still_serves(session)


def test_non_utf8_source_is_reported_with_the_encoding_to_declare(submission, open_session):
    source = "# -*- coding: utf-8 -*-\nNAME = '卷积层'\n".encode("gbk")
    session = open_session(submission(**{"layers_1.py": source}))
    reply = run_function(session, "layers_1", "anything")
    assert reply.error.exc_type == "SyntaxError" and reply.error.file == "layers_1.py"
    assert "GBK" in reply.error.hint


def test_an_empty_file_is_called_empty(submission, open_session):
    session = open_session(submission(**{"layers_1.py": ""}))
    reply = run_function(session, "layers_1", "FullyConnectedLayer")
    assert reply.error.message == "layers_1.py does not define 'FullyConnectedLayer' (the file is empty)"


def test_a_missing_file_is_named_with_what_is_there(submission, open_session):
    session = open_session(submission())
    reply = run_function(session, "layers_3", "ContentLossLayer")
    assert reply.error.exc_type == "ModuleNotFoundError"
    assert reply.error.message == "layers_3.py is missing from the submission (it has: __init__.py, honest.py)"


def test_a_missing_dependency_is_not_mistaken_for_a_missing_file(submission, open_session):
    session = open_session(submission(**{"layers_2.py": "from layers_9 import Conv\n"}))
    reply = run_function(session, "layers_2", "Conv")
    assert reply.error.message == "No module named 'layers_9'"
    assert (reply.error.file, reply.error.line) == ("layers_2.py", 1)


def test_a_misnamed_import_lists_the_names_the_module_has(submission, open_session):
    session = open_session(submission(**{"layers_1.py": "class ReLULayer:\n    pass\n",
                                         "layers_2.py": "from .layers_1 import ReluLayer\n"}))
    reply = run_function(session, "layers_2", "anything")
    assert reply.error.missing_name == "ReluLayer" and reply.error.candidates == ["ReLULayer"]


def test_an_exception_at_import_time_names_its_line(submission, open_session):
    session = open_session(submission(**{"vgg_cpu.py": "import numpy as np\nWEIGHTS = np.load('missing.npy')\n"}))
    reply = run_function(session, "vgg_cpu", "VGG19")
    assert reply.error.exc_type == "FileNotFoundError"
    assert (reply.error.file, reply.error.line, reply.error.step) == ("vgg_cpu.py", 2, "importing vgg_cpu")


def test_an_endless_loop_at_import_times_out_and_the_session_goes_on(submission, open_session):
    session = open_session(submission(**{"vgg_cpu.py": "while True:\n    pass\n"}))
    reply = run_function(session, "vgg_cpu", "VGG19", timeout=1.0)
    assert reply.status == "timeout" and reply.step == "importing vgg_cpu"
    assert "1 s" in reply.detail and reply.wall_time >= 1.0
    assert_still_serves(session)


def test_a_file_over_the_size_limit_is_not_loaded_and_says_why(submission, open_session):
    session = open_session(submission(**{"layers_2.py": "x = 1\n" + "#" * 5000 + "\n"}),
                           limits={"source_file_bytes": 4096})
    reply = run_function(session, "layers_2", "x")
    assert reply.error.exc_type == "ImportError"
    assert reply.error.message == "layers_2.py was not loaded: it is 4.9 KB, over the 4.0 KB limit for a submission file"
    assert "layers_2.py was not copied" in session.summary()["notes"][0]


def test_the_removed_numpy_aliases_work_and_are_recorded(submission, open_session):
    legacy = "import numpy as np\n\ndef weights(x):\n    return x.astype(np.float) + np.int(1)\n"
    session = open_session(submission(**{"layers_1.py": legacy}))
    reply = run_function(session, "layers_1", "weights", ref("x"), x=np.ones(2, dtype=np.int32))
    assert reply.status == "ok", reply.error
    np.testing.assert_array_equal(reply.values["out"], [2.0, 2.0])
    assert reply.compat_used == ["numpy.float", "numpy.int"]
    assert session.summary()["compat_used"] == ["numpy.float", "numpy.int"]


def test_without_compat_a_removed_alias_names_the_release_that_removed_it(submission, open_session):
    legacy = "import numpy as np\n\ndef weights(x):\n    return x.astype(np.float)\n"
    session = open_session(submission(**{"layers_1.py": legacy}), compat=False)
    reply = run_function(session, "layers_1", "weights", ref("x"), x=np.ones(2))
    assert reply.error.exc_type == "AttributeError" and reply.error.line == 4
    assert "np.float was removed in NumPy 1.24" in reply.error.hint


def test_scipy_misc_works_in_the_child_and_its_removed_names_say_when(submission, open_session, tmp_path):
    from PIL import Image
    image = tmp_path / "image.png"
    Image.fromarray(np.full((8, 6, 3), 200, dtype=np.uint8)).save(image)
    code = """
    import scipy.misc

    def load(path):
        return scipy.misc.imresize(scipy.misc.imread(path), [4, 3, 3])

    def derivative(path):
        return scipy.misc.derivative(abs, 1.0)
    """
    session = open_session(submission(**{"vgg_cpu.py": code}), readable_paths=[image])
    reply = run_function(session, "vgg_cpu", "load", str(image))
    assert reply.status == "ok", reply.error
    assert reply.values["out"].shape == (4, 3, 3) and reply.values["out"].dtype == np.uint8
    assert reply.compat_used == ["scipy.misc.imread", "scipy.misc.imresize"]
    failed = run_function(session, "vgg_cpu", "derivative", str(image))
    assert "scipy.misc.derivative was removed in SciPy 1.12.0" in failed.error.message
