"""The sandbox a submission's process runs in on Linux: its own namespaces, a filesystem
of read-only library folders plus a copy of its submission, no network, no privileges.

The grader forks a submission's process from one that has already imported NumPy, PyTorch
and the checker, so the process must keep seeing the files those modules were loaded from
(a lazy ``import`` inside NumPy reads them) and must see nothing else. The namespaces are
made with ``unshare(2)`` through ``ctypes`` (Python 3.11 has no ``os.unshare``) *after* the
fork, which keeps every imported module alive: a fresh interpreter under bubblewrap would
re-import PyTorch for every submission (2-5 s each, measured on this project's 2-core
machines: ``python -c "import reference.check"`` takes 4.9 s), where a fork takes
milliseconds.

``enter`` (in the submission's "nanny" process, before it forks the worker):

* ``unshare`` a mount, network, PID, IPC and UTS namespace (and a user namespace when the
  grader is not root, mapping the grader's uid to root inside it);
* mount a tmpfs as the new root, bind the folders Python imports from (``visible_paths``:
  ``/usr``, the interpreter's prefixes, every folder of ``sys.path``) read-only at their own
  paths, cover the folders to hide (the submissions and the results) with empty read-only
  tmpfs where they lie inside those, copy the submission to ``/submission``, and
  ``pivot_root`` into it, detaching the old root;
* the worker forked next is PID 1 of the new PID namespace: it sees no other process (its
  ``getppid()`` is 0), and when it ends, every process it started ends with it.

``drop_privileges`` (in the worker): as root, become a uid of its own
(``SANDBOX_UID + slot``), which has no capabilities, cannot signal the grader or another
submission's process, and has a process count of its own for ``RLIMIT_NPROC`` (root is
exempt from that limit); in a user namespace, give up every capability (so the read-only
mounts stay read-only). ``no_new_privs`` is set in both.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import sys
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
LINUX_CAPABILITY_VERSION_3 = 0x20080522

#: The first uid a submission's process runs as when the grader is root (one per slot).
SANDBOX_UID = 2_000_000

#: The sandbox's own tmpfs (its root, /tmp and the submission's copy) holds at most this.
TMPFS_SIZE = "64m"

#: A submission folder larger than this is not copied (nor graded).
MAX_SUBMISSION_BYTES = 20 * 2**20

DEVICES = ("null", "zero", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str | Path, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), str(target).encode(),
                       fstype and fstype.encode(), ctypes.c_ulong(flags),
                       data and data.encode()), f"mount {target}")


def visible_paths() -> list[Path]:
    """The folders a submission's process sees read-only: ``/usr``, the interpreter's
    prefixes and the folders of ``sys.path`` (resolved; none inside another)."""
    candidates = ["/usr", sys.prefix, sys.base_prefix, sys.exec_prefix,
                  *(entry or os.getcwd() for entry in sys.path)]
    dirs = sorted({Path(p).resolve() for p in candidates if Path(p).is_dir()})
    return [d for d in dirs if not any(d != o and d.is_relative_to(o) for o in dirs)]


def is_root() -> bool:
    """Whether the grader runs as root (it then needs no user namespace)."""
    return os.geteuid() == 0


def copy_submission(source: Path, target: Path) -> None:
    """Copy the submission (a folder, or one ``.py`` file) into ``target``, refusing one
    larger than ``MAX_SUBMISSION_BYTES``; symbolic links are not followed out of it."""
    files = [source] if source.is_file() else \
        [p for p in sorted(source.rglob("*")) if p.is_file() and not p.is_symlink()]
    if sum(p.stat().st_size for p in files) > MAX_SUBMISSION_BYTES:
        raise OSError(f"the submission is larger than {MAX_SUBMISSION_BYTES // 2**20} MB")
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        dest = target / (path.name if source.is_file() else path.relative_to(source))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)


def _own(tree: Path, uid: int) -> None:
    """Give ``tree`` to ``uid`` (the submission may write in its own copy)."""
    for path in [tree, *tree.rglob("*")]:
        os.chown(path, uid, uid)


def enter(root: Path, submission: Path, hide: list[Path], slot: int) -> None:
    """Move this process into new namespaces whose filesystem is the read-only
    ``visible_paths`` and ``/submission``, a copy of ``submission``; see the module.

    Args:
        root: an existing empty folder to mount the new root on (in this process's own
            mount namespace: other processes keep seeing it empty).
        submission: the submission's folder or file.
        hide: folders covered by empty ones where they lie inside the visible paths.
        slot: the worker's slot (its uid as root: ``SANDBOX_UID + slot``).
    """
    uid, gid, as_root = os.getuid(), os.getgid(), is_root()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _check(_libc.unshare(flags if as_root else flags | CLONE_NEWUSER), "unshare")
    if not as_root:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, f"size={TMPFS_SIZE},mode=755")
    visible = visible_paths()
    for path in visible:
        _bind(path, root / path.relative_to("/"), MS_REC)
    for name in ("lib", "lib64", "bin", "sbin"):          # merged /usr: the links to it
        link = Path("/") / name
        if link.is_symlink() and not (root / name).exists():
            os.symlink(os.readlink(link), root / name)
    for path in hide:
        path = path.resolve()
        if any(path.is_relative_to(v) for v in visible) and path.is_dir():
            _mount("tmpfs", root / path.relative_to("/"), "tmpfs",
                   MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=555")
    (root / "dev").mkdir()
    for device in DEVICES:
        (root / "dev" / device).touch()
        _bind(Path("/dev") / device, root / "dev" / device, 0, read_only=False)
    # /tmp may exist already: the project or its environment may live under it (a CI
    # clone in /tmp), and its folders are bound above, read-only inside a writable /tmp.
    (root / "tmp").mkdir(mode=0o1777, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    copy_submission(submission, root / "submission")
    if as_root:
        _own(root / "submission", SANDBOX_UID + slot)
    (root / ".old").mkdir()
    arch = platform.machine()
    if arch not in SYS_PIVOT_ROOT:
        raise OSError(f"pivot_root: unknown system call number on {arch}")
    _check(_libc.syscall(SYS_PIVOT_ROOT[arch], str(root).encode(),
                         str(root / ".old").encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount /.old")
    os.rmdir("/.old")


def _bind(source: Path, target: Path, extra: int, read_only: bool = True) -> None:
    """Bind ``source`` at ``target`` (created), read-only unless not ``read_only``."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    _mount(str(source), target, None, MS_BIND | extra)
    if read_only:
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
               | extra)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_privileges(slot: int, as_root: bool) -> None:
    """Give up every privilege before the submission's code runs (see the module):
    ``as_root`` (the grader is root, in its own user namespace), become
    ``SANDBOX_UID + slot``; otherwise (root of a user namespace, or an ordinary user
    without a sandbox) drop every capability."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no_new_privs)")
    if as_root:
        uid = SANDBOX_UID + slot
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:
        _check(_libc.capset(ctypes.byref(_CapHeader(LINUX_CAPABILITY_VERSION_3, 0)),
                            (_CapData * 2)()), "capset")
