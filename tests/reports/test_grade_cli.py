"""``scratchnet grade``: one line and exit 2 for a usage error; ``--gradescope`` writes
Gradescope's results.json where it is told."""

import json

import pytest

from reference.grade.sample import write_submission
from reports.cli import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "words"), [
    (["grade"], "expected SUBMISSIONS_DIR and --out RESULTS_DIR"),
    (["grade", "{tmp}/none", "--out", "{tmp}/out"], "SUBMISSIONS_DIR {tmp}/none: no such"),
    (["grade", "{tmp}/subs", "--out", "{tmp}/subs/out"], "inside SUBMISSIONS_DIR"),
    (["grade", "{tmp}/empty", "--out", "{tmp}/out"], "holds no submission"),
    (["grade", "{tmp}/subs", "--out", "{tmp}/out", "--config", "{tmp}/no.toml"],
     "--config {tmp}/no.toml: no such file"),
    (["grade", "{tmp}/subs", "--out", "{tmp}/out", "--config", "{tmp}/bad.toml"],
     "{tmp}/bad.toml: unknown kind [kinds.conv3d]"),
    (["grade", "--gradescope", "--submission", "{tmp}/none"], "--submission {tmp}/none"),
    (["grade", "--gradescope", "{tmp}/subs"], "leave out SUBMISSIONS_DIR and --out"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, words):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.toml").write_text("[kinds.conv3d]\n")
    code, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2
    assert err.startswith("scratchnet grade: error: ") and err.count("\n") == 1
    assert words.replace("{tmp}", str(tmp_path)) in err


def test_gradescope_mode_writes_results_json(tmp_path, capsys):
    write_submission(tmp_path / "submission", {"relu": "relu-grad-one-at-zero"})
    (tmp_path / "grading.toml").write_text("random_configurations = 0\n[kinds.relu]\n"
                                           "points = 4\n")
    results = tmp_path / "results" / "results.json"
    results.parent.mkdir()
    main(["grade", "--gradescope", "--submission", str(tmp_path / "submission"),
          "--results", str(results), "--config", str(tmp_path / "grading.toml")])
    assert "of 4 points" in capsys.readouterr().out
    written = json.loads(results.read_text())
    test, = written["tests"]
    assert test["name"] == "relu: ReLU" and test["max_score"] == 4.0
    assert test["status"] == "failed" and "relu-grad-one-at-zero" in test["output"]
    assert written["score"] == test["score"] < 4.0
