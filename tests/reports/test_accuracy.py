"""The accuracy report: a --quick run on real MNIST (CI's smoke test), resume, and outputs."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from reports import accuracy, machine
from reports.workers import one_thread
from scratchnet.data import load_dataset
from tests.real_data import require_real_mnist

QUICK = ["seed-shallow-1k", "full-mnist-untied", "full-mnist-bn-dropout", "float32-drift"]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("report")
    results = accuracy.run_report(out, quick_run=True, only=QUICK,
                                  data_dir=str(require_real_mnist()), download=False,
                                  progress=False, command="scratchnet report --quick")
    return out, results


def test_quick_report_writes_every_output(quick_report) -> None:
    out, results = quick_report
    assert [e.name for e, _ in results] == QUICK
    for name in QUICK:
        history = pd.read_csv(out / f"{name}.csv")
        assert len(history) == 2 and list(history["epoch"]) == [1, 2]
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert json.loads((out / f"{name}.json").read_text())["name"] == name
    text = (out / "README.md").read_text()
    assert "Produced by `scratchnet report --quick`" in text
    for name in QUICK:
        assert f"![accuracy and loss curves]({name}.png)" in text
    # The batch-norm network's row sits right below the seed network's, with its buffer gap;
    # the networks without buffers have none to show.
    rows = [line for line in text.splitlines() if line.startswith("| [")]
    assert [row.split("]")[0][3:] for row in rows] == QUICK
    assert "largest buffer gap" in text and re.search(r"\| +buffer gap +\|", text)
    assert rows[1].split("|")[9].strip() == "" and "e-" in rows[2].split("|")[9]
    assert "NumPy " + np.__version__ in text
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_float64_runs_agree_with_pytorch(quick_report) -> None:
    """In float64 scratchnet and the twin predict alike every epoch and their weights, and
    the batch norm's running statistics, stay within the project's float64 agreement bound
    (1e-12; measured about 1e-16 for the weights here, 1e-15 for the statistics, which
    stay below 1 in these 26 steps)."""
    _, results = quick_report
    for experiment, history in results:
        if experiment.dtype == "float64":
            assert (history["prediction_agreement"] == 1.0).all(), experiment.name
            assert history["param_gap"].max() < 1e-12, experiment.name
            has_buffers = experiment.variant == "full-bn-dropout"
            assert ("buffer_gap" in history) == has_buffers, experiment.name
            if has_buffers:
                assert history["buffer_gap"].max() < 1e-12, experiment.name
            np.testing.assert_array_equal(history["scratchnet_test_acc"],
                                          history["torch_test_acc"])
            assert history["scratchnet_train_loss"].iloc[-1] < np.log(10)  # it learned


def test_float32_drift_is_reported_and_small(quick_report) -> None:
    """Float32 rounding differs between the two; after 2 short epochs the weights differ by
    rounding only (measured about 2e-8), far below anything a bug would cause."""
    _, results = quick_report
    history = dict((e.name, h) for e, h in results)["float32-drift"]
    assert 0 < history["param_gap"].max() < 1e-5


def test_workers_train_exactly_as_one_thread_here(quick_report) -> None:
    """The quick report trains its experiments in single-threaded worker processes; the
    same experiment trained here with one thread gives the same history to the bit (every
    loss, accuracy and weight gap; only the times differ). (With PyTorch's default two
    threads its weights differ in the last bit: measured 1.4e-17.)"""
    _, results = quick_report
    experiment, from_worker = results[0]
    dataset = load_dataset("mnist", str(require_real_mnist()), download=False)
    with one_thread():
        here = accuracy.run_experiment(experiment, dataset, progress=False, pause=0.0)
    timed = ["scratchnet_seconds", "torch_seconds", "eval_seconds", "epoch_seconds"]
    pd.testing.assert_frame_equal(from_worker.drop(columns=timed), here.drop(columns=timed),
                                  check_exact=True)


def test_resume_keeps_finished_experiments(quick_report, monkeypatch, tmp_path) -> None:
    # A copy: the resumed run rewrites README.md, which another test reads from the original.
    out = shutil.copytree(quick_report[0], tmp_path / "report")
    monkeypatch.setattr(accuracy, "run_experiment",
                        lambda *a, **k: pytest.fail("a finished experiment was rerun"))
    again = accuracy.run_report(out, quick_run=True, only=QUICK[:1], resume=True,
                                progress=False, download=False)
    pd.testing.assert_frame_equal(again[0][1], pd.read_csv(out / f"{QUICK[0]}.csv"))


def test_the_batch_norm_experiment_is_the_seed_networks_with_its_layers_added() -> None:
    """full-mnist-bn-dropout differs from full-mnist-untied (the row it sits below) in the
    network only: same data, bias, dtype, optimizer and epochs, so the two compare."""
    by_name = {e.name: e for e in accuracy.EXPERIMENTS}
    names = list(by_name)
    assert names.index("full-mnist-bn-dropout") == names.index("full-mnist-untied") + 1
    bn, seed = by_name["full-mnist-bn-dropout"], by_name["full-mnist-untied"]
    assert bn.variant == "full-bn-dropout" and seed.variant == "full"
    differ = {k for k, v in bn.settings().items() if seed.settings()[k] != v}
    assert differ == {"name", "title", "variant", "expected"}


def test_unknown_experiment_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown experiment\(s\) \['seed'\]; known: "):
        accuracy.run_report(only=["seed"])


def test_first_per_class_is_balanced_and_in_file_order() -> None:
    labels = np.array([3, 1, 3, 0, 1, 1, 0, 3, 2, 2])
    idx = accuracy.first_per_class(labels, 2)
    np.testing.assert_array_equal(idx, [0, 1, 2, 3, 4, 6, 8, 9])
    assert np.bincount(labels[idx]).tolist() == [2, 2, 2, 2]


def test_header_names_the_code_that_ran(tmp_path, monkeypatch) -> None:
    """The commit is read when the run starts: a commit made while it trains is not named."""
    def git_info() -> str:   # what git would say: a commit lands once training has begun
        trained = (tmp_path / "seed-shallow-1k.csv").exists()
        return "HEAD bbbbbbb (made during the run)" if trained else "HEAD aaaaaaa (at the start)"

    monkeypatch.setattr(machine, "git_info", git_info)
    with one_thread():   # in this process (the patch holds here), as a worker would run it
        accuracy.run_report(tmp_path, quick_run=True, only=["seed-shallow-1k"],
                            data_dir=str(require_real_mnist()), download=False,
                            progress=False, workers=1)
    text = (tmp_path / "README.md").read_text()
    assert "HEAD aaaaaaa (at the start)" in text and "bbbbbbb" not in text


class FakeStudy:
    """A study that writes one file and reads its section back from it."""

    name, title = "fake-study", "A fake study"

    def __init__(self) -> None:
        self.runs = 0

    def run(self, out_dir, command: str) -> None:
        self.runs += 1
        (out_dir / "fake-study.txt").write_text(f"made by {command}")

    def finished(self, out_dir) -> bool:
        return (out_dir / "fake-study.txt").exists()

    def section(self, out_dir) -> list[str]:
        return ['<a id="fake-study"></a>', "## A fake study", "",
                (out_dir / "fake-study.txt").read_text(), ""]


@pytest.fixture()
def fake_study(monkeypatch) -> FakeStudy:
    fake = FakeStudy()
    monkeypatch.setattr(accuracy, "STUDIES", (accuracy.Study(
        fake.name, fake.title, fake.run, fake.finished, fake.section),))
    return fake


def test_only_an_experiment_keeps_the_studies_and_the_other_experiments(
    tmp_path, monkeypatch, fake_study
) -> None:
    """``--only seed-shallow-1k`` rewrites the README with every finished experiment and
    study, read back from their files, not only the one it ran; a study not named is not
    rerun, and a second study run is skipped by --resume."""
    committed = accuracy.DEFAULT_OUT / "seed-full-1k"
    for suffix in (".csv", ".json"):
        (tmp_path / f"seed-full-1k{suffix}").write_bytes(
            committed.with_suffix(suffix).read_bytes())
    accuracy.run_report(tmp_path, only=["fake-study"], command="first run")
    history = pd.read_csv(accuracy.DEFAULT_OUT / "seed-shallow-1k.csv")
    monkeypatch.setattr(accuracy, "load_dataset", lambda *args: None)
    monkeypatch.setattr(accuracy, "run_experiment", lambda *args, **kwargs: history)
    # In this process (workers=1), where the patches hold: a worker would train for real.
    accuracy.run_report(tmp_path, only=["seed-shallow-1k"], command="second run", workers=1)
    assert fake_study.runs == 1
    readme = (tmp_path / "README.md").read_text()
    for name in ("seed-shallow-1k", "seed-full-1k", "fake-study"):
        assert f'<a id="{name}"></a>' in readme, name
    assert "made by first run" in readme and "Produced by `second run`" in readme
    assert "read back from their files): seed-full-1k, fake-study." in readme
    assert "Also: [A fake study](#fake-study)." in readme
    assert '<a id="full-mnist-untied"></a>' not in readme     # never finished here

    accuracy.run_report(tmp_path, only=["fake-study"], resume=True)
    assert fake_study.runs == 1


def test_a_study_alone_in_an_empty_directory(tmp_path, fake_study) -> None:
    accuracy.run_report(tmp_path, only=["fake-study"], command="scratchnet report")
    readme = (tmp_path / "README.md").read_text()
    assert "No lockstep experiment has finished here yet." in readme
    assert '<a id="fake-study"></a>' in readme and "read back" not in readme


def test_the_relu_boundary_study_is_part_of_the_report() -> None:
    assert [s.name for s in accuracy.STUDIES] == ["relu-boundary"]
    with pytest.raises(ValueError, match=r"known: seed-shallow-1k, .*, relu-boundary$"):
        accuracy.run_report(only=["nope"])


def test_the_largest_experiment_by_its_last_run_starts_first(quick_report, tmp_path) -> None:
    out = shutil.copytree(quick_report[0], tmp_path / "report")
    experiments = [accuracy.quick(e) for e in accuracy.EXPERIMENTS if e.name in QUICK]
    by_images = accuracy.expected_work(tmp_path / "empty", experiments)
    assert by_images == {e.name: accuracy._images_trained(e) for e in experiments}
    # The last run's seconds rank them once every experiment has a finished run: the
    # last one (by images no larger than the first) is made the slowest by its CSV.
    small = experiments[-1]
    assert by_images[small.name] <= by_images[experiments[0].name]
    history = pd.read_csv(out / f"{small.name}.csv")
    history["epoch_seconds"] = 1e6
    history.to_csv(out / f"{small.name}.csv", index=False)
    by_seconds = accuracy.expected_work(out, experiments)
    assert max(by_seconds, key=by_seconds.get) == small.name
    assert by_seconds[small.name] == 1e6 * len(history)
    # One experiment without a finished run: images again, for all.
    (out / f"{experiments[0].name}.csv").unlink()
    assert accuracy.expected_work(out, experiments) == by_images
