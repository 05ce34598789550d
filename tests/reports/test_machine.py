"""What the reports say about the machine, the libraries and the code."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pandas as pd
import torch

from reports import machine


def test_library_versions_are_the_imported_ones() -> None:
    versions = machine.library_versions()
    assert versions["numpy"] == np.__version__ and versions["torch"] == torch.__version__
    assert versions["pandas"] == pd.__version__
    assert versions["Python"].count(".") == 2


def test_cpu_and_blas_are_named() -> None:
    assert machine.cpu_model() and machine.cpu_model() != "unknown"
    assert "openblas" in machine.blas_name().lower()     # NumPy's wheels ship OpenBLAS


def test_machine_line_names_cores_cpu_and_system() -> None:
    line = machine.machine_line()
    assert line.startswith(f"{os.cpu_count()} cores, {machine.cpu_model()} (")
    assert f"({machine.vector_extensions()}; {machine.cache_sizes()}), " in line
    assert line.endswith(f"{platform.system()} {platform.machine()}")
    facts = {"CPU": "X", "cores": "2", "system": "S"}        # read back without the details
    assert machine.machine_line(facts) == "2 cores, X, S"
    assert machine.cpu_line(facts) == "X"


def test_vector_extensions_are_named_from_the_flags() -> None:
    assert machine.vector_extensions({"avx2", "avx512f", "fma"}) == "AVX-512"
    assert machine.vector_extensions({"avx", "avx2", "fma"}) == "AVX2 (no AVX-512)"
    assert machine.vector_extensions({"sse4_2", "avx"}) == "no AVX2"
    assert machine.vector_extensions(set()) == "unknown"
    # These machines are x86 with at least AVX2 (AMD EPYC, Intel Xeon).
    assert machine.vector_extensions() in ("AVX-512", "AVX2 (no AVX-512)")


def test_cache_sizes_are_read_from_sysfs(tmp_path) -> None:
    for index, (level, kind, size) in enumerate([(1, "Data", "32K"), (1, "Instruction", "32K"),
                                                 (2, "Unified", "1024K"),
                                                 (3, "Unified", "32768K")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (folder / name).write_text(f"{value}\n")
    assert machine.cache_sizes(tmp_path) == "L1d 32 KiB, L2 1 MiB, L3 32 MiB"
    (tmp_path / "index2" / "size").write_text("512K\n")
    assert machine.cache_sizes(tmp_path) == "L1d 32 KiB, L2 512 KiB, L3 32 MiB"
    assert machine.cache_sizes(tmp_path / "missing") == "unknown"
    assert machine.cache_sizes().startswith("L1d ")                 # this machine's


def test_thread_settings_are_recorded_not_changed(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    info = machine.thread_info()
    assert info["OMP_NUM_THREADS"] == "3" and info["MKL_NUM_THREADS"] == "not set"
    assert info["torch threads (intra-op / inter-op)"].startswith(f"{torch.get_num_threads()} /")
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_git_info_names_the_commit() -> None:
    text = machine.git_info()
    # The suite runs in a git checkout (CI clones the repository).
    assert text.startswith("HEAD ") and "scratchnet/ last changed in" in text


def test_one_description_serves_the_table_and_the_header_line() -> None:
    """The benchmark's table shows the facts the accuracy report's line words."""
    info = machine.description()
    assert info["CPU"] == machine.cpu_model() and info["cores"] == str(os.cpu_count())
    assert info["numpy"] == np.__version__ and info["numpy BLAS"] == machine.blas_name()
    assert info["scratchnet commit"].startswith("HEAD ")
    assert machine.TORCH_THREADS in info and "OMP_NUM_THREADS" in info
    env = machine.environment(info)
    assert env["machine"] == machine.machine_line(info) == machine.machine_line()
    assert env["torch"] == info["torch"] and env["commit"] == info["scratchnet commit"]
    assert env["torch threads"] == info[machine.TORCH_THREADS]


def test_header_line_words_the_environment() -> None:
    env = {"Python": "3.1.4", "numpy": "2.7", "torch": "1.8", "pandas": "2.8",
           "machine": "3 cores, a CPU, an OS", "torch threads": "3 / 1", "commit": "HEAD abc"}
    versions = "Versions: Python 3.1.4, NumPy 2.7, PyTorch 1.8, pandas 2.8. Code: HEAD abc."
    assert machine.header_line(env) == ("Machine: 3 cores, a CPU, an OS; PyTorch threads: "
                                        f"3 / 1 (intra-op / inter-op). {versions}")
    assert machine.header_line(env, "1 per experiment") == (
        f"Machine: 3 cores, a CPU, an OS; PyTorch threads: 1 per experiment. {versions}")
    del env["torch threads"]                      # as a study's older JSON stores it
    assert machine.header_line(env) == f"Machine: 3 cores, a CPU, an OS. {versions}"


def test_vector_code_is_read_from_the_libraries() -> None:
    """Under AVX2_CODE every library runs its AVX2 code, whichever kind of CPU this is, and
    says so; a fresh process, since the libraries choose when they load."""
    code = "from reports import machine; print(machine.vector_code())"
    limited = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, **machine.AVX2_CODE}, check=True).stdout
    assert limited == ("NumPy up to X86_V3, OpenBLAS Haswell kernels, PyTorch AVX2, limited "
                       "to AVX2 code (--isa avx2)\n")
    native = machine.vector_code()
    assert "limited" not in native or machine.limited_to_avx2()
    assert native.startswith("NumPy up to ") and "OpenBLAS " in native
    info = {**machine.machine_facts(), "vector code in use": limited}
    assert ", run with AVX2 code only, L1d " in machine.cpu_line(info)
