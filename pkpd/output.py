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

# jsonable: the one converter, re-exported
from .io import TABLE_FORMATS, dumps_json, jsonable, write_json, write_table

__all__ = ["summary_rows", "print_summary", "table_format", "write_pk_table", "pk_figure", "plot_pk", "jsonable",
           "parse_times", "MAX_TIMES",
           "long_table", "sidecar_path", "PK_FIGURE_PANELS", "draw_observed"]

#: Most output times ``parse_times`` accepts (a typo such as a step of 1 s over a year is refused at once).
MAX_TIMES = 1_000_000


_CURVES = ("plasma_ketamine", "brain_ketamine", "brain_free_ketamine", "plasma_norketamine", "brain_norketamine",
           "brain_free_norketamine", "plasma_s_ketamine", "plasma_r_ketamine", "plasma_s_norketamine",
           "plasma_r_norketamine", "plasma_2s6s_hydroxynorketamine", "plasma_2r6r_hydroxynorketamine")


def summary_rows(summary: Mapping) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    """The exposure summary of :meth:`pkpd.pk.PkResult.summary` as two human tables (4 significant digits):
    concentrations (Cmax µM, Tmax h, AUC0-t and AUC0-inf µM·h, t½ h) and occupancies (peak, its time h, area h,
    time above the threshold h). Returns ``(header, rows, header, rows)``."""
    def f(v):
        return "–" if v is None else f"{v:.4g}"

    conc = ["curve", "Cmax (µM)", "Tmax (h)", "AUC0-t (µM·h)", "AUC0-inf (µM·h)", "t½ (h)"]
    rows = [[name.replace("_", " "), *(f(summary[name].get(k)) for k in
                                       ("cmax_uM", "tmax_h", "auc_0_t_uM_h", "auc_0_inf_uM_h", "half_life_h"))]
            for name in _CURVES if name in summary]
    occ = ["NMDA occupancy", "peak", "at (h)", "area (h)", "time above threshold (h)"]
    orows = [[f"{cell} (threshold {f(m['threshold'])})",
              *(f(m.get(k)) for k in ("peak", "t_peak_h", "area_h", "time_above_threshold_h"))]
             for cell in ("interneuron", "pyramidal") if (m := summary.get(f"nmda_occupancy_{cell}"))]
    return conc, rows, occ, orows


def print_summary(summary: Mapping) -> None:
    """Print the exposure summary as two tables on stdout (rich), with the brain:plasma AUC ratio and the doses."""
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)
    conc, rows, occ, orows = summary_rows(summary)
    for header, body, title in ((conc, rows, "Exposure (from the continuous solution)"), (occ, orows, None)):
        table = Table(*header, title=title, title_justify="left")
        for r in body:
            table.add_row(*r)
        console.print(table)
    ratio = summary.get("brain_to_plasma_auc_ratio")
    console.print(f"brain:plasma AUC ratio of ketamine: {'–' if ratio is None else f'{ratio:.4g}'}; "
                  f"{summary['species']}, {summary['pk_model']}, {summary['drug']}, {summary['duration_h']:g} h. "
                  "--json prints every value.")


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


