"""The run directory: Parquet parts written atomically, the manifest that a resumed run must match, readers.

Layout (``DIR``)::

    manifest.json                 the spec (population, Ω, regimen, protocol, seed), chunking, package version
    subjects/part-00000.parquet   one row per subject: id, covariates, η and parameters, status, reason, readouts
    bands/part-00000.parquet      the band series of each subject on the coarse band grid (float32; one column
                                  per series and band time, ``name[k]``; times in the schema metadata)
    trajectories/part-00000.parquet   (only with ``trajectories=True``) every observable on the solve grid
    percentiles.parquet           5/50/95th percentiles of each band series at each band time (after the last chunk)
    summary.json                  counts, failure reasons, percentiles of every readout

A chunk is finished when its ``subjects`` part exists (it is written last), so a resumed run skips exactly the
finished chunks; parts are named by chunk index and written atomically, so a chunk computed twice (a resumed run,
a Dask retry after a worker died) replaces its part with the same values: nothing is lost or duplicated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import __version__
from ..io import dumps_json

__all__ = ["MANIFEST_FORMAT", "BAND_PERCENTILES", "new_manifest", "check_run_dir", "write_chunk", "write_parquet",
           "part_path", "is_finished", "read_manifest", "read_subjects", "read_bands", "band_column", "part_paths"]

MANIFEST_FORMAT = "ketamine-qsp cohort run 1"
BAND_PERCENTILES = (5.0, 50.0, 95.0)


def part_path(run_dir: Path, kind: str, index: int) -> Path:
    """The part of chunk ``index`` of ``kind``."""
    return run_dir / kind / f"part-{index:05d}.parquet"


def write_parquet(cols: Mapping[str, np.ndarray], path: Path, metadata: dict | None = None) -> None:
    """Columns (1-D arrays, text as object arrays, (S, T) time courses as fixed-size lists) to ``path``,
    atomically; ``metadata`` values JSON-encoded into the schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..io import atomic_path

    arrays, names, strings = [], [], []
    for k, v in cols.items():
        v = np.asarray(v)
        if v.ndim == 2:  # a time course per subject: a fixed-size list column
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(v).ravel()), v.shape[1]))
        elif v.dtype == object:
            arrays.append(pa.array(v.tolist(), pa.string()))
            strings.append(k)
        else:
            arrays.append(pa.array(v))
        names.append(k)
    table = pa.table(arrays, names=names)
    if metadata:
        table = table.replace_schema_metadata({k: dumps_json(v) for k, v in metadata.items()})
    with atomic_path(path) as tmp:
        # dictionary encoding only for text (reasons, series names): on floats it costs 4x the write time and
        # makes the files larger
        pq.write_table(table, tmp, write_statistics=False, compression="zstd", use_dictionary=strings)


def is_finished(run_dir: Path, index: int) -> bool:
    """Whether chunk ``index`` is finished (its subject part, written last, exists)."""
    return part_path(Path(run_dir), "subjects", index).exists()


def read_manifest(run_dir) -> dict:
    """The manifest of the run in ``run_dir``; ``ValueError`` if it holds none."""
    mpath = Path(run_dir) / "manifest.json"
    if not mpath.exists():
        raise ValueError(f"run: {str(run_dir)!r} holds no cohort manifest.json")
    return json.loads(mpath.read_text())


def band_column(series: str, k: int) -> str:
    """Column of band series ``series`` at band time ``k`` in a bands part."""
    return f"{series}[{k}]"


def write_chunk(run_dir: Path, res: dict) -> None:
    """The parts of a chunk result (:func:`pkpd.cohort.runner.run_chunk`), subjects last."""
    i = res["index"]
    wide = {"id": res["subjects"]["id"]}
    for name, v in res["bands"].items():  # one column per (series, band time): a block of times reads alone
        for k in range(v.shape[1]):
            wide[band_column(name, k)] = v[:, k]
    write_parquet(wide, part_path(run_dir, "bands", i),
                  {"time_h": res["band_t"].tolist(), "series": list(res["bands"])})
    if res["trajectories"] is not None:
        write_parquet({"id": res["subjects"]["id"], **res["trajectories"]}, part_path(run_dir, "trajectories", i),
                      {"time_h": res["t"].tolist()})
    write_parquet(res["subjects"], part_path(run_dir, "subjects", i))  # last: marks the chunk finished


def new_manifest(spec_manifest: dict, chunk_size: int, n_chunks: int) -> dict:
    """The manifest of a new run: format, package version, the spec (:meth:`CohortSpec.manifest`), chunking."""
    return {"format": MANIFEST_FORMAT, "version": __version__, "spec": spec_manifest,
            "chunking": {"chunk_size": chunk_size, "n_chunks": n_chunks},
            "percentiles": list(BAND_PERCENTILES)}


def _diff(a, b, prefix="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def check_run_dir(run_dir: Path, manifest: dict, resume: bool) -> bool:
    """Refuse a directory holding another run; True if the manifest must be written (a new run)."""
    mpath = run_dir / "manifest.json"
    if mpath.exists():
        old = json.loads(mpath.read_text())
        new = json.loads(dumps_json(manifest))  # as it would be written
        if not resume:
            raise ValueError(f"out: {str(run_dir)!r} already holds a cohort run; pass resume to continue it (the "
                             f"manifest must match) or choose another directory")
        diff = _diff(old, new)
        if diff:
            raise ValueError(f"out: {str(run_dir)!r} holds a different run (manifest differs in "
                             f"{', '.join(diff[:6])}{' …' if len(diff) > 6 else ''}); refusing to resume into it")
        return False
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ValueError(f"out: {str(run_dir)!r} is not empty and holds no cohort manifest; expected a new or "
                         f"empty directory")
    return True


def part_paths(run_dir, kind: str) -> list[Path]:
    """The parts of ``kind`` (``subjects``, ``bands``, ``trajectories``) in chunk order."""
    return sorted((Path(run_dir) / kind).glob("part-*.parquet"))


def read_subjects(run_dir, columns=None):
    """All subject rows of a run as a pyarrow Table (in id order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = part_paths(run_dir, "subjects")
    if not parts:
        raise ValueError(f"run: no subject parts in {str(run_dir)!r}")
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


def read_bands(run_dir, series: str, times: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """Band times (h) and the band series of every subject, shape (N, n_times) float32, in id order."""
    import pyarrow.parquet as pq

    parts = part_paths(run_dir, "bands")
    if not parts:
        raise ValueError(f"run: no band parts in {str(run_dir)!r}")
    meta = pq.read_schema(parts[0]).metadata
    t = np.asarray(json.loads(meta[b"time_h"]))
    ks = range(t.size)[times]
    cols = [band_column(series, k) for k in ks]
    blocks = []
    for p in parts:
        tab = pq.read_table(p, columns=cols)
        blocks.append(np.column_stack([tab.column(c).to_numpy() for c in cols]) if cols else
                      np.empty((tab.num_rows, 0), np.float32))
    return t[times], np.concatenate(blocks)


