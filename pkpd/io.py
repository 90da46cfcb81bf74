"""Writing tables and JSON atomically (a temporary file in the target directory, then ``os.replace``), one
writer per run directory (:func:`run_lock`), and file checksums (:func:`file_digest`).

A reader never sees a half-written file, and an interrupted run leaves the previous file intact. Every JSON the
package writes goes through :func:`jsonable` (:func:`dumps_json`, :func:`write_json`): strict JSON, NaN and
infinities written as ``null`` (``NaN`` is not JSON; strict parsers and ``jq`` reject it).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import math
import os
import socket
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["read_csv_lines", "replace_marked", "atomic_path", "write_table", "write_json", "dumps_json", "jsonable", "check_output", "TABLE_FORMATS",
           "run_lock", "LOCK_NAME", "file_digest"]

TABLE_FORMATS = (".csv", ".json", ".parquet")


def read_csv_lines(path: Path) -> list[str]:
    """The lines of a CSV file that hold data or a header: blank lines and ``#`` comment lines are left out."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]


def replace_marked(path, start: str, end: str, inner: str) -> bool:
    """Replace the text between the markers ``start`` and ``end`` in the file ``path`` by ``inner`` (the markers
    stay), atomically; True if the file changed. Generated tables live in documents this way.

    Raises
    ------
    ValueError
        Unless the file holds exactly one ``start`` before exactly one ``end``.
    """
    path = Path(path)
    text = path.read_text()
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"readme: expected one {start} before one {end} in {path}")
    head, rest = text.split(start)
    new = f"{head}{start}{inner}{end}{rest.split(end)[1]}"
    if new != text:
        with atomic_path(path) as tmp:
            tmp.write_text(new)
    return new != text


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; the result gets a normal file's permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_output(path, field: str = "out", *, formats=None, directory: bool = False) -> Path:
    """``path`` as a Path if an output can be written there; ``ValueError`` naming ``field`` otherwise.

    Called before a long computation whose result goes to ``path``, so that a bad path costs nothing. Checks the
    extension (one of ``formats``, if given), that ``path`` is a directory (``directory=True``) or not one, that
    its nearest existing ancestor is a directory (missing ones are created when writing), and that a file can be
    created there (a probe file, removed at once: it catches read-only file systems, which permission bits miss).
    """
    path = Path(path)
    shown = repr(str(path))
    if formats is not None and path.suffix.lower() not in formats:
        raise ValueError(f"{field}: {shown} must end in one of {', '.join(formats)}")
    if path.exists() and path.is_dir() != directory:
        raise ValueError(f"{field}: {shown} exists and is {'not ' if directory else ''}a directory")
    parent = path if directory else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{field}: cannot write {shown}: {str(parent)!r} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=parent, prefix=".ketamine-probe."):
            pass
    except OSError as e:
        raise ValueError(f"{field}: cannot write {shown}: {e.strerror or e} ({str(parent)!r})") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def jsonable(x):
    """``x`` as plain JSON values: mappings (keys as text), lists, tuples and NumPy arrays as lists, NumPy scalars
    as Python numbers, NaN and ±inf as None. Anything else is returned as is (``json`` then names its type)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def dumps_json(obj, **kwargs) -> str:
    """``json.dumps`` of :func:`jsonable` ``(obj)``: strict JSON (``kwargs``: ``indent``, ``sort_keys`` …)."""
    return json.dumps(jsonable(obj), allow_nan=False, **kwargs)


def write_json(obj, path) -> Path:
    """Write ``obj`` as indented strict JSON (:func:`dumps_json`), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_json(obj, indent=2) + "\n")
    return Path(path)


def _columns(data) -> dict[str, list]:
    if isinstance(data, Mapping):
        cols = {str(k): np.asarray(v).tolist() for k, v in data.items()}
    elif isinstance(data, Sequence):
        keys = list(data[0]) if data else []
        cols = {k: [r.get(k) for r in data] for k in keys}
    else:
        raise ValueError(f"a table must be a mapping of columns or a list of rows, got {type(data).__name__}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise ValueError(f"table columns differ in length: { {k: len(v) for k, v in cols.items()} }")
    return cols


def write_table(data, path) -> Path:
    """Write a table (mapping column -> values, or list of row dicts) as .csv, .json or .parquet, atomically.

    Raises
    ------
    ValueError
        For an unknown file extension, naming the ones supported, or when Parquet is asked for without pyarrow.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ValueError(f"output file {str(path)!r} must end in one of {', '.join(TABLE_FORMATS)}")
    cols = _columns(data)
    if suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError("writing .parquet needs the pyarrow package: pip install pyarrow") from None
        with atomic_path(path) as tmp:
            pq.write_table(pa.table(cols), tmp)
        return path
    with atomic_path(path) as tmp:
        if suffix == ".json":
            n = len(next(iter(cols.values()), []))
            tmp.write_text(dumps_json([{k: v[i] for k, v in cols.items()} for i in range(n)], indent=1) + "\n")
        else:
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                w.writerows(zip(*cols.values()))
    return path


#: The lock file a run holds in its directory (left in place afterwards: it is never trusted, only locked).
LOCK_NAME = ".lock"


@contextmanager
def run_lock(run_dir, field: str = "out"):
    """Hold the exclusive writer lock of ``run_dir`` (created if missing) for the ``with`` block.

    The lock is an OS advisory lock (``flock``) on ``run_dir/.lock``: the kernel releases it when the holder
    exits, however it dies, so a killed run never leaves a stale lock and ``--resume`` can follow at once. The file
    records the holder's PID, host and start time, only to name it in the refusal. (On filesystems without
    ``flock`` support, such as some network mounts, and on Windows, the lock is not enforced.)

    Raises
    ------
    ValueError
        At once, naming the directory and the holder, if another process holds the lock.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            except (ValueError, UnicodeDecodeError):
                holder = {}
            who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('started', '?')}"
                   if holder else "another process")
            raise ValueError(f"{field}: {str(run_dir)!r} is in use by another run ({who}); wait for it to finish or "
                             "choose another directory") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def file_digest(path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, as hex (read in chunks: memory stays flat for large parts)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()