def sidecar_path(path) -> Path:
    """Where the units and provenance of a CSV table go: ``pk.csv`` -> ``pk.csv.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_pk_table(path, columns: Mapping[str, np.ndarray], *, units: Mapping[str, str] | None = None,
                   metadata: Mapping | None = None) -> Path:
    """Write equal-length columns to ``path`` (.csv, .json or .parquet), atomically, with their units and
    provenance: inside a JSON document, as the Parquet schema's metadata (keys ``units`` and ``metadata``, JSON
    text), or, for CSV, in a JSON sidecar (:func:`sidecar_path`) holding ``columns``, ``units`` and ``metadata``.
    Integer columns stay integers, other numbers are floats, text columns (an ``ID``, a ``NAME``) text."""
    fmt = table_format(path)
    doc = {"columns": list(columns), "units": dict(units or {}), "metadata": dict(metadata or {})}
    if fmt == ".json":
        return write_json(doc | {"data": dict(columns)}, path)
    cols = {k: (np.asarray(v) if np.asarray(v).dtype.kind in "iu" else np.asarray(v, float)
                if np.asarray(v).dtype.kind in "bf" else np.asarray(v).astype(str)) for k, v in columns.items()}
    if fmt == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .io import atomic_path

        table = pa.table(cols).replace_schema_metadata({
            "units": dumps_json(doc["units"]), "metadata": dumps_json(doc["metadata"])})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return Path(path)
    write_json(doc, sidecar_path(path))
    return write_table(cols, path)


def long_table(columns: Mapping[str, np.ndarray], units: Mapping[str, str], *, time: str = "time_h",
               keys=("ID",)) -> tuple[dict, dict]:
    """A wide table as long rows ``[keys…], TIME, NAME, VALUE, UNIT``: one row per time and value column, in
    row order then column order. Returns the long columns and their units (TIME in the wide time column's)."""
    keys = [k for k in keys if k in columns]
    names = [c for c in columns if c not in (time, *keys, "row")]
    n = len(columns[time])
    out = {k: np.repeat(np.asarray(columns[k]), len(names)) for k in keys}
    out["TIME"] = np.repeat(np.asarray(columns[time], float), len(names))
    out["NAME"] = np.tile(np.array(names, dtype=object), n).astype(str)
    out["VALUE"] = np.column_stack([np.asarray(columns[c], float) for c in names]).reshape(-1) if names else \
        np.zeros(0)
    out["UNIT"] = np.tile(np.array([units.get(c, "") for c in names], dtype=object), n).astype(str)
    return out, {"TIME": units.get(time, ""), "VALUE": "see UNIT"}


#: pk table columns that observed data may be drawn against, and their panel of :func:`pk_figure`
PK_FIGURE_PANELS = {"plasma_ketamine_uM": 0, "plasma_norketamine_uM": 0, "brain_ketamine_uM": 1,
                    "brain_norketamine_uM": 1, "brain_free_ketamine_uM": 1, "nmda_occupancy_interneuron": 2,
                    "nmda_occupancy_pyramidal": 2}


def draw_observed(ax, observed, name: str) -> None:
    """Observed points of ``name`` (a :class:`pkpd.observed.Observed`) on ``ax``, as open markers."""
    obs = observed.select(name)
    if obs.value.size:
        ax.plot(obs.time_h, obs.value, "o", mfc="none", ms=4, label=f"observed {name.removesuffix('_uM')} "
                f"({obs.source})".replace("_", " "))


def pk_figure(result, observed=None):
    """The PK figure of one subject (a matplotlib ``Figure``, not saved): three panels over time in h, plasma and
    brain ketamine/norketamine in µM, and NMDA occupancy (fraction of receptors blocked, 0–1); ``observed``
    (:class:`pkpd.observed.Observed`, names of :data:`PK_FIGURE_PANELS`) drawn as points on their panels."""
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
    for name in (observed.names if observed is not None else ()):
        draw_observed(ax[PK_FIGURE_PANELS[name]], observed, name)
    for a in ax:
        a.legend(loc="upper right", fontsize=8)
    doses = "; ".join(f"{d['amount']:g} {d['unit']}" + (f" {d['salt']}" if d["salt"] else "") + f" {d['route']}"
                      for d in m["doses"][:3]) + (" …" if len(m["doses"]) > 3 else "")
    ax[0].set_title(f"{m['species']} ({m['pk_model']}, {m['drug']}): {doses}", fontsize=9)
    return fig


def plot_pk(result, path, *, svg: bool = True, command: str | None = None, observed=None) -> Path:
    """Draw :func:`pk_figure` to ``path`` (.png, .pdf or .svg; a PNG gets an SVG twin unless ``svg`` is false),
    atomically, with the version and the subject's metadata (species, model, doses; and ``command``, the command
    line that drew it, if given) in the file's metadata."""
    from .figures import check_figure_path, save_figure

    check_figure_path(path)
    m = result.metadata
    params = {k: m[k] for k in ("species", "pk_model", "drug", "weight_kg", "doses") if k in m}
    if command:
        params["command"] = command
    if observed is not None:
        params["observed"] = observed.source
    save_figure(pk_figure(result, observed), path, title=f"ketamine PK and NMDA occupancy ({m.get('species', '')})",
                parameters=params, svg=svg)
    return Path(path)


def parse_times(text, field: str = "times") -> np.ndarray:
    """Output times in hours from ``"0,0.5,1,2h"`` (a list), ``"0:24h:30min"`` (start:stop:step, stop included
    when on the grid) or the path of a file with one time per line (``#`` comments skipped). A bare number is
    hours. The times must be distinct and >= 0; they are returned sorted.

    Raises
    ------
    ValueError
        Naming ``field`` and the entry that cannot be read.
    """
    from .units import parse_time

    s = str(text).strip()
    path = Path(s)
    if s and path.is_file():
        items = [ln.split(",")[0].strip() for ln in path.read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
        where = f"{field} ({path.name})"
    elif ":" in s:
        parts = s.split(":")
        if len(parts) != 3:
            raise ValueError(f"{field}: expected start:stop:step such as 0:24h:30min, got {text!r}")
        a, b = (parse_time(x, field, default_unit="h") for x in parts[:2])
        step = parse_time(parts[2], field, default_unit="h", allow_zero=False)
        if b < a:
            raise ValueError(f"{field}: the stop {parts[1]!r} is before the start {parts[0]!r}")
        n = int(np.floor((b - a) / step * (1 + 1e-12))) + 1
        if n > MAX_TIMES:
            raise ValueError(f"{field}: {n} times; expected at most {MAX_TIMES}")
        return a + step * np.arange(n)
    else:
        items = [x.strip() for x in s.split(",")]
        where = field
    if not items or len(items) > MAX_TIMES:
        raise ValueError(f"{where}: expected between 1 and {MAX_TIMES} times, got {len(items)}")
    t = np.array([parse_time(x, where, default_unit="h") for x in items])
    t.sort()
    if (np.diff(t) == 0).any():
        raise ValueError(f"{where}: the time {t[np.flatnonzero(np.diff(t) == 0)[0]]:g} h is given twice")
    return t
