"""Spec loading: the shipped specs are valid, and every kind of mistake in a spec
names the file, the line and the key."""
import re
import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import available_labs, load_spec, parse_spec

MINIMAL = """\
lab: demo
title: demo lab
submission:
  package: stu_upload
  files: [layers_1.py]
checks:
  - id: relu.forward
    kind: aics.relu.forward
    target: {file: layers_1.py, class: ReLULayer}
    points: 10
    cases:
      - {name: small, shape: [2, 3]}
"""


def parse(text: str):
    return parse_spec(textwrap.dedent(text), Path("specs/demo.yaml"))


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as raised:
        parse(text)
    return str(raised.value)


@pytest.mark.parametrize("lab", ["aics-exp2-1", "aics-exp3-1", "aics-exp3-3"])
def test_shipped_specs_load(lab):
    spec = load_spec(lab)
    assert spec.lab == lab
    assert spec.max_score == 100
    ids = [check.id for check in spec.checks]
    assert len(ids) == len(set(ids))


def test_canonical_check_ids_are_present():
    canonical = {
        "aics-exp2-1": "fc.forward fc.backward fc.update relu.forward relu.backward softmax.forward softmax.loss "
                       "softmax.backward",
        "aics-exp3-1": "conv.forward pool.forward flatten.forward fc.forward relu.forward softmax.forward "
                       "vgg19.pool5 vgg19.softmax vgg19.top1",
        "aics-exp3-3": "conv.forward_raw conv.backward_raw pool.forward_raw pool.backward_raw content_loss.forward "
                       "content_loss.backward style_loss.forward style_loss.backward adam.update style_transfer.run "
                       "conv.forward_speedup conv.backward_speedup pool.forward_speedup pool.backward_speedup "
                       "conv.speedup_forward conv.speedup_backward pool.speedup_forward pool.speedup_backward",
    }
    assert set(canonical) <= set(available_labs())
    for lab, ids in canonical.items():
        assert set(ids.split()) <= {check.id for check in load_spec(lab).checks}, lab


def test_minimal_spec_defaults():
    spec = parse(MINIMAL)
    check = spec.check("relu.forward")
    assert check.dtype == "float64" and check.timeout == spec.limits.timeout
    assert check.cases[0].params == {"shape": [2, 3]}
    # a seed derived from names is stable: the same spec gives the same inputs everywhere
    assert check.cases[0].seed == parse(MINIMAL).check("relu.forward").cases[0].seed


def test_malformed_yaml_names_line():
    message = error_of(MINIMAL.replace("files: [layers_1.py]", "files: [layers_1.py"))
    assert message.startswith("specs/demo.yaml:")
    assert "invalid YAML" in message


def test_unknown_key_names_line_and_allowed_keys():
    message = error_of(MINIMAL.replace("    points: 10", "    points: 10\n    pionts: 3"))
    assert re.match(r"specs/demo.yaml:11: checks\[0\].pionts: unknown key 'pionts'", message), message


def test_wrong_type_names_key():
    message = error_of(MINIMAL.replace("points: 10", "points: ten"))
    assert message.startswith("specs/demo.yaml:10: checks[0].points:"), message


def test_duplicate_key():
    message = error_of(MINIMAL.replace("    points: 10", "    points: 10\n    points: 5"))
    assert "duplicate key 'points'" in message and ":11:" in message


def test_unknown_kind():
    message = error_of(MINIMAL.replace("aics.relu.forward", "aics.relu.fwd"))
    assert ":8: checks[0].kind: unknown kind 'aics.relu.fwd'" in message


def test_case_key_validated_by_kind():
    message = error_of(MINIMAL.replace("shape: [2, 3]", "shap: [2, 3]"))
    assert ":12: checks[0].cases[0]" in message and "unknown key 'shap'" in message


def test_missing_case_key():
    message = error_of(MINIMAL.replace("{name: small, shape: [2, 3]}", "{name: small}"))
    assert "'shape' is required" in message


def test_unknown_dependency_and_order():
    with_dep = MINIMAL.replace("    points: 10", "    points: 10\n    depends: [relu.backward]")
    assert "unknown check id 'relu.backward'" in error_of(with_dep)


def test_target_file_must_be_listed():
    message = error_of(MINIMAL.replace("target: {file: layers_1.py", "target: {file: layers_2.py"))
    assert "layers_2.py is not listed in submission.files" in message


def test_conv_kernel_larger_than_padded_input_is_a_spec_error():
    text = MINIMAL.replace("aics.relu.forward", "aics.conv.forward").replace("ReLULayer", "ConvolutionalLayer").replace(
        "{name: small, shape: [2, 3]}", "{name: small, shape: [1, 1, 3, 3], channels_out: 1, kernel: 6, padding: 1, stride: 1}")
    message = error_of(text)
    assert "checks[0].cases[0].kernel: kernel 6 is larger than the padded input" in message


def test_cases_or_property_required():
    text = MINIMAL.replace("    cases:\n      - {name: small, shape: [2, 3]}\n", "")
    assert "exactly one of 'cases'" in error_of(text)


def test_tier_requires_known_ids():
    text = MINIMAL + "rubric:\n  tiers:\n    - {level: 60, requires: [conv.forward]}\n"
    assert "rubric.tiers[0].requires[0]: unknown check id 'conv.forward'" in error_of(text)


def test_exponent_floats_without_dot_are_numbers():
    text = MINIMAL.replace("    points: 10", "    points: 10\n    tolerance: {float32: {rtol: 1e-3, atol: 2e-4}}")
    assert parse(text).check("relu.forward").tolerance["float32"].rtol == 1e-3
