"""Writing tables and JSON atomically (a temporary file in the target directory, then ``os.replace``).

A reader never sees a half-written file, and an interrupted run leaves the previous file intact.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_path", "write_table", "write_json", "check_output", "TABLE_FORMATS"]

TABLE_FORMATS = (".csv", ".json", ".parquet")


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


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot write {type(x).__name__} as JSON")


def write_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON (NumPy arrays and scalars allowed), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")
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
            tmp.write_text(json.dumps([{k: v[i] for k, v in cols.items()} for i in range(n)], indent=1,
                                      default=_jsonable) + "\n")
        else:
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                w.writerows(zip(*cols.values()))
    return path
