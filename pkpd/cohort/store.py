"""The run directory: Parquet parts written atomically, the manifest that a resumed run must match, readers.

Layout (``DIR``)::

    manifest.json                 the spec (population, Ω, regimen, protocol, seed), chunking, package version
    subjects/part-00000.parquet   one row per subject: id, covariates, η and parameters, status, reason, readouts
    bands/part-00000.parquet      the band series of each subject on the coarse band grid (float32; one column
                                  per series and band time, ``name[k]``; times in the schema metadata)
    trajectories/part-00000.parquet   (only with ``trajectories=True``) every observable on the solve grid
    done/chunk-00000.json         the record of a finished chunk: its id range, row count, and each part's size and
                                  SHA-256 (written last: it marks the chunk finished)
    percentiles.parquet           5/50/95th percentiles of each band series at each band time (after the last chunk)
    summary.json                  counts, failure reasons, percentiles of every readout
    .lock                         the writer lock (:func:`pkpd.io.run_lock`): one run writes a directory at a time

A chunk is finished when its record exists and every part it lists still has the recorded size and checksum
(:func:`chunk_problem`). A resumed run recomputes every chunk that is not — missing, truncated, altered or
copied parts alike — refuses files it does not know (:func:`stray_files`), and removes the temporary files of
interrupted writes (:func:`remove_temporaries`). Parts are named by chunk index and written atomically, so a chunk
computed twice (a resumed run, a Dask retry after a worker died) replaces its part with the same values: nothing
is lost or duplicated.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import __version__
from ..io import LOCK_NAME, dumps_json, file_digest, write_json

__all__ = ["MANIFEST_FORMAT", "BAND_PERCENTILES", "PART_KINDS", "new_manifest", "check_run_dir", "write_chunk",
           "write_parquet", "part_path", "open_run", "verify_run", "chunk_problem", "stray_files", "remove_temporaries", "read_manifest",
           "read_subjects", "read_bands", "band_column", "part_paths"]

MANIFEST_FORMAT = "ketamine-qsp cohort run 2"  # 2: finished chunks are recorded with checksums in done/
BAND_PERCENTILES = (5.0, 50.0, 95.0)
log = logging.getLogger(__name__)
PART_KINDS = ("subjects", "bands", "trajectories")
_RECORDS = "done"


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


def _record_path(run_dir: Path, index: int) -> Path:
    return Path(run_dir) / _RECORDS / f"chunk-{index:05d}.json"


def chunk_problem(run_dir, index: int, rows: int) -> str | None:
    """Why chunk ``index`` (of ``rows`` subjects) is not finished and intact, or None if it is.

    Checks its record (:func:`write_chunk`) and, for every part it lists, the size and SHA-256: a deleted,
    truncated, bit-flipped part, or one copied from another chunk, is found here.
    """
    path = _record_path(run_dir, index)
    if not path.exists():
        return "not finished"
    try:
        rec = json.loads(path.read_text())
        parts = rec["parts"]
    except (ValueError, KeyError, TypeError):
        return "its record is unreadable"
    if rec.get("index") != index or rec.get("rows") != rows:
        return "its record belongs to another chunk"
    for kind, info in parts.items():
        p = part_path(Path(run_dir), kind, index)
        if not p.exists():
            return f"its {kind} part is missing"
        if p.stat().st_size != info.get("bytes") or file_digest(p) != info.get("sha256"):
            return f"its {kind} part differs from the one written (size or checksum)"
    return None


def stray_files(run_dir, n_chunks: int) -> list[Path]:
    """Files in a run directory that no run writes there (an extra part, a part of a chunk index beyond the run,
    anything unknown): a run that trusted them would report wrong or duplicated subjects."""
    run_dir = Path(run_dir)
    known_top = {"manifest.json", "summary.json", "percentiles.parquet", "command.json", "report.html", LOCK_NAME,
                 *PART_KINDS, _RECORDS}
    name = {**{k: re.compile(r"part-(\d{5})\.parquet") for k in PART_KINDS},
            _RECORDS: re.compile(r"chunk-(\d{5})\.json")}
    out = []
    for p in run_dir.iterdir():
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            continue  # an interrupted write: removed, not refused (remove_temporaries)
        if p.name not in known_top and p.suffix not in (".png", ".svg", ".pdf"):
            out.append(p)
        elif p.name in name and p.is_dir():
            for q in p.iterdir():
                m = name[p.name].fullmatch(q.name)
                if not (m and int(m.group(1)) < n_chunks) and not (q.name.startswith(".") and q.name.endswith(".tmp")):
                    out.append(q)
    return sorted(out)


def remove_temporaries(run_dir) -> int:
    """Remove the temporary files (``.*.tmp``) that interrupted atomic writes and percentile passes left in a run
    directory and its part folders; the number removed. Only for the holder of the run's lock."""
    run_dir = Path(run_dir)
    n = 0
    for d in (run_dir, *(run_dir / k for k in (*PART_KINDS, _RECORDS))):
        if d.is_dir():
            for p in d.glob(".*.tmp"):
                p.unlink(missing_ok=True)
                n += 1
    return n


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
    """The parts of a chunk result (:func:`pkpd.cohort.runner.run_chunk`), then its record (size and SHA-256 of
    each part; :func:`chunk_problem`), which marks the chunk finished."""
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
    write_parquet(res["subjects"], part_path(run_dir, "subjects", i))
    kinds = ("subjects", "bands") + (("trajectories",) if res["trajectories"] is not None else ())
    parts = {k: {"bytes": part_path(run_dir, k, i).stat().st_size, "sha256": file_digest(part_path(run_dir, k, i))}
             for k in kinds}
    write_json({"index": i, "rows": len(res["subjects"]["id"]), "parts": parts}, _record_path(run_dir, i))


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
    if run_dir.exists() and any(p.name != LOCK_NAME for p in run_dir.iterdir()):
        raise ValueError(f"out: {str(run_dir)!r} is not empty and holds no cohort manifest; expected a new or "
                         f"empty directory")
    return True


