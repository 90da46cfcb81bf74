"""Exact percentile bands of a finished run, computed out of core from its band parts.

The band series of every subject are kept (on the coarse grid, float32, in the ``bands`` parts), and the
percentiles are computed at the end from all subjects, through a time-major scratch file a block of band times at
a time (block chosen to stay under :data:`BAND_BLOCK_BYTES`, 256 MiB), never from all data at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .store import BAND_PERCENTILES, band_column, part_paths

__all__ = ["compute_percentiles", "read_percentiles", "BAND_BLOCK_BYTES"]

#: memory budget of the end-of-run reductions (percentile bands, readout percentiles), read a block at a time
BAND_BLOCK_BYTES = 256 * 2 ** 20


def compute_percentiles(run_dir: Path, block_bytes: int = BAND_BLOCK_BYTES) -> dict:
    """Exact 5/50/95th percentiles of every band series at every band time, over all solved subjects.

    Band parts hold one column per (series, band time), a chunk of subjects each. One pass reads every part once
    and writes its columns into a time-major scratch file in the run directory (float32; each band time's values
    over all subjects contiguous; removed at the end, in groups of band times if the disk has less than twice its
    size free). The percentiles are then computed a block of band times at a time from that file, the block chosen
    so that ``N × block × 20 bytes`` (the float32 read, its float64 copy and the partition's copy) stays under
    ``block_bytes``. Memory does not grow with N beyond one band time (``N × 20`` bytes). (Reading each block from
    every part instead needed every part's footer at hand — about 2 MB each for a circuit cohort's ~1100 band
    columns, 1 GB at 10⁶ subjects — or parsed again for every block.)
    """
    import os
    import shutil
    import tempfile

    import pyarrow.parquet as pq

    parts = part_paths(run_dir, "bands")
    if not parts:
        raise ValueError(f"run: no band parts in {str(run_dir)!r}")
    meta = pq.read_schema(parts[0]).metadata
    t = np.asarray(json.loads(meta[b"time_h"]))
    names = json.loads(meta[b"series"])
    rows = [pq.read_metadata(p).num_rows for p in parts]  # one footer at a time, not kept
    n_total = sum(rows)
    cols = [(name, k) for name in names for k in range(t.size)]  # the scratch file's rows, in this order
    q = {name: np.full((len(BAND_PERCENTILES), t.size), np.nan) for name in names}
    n_used = {name: np.zeros(t.size, np.int64) for name in names}
    per_col = 4 * max(1, n_total)
    group = int(max(1, min(len(cols), shutil.disk_usage(run_dir).free // 2 // per_col)))
    block = int(max(1, min(group, block_bytes // (5 * per_col))))
    fd, scratch = tempfile.mkstemp(prefix=".bands-by-time-", suffix=".tmp", dir=run_dir)
    try:
        with os.fdopen(fd, "wb+") as f:
            for g0 in range(0, len(cols), group):
                gcols = [band_column(name, k) for name, k in cols[g0:g0 + group]]
                r0 = 0
                for p, n in zip(parts, rows):
                    tab = pq.read_table(p, columns=gcols)
                    for j, c in enumerate(gcols):
                        f.seek(4 * (j * n_total + r0))
                        f.write(np.ascontiguousarray(tab.column(c).to_numpy(), np.float32).data)
                    r0 += n
                    del tab
                for b0 in range(0, len(gcols), block):
                    b1 = min(len(gcols), b0 + block)
                    f.seek(4 * b0 * n_total)
                    v = np.fromfile(f, np.float32, (b1 - b0) * n_total).reshape(b1 - b0, n_total).astype(float)
                    p_block, used = _row_percentiles(v)
                    del v
                    for j, (name, k) in enumerate(cols[g0 + b0:g0 + b1]):
                        q[name][:, k] = p_block[:, j]
                        n_used[name][k] = used[j]
    finally:
        Path(scratch).unlink(missing_ok=True)
    return {"time_h": t, **{name: {"p": q[name], "n": n_used[name]} for name in names}}


def _row_percentiles(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:data:`BAND_PERCENTILES` of each row of ``v`` over its non-NaN values (NaN for an all-NaN row), shape
    (len(BAND_PERCENTILES), rows), and the count of non-NaN values per row."""
    nan = np.isnan(v)
    used = v.shape[1] - nan.sum(axis=1)
    if not nan.any():  # the common case; nanpercentile loops over rows in Python
        return np.percentile(v, BAND_PERCENTILES, axis=1), used
    if not (~nan).any():
        return np.full((len(BAND_PERCENTILES), v.shape[0]), np.nan), used
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN band time gives NaN
        return np.nanpercentile(v, BAND_PERCENTILES, axis=1), used


def read_percentiles(run_dir):
    """The percentile table of a finished run (``percentiles.parquet``) as a dict of columns."""
    import pyarrow.parquet as pq

    return pq.read_table(Path(run_dir) / "percentiles.parquet").to_pydict()
