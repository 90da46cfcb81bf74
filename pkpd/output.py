"""Writing PK results: the table (CSV, JSON or Parquet, by extension) and the figure, atomically via
:mod:`pkpd.io`.

CSV and Parquet hold exactly the table's columns. JSON holds ``{"columns": [...], "units": {...}, "data":
{name: [...]}, "metadata": {...}}``, so that the provenance of the numbers (species, PK model, doses with the salt
form applied and the amount of free base) travels with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .io import TABLE_FORMATS, jsonable, write_json, write_table  # jsonable: the one converter, re-exported

__all__ = ["table_format", "write_pk_table", "pk_figure", "plot_pk", "jsonable"]


def table_format(path) -> str:
    """The extension of ``path`` if it is a table format we write; ``ValueError`` naming ``out`` otherwise.

    Checked before any simulation so that a bad ``--out`` fails at once; Parquet also needs pyarrow.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ValueError(f"out: unknown file type {suffix or '(none)'!r} for {str(path)!r}; expected one of "
                         f"{', '.join(TABLE_FORMATS)}")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("out: writing .parquet needs the pyarrow package, which is not installed "
                             "(pip install pyarrow); use .csv or .json instead") from None
    return suffix


def write_pk_table(path, columns: Mapping[str, np.ndarray], *, units: Mapping[str, str] | None = None,
                   metadata: Mapping | None = None) -> Path:
    """Write equal-length columns to ``path`` (.csv, .json or .parquet), atomically."""
    fmt = table_format(path)
    if fmt == ".json":
        doc = {"columns": list(columns), "units": dict(units or {}), "data": dict(columns),
               "metadata": dict(metadata or {})}
        return write_json(doc, path)
    return write_table({k: np.asarray(v, float) for k, v in columns.items()}, path)


def pk_figure(result):
    """The PK figure of one subject (a matplotlib ``Figure``, not saved): three panels over time in h, plasma and
    brain ketamine/norketamine in µM, and NMDA occupancy (fraction of receptors blocked, 0–1)."""
    from .figures import pyplot

    plt = pyplot()
    c, t = result.columns, result.t_h
    m = result.metadata
    fig, ax = plt.subplots(3, 1, figsize=(7, 8), sharex=True, constrained_layout=True)
    ax[0].plot(t, c["plasma_ketamine_uM"], label="ketamine")
    ax[0].plot(t, c["plasma_norketamine_uM"], label="norketamine")
    ax[0].set_ylabel("plasma concentration (µM)")
    ax[1].plot(t, c["brain_ketamine_uM"], label="ketamine (total)")
    ax[1].plot(t, c["brain_norketamine_uM"], label="norketamine (total)")
    ax[1].plot(t, c["brain_free_ketamine_uM"], "--", label="ketamine (free)")
    ax[1].set_ylabel("brain concentration (µM)")
    ax[2].plot(t, c["nmda_occupancy_interneuron"], label="interneuron")
    ax[2].plot(t, c["nmda_occupancy_pyramidal"], label="pyramidal")
    ax[2].set_ylabel("NMDA occupancy (fraction)")
    ax[2].set_ylim(0, 1)
    ax[2].set_xlabel("time (h)")
    for a in ax:
        a.legend(loc="upper right", fontsize=8)
    doses = "; ".join(f"{d['amount']:g} {d['unit']}" + (f" {d['salt']}" if d["salt"] else "") + f" {d['route']}"
                      for d in m["doses"][:3]) + (" …" if len(m["doses"]) > 3 else "")
    ax[0].set_title(f"{m['species']} ({m['pk_model']}, {m['drug']}): {doses}", fontsize=9)
    return fig


def plot_pk(result, path, *, svg: bool = True, command: str | None = None) -> Path:
    """Draw :func:`pk_figure` to ``path`` (.png, .pdf or .svg; a PNG gets an SVG twin unless ``svg`` is false),
    atomically, with the version and the subject's metadata (species, model, doses; and ``command``, the command
    line that drew it, if given) in the file's metadata."""
    from .figures import check_figure_path, save_figure

    check_figure_path(path)
    m = result.metadata
    params = {k: m[k] for k in ("species", "pk_model", "drug", "weight_kg", "doses") if k in m}
    if command:
        params["command"] = command
    save_figure(pk_figure(result), path, title=f"ketamine PK and NMDA occupancy ({m.get('species', '')})",
                parameters=params, svg=svg)
    return Path(path)
