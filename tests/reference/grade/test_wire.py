"""The frames a submission's process sends: arrays and plain data only, checked field by
field against ``Run``'s annotations."""

import io

import numpy as np
import pytest

from reference.grade import wire
from reference.kinds.record import Run


def a_run() -> Run:
    rng = np.random.default_rng(0)
    return Run(values={"output": rng.standard_normal((2, 3)), "grad input": np.ones(4)},
               failures={"grad weight": "backward raised ValueError: no"},
               skipped={"grad bias": "not compared"}, fd={"grad input": (1e-9, 1e-6)})


def test_a_run_crosses_the_wire_unchanged():
    run = a_run()
    data, arrays = wire.encode([run], "a")
    (header, received), = wire.frames(wire.frame({"runs": data}, arrays))[0]
    back = wire.decode(Run, header["runs"][0], received)
    assert back.unsupported is None and back.failures == run.failures
    assert back.skipped == run.skipped and back.fd == run.fd
    assert isinstance(back.fd["grad input"], tuple)
    for q, value in run.values.items():
        np.testing.assert_array_equal(back.values[q], value)   # bit for bit: npz is exact


def test_a_pickled_array_is_refused():
    archive = io.BytesIO()
    np.savez(archive, evil=np.array([object()], dtype=object))   # pickled inside the npz
    data = archive.getvalue()
    text = b"{}"
    raw = (wire.MAGIC + len(text).to_bytes(8, "big") + text + len(data).to_bytes(8, "big")
           + data)
    frames, problem = wire.frames(raw)
    assert frames == [] and "malformed" in problem


def test_garbage_after_good_frames_keeps_them_and_says_so():
    good = wire.frame({"type": "files"})
    frames, problem = wire.frames(good + b"not a frame at all")
    assert [h["type"] for h, _ in frames] == ["files"]
    assert problem.startswith("malformed results after 1 frames")


@pytest.mark.parametrize("bad", [
    {"unsupported": None, "values": {"$dict": [["output", "a string"]]}, "failures":
     {"$dict": []}, "skipped": {"$dict": []}, "fd": {"$dict": []}},
    {"unsupported": 3, "values": {"$dict": []}, "failures": {"$dict": []},
     "skipped": {"$dict": []}, "fd": {"$dict": []}},
    {"values": {"$dict": []}},
    {"unsupported": None, "values": {"$refused": "R"}, "failures": {"$dict": []},
     "skipped": {"$dict": []}, "fd": {"$dict": []}},
])
def test_data_not_fitting_the_annotations_is_refused(bad):
    with pytest.raises(wire.WireError):
        wire.decode(Run, bad, {})


def test_an_object_that_is_not_plain_data_is_marked_refused():
    data, arrays = wire.encode({"x": object(), "y": np.array(["a"])}, "a")
    assert data["$dict"][0][1] == {"$refused": "object"}
    assert data["$dict"][1][1]["$refused"].startswith("an array of")
    assert arrays == {}
