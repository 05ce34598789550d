"""reports/mutation.py: reading mutmut's results, matching survivors to their reasons, the page.

No mutmut run here: these feed the functions the text mutmut's commands print.
"""

from __future__ import annotations

import pytest

from reports.mutation import Mutant, judge, load_equivalent, parse_change, parse_results, render

RESULTS = """\
    scratchnet.kernels.x_pad_spatial__mutmut_1: killed
    scratchnet.kernels.x_pad_spatial__mutmut_2: survived
    scratchnet.layers.conv.xǁConv2Dǁforward__mutmut_7: timeout
    scratchnet.layers.conv.xǁConv2Dǁforward__mutmut_8: no tests
    scratchnet.optim.xǁSGDǁstep__mutmut_3: killed
"""

SHOW = """\
# scratchnet.kernels.x_pad_spatial__mutmut_2: survived
--- scratchnet/kernels.py
+++ scratchnet/kernels.py
@@ -1,5 +1,5 @@
 def pad_spatial(x, padding):
-    if padding == 0:
+    if padding == 1:
         return x
"""


def test_results_and_changes_are_read_from_mutmuts_output() -> None:
    mutants = parse_results(RESULTS)
    assert [m.status for m in mutants] == ["killed", "survived", "timeout", "no tests", "killed"]
    assert [m.file for m in mutants] == ["scratchnet/kernels.py"] * 2 + [
        "scratchnet/layers/conv.py"] * 2 + ["scratchnet/optim.py"]
    assert [m.function for m in mutants] == [
        "pad_spatial", "pad_spatial", "Conv2D.forward", "Conv2D.forward", "SGD.step"]
    assert parse_change(SHOW) == "- if padding == 0: / + if padding == 1:"


def _survivors() -> list[Mutant]:
    return [Mutant(m.name, m.status, f"+ change {i}") for i, m in enumerate(parse_results(RESULTS))]


def test_every_survivor_gets_its_reason_or_is_unexplained() -> None:
    mutants = _survivors()
    equivalent = {
        mutants[1].name: {"change": "+ change 1", "reason": "same numbers"},
        mutants[3].name: {"change": "+ change 99", "reason": "renumbered since"},
        mutants[0].name: {"change": "+ change 0", "reason": "was a survivor once"},
    }
    verdicts, unused = judge(mutants, equivalent)
    assert [(v.mutant.name, v.reason) for v in verdicts] == [
        (mutants[1].name, "same numbers"), (mutants[3].name, None)]
    assert "stale" in verdicts[1].note
    assert unused == [mutants[0].name]


def test_page_gives_the_score_per_file_and_flags_the_unexplained() -> None:
    mutants = _survivors()
    verdicts, unused = judge(mutants, {
        mutants[1].name: {"change": "+ change 1", "reason": "same numbers"}})
    page = render(mutants, verdicts, unused, date="2026-12-01", minutes=3.0, code="HEAD abc",
                  mutmut_version="3.8.1")
    assert "**Score: 3 of 5 mutants killed, 60.0%**" in page
    assert "| `scratchnet/kernels.py` | 2 | 1 | 0 | 1 | 1 | 50.0% |" in page
    assert "| **all** | 5 | 3 | 1 | 2 | 1 | 60.0% |" in page
    assert "same numbers" in page and "**UNEXPLAINED**" in page


def test_a_reason_needs_the_change_it_explains() -> None:
    assert load_equivalent('["a__mutmut_1"]\nchange = "+ x"\nreason = "y"\n') == {
        "a__mutmut_1": {"change": "+ x", "reason": "y"}}
    with pytest.raises(ValueError, match="needs exactly 'change' and 'reason'"):
        load_equivalent('["a__mutmut_1"]\nreason = "y"\n')
