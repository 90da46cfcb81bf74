"""A finished run's trajectories and percentile bands as flat tables, wide or long, with their units.

Wide trajectories: one row per subject and output time, ``ID, time_h`` and one column per observable. Long
(tidy): one row per subject, time and observable, ``ID, TIME, NAME, VALUE, UNIT`` (:func:`pkpd.output.long_table`).
Wide bands: one row per series and band time, ``NAME, time_h, n, p5, p50, p95, UNIT``; long: one row per series,
percentile and time, ``NAME, PERCENTILE, TIME, VALUE, UNIT``. ``ID`` is the dataset's ID for a run from a dataset,
else the run's subject id. Written by :func:`pkpd.output.write_pk_table`: the units travel in the Parquet schema
metadata or the CSV's JSON sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .store import BAND_PERCENTILES, part_paths, read_subjects

__all__ = ["trajectory_table", "band_table", "MAX_TABLE_VALUES"]

#: Most values a flat table of a run may hold (built in memory): a larger run is read part by part instead.
MAX_TABLE_VALUES = 200_000_000


def _ids(run_dir) -> np.ndarray:
    import pyarrow.parquet as pq

    has_id = "ID" in pq.read_schema(part_paths(run_dir, "subjects")[0]).names
    v = read_subjects(run_dir, ["ID" if has_id else "id"]).column(0).to_pylist()
    return np.asarray([str(i) for i in v], dtype=object)


def trajectory_table(run_dir, units: Mapping[str, str], *, long: bool = False) -> tuple[dict, dict]:
    """The run's trajectories (written with ``trajectories=True``) as one table; returns ``(columns, units)``.

    Raises
    ------
    ValueError
        If the run holds no trajectories, or more than :data:`MAX_TABLE_VALUES` values.
    """
    import pyarrow.parquet as pq

    from ..output import long_table

    parts = part_paths(run_dir, "trajectories")
    if not parts:
        raise ValueError(f"run: {str(run_dir)!r} holds no trajectories; run the cohort with --trajectories")
    t = np.asarray(json.loads(pq.read_schema(parts[0]).metadata[b"time_h"]))
    names = [n for n in pq.read_schema(parts[0]).names if n != "id"]
    n_rows = sum(pq.read_metadata(p).num_rows for p in parts) * t.size
    if n_rows * (len(names) + 2) > MAX_TABLE_VALUES:
        raise ValueError(f"run: its trajectories hold {n_rows * len(names):,} values, more than a table built in "
                         f"memory may ({MAX_TABLE_VALUES:,}); read {str(Path(run_dir) / 'trajectories')!r} part "
                         "by part")
    ids = _ids(run_dir)
    cols: dict = {"ID": np.repeat(ids, t.size).astype(str), "time_h": np.tile(t, ids.size)}
    blocks: dict = {n: [] for n in names}
    for p in parts:
        tab = pq.read_table(p)
        for n in names:
            blocks[n].append(tab.column(n).combine_chunks().flatten().to_numpy())
    for n in names:
        cols[n] = np.concatenate(blocks[n])
    u = {"ID": "", "time_h": "h", **{n: units.get(n, "") for n in names}}
    return long_table(cols, u) if long else (cols, u)


def band_table(run_dir, units: Mapping[str, str], *, long: bool = False) -> tuple[dict, dict]:
    """The run's percentile bands (``percentiles.parquet``) as one table; returns ``(columns, units)``."""
    from .percentiles import read_percentiles

    p = read_percentiles(run_dir)
    series = np.asarray(p["series"], dtype=object).astype(str)
    unit = np.array([units.get(s, "") for s in series], dtype=object).astype(str)
    qs = [f"p{int(q)}" for q in BAND_PERCENTILES]
    if not long:
        cols = {"NAME": series, "time_h": np.asarray(p["time_h"], float), "n": np.asarray(p["n"], np.int64),
                **{q: np.asarray(p[q], float) for q in qs}, "UNIT": unit}
        return cols, {"time_h": "h", "n": "subjects", **{q: "see UNIT" for q in qs}}
    k = len(qs)
    cols = {"NAME": np.repeat(series, k), "PERCENTILE": np.tile(np.asarray(BAND_PERCENTILES, float), series.size),
            "TIME": np.repeat(np.asarray(p["time_h"], float), k),
            "VALUE": np.column_stack([np.asarray(p[q], float) for q in qs]).reshape(-1),
            "UNIT": np.repeat(unit, k)}
    return cols, {"PERCENTILE": "%", "TIME": "h", "VALUE": "see UNIT"}
