"""Writing files and folders so that nobody ever sees half of one, and no link is followed.

Every file or folder the package writes goes through here: manifests, checkpoints, bundles,
hypothesis files, reports, language models, pictures, phone maps, ink files and feature caches.
This module lives in ``features/``, the lowest layer, because ``features.inkwriters`` writes
files too and ``features/`` imports nothing from the rest of the package; the layers above import
it from here.

How a file is written: the content goes to a fresh temporary name in the target's own folder
(``mkstemp``: created exclusively, so a file or symbolic link planted at a guessable name is never
written through), is flushed to disk (``fsync``), and is renamed over the target, after which the
folder is flushed so the rename survives a power cut. A folder is written the same way
(``mkdtemp``) and swapped with the old one by a single ``renameat2(RENAME_EXCHANGE)`` where the
kernel has it, so at every moment either the old or the new complete folder is under the final
name. Elsewhere the swap takes three renames (the new folder to ``.NAME.new-*``, the old one to
``.NAME.old-*``, the new one into place) and :func:`complete_dir` finds the complete one whatever
moment a process died at. On any error the temporary is removed and the :class:`DataError` names
the target.

A file to be read is checked by :func:`regular_file` before it is opened: a folder, FIFO or
device given where a file is read is refused, never opened (reading a FIFO waits for a writer).

Test hook: with ``LSTMREC_FAULT_AT=N`` in the environment the process dies (``os._exit``) at its
``N``-th fault point (after each file is written, after each rename); with
``LSTMREC_FAULT_TRACE=FILE`` each fault point appends a line to ``FILE``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from lstmrec.features.errors import DataError

FAULT_EXIT = 137  # exit status of a process killed by a fault point (as after SIGKILL)
LOCK_NAME = ".lstmrec.lock"  # the run lock inside an output folder

_UMASK = os.umask(0o022)
os.umask(_UMASK)
_faults = 0  # fault points passed by this process


def fault_point(what: str, path: str | os.PathLike) -> None:
    """Count a fault point; die here when ``LSTMREC_FAULT_AT`` names it (tests only)."""
    global _faults
    at, trace = os.environ.get("LSTMREC_FAULT_AT"), os.environ.get("LSTMREC_FAULT_TRACE")
    if not at and not trace:
        return
    _faults += 1
    if trace:
        with open(trace, "a", encoding="utf-8") as f:
            f.write(f"{_faults} {what} {os.fspath(path)}\n")
    if at and int(at) == _faults:
        os._exit(FAULT_EXIT)


def _suffixes(name: str) -> str:
    """``"model.weights.h5"`` → ``".weights.h5"``: writers such as NumPy and Keras choose the
    format from the end of the name, so a temporary keeps it."""
    stem = name.lstrip(".")
    return stem[stem.index(".") :] if "." in stem else ""


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot flush a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def regular_file(path: str | os.PathLike, *, missing: str = "file not found") -> Path:
    """``path`` as a :class:`Path` when it is a regular file (or a link to one), else a
    :class:`DataError` naming it: ``missing`` when nothing is there, and for a folder, FIFO or
    device one that says so. Nothing is opened: reading a FIFO would wait for a writer."""
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise DataError("not a regular file (a folder, FIFO or device)", path)
        raise DataError(missing, path)
    return path


def file_in_the_way(target: str | os.PathLike) -> Path | None:
    """The file among ``target``'s folders (``a`` of ``a/b/c`` when ``a`` is a file), which no
    folder can be made in; ``None`` when there is none."""
    return next((p for p in Path(target).parents if p.exists() and not p.is_dir()), None)


def _write_error(err: OSError, target: Path, verb: str = "cannot write") -> DataError:
    reason = err.strerror or str(err)
    if isinstance(err, FileExistsError | NotADirectoryError):  # a file where a folder must be
        blocking = file_in_the_way(target)
        if blocking is not None:
            reason = f"{blocking} is a file, not a folder"
    return DataError(f"{verb} ({reason})", target)


def make_folder(path: str | os.PathLike) -> Path:
    """``path`` made as a folder with its parents (an existing one will do), or
    :class:`DataError` naming it and why (a file in the way named as such)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError("is a file, not a folder", path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _write_error(e, path, "cannot make the folder") from None
    return path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary file beside ``target`` for a writer that wants a file name; renamed
    over ``target`` when the block ends without error, removed otherwise.

    The temporary ends like ``target`` (``.weights.h5``, ``.npz``, ``.png``). Raises
    :class:`DataError` naming ``target`` when the disk is full or the folder not writable.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.tmp-", suffix=_suffixes(target.name), dir=target.parent
        )
    except OSError as e:
        raise _write_error(e, target) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the target the usual mode
        _fsync_file(tmp)
        fault_point("write", tmp)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _write_error(e, target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    fault_point("rename", target)


@contextlib.contextmanager
def atomic_open(
    target: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8"
) -> Iterator[TextIO | BinaryIO]:
    """``open(target, mode)`` written atomically (see :func:`atomic_path`)."""
    if "b" in mode:
        encoding = None
    with atomic_path(target) as tmp:
        try:
            with open(tmp, mode, encoding=encoding) as f:
                yield f
        except OSError as e:
            raise _write_error(e, Path(target)) from None


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_open(target, "wb") as f:
        f.write(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    with atomic_open(target, "w") as f:
        f.write(text)


def write_json(target: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON to ``target`` atomically."""
    write_text(target, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Folders


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one step (Linux ``renameat2``); False where not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


def _staged(final: Path, kind: str) -> list[Path]:
    """Siblings ``.NAME.<kind>-*`` of ``final``, newest first."""
    found = [p for p in final.parent.glob(f".{final.name}.{kind}-*") if p.is_dir()]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def complete_dir(final: str | os.PathLike) -> Path | None:
    """Where the newest complete folder written by :func:`atomic_dir` to ``final`` is: ``final``
    itself, or, when a process died in the middle of a three-rename swap, the new one (complete
    before the swap began) or else the old one set aside. None when there is none."""
    final = Path(final)
    if final.is_dir():
        return final
    for kind in ("new", "old"):
        staged = _staged(final, kind)
        if staged:
            return staged[0]
    return None


def recover_dir(final: str | os.PathLike) -> Path | None:
    """Put the newest complete folder back under ``final`` (see :func:`complete_dir`) and remove
    what interrupted writes left beside it. Only for a writer that holds the folder's run lock.
    Returns ``final``, or None when there is no complete folder."""
    final = Path(final)
    found = complete_dir(final)
    try:
        if found is not None and found != final:
            os.replace(found, final)
            _fsync_dir(final.parent)
        for kind in ("tmp", "new", "old"):
            for leftover in _staged(final, kind):
                shutil.rmtree(leftover, ignore_errors=True)
    except OSError as e:
        raise _write_error(e, final, "cannot recover") from None
    return final if found is not None else None


def _sync_tree(folder: Path) -> None:
    """fsync every file of ``folder`` (and the folders), each a fault point."""
    for root, _, names in os.walk(folder):
        for name in sorted(names):
            _fsync_file(Path(root) / name)
            fault_point("write", Path(root) / name)
        _fsync_dir(Path(root))


def _swap_into_place(tmp: Path, final: Path) -> None:
    if not os.path.lexists(final):
        os.rename(tmp, final)
        fault_point("rename", final)
    elif _exchange(tmp, final):
        fault_point("rename", final)
        _remove_old(tmp)  # now the old folder, or a link that was there (replaced, not followed)
        fault_point("remove", tmp)
    else:
        suffix = tmp.name.rsplit("-", 1)[-1]
        new = final.with_name(f".{final.name}.new-{suffix}")
        old = final.with_name(f".{final.name}.old-{suffix}")
        os.rename(tmp, new)
        fault_point("rename", new)
        os.rename(final, old)
        fault_point("rename", old)
        os.rename(new, final)
        fault_point("rename", final)
        _remove_old(old)
        fault_point("remove", old)
    _fsync_dir(final.parent)


def _remove_old(path: Path) -> None:
    """Remove what a folder write set aside: the old folder, or a symbolic link (not followed:
    the folder it points to is left as it is)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary folder beside ``final`` to fill; when the block ends without error its
    files are flushed and it replaces ``final`` (see the module docstring); removed otherwise."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        os.chmod(tmp, 0o777 & ~_UMASK)
    except OSError as e:
        raise _write_error(e, final) from None
    try:
        yield tmp
        _sync_tree(tmp)
        _swap_into_place(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(e, final) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------
# What may be written where


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (hard and symbolic links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_output(
    target: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    force: bool = False,
    flag: str = "output",
) -> None:
    """Refuse (:class:`DataError`) to write ``target`` when it is ``-`` (which a user takes for
    standard output), when it is one of ``inputs``, when it exists and ``force`` is not set, or
    when one of its folders is a file (before the work whose result it would hold). ``flag``
    names the option in the message."""
    if os.fspath(target) == "-":
        raise DataError(f"{flag} - : a file is written, not standard output; name one")
    for source in inputs:
        if source and same_file(target, source):
            raise DataError(f"{flag} is also an input of this command; choose another name", target)
    if not force and os.path.lexists(target):
        raise DataError(f"{flag} exists; pass --force to overwrite it", target)
    blocking = file_in_the_way(target)
    if blocking is not None:
        raise DataError(f"cannot write ({blocking} is a file, not a folder)", target)


# ---------------------------------------------------------------------------------------------
# One run per output folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _open_locked(path: Path, folder: Path) -> int:
    """Open ``path`` and take its ``flock``; :class:`DataError` naming the holder if taken."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataError(
                f"another run (pid {other}) is writing to this folder; wait for it to end "
                "or choose another --out",
                folder,
            ) from None
        # The holder before us removes the file as it lets go: lock the file that is there.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, *, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the lock of output ``folder`` (``fcntl.flock`` on ``folder/.lstmrec.lock``, which
    holds the pid) for the block: a second holder fails at once with a :class:`DataError` naming
    the folder and the first holder's pid. The file is removed on release; one left by a run
    that died (the kernel released its lock) is taken over with a note. A folder the lock made
    is removed again when the block left nothing in it (a run that failed before writing)."""
    folder = Path(folder)
    path = folder / LOCK_NAME
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = _open_locked(path, folder)
    except OSError as e:
        raise _write_error(e, path, "cannot lock") from None
    try:
        previous = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if previous.isdigit():
            state = "no longer running" if not _alive(int(previous)) else "ended without it"
            log(f"note: taking over the lock of an earlier run (pid {previous}, {state})")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # before letting go, so a waiting run never locks a removed file
        os.close(fd)
        if made:
            with contextlib.suppress(OSError):  # not empty: the run wrote there
                folder.rmdir()
