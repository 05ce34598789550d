"""reference.check.styles: every style people write layers in is found in a file and checked
in its own conventions, no adapter needed: CS231n function pairs by their names, classes
with a ``kind``, and classes of their own making through a declaration.

Right implementations must pass the whole battery (float64, the project's 1e-12 rule);
the conventions a style is checked in must be said in the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reference.check import check_implementation, check_layer, declare, discover, load
from reference.check.styles import DeclarationError, Implementation, ImportFailedError
from reference.guard import NotSupportedError
from tests.reference import student_layers as student
from tests.reference.examples import tutorial_layers

EXAMPLES = Path(__file__).parent / "examples"
LIGHT = {"random_configurations": 0}     # the named configurations only

#: How tutorial_layers.py's classes keep their state, as a user declares it.
TUTORIAL = {
    "Conv3x3": {"kind": "conv2d", "args": "num_filters=out_channels", "weight": "filters",
                "weight_layout": "(out, kh, kw)", "bias": "none", "input": "(H, W)",
                "output": "(H, W, C)", "learning_rate": "learn_rate"},
    "FullyConnected": {"kind": "dense", "args": "in_features, out_features", "weight": "W",
                       "bias": "b", "grad_weight": "dW", "grad_bias": "db",
                       "weight_layout": "(in, out)", "bias_layout": "(out, 1)",
                       "grads_averaged": "true"},
}


def test_cs231n_functions_are_found_by_their_names_and_pass() -> None:
    found = discover(load(EXAMPLES / "cs231n_layers.py"))
    assert [(impl.name, impl.kind, impl.style) for impl in found] == [
        ("conv_forward_naive / conv_backward_naive", "conv2d", "functions"),
        ("max_pool_forward_naive / max_pool_backward_naive", "maxpool2d", "functions"),
        ("affine_forward / affine_backward", "dense", "functions"),
        ("relu_forward / relu_backward", "relu", "functions"),
        ("softmax_loss", "softmax-ce", "functions"),
    ]
    for impl in found:
        report = check_implementation(impl)
        assert report.status == "passed", report.text()


def test_a_style_says_the_conventions_it_is_checked_in() -> None:
    found = {impl.kind: impl for impl in discover(load(EXAMPLES / "cs231n_layers.py"))}
    text = check_implementation(found["dense"], **LIGHT).text()
    assert "w is (D, M), PyTorch's weight transposed" in text
    conv = check_implementation(found["conv2d"], **LIGHT)
    assert "conv_param {'stride', 'pad'}" in conv.text()
    # CS231n's convolution has a tied bias only: the untied and bias-free configurations
    # are not its, and said so; everything else is checked.
    assert conv.unsupported and all("bias" in why for why in conv.unsupported.values())


def test_half_a_function_pair_is_reported_not_run(tmp_path: Path) -> None:
    source = (EXAMPLES / "cs231n_layers.py").read_text()
    cut = source.index("def conv_backward_naive")
    (tmp_path / "half.py").write_text(source[:cut] + source[source.index("def max_pool_"):])
    found = {impl.kind: impl for impl in discover(load(tmp_path / "half.py"))}
    conv = found["conv2d"]
    assert conv.build is None and "no function conv_backward_naive" in conv.problem
    report = check_implementation(conv, **LIGHT)
    assert report.status == "did not run"
    assert "no function conv_backward_naive" in report.text()


def test_declared_classes_pass_in_their_own_layout() -> None:
    found = {impl.name: impl for impl in discover(load(Path(tutorial_layers.__file__)),
                                                  TUTORIAL)}
    dense = check_implementation(found["FullyConnected"])
    assert dense.status == "passed", dense.text()
    assert "weight as (in, out)" in dense.text() and "gradients averaged" in dense.text()
    conv = check_implementation(found["Conv3x3"])
    # One grey image at a time, a fixed 3x3 kernel, no bias: the configurations with
    # those are checked, the rest are not its.
    assert conv.status == "passed", conv.text()
    checked = conv.table[~conv.table["status"].str.startswith("not supported")]
    assert checked["configuration"].nunique() >= 1
    assert "backward returns None" in conv.text()          # a first layer: no input gradient


def test_an_undeclared_convention_is_wrong_not_passed() -> None:
    declaration = {k: v for k, v in TUTORIAL["FullyConnected"].items()
                   if k not in ("kind", "grads_averaged")}
    cls = declare(tutorial_layers.FullyConnected, "dense", **declaration)
    report = check_implementation(Implementation("FullyConnected", "dense", "declared class",
                                                 cls), **LIGHT)
    assert report.status == "wrong"
    assert "grad weight" in report.matches and "grad bias" in report.matches


@pytest.mark.parametrize("declaration, message", [
    ({"colour": "red"}, "unknown declaration key 'colour'"),
    ({"args": "filters=nope"}, "args: 'nope' is not an argument of the dense kind"),
    ({"weight": "W[["}, "weight: expected an attribute like 'W'"),
    ({"grads": "yes"}, "grads: the only value is 'returned'"),
    ({"weight_layout": "()"}, "weight_layout: expected axes like '(in, out)'"),
])
def test_a_bad_declaration_names_what_is_wrong(declaration: dict, message: str) -> None:
    with pytest.raises(DeclarationError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        declare(tutorial_layers.FullyConnected, "dense", **declaration)


def test_an_import_error_names_the_file_it_happened_in(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("import helper\n")
    (tmp_path / "helper.py").write_text("\n\nraise KeyError('w')\n")
    with pytest.raises(ImportFailedError, match=r"main.py: in helper.py, line 3: KeyError"):
        load(tmp_path / "main.py")


def test_discovery_keeps_the_files_order_and_only_its_own_classes(tmp_path: Path) -> None:
    (tmp_path / "mixed.py").write_text(
        "import numpy as np\nfrom scratchnet import ReLU\n\n\n"
        "def relu_forward(x):\n    return np.maximum(x, 0), x\n\n\n"
        "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n\n\n"
        "class MyReLU:\n    kind = 'relu'\n    params, grads = {}, {}\n\n"
        "    def forward(self, x):\n        self.x = x\n        return np.maximum(x, 0)\n\n"
        "    def backward(self, g):\n        return g * (self.x > 0)\n")
    found = discover(load(tmp_path / "mixed.py"))
    assert [impl.name for impl in found] == ["relu_forward / relu_backward", "MyReLU"]
    reports = [check_implementation(impl, **LIGHT) for impl in found]
    assert [r.status for r in reports] == ["passed", "passed"]
    entry = json.loads(reports[0].to_json())
    assert entry["name"] == "relu_forward / relu_backward" and entry["status"] == "passed"


def test_the_affine_weight_is_handed_transposed_and_compared_back() -> None:
    found = {impl.kind: impl for impl in discover(load(EXAMPLES / "cs231n_layers.py"))}
    layer = found["dense"].build(3, 2)
    layer.params["weight"][...] = np.arange(6.0).reshape(2, 3)      # PyTorch's (out, in)
    y = layer.forward(np.eye(3))
    assert np.array_equal(y, np.arange(6.0).reshape(2, 3).T)          # x @ W.T
    layer.backward(np.ones((3, 2)))
    assert layer.grads["weight"].shape == (2, 3)                       # back to (out, in)


def test_the_seeds_homework_layer_needs_a_declaration_not_an_adapter() -> None:
    """The README's example: the homework's one-image convolution with the seed's untied
    bias, checked where HomeworkConv2D (the hand-written adapter) is."""
    declared = declare(student.HomeworkConvLayer, "conv2d",
                       args="input_shape, out_channels, kernel_size", fixed="bias=untied",
                       weight="K", bias="B", grad_weight="dK", grad_bias="dB",
                       input="(C, H, W)", output="(C, H, W)")
    report = check_implementation(Implementation("HomeworkConvLayer", "conv2d",
                                                 "declared class", declared))
    adapter = check_layer(student.HomeworkConv2D, "conv2d")
    assert report.status == adapter.status == "passed", report.text()
    assert set(report.unsupported) == set(adapter.unsupported)
    assert "it has bias=untied only (declared fixed)" in report.text()


def test_fixed_arguments_are_checked_only_where_they_hold() -> None:
    with pytest.raises(DeclarationError, match="fixed: expected NAME=VALUE"):
        declare(student.HomeworkConvLayer, "conv2d", fixed="colour=red")
    built = declare(student.HomeworkConvLayer, "conv2d", fixed="stride=1",
                    args="input_shape, out_channels, kernel_size")
    with pytest.raises(NotSupportedError, match="it has stride=1 only"):
        built(1, 2, 3, stride=2, bias="untied", input_shape=(1, 6, 6))
    with pytest.raises(NotSupportedError, match="gives no input_shape"):
        built(1, 2, 3)
