"""reference.guard and the check's guarded runs: whatever the user's code raises, returns or
does to the arrays it is given, the check says it in words, once, tells "wrong" from
"did not run", and never stops with a traceback.

Each class below models one way real code goes wrong without a numerical mistake; the
right numbers, where they come, agree with PyTorch to the project's 1e-12 (float64).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

from reference import check_layer
from reference.guard import ProtocolError, as_array, is_users, unpack, user_location
from tests.reference import student_layers as student

LIGHT = {"random_configurations": 0}     # the named configurations only


class ReLUReturningCache(student.StudentReLU):
    """forward returns ``(out, cache)``, the CS231n habit, inside a class."""

    def forward(self, x):
        return super().forward(x), x


class FirstLayerDense(student.StudentDense):
    """backward returns None: a network's first layer needs no input gradient."""

    def backward(self, grad_y):
        super().backward(grad_y)


class ReLURaising(student.StudentReLU):
    def backward(self, grad_y):
        raise IndexError("index 7 is out of bounds for axis 1 with size 5")


class ReLUExiting(student.StudentReLU):
    def forward(self, x):
        sys.exit("giving up")


class ReLUInPlace(student.StudentReLU):
    """forward clips its input in place (``x[x < 0] = 0``): right numbers, but in a network
    the array is the previous layer's output."""

    def forward(self, x):
        self.mask = x > 0
        x[~self.mask] = 0
        return x

    def backward(self, grad_y):
        grad_y *= self.mask                    # writes into the upstream gradient too
        return grad_y


class ReLUReadingPastItsEnd(student.StudentReLU):
    """Adds what lies past its array's end (modelled here by fresh noise each call, as
    an ``as_strided`` window into memory it does not own gives)."""

    def forward(self, x):
        return super().forward(x) + np.random.default_rng().uniform(0, 1e-3, x.shape)


class ParamsPropertyRaises(student.StudentDense):
    @property
    def params(self):
        raise RuntimeError("weights are not initialised yet")

    @params.setter
    def params(self, value):
        self._params = value


class GradsPropertyRaises(student.StudentDense):
    """grads is a property computed on demand after backward, and it raises."""

    def backward(self, grad_y):
        return grad_y @ self.params["weight"]

    @property
    def grads(self):
        raise KeyError("grads")

    @grads.setter
    def grads(self, value):
        self._grads = value


def test_a_result_of_the_wrong_form_is_said_once_as_what_it_is() -> None:
    report = check_layer(ReLUReturningCache, "relu", **LIGHT)
    assert report.status == "did not run"
    assert report.verdict.startswith(
        "ReLUReturningCache (relu) DID NOT RUN in 6 of the 6 configurations it takes: "
        "forward returned a tuple of 2: it must return the output array alone")
    text = report.text()
    assert text.count("forward returned a tuple of 2") == 2      # the verdict and one finding
    assert "so output, grad input could not be compared" in text


def test_a_backward_without_input_gradient_is_checked_on_everything_else() -> None:
    report = check_layer(FirstLayerDense, "dense", **LIGHT)
    assert report.status == "passed", report.text()
    assert "backward returns None in all 6 configurations" in report.text()
    compared = report.table[report.table["agrees"].notna()]
    assert set(compared["quantity"]) == {"output", "grad weight", "grad bias"}


def test_an_exception_names_its_type_message_and_the_users_line() -> None:
    report = check_layer(ReLURaising, "relu", **LIGHT)
    assert report.status == "did not run"      # nothing computed is wrong; backward never ran
    assert report.verdict.startswith("ReLURaising (relu) DID NOT RUN in 6 of the 6 "
                                     "configurations it takes: backward raised")
    line = next(s for s in report.diagnosis if "raised" in s)
    assert "backward raised IndexError: index 7 is out of bounds" in line
    raise_line = inspect.getsourcelines(ReLURaising.backward)[1] + 1
    assert f"(at test_guard.py, line {raise_line})" in line
    assert "in every configuration" in line


def test_a_sys_exit_in_the_users_code_is_reported_like_an_exception() -> None:
    report = check_layer(ReLUExiting, "relu", **LIGHT)
    assert report.status == "did not run"
    assert "forward raised SystemExit: giving up" in report.verdict


def test_changing_the_given_arrays_is_a_warning_not_a_failure() -> None:
    report = check_layer(ReLUInPlace, "relu", **LIGHT)
    assert report.status == "passed", report.text()
    warnings = [line for line in report.notes if line.startswith("Warning:")]
    assert len(warnings) == 2
    assert "forward changes the array it is given in place" in warnings[0]
    assert "backward changes the array it is given in place" in warnings[1]


def test_results_that_change_between_two_identical_runs_fail() -> None:
    report = check_layer(ReLUReadingPastItsEnd, "relu", **LIGHT)
    assert report.status == "wrong" and not report.passed
    assert any(line.startswith("FAILURE: two identical runs gave different output")
               for line in report.notes)


@pytest.mark.parametrize("cls, words", [
    (ParamsPropertyRaises, "reading its params raised RuntimeError: weights are not "
                           "initialised yet"),
    (GradsPropertyRaises, "reading its grads raised KeyError: 'grads'"),
])
def test_a_property_that_raises_is_reported_not_a_traceback(cls: type, words: str) -> None:
    report = check_layer(cls, "dense", **LIGHT)
    assert report.status == "did not run"
    assert words in report.text()


def test_as_array_and_unpack_say_what_came_instead() -> None:
    assert as_array(np.float64(2.0), "forward", "the loss").shape == ()
    for value, words in [(None, "returned None"), ((1, 2), "returned a tuple of 2"),
                         ("x", "returned a str"), (np.array(["a"]), "returned a ndarray"),
                         (True, "returned a bool")]:
        with pytest.raises(ProtocolError, match=words):
            as_array(value, "forward", "the output array")
    with pytest.raises(ProtocolError, match=r"f returned a list of 1: it must return \(a, b\)"):
        unpack([1], ("a", "b"), "f")


def test_the_users_code_is_told_from_the_checkers_and_librarys(tmp_path: Path) -> None:
    assert is_users(__file__)
    assert not is_users(np.__file__) and not is_users(pytest.__file__)
    assert not is_users(str(Path(as_array.__code__.co_filename)))
    source = tmp_path / "layers.py"
    source.write_text("def f():\n    return 1 / 0\n")
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    with pytest.raises(ZeroDivisionError) as info:
        np.apply_along_axis(lambda row: namespace["f"](), 0, np.zeros(1))
    assert user_location(info.value) == "layers.py, line 2"     # not numpy's frame
