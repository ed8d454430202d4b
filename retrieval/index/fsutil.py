"""File writes that survive a crash and respect the umask, the writer lock, and the crash hook.

Every file is written under a temporary name, fsynced, renamed over its target, and the folder
fsynced, so a reader sees the old bytes or the new ones and never a mix. Files are created with
mode 0666 and folders 0777 less the process umask (tempfile's 0600/0700 would lock out a bot
running as another user).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from retrieval.errors import DiskFullError, QuoteQAError

CRASH_ENV = "QUOTEQA_CRASH_AT"  # test hook: the process kills itself (SIGKILL) at this point


def crash_point(name: str) -> None:
    """Die here, at once and without cleaning up, when the crash tests ask for it.

    Only the kill tests set the variable; they use it to stop a real `quoteqa ingest` at a
    chosen step (analysis, a segment write, a merge, the commit) as `kill -9` would."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def mkdir(path: Path) -> None:
    path.mkdir(mode=0o777, parents=True, exist_ok=True)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def disk_full(exc: OSError, path: Path) -> DiskFullError:
    """The typed error for a write that found no room (the caller raises it from `exc`)."""
    return DiskFullError(
        f"the disk is full: could not write {path} ({exc.strerror}); nothing after the last commit was kept. "
        "Free some space and run this again"
    )


def write_new(path: Path, data: bytes | memoryview | Iterable[bytes | memoryview]) -> None:
    """Write a file that must not exist yet (a segment), fsynced, with the umask's mode. `data`
    may come in pieces (a large segment is never joined into a second copy in memory). A full
    disk is a DiskFullError, and the partial file is removed."""
    pieces = (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        for piece in pieces:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view[: 1 << 24]) :]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        if exc.errno in DISK_FULL:
            raise disk_full(exc, path) from exc
        raise
    else:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, crash_before_rename: str | None = None) -> None:
    """Replace `path` with `data`: temporary name, fsync, rename, fsync of the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        write_new(tmp, data)
        if crash_before_rename:
            crash_point(crash_before_rename)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class LockBusyError(QuoteQAError):
    """Another writer holds the data folder."""


LOCK_NAME = "write.lock"


class WriterLock:
    """An exclusive lock on the data folder for writers (ingest, reindex, reload).

    `flock` on a file in the folder: the kernel releases it when the holder dies, so a killed
    ingest never leaves a stale lock behind. Readers never take it.
    """

    def __init__(self, data_dir: Path, timeout: float = 600.0) -> None:
        self.path = data_dir / LOCK_NAME
        self.timeout = timeout
        self._fd: int | None = None
        self.waited = 0.0

    def acquire(self, blocking: bool = True) -> bool:
        mkdir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
            waited = time.monotonic() - start
            if not blocking or waited >= self.timeout:
                holder = _holder(fd)
                os.close(fd)
                if not blocking:
                    return False
                raise LockBusyError(
                    f"another quoteqa writer{holder} has held {self.path.parent} for {waited:.0f} s; "
                    "wait for it to finish (or stop it) and run this again"
                )
            time.sleep(0.05)
        self.waited = time.monotonic() - start
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


# --- small JSON files that carry their own checksum ---------------------------------------------
SEAL = "self_crc32"  # the key of a sealed JSON file's own checksum


def _canonical(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def seal(obj: dict[str, object]) -> bytes:
    """A small JSON file (COMMIT, a segment's table, an HNSW graph's metadata, a manifest) with a
    CRC-32 of its canonical form inside it, so a bit changed in a number is caught at open, not
    only a file that no longer parses."""
    body = {k: v for k, v in obj.items() if k != SEAL}
    return json.dumps({**body, SEAL: zlib.crc32(_canonical(body))}, ensure_ascii=False).encode("utf-8")


def unseal(data: bytes | str, required: bool = True) -> dict[str, object]:
    """The object of a sealed file; ValueError when it does not parse or fails its checksum (or
    has none and `required`: files written before the seal are then treated as damaged)."""
    obj = json.loads(data)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if SEAL not in obj:
        if required:
            raise ValueError("it carries no checksum (written by an older quoteqa)")
        return obj
    body = {k: v for k, v in obj.items() if k != SEAL}
    if zlib.crc32(_canonical(body)) != obj[SEAL]:
        raise ValueError("it fails its checksum")
    return body
