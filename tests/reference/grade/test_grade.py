"""A generated class graded end to end: right and faulty implementations, crashing and
hostile submissions, hidden configurations, and every output (CSV, Gradescope JSON, HTML
in headless Chromium, the histogram)."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from reference.grade.formats import VISIBILITIES
from reference.grade.sample import write_hostile, write_submission

# Small limits, so that the hostile submissions cannot harm the machine: 8 s of wall time
# (a submission starts in milliseconds on a quiet machine; 3 s was once reached by a syntax
# error's import while five other processes kept both cores busy),
# 256 MB of address space beyond the grader's, 16 processes; no random configurations,
# so the class grades in seconds.
CONFIG = {"time_limit": 8, "memory_limit": 256, "processes": 16, "random_configurations": 0,
          "kinds": {"conv2d": {"points": 10, "hidden": ["stride > 1",
                                                        "stride, padding and untied bias"]},
                    "relu": {"points": 2}}}

CLASS = {
    "right": {"conv2d": None, "relu": None},
    "unflipped": {"conv2d": "conv-kernel-not-flipped-input-grad", "relu": None},
    "stride": {"conv2d": "conv-stride-ignored-input-grad", "relu": None},
    "relu-only": {"relu": "relu-grad-from-output-sign"},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    subs, out = base / "subs", base / "out"
    for name, held in CLASS.items():
        write_submission(subs / name, held)
    (subs / "crashes").mkdir()
    (subs / "crashes" / "layers.py").write_text(
        "class ReLU:\n    kind = 'relu'\n    params, grads = {}, {}\n"
        "    def forward(self, x):\n        raise RuntimeError('not yet')\n"
        "    def backward(self, g):\n        return g\n")
    (subs / "syntax.py").write_text("class Conv2D(\n")
    write_hostile(subs, out)
    config = base / "grading.toml"
    config.write_text(toml(CONFIG))
    # Graded as a course grades, by the command in a process of its own: a grader forked
    # from a pytest-xdist worker (which runs execnet's thread) once left a submission's
    # process hanging until its wall-time limit, in about 1 of 4 runs; from a process of
    # its own, 0 of 8 with both cores kept busy.
    subprocess.run([sys.executable, "-c", "import sys; from reports.cli import main; "
                    "sys.exit(main())", "grade", str(subs), "--out", str(out), "--config",
                    str(config), "--jobs", "2", "--no-progress"],
                   check=True, capture_output=True, timeout=300)
    table = pd.read_csv(out / "grades.csv", keep_default_na=False)
    return sorted(table["submission"].unique()), table.set_index(["submission", "kind"]), out


def toml(config: dict) -> str:
    """``config`` (top-level numbers, ``kinds.K`` tables of numbers and lists) as TOML."""
    lines = [f"{key} = {value}" for key, value in config.items() if key != "kinds"]
    for kind, spec in config["kinds"].items():
        lines.append(f"[kinds.{kind}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in spec.items()]
    return "\n".join(lines) + "\n"


def row(graded, submission, kind):
    return graded[1].loc[(submission, kind)]


def test_right_and_catalogued_mistakes_get_their_verdicts(graded):
    assert row(graded, "right", "conv2d")["verdict"] == "passed"
    assert row(graded, "right", "conv2d")["points"] == 10.0
    unflipped = row(graded, "unflipped", "conv2d")
    assert unflipped["verdict"] == "wrong"
    assert unflipped["mistakes"] == "conv-kernel-not-flipped-input-grad"
    assert row(graded, "relu-only", "relu")["mistakes"] == "relu-grad-from-output-sign"
    assert row(graded, "relu-only", "conv2d")["verdict"] == "not found"
    assert row(graded, "relu-only", "conv2d")["points"] == 0.0


def test_crashing_and_broken_submissions_are_reported(graded):
    crashes = row(graded, "crashes", "relu")
    assert crashes["verdict"] == "did not run" and crashes["configurations_passed"] == 0
    assert crashes["points"] == 0.0
    syntax = row(graded, "syntax.py", "conv2d")
    assert syntax["verdict"] == "did not run"
    assert "Importing syntax.py failed" in syntax["reason"] and "line 1" in syntax["reason"]


@pytest.mark.parametrize(("name", "verdict", "reason"), [
    ("loops.py", "did not run", "while checking ReLU: the wall-time limit of 8 s"),
    ("exits.py", "did not run", "exited with status 3"),
    ("forks.py", "did not run", "BlockingIOError"),
    ("kills.py", "did not run", "ProcessLookupError"),
    ("patches.py", "did not run", "results the grader cannot read"),
    ("allocates.py", "did not run", ""),
    ("prints.py", "wrong", ""),
])
def test_each_hostile_submission_gets_its_verdict_and_reason(graded, name, verdict, reason):
    got = row(graded, name, "relu")
    assert got["verdict"] == verdict and reason in got["reason"], dict(got)  # the row, when
    # it fails: exits.py has failed here now and then under load, its reason not yet seen
    assert got["points"] == 0.0 or name == "prints.py"


def test_hostile_submissions_change_no_other_grade_nor_the_outputs(graded):
    _, _, out = graded
    assert row(graded, "writes.py", "relu")["verdict"] == "passed"   # its writes went nowhere
    assert "hacked" not in (out / "grades.csv").read_text()
    assert "hacked" not in (out / "index.html").read_text()
    assert not (out / "submissions" / "right" / "results.json").read_text().startswith("hack")
    assert row(graded, "prints.py", "relu")["mistakes"] == "relu-grad-one-at-zero"
    assert "MemoryError" in row(graded, "allocates.py", "relu")["reason"]


def test_hidden_configurations_count_but_are_not_shown_to_the_student(graded):
    stride = row(graded, "stride", "conv2d")
    assert stride["verdict"] == "wrong" and stride["hidden_failed"] == 2
    total = stride["configurations_total"]
    passed = stride["configurations_passed"]
    assert passed <= total - 2
    assert stride["points"] == pytest.approx(10 * passed / total, abs=1e-4)  # 4 decimals
    assert stride["mistakes"] == "conv-stride-ignored-input-grad"
    result = json.loads((graded[2] / "submissions" / "stride" / "results.json").read_text())
    output = result["tests"][0]["output"]
    assert "Hidden checks: 2 of 2 hidden configurations did not pass." in output
    assert "'stride > 1'" not in output and "stride, padding and untied bias" not in output


def test_results_json_follows_gradescopes_documented_fields(graded):
    top = {"score", "execution_time", "output", "output_format", "test_output_format",
           "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
           "leaderboard"}
    test_fields = {"score", "max_score", "status", "name", "name_format", "number",
                   "output", "output_format", "tags", "visibility", "extra_data"}
    for path in (graded[2] / "submissions").glob("*/results.json"):
        result = json.loads(path.read_text())
        assert set(result) <= top
        assert isinstance(result["score"], int | float)
        assert isinstance(result["execution_time"], int) and result["execution_time"] >= 0
        assert result["visibility"] in VISIBILITIES
        assert result["stdout_visibility"] in VISIBILITIES
        assert isinstance(result["output"], str) and "Sandbox: Linux namespaces" in \
            result["output"]
        assert [t["name"].split(":")[0] for t in result["tests"]] == ["conv2d", "relu"]
        for test in result["tests"]:
            assert set(test) <= test_fields
            assert isinstance(test["name"], str) and isinstance(test["output"], str)
            assert 0 <= test["score"] <= test["max_score"]
            assert test["status"] in ("passed", "failed")
            assert test["visibility"] in VISIBILITIES
        assert result["score"] == pytest.approx(sum(t["score"] for t in result["tests"]))


def test_the_page_renders_its_table_in_headless_chromium(graded):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make test` (Debian's chromium)"
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", (graded[2] / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert '<table id="grades">' in dom
    assert dom.count("<tr>") == 1 + len(graded[0])
    assert dom.count("<details>") >= 2 * len(graded[0])
    assert "conv-kernel-not-flipped-input-grad" in dom
    assert '<img src="mistakes.png"' in dom


def test_the_histogram_is_a_png(graded):
    assert (graded[2] / "mistakes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