def chunk_rows(manifest: Mapping) -> list[int]:
    """Subjects in each chunk of the run that ``manifest`` describes."""
    n, size = manifest["spec"]["n"], manifest["chunking"]["chunk_size"]
    return [min(size, n - s) for s in range(0, n, size)]


def verify_run(run_dir, rows: list[int]) -> list[str | None]:
    """:func:`chunk_problem` of every chunk (``rows`` subjects each), after refusing files no run writes.

    Raises
    ------
    ValueError
        Naming the stray files (:func:`stray_files`).
    """
    run_dir = Path(run_dir)
    strays = stray_files(run_dir, len(rows))
    if strays:
        raise ValueError(f"run: {str(run_dir)!r} holds files no run wrote there "
                         f"({', '.join(str(p.relative_to(run_dir)) for p in strays[:3])}{' …' if len(strays) > 3 else ''}"
                         "); refusing to use it: remove them or choose another directory")
    return [chunk_problem(run_dir, i, r) for i, r in enumerate(rows)]


def open_run(run_dir, manifest: dict, rows: list[int], resume: bool) -> list[int]:
    """Make ``run_dir`` ready for a run whose lock the caller holds; the chunks still to compute.

    Writes the manifest of a new run (checked again, now that no other run can write); removes temporary files of
    interrupted writes; refuses stray files; and lists every chunk that is not finished and intact, saying which
    finished ones are recomputed and why.
    """
    run_dir = Path(run_dir)
    if check_run_dir(run_dir, manifest, resume):
        write_json(manifest, run_dir / "manifest.json")
    if remove_temporaries(run_dir):
        log.info("%s: removed the temporary files of an interrupted run", run_dir)
    problems = verify_run(run_dir, rows)
    for i, why in enumerate(problems):
        if why not in (None, "not finished"):
            log.warning("%s: chunk %d is recomputed: %s", run_dir, i, why)
    return [i for i, why in enumerate(problems) if why is not None]


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


