"""What a student reads about a failure: accurate reasons, and labels that name the code that was running."""
from __future__ import annotations

from harness.messages import describe_failure
from harness.sandbox.failure import running_label
from harness.sandbox.reply import ChildError, Reply


def _missing(name: str, step: str) -> Reply:
    error = ChildError("AttributeError", f"ConvolutionalLayer object has no attribute {name!r}", step=step,
                       missing_name=name, candidates=["backward_raw", "forward_raw"])
    return Reply(status="error", error=error)


def test_the_d_weight_message_says_why_without_claiming_the_course_driver_reads_it():
    text = describe_failure(_missing("d_weight", "reading ConvolutionalLayer.d_weight"), "running layers_2.py")
    assert "must set self.d_weight and self.d_bias" in text
    assert "update_param" in text and "only needs" not in text
    assert "needs only the returned bottom_diff" in text and "would not notice" in text
    assert "reads .d_weight after calling backward" not in text       # the old, wrong claim


def test_labels_name_the_function_that_was_running():
    assert running_label("calling ConvolutionalLayer.backward", "ConvolutionalLayer.backward") == \
        "calling ConvolutionalLayer.backward"
    assert running_label("calling MaxPoolingLayer.backward", "MaxPoolingLayer.backward_raw_book") == \
        "calling MaxPoolingLayer.backward, in MaxPoolingLayer.backward_raw_book"
    assert running_label("running layer conv1_1 (ConvolutionalLayer.forward)", "ConvolutionalLayer.forward") == \
        "running layer conv1_1 (ConvolutionalLayer.forward)"
    assert running_label("importing layers_2", None) == "importing layers_2"
    assert running_label(None, "im2col") == "in im2col"


def test_a_missing_method_label_comes_from_the_call_about_to_be_made():
    text = describe_failure(_missing("backward_raw_book", "calling MaxPoolingLayer.backward_raw_book"),
                            "running layers_2.py: MaxPoolingLayer")
    assert "(while calling MaxPoolingLayer.backward_raw_book)" in text
