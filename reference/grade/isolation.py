"""Running untrusted code in child processes that can only send data back.

Three kinds of process, each forked from the one before:

* the **fork server** (``Isolator.start``), forked by the grader once the batteries are
  prepared, after ``Isolator``'s caller has blinded nothing yet: it calls ``blind`` first
  (which wipes what the submissions must not read, PyTorch's reference numbers) and then
  forks one nanny per submission on request. The grader's memory holds other students'
  results; the fork server's never does, so no submission can read them.
* a **nanny** per submission: its own session, the sandbox (``sandbox.enter``) when the
  machine allows it, then the worker; it reports the worker's pid and exit status on a
  control pipe, and as root kills whatever the worker's uid left behind.
* the **worker**: privileges dropped (``sandbox.drop_privileges``), limits set
  (``Limits``), stdout and stderr in size-capped files, environment emptied, then the
  task: it sends frames (``wire.frame``) on the result pipe and exits with ``os._exit``.

The grader (``Isolator.run``) reads every pipe, kills a submission's processes when its
wall time is up (the worker is PID 1 of its PID namespace, so killing it ends every
process it started), and hands back an ``Outcome``: the frames received and, when the
worker did not end normally, why, in words. It never reads the worker's stdout for
results: a submission printing a fake ``results.json`` changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reference.grade import sandbox, wire

#: A task run in a worker: ``task(submission_copy, send)``, ``send(header, arrays)``.
Task = Callable[[Path, Callable[[dict[str, Any], dict[str, np.ndarray]], None]], None]

PR_SET_PDEATHSIG = 1

#: How long a submission's sandbox may take to be made before its worker starts (its
#: wall-time clock starts then: ``_Job.watch``).
SETUP_SECONDS = 60.0


@dataclass(frozen=True)
class Limits:
    """What one submission's processes may use.

    Attributes:
        wall_seconds: wall time before every process of the submission is killed.
        cpu_seconds: CPU time of the worker (``RLIMIT_CPU``; each process it forks has its
            own, bounded by the wall time).
        memory_bytes: address space beyond the grader's (``RLIMIT_AS``; the worker starts
            as a copy of the grader, which has NumPy and PyTorch mapped).
        processes: processes and threads of the worker's uid (``RLIMIT_NPROC``; counted
            per submission where the sandbox gives it a uid or namespace of its own).
        output_bytes: the largest file it may write (``RLIMIT_FSIZE``): its stdout and
            stderr, each.
        result_bytes: the most the grader reads from its result pipe.
        open_files: ``RLIMIT_NOFILE``.
    """

    wall_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_bytes: int = 2 * 2**30
    processes: int = 64
    output_bytes: int = 2**20
    result_bytes: int = 256 * 2**20
    open_files: int = 256


@dataclass
class Outcome:
    """What became of one submission's worker.

    Attributes:
        submission: the submission's path, as given.
        frames: the frames it sent, in order, each ``(header, arrays)``.
        problem: why it did not end normally, in words (None when it did).
        seconds: wall time from the request to the end.
        stdout, stderr: the start of what it printed (at most ``Limits.output_bytes``).
    """

    submission: Path
    frames: list[tuple[dict[str, Any], dict[str, np.ndarray]]] = field(default_factory=list)
    problem: str | None = None
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""


def sandbox_probe(scratch: Path) -> str | None:
    """Why the sandbox cannot be used here (None when it can): a forked process tries
    to ``sandbox.enter`` with an empty submission."""
    if sys.platform != "linux":
        return f"no Linux namespaces on {sys.platform}"
    empty = Path(tempfile.mkdtemp(dir=scratch))
    root = Path(tempfile.mkdtemp(dir=scratch))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                           # the probe
        os.close(read)
        try:
            sandbox.enter(root, empty, [], 0)
            os.write(write, b"ok")
        except BaseException as err:  # reported
            os.write(write, str(err).encode()[:500])
        os._exit(0)
    os.close(write)
    answer = _read_all(read)
    os.waitpid(pid, 0)
    return None if answer == b"ok" else (answer.decode(errors="replace") or "it crashed")


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


class Isolator:
    """Runs a ``Task`` on each submission in its own sandboxed, limited worker, ``jobs``
    at a time (see the module).

    Args:
        task: what a worker does with its submission's copy (runs the submission's code).
        blind: called in the fork server before any worker exists: wipes what workers
            must not read.
        limits: per submission.
        jobs: workers at a time.
        hide: folders no worker may see (the submissions, the results).
        sandbox_mode: ``"namespaces"`` or ``"none"`` (``sandbox_probe`` decides).
    """

    def __init__(self, task: Task, blind: Callable[[], None], limits: Limits, jobs: int,
                 hide: list[Path], sandbox_mode: str, scratch: Path) -> None:
        self.task, self.blind, self.limits, self.jobs = task, blind, limits, jobs
        self.hide, self.sandbox_mode, self.scratch = hide, sandbox_mode, scratch
        self.as_root = sandbox.is_root()
        self.server_pid: int | None = None
        self.socket: socket.socket | None = None

    # ---- the grader's side ------------------------------------------------------------

    def __enter__(self) -> Isolator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Fork the fork server."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        os.chmod(self.scratch, 0o755)                     # a worker's uid reads its copy
        (self.scratch / "root").mkdir(exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._serve(theirs)                            # never returns
        theirs.close()
        self.server_pid, self.socket = pid, ours

    def stop(self) -> None:
        """End the fork server."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        if self.server_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.server_pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.server_pid, 0)
            self.server_pid = None

    def run(self, submissions: Iterable[Path]) -> Iterator[Outcome]:
        """Each submission's ``Outcome``, in the order they finish."""
        pending, running = deque(submissions), {}
        free = list(range(self.jobs))
        selector = selectors.DefaultSelector()
        try:
            while pending or running:
                while pending and free:
                    job = self._launch(pending.popleft(), free.pop(0))
                    running[job.slot] = job
                    selector.register(job.result, selectors.EVENT_READ, (job, "result"))
                    selector.register(job.control, selectors.EVENT_READ, (job, "control"))
                wait = min(job.deadline for job in running.values()) - time.monotonic()
                for key, _ in selector.select(timeout=max(0.0, min(wait, 1.0))):
                    job, which = key.data
                    if not job.read(which, self.limits.result_bytes):
                        selector.unregister(key.fd)
                for job in list(running.values()):
                    job.watch(self.limits.wall_seconds)
                    if not job.finished and time.monotonic() > job.deadline:
                        job.kill(f"the wall-time limit of {self.limits.wall_seconds:g} s "
                                 "was reached" if job.running else
                                 f"its sandbox was not ready within {SETUP_SECONDS:g} s")
                    if job.too_much is not None and not job.finished:
                        job.kill(job.too_much)
                    if job.finished:
                        for fd in (job.result, job.control):
                            with contextlib.suppress(KeyError, ValueError):
                                selector.unregister(fd)
                        del running[job.slot]
                        free.append(job.slot)
                        yield job.outcome(self.limits)
        finally:
            for job in running.values():
                job.kill("grading stopped")
                job.close()
            selector.close()

    def _launch(self, submission: Path, slot: int) -> _Job:
        assert self.socket is not None, "Isolator.start first"
        result_r, result_w = os.pipe()
        control_r, control_w = os.pipe()
        with contextlib.suppress(OSError):                # a bigger pipe: fewer waits
            import fcntl
            fcntl.fcntl(result_r, 1031, 2**20)             # F_SETPIPE_SZ
        logs = Path(tempfile.mkdtemp(dir=self.scratch))
        out = os.open(logs / "stdout", os.O_WRONLY | os.O_CREAT, 0o600)
        err = os.open(logs / "stderr", os.O_WRONLY | os.O_CREAT, 0o600)
        request = json.dumps({"submission": str(submission.resolve()), "slot": slot})
        try:
            socket.send_fds(self.socket, [request.encode()], [result_w, control_w, out, err])
        except OSError as error:
            raise RuntimeError(f"the grader's fork server is gone: {error}") from None
        for fd in (result_w, control_w, out, err):
            os.close(fd)
        return _Job(submission, slot, result_r, control_r, logs,
                    time.monotonic() + SETUP_SECONDS)

    # ---- the fork server ---------------------------------------------------------------

    def _serve(self, channel: socket.socket) -> None:
        """The fork server's loop: blind, then fork a nanny per request, until the grader
        closes the channel."""
        try:
            _libc_prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # nannies are reaped by the kernel
            self.blind()
            while True:
                message, fds, _, _ = socket.recv_fds(channel, 65536, 4)
                if not message:
                    break
                request = json.loads(message)
                if os.fork() == 0:
                    channel.close()
                    self._nanny(Path(request["submission"]), request["slot"], fds)
                for fd in fds:
                    os.close(fd)
        finally:
            os._exit(0)

    def _nanny(self, submission: Path, slot: int, fds: list[int]) -> None:
        """A submission's nanny (see the module); never returns."""
        result_w, control_w, out, err = fds
        status = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            vm = _virtual_memory()
            root = self.scratch / "root"
            if self.sandbox_mode == "namespaces":
                sandbox.enter(root, submission, self.hide, slot)
                where = Path("/submission")
            else:
                where = Path(tempfile.mkdtemp(dir=self.scratch)) / "submission"
                sandbox.copy_submission(submission, where)
                os.chmod(where.parent, 0o755)
                if self.as_root:
                    sandbox._own(where, sandbox.SANDBOX_UID + slot)
            null = os.open("/dev/null", os.O_RDONLY)
            pid = os.fork()
            if pid == 0:
                os.close(control_w)
                self._worker(where, slot, vm, result_w, out, err, null)
            for fd in (result_w, out, err, null):
                os.close(fd)
            os.write(control_w, json.dumps({"worker": pid}).encode() + b"\n")
            _, wait_status = os.waitpid(pid, 0)
            if self.as_root and self.sandbox_mode != "namespaces":   # no PID namespace
                _kill_uid(sandbox.SANDBOX_UID + slot)               # to end them all
            os.write(control_w, json.dumps({"status": wait_status}).encode() + b"\n")
            status = 0
        except BaseException as error:  # reported
            with contextlib.suppress(OSError):
                os.write(control_w, json.dumps(
                    {"error": f"{type(error).__name__}: {error}"}).encode() + b"\n")
        finally:
            os._exit(status)

    def _worker(self, where: Path, slot: int, vm: int, result_w: int, out: int, err: int,
                null: int) -> None:
        """A submission's worker (see the module); never returns."""
        me = os.getpid()
        try:
            os.setsid()
            for fd, target in ((null, 0), (out, 1), (err, 2)):
                os.dup2(fd, target)
                os.close(fd)
            sys.stdout = open(1, "w", buffering=1, errors="replace", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, errors="replace", closefd=False)  # noqa: SIM115
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full file: an error, not death
            if self.sandbox_mode == "namespaces" or self.as_root:
                sandbox.drop_privileges(slot, self.as_root)
            _set_limits(self.limits, vm)
            os.environ.clear()
            os.environ.update({"PATH": "/usr/bin:/bin", "HOME": str(where), "LANG": "C.UTF-8"})
            os.chdir(where)
            sys.path.insert(0, str(where))

            def send(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
                if os.getpid() != me:                      # a process the submission forked
                    os._exit(0)
                data = wire.frame(header, arrays)
                view = memoryview(data)
                while view:
                    view = view[os.write(result_w, view):]

            self.task(where, send)
        except BaseException as error:  # reported
            if os.getpid() == me:
                with contextlib.suppress(BaseException):
                    os.write(result_w, wire.frame({"type": "crash", "error":
                                                   f"{type(error).__name__}: {error}"[:500]}))
        finally:
            if os.getpid() == me:
                with contextlib.suppress(BaseException):
                    sys.stdout.flush()
                    sys.stderr.flush()
            os._exit(0)


@dataclass
class _Job:
    """A submission being graded: its pipes, deadline and what has come back."""

    submission: Path
    slot: int
    result: int
    control: int
    logs: Path
    deadline: float
    started: float = field(default_factory=time.monotonic)
    data: bytearray = field(default_factory=bytearray)
    control_data: bytearray = field(default_factory=bytearray)
    open_pipes: set[str] = field(default_factory=lambda: {"result", "control"})
    killed: str | None = None
    too_much: str | None = None
    ended: float | None = None
    running: bool = False

    def watch(self, wall_seconds: float) -> None:
        """Start the wall-time clock when the worker starts (its nanny says so once the
        sandbox is made): making namespaces can wait on the kernel (a network namespace
        behind the cleanup of earlier ones took seconds here under load), which is not
        the submission's time."""
        if not self.running and "worker" in self.messages():
            self.running = True
            self.deadline = time.monotonic() + wall_seconds

    @property
    def finished(self) -> bool:
        return not self.open_pipes or self.killed is not None

    def read(self, which: str, cap: int) -> bool:
        """Read what ``which`` pipe holds; False at its end."""
        fd = self.result if which == "result" else self.control
        try:
            chunk = os.read(fd, 2**20)
        except OSError:
            chunk = b""
        if not chunk:
            self.open_pipes.discard(which)
            os.close(fd)
            return False
        target = self.data if which == "result" else self.control_data
        if len(target) + len(chunk) > cap:
            self.too_much = f"it sent more than {cap // 2**20} MB of results"
        else:
            target.extend(chunk)
        return True

    def messages(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for line in bytes(self.control_data).splitlines():
            with contextlib.suppress(ValueError):
                out.update(json.loads(line))
        return out

    def kill(self, why: str) -> None:
        """End every process of this submission: its worker (PID 1 of its namespace, when
        sandboxed) and the worker's process group."""
        if self.killed is None:
            self.killed = why
        pid = self.messages().get("worker")
        if isinstance(pid, int) and pid > 0:
            for kill, target in ((os.kill, pid), (os.killpg, pid)):
                with contextlib.suppress(OSError):
                    kill(target, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        for which in list(self.open_pipes):
            with contextlib.suppress(OSError):
                os.close(self.result if which == "result" else self.control)
        self.open_pipes.clear()

    def outcome(self, limits: Limits) -> Outcome:
        frames, malformed = wire.frames(bytes(self.data))
        messages = self.messages()
        problem = self.killed or malformed
        if problem is None:
            if "error" in messages:
                problem = f"the grader could not start its process: {messages['error']}"
            elif "status" not in messages:
                problem = "its supervising process was killed"
            else:
                problem = _status_words(messages["status"], limits)
        stdout, stderr = (_head(self.logs / name, limits.output_bytes)
                          for name in ("stdout", "stderr"))
        for name in ("stdout", "stderr"):
            with contextlib.suppress(OSError):
                (self.logs / name).unlink()
        with contextlib.suppress(OSError):
            self.logs.rmdir()
        return Outcome(self.submission, frames, problem, time.monotonic() - self.started,
                       stdout, stderr)


def _status_words(status: int, limits: Limits) -> str | None:
    """Why a worker ended, from its wait status (None: it exited with 0)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        if sig == signal.SIGXCPU:
            return f"the CPU-time limit of {limits.cpu_seconds} s was reached ({name})"
        return f"its process was killed by {name}"
    code = os.waitstatus_to_exitcode(status)
    return None if code == 0 else f"its process exited with status {code} (os._exit or exit)"


def _head(path: Path, cap: int) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(cap).decode(errors="replace")
    except OSError:
        return ""


def _virtual_memory() -> int:
    """This process's address space in bytes (``VmSize``), 0 when unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _set_limits(limits: Limits, vm: int) -> None:
    """The worker's resource limits (see ``Limits``)."""
    settings = [(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5),
                (resource.RLIMIT_NPROC, limits.processes, limits.processes),
                (resource.RLIMIT_FSIZE, limits.output_bytes, limits.output_bytes),
                (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
                (resource.RLIMIT_CORE, 0, 0)]
    if vm:
        settings.append((resource.RLIMIT_AS, vm + limits.memory_bytes,
                         vm + limits.memory_bytes))
    for which, soft, hard in settings:
        resource.setrlimit(which, (soft, hard))


def _kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (what a submission left behind without a PID
    namespace): a short-lived process becomes ``uid`` and signals all it may."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _libc_prctl(option: int, value: int) -> None:
    sandbox._libc.prctl(option, value, 0, 0, 0)
