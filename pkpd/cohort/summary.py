"""A finished run's population summary (counts, failures, readout percentiles), its text form and its
percentile-band figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .percentiles import BAND_BLOCK_BYTES, compute_percentiles, read_percentiles
from .store import (BAND_PERCENTILES, chunk_rows, part_path, read_manifest, read_subjects, verify_run,
                    write_parquet)

__all__ = ["summarize_run", "format_summary", "bands_figure", "plot_bands"]


def summarize_run(run_dir, *, verified: bool = False) -> dict:
    """Write ``percentiles.parquet`` and ``summary.json`` for a finished run and return the summary.

    The summary holds the counts (subjects, solved, failed by reason) and the 5/50/95th percentiles of every
    numeric readout column over solved subjects. Unless ``verified`` (the caller holds the run's lock and has
    just checked every chunk), it takes the lock and checks every part against its recorded checksum first.
    """
    run_dir = Path(run_dir)
    if verified:
        return _summarize(run_dir)
    from ..io import run_lock

    manifest = read_manifest(run_dir)  # before the lock, which would create a missing directory
    with run_lock(run_dir, "run"):
        problems = [(i, why) for i, why in enumerate(verify_run(run_dir, chunk_rows(manifest))) if why is not None]
        if problems:
            i, why = problems[0]
            raise ValueError(f"run: {len(problems)} of {len(chunk_rows(manifest))} chunks are not finished or intact "
                             f"(first: chunk {i}, {why}); resume the run to compute them")
        return _summarize(run_dir)


def _summarize(run_dir: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..io import write_json

    numeric = {pa.float64(), pa.float32(), pa.int64(), pa.int32()}
    manifest = read_manifest(run_dir)
    # one column at a time over all parts: memory O(N) per column, never the whole table
    schema = pq.read_schema(part_path(run_dir, "subjects", 0))
    status = read_subjects(run_dir, ["status"]).column(0).to_numpy()
    fails: dict[str, int] = {}
    bad = np.flatnonzero(status != 0)
    if bad.size:
        reasons = read_subjects(run_dir, ["reason"]).column(0).take(bad).to_pylist()
        for i, r in zip(bad, reasons):
            key = r.split(":")[0] if r else f"status {status[i]}"
            fails[key] = fails.get(key, 0) + 1
    ok = status == 0
    skip = {"id", "status", "n_steps"}
    wanted = [f.name for f in schema
              if not (f.name in skip or f.name.startswith("eta_") or f.type not in numeric)]
    # N × group × 8 bytes × 3 (Arrow column, float64 copy, percentile's partition copy) at a time
    per_group = max(1, BAND_BLOCK_BYTES // max(1, 24 * status.size))
    readouts = {}
    for g0 in range(0, len(wanted), per_group):
        tab = read_subjects(run_dir, wanted[g0:g0 + per_group])
        for name in tab.column_names:
            v = tab.column(name).to_numpy().astype(float)[ok]
            v = v[~np.isnan(v)]
            if v.size:
                p = np.percentile(v, BAND_PERCENTILES)
                readouts[name] = {"p5": float(p[0]), "p50": float(p[1]), "p95": float(p[2]),
                                  "mean": float(v.mean())}
        del tab
    bands = compute_percentiles(run_dir)
    rows = {"series": [], "time_h": [], "n": [], **{f"p{int(q)}": [] for q in BAND_PERCENTILES}}
    for name, d in bands.items():
        if name == "time_h":
            continue
        for k, tk in enumerate(bands["time_h"]):
            rows["series"].append(name)
            rows["time_h"].append(float(tk))
            rows["n"].append(int(d["n"][k]))
            for j, q in enumerate(BAND_PERCENTILES):
                rows[f"p{int(q)}"].append(float(d["p"][j, k]))
    write_parquet({k: np.array(v, dtype=object if k == "series" else None) for k, v in rows.items()},
                   run_dir / "percentiles.parquet")
    summary = {"n": int(status.size), "n_ok": int(ok.sum()), "n_failed": int((~ok).sum()), "failures": fails,
               "readouts": readouts, "spec": manifest["spec"], "version": manifest["version"]}
    write_json(summary, run_dir / "summary.json")
    return summary


def format_summary(summary: Mapping) -> str:
    """A plain-text population summary: counts, failures and the 5/50/95th percentiles of every readout."""
    spec = summary["spec"]
    origin = spec.get("dose_time_origin", "")  # a protocol's regimen may be timed from its own drug time
    when = f"h after {origin}" if origin else "h"
    doses = "; ".join(f"{d['amount']:g} {d['unit']} {d['route']} at {d['time_h']:g} {when}" for d in spec["regimen"])
    if "data" in spec:  # a dataset's regimens, one per subject
        doses = f"doses and {spec['data']['n_times']} output times from {spec['data']['source']}"
    lines = [f"cohort: {summary['n']} {spec['species']} subjects ({spec['pk_model']}, {spec['drug']}), {doses}, "
             f"{spec['duration_h']:g} h, seed {spec['seed']}, protocol {spec['protocol']}",
             f"solved: {summary['n_ok']}   failed: {summary['n_failed']}"
             + "".join(f"   {k}: {v}" for k, v in summary["failures"].items()), "",
             f"{'readout':<40}{'p5':>14}{'p50':>14}{'p95':>14}"]
    for name, r in summary["readouts"].items():
        lines.append(f"{name:<40}{r['p5']:>14.5g}{r['p50']:>14.5g}{r['p95']:>14.5g}")
    return "\n".join(lines)


def bands_figure(run_dir, observed=None):
    """The percentile-band figure of a finished run (a matplotlib ``Figure``, not saved): per band series, the
    median and the 5–95 % band against time in h, one panel per series, each y axis with its unit; ``observed``
    (:class:`pkpd.observed.Observed`, names among the band series) drawn as points on their series' panels."""
    from ..output import draw_observed

    from ..figures import pyplot

    plt = pyplot()
    run_dir = Path(run_dir)
    labels = read_manifest(run_dir)["spec"]["band_labels"]  # written by the protocol: units travel with the run
    p = read_percentiles(run_dir)
    series = list(dict.fromkeys(p["series"]))
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.4 * len(series)), sharex=True, squeeze=False)
    s_arr = np.asarray(p["series"], dtype=object)
    lo, hi = f"p{int(BAND_PERCENTILES[0])}", f"p{int(BAND_PERCENTILES[-1])}"
    for ax, name in zip(axes[:, 0], series):
        m = s_arr == name
        t = np.asarray(p["time_h"])[m]
        ax.fill_between(t, np.asarray(p[lo])[m], np.asarray(p[hi])[m], alpha=0.3,
                        label=f"{lo[1:]}–{hi[1:]} %")
        ax.plot(t, np.asarray(p["p50"])[m], lw=1.5, label="median")
        ax.set_ylabel(labels.get(name, name), fontsize=8)
        if observed is not None:
            draw_observed(ax, observed, name)
            ax.legend(fontsize=7)
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("time (h)")
    fig.tight_layout()
    return fig


def plot_bands(run_dir, path, *, svg: bool = True, observed=None) -> Path:
    """Draw :func:`bands_figure` to ``path`` (.png, .pdf or .svg; a PNG gets an SVG twin unless ``svg`` is false),
    atomically, with the version and the run's spec in the file's metadata."""
    from ..figures import check_figure_path, save_figure

    path = check_figure_path(path)
    spec = read_manifest(run_dir)["spec"]
    if observed is not None:
        spec = spec | {"observed": observed.source}
    save_figure(bands_figure(run_dir, observed), path, title=f"cohort percentile bands: {spec['n']} "
                f"{spec['species']} subjects, protocol {spec['protocol']}", parameters=spec, svg=svg)
    return path
