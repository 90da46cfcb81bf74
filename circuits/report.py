"""``ketamine report RUN_DIR``: one self-contained HTML page summarizing a run directory.

A run is recognised by its files:

* ``manifest.json`` — a virtual cohort (:mod:`pkpd.cohort`): the spec as inputs, the population summary
  (``summary.json``, computed with :func:`pkpd.cohort.summarize_run` if missing) as results;
* ``summary.json`` with an ``"slh"`` key — the Wu 2021 replication (``ketamine experiment wu2021``): failure rates
  of the model beside the paper's (the summary's own ``paper`` and ``split`` blocks) and the other readouts;
* ``manifest.json`` with a ``method`` and ``indices.csv`` — a global sensitivity run (``ketamine sensitivity``):
  the manifest as inputs, the indices, ranking and convergence check as results;
* ``summary.json`` with ``singular_values`` — an identifiability run (``ketamine identifiability``);
* ``*.study.json`` — a study record (dose-response, regimens or any other kind) with the keys ``kind``,
  ``command``, ``version``, ``inputs``, ``results``, ``figures``: inputs and results rendered generically.

The reproduce command comes from ``command.json`` (written by the CLI commands that create run directories:
``{"command" or "commands", "version", "created", "inputs"?}``) or from a study's ``"command"``. Every figure in
the directory (``*.png``, and ``*.svg`` without a PNG twin) and every figure a study lists is embedded as a base64
data URI; the page loads nothing from outside. All text is HTML-escaped.

It reads runs of every layer (PK cohorts, circuit replications, studies), so it lives with the circuit model, above
the PK package.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
from collections.abc import Mapping
from pathlib import Path

__all__ = ["build_report", "write_report", "find_figures", "run_kinds"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;padding:.7em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
.meta{color:#555;font-size:.9em}
"""

#: lists longer than this are shortened in tables (first values and the count)
_MAX_LIST = 24


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v).lower()
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _render(value, depth: int = 0) -> str:
    """Any JSON value as HTML: a mapping as a key/value table, a list of like mappings as a table with one row
    each, a list of scalars inline, scalars escaped."""
    if _scalar(value):
        cls = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        return f"<span{cls}>{_e(_fmt(value))}</span>"
    if isinstance(value, Mapping):
        if not value:
            return "<em>(none)</em>"
        # equal-length lists of scalars (a dose grid and its statistics): one table, a column each
        cols = {k: v for k, v in value.items()
                if isinstance(v, (list, tuple)) and len(v) > 1 and all(_scalar(x) for x in v)}
        lengths = {len(v) for v in cols.values()}
        table = ""
        if len(cols) >= 2 and len(lengths) == 1:
            head = "".join(f"<th>{_e(k)}</th>" for k in cols)
            n = lengths.pop()
            body = "".join("<tr>" + "".join(f'<td class="num">{_e(_fmt(v[i]))}</td>' for v in cols.values())
                           + "</tr>" for i in range(min(n, _MAX_LIST * 4)))
            more = f"<p class=meta>… {n} rows</p>" if n > _MAX_LIST * 4 else ""
            table = f"<table><tr>{head}</tr>{body}</table>{more}"
            value = {k: v for k, v in value.items() if k not in cols}
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_render(v, depth + 1)}</td></tr>" for k, v in value.items())
        return (f"<table>{rows}</table>" if rows else "") + table
    if isinstance(value, (list, tuple)):
        if not value:
            return "<em>(none)</em>"
        if all(_scalar(v) for v in value):
            shown = [_fmt(v) for v in value[:_MAX_LIST]]
            more = f" … ({len(value)} values)" if len(value) > _MAX_LIST else ""
            return _e(", ".join(shown) + more)
        if all(isinstance(v, Mapping) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            head = "".join(f"<th>{_e(k)}</th>" for k in keys)
            body = "".join("<tr>" + "".join(f"<td>{_render(v.get(k), depth + 1)}</td>" for k in keys) + "</tr>"
                           for v in value[:_MAX_LIST * 4])
            more = f"<p class=meta>… {len(value)} rows</p>" if len(value) > _MAX_LIST * 4 else ""
            return f"<table><tr>{head}</tr>{body}</table>{more}"
        return "<ul>" + "".join(f"<li>{_render(v, depth + 1)}</li>" for v in value[:_MAX_LIST]) + "</ul>"
    return _e(repr(value))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"RUN_DIR: cannot read {str(path)!r} as JSON ({err})") from None


def run_kinds(run_dir) -> list[str]:
    """The kinds of run held in ``run_dir``: ``"cohort"``, ``"wu2021"`` and the kind of each ``*.study.json``."""
    run_dir = Path(run_dir)
    kinds = []
    if _is_sensitivity(run_dir):
        kinds.append("sensitivity")
    elif (run_dir / "manifest.json").is_file():
        kinds.append("cohort")
    elif (run_dir / "summary.json").is_file():
        summary = _read_json(run_dir / "summary.json")
        if isinstance(summary, Mapping) and "slh" in summary:
            kinds.append("wu2021")
        elif isinstance(summary, Mapping) and "singular_values" in summary:
            kinds.append("identifiability")
    for p in sorted(run_dir.glob("*.study.json")):
        rec = _read_json(p)
        kinds.append(str(rec.get("kind", p.name.removesuffix(".study.json"))) if isinstance(rec, dict) else p.name)
    return kinds


def _is_sensitivity(run_dir: Path) -> bool:
    """A ``ketamine sensitivity --out DIR`` run: its manifest names a method, and ``indices.csv`` is there."""
    m = run_dir / "manifest.json"
    return m.is_file() and (run_dir / "indices.csv").is_file() and "method" in (_read_json(m) or {})


def _csv_table(path: Path) -> str:
    import csv

    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return "<p class=meta>empty</p>"

    def cell(v):
        try:
            return f'<td class="num">{_e(_fmt(float(v)))}</td>'
        except ValueError:
            return f"<td>{_e(v)}</td>"

    head = "".join(f"<th>{_e(h)}</th>" for h in rows[0])
    return f"<table><tr>{head}</tr>" + "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>"
                                               for r in rows[1:]) + "</table>"


def _sensitivity_section(run_dir: Path) -> str:
    manifest = _read_json(run_dir / "manifest.json")
    spath = run_dir / "summary.json"
    summary = _read_json(spath) if spath.is_file() else {}
    keep = {k: summary[k] for k in ("ranking", "convergence", "failures") if k in summary}
    return (f"<h2>Inputs (sensitivity manifest)</h2>{_render(manifest)}"
            f"<h2>Results: indices</h2>{_csv_table(run_dir / 'indices.csv')}"
            f"<h3>Ranking, convergence (indices at N/2 beside N), failed runs</h3>{_render(keep)}")


def _identifiability_section(run_dir: Path) -> str:
    summary = _read_json(run_dir / "summary.json")
    keep = {k: summary[k] for k in ("targets", "singular_values", "condition", "undetermined", "thresholds")
            if k in summary}
    table = (_csv_table(run_dir / "identifiability.csv") if (run_dir / "identifiability.csv").is_file()
             else _render(summary.get("parameters", [])))
    return (f"<h2>Results: identifiability of the calibrated parameters</h2>{table}"
            f"<h3>Targets, singular values, undetermined combinations</h3>{_render(keep)}")


def find_figures(run_dir, extra=()) -> list[Path]:
    """Every figure of a run: ``*.png`` in ``run_dir``, ``*.svg`` without a PNG twin, and the ``extra`` paths
    (a study's ``"figures"``), each once, in that order."""
    run_dir = Path(run_dir)
    found = sorted(run_dir.glob("*.png"))
    found += [p for p in sorted(run_dir.glob("*.svg")) if not p.with_suffix(".png").exists()]
    for p in extra:
        p = Path(p)
        if p.suffix.lower() == ".svg" and p.with_suffix(".png").exists():
            p = p.with_suffix(".png")
        found.append(p)
    out, seen = [], set()
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _figure_html(path: Path, run_dir: Path) -> str:
    mime = "image/png" if path.suffix.lower() == ".png" else "image/svg+xml"
    try:  # a study record or a link must not pull other files (``/etc/shadow``, ``../x``) into a shareable page
        path.resolve().relative_to(run_dir.resolve())
    except ValueError:
        return f"<p class=meta>figure {_e(path)} lies outside the run directory; not embedded</p>"
    if path.suffix.lower() not in (".png", ".svg"):
        return f"<p class=meta>figure {_e(path)} is not a .png or .svg; not embedded</p>"
    if not path.is_file():
        return f"<p class=meta>figure {_e(path)} is listed but missing</p>"
    data = path.read_bytes()
    caption = path.name
    if mime == "image/png":
        from pkpd.figures import read_png_metadata

        try:
            meta = read_png_metadata(path)
        except ValueError:
            meta = {}
        if meta.get("Title"):
            caption = f"{path.name}: {meta['Title']}" + (f" ({meta['Software']})" if meta.get("Software") else "")
    try:
        name = str(path.relative_to(run_dir))
    except ValueError:
        name = path.name
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return (f'<figure><img alt="{_e(name)}" src="{uri}"><figcaption>{_e(caption)}</figcaption></figure>')


def _commands(record) -> list[str]:
    if not isinstance(record, Mapping):
        return []
    if isinstance(record.get("commands"), list):
        return [str(c) for c in record["commands"]]
    return [str(record["command"])] if record.get("command") else []


def _command_block(commands: list[str], note: str = "") -> str:
    if not commands:
        return "<p class=meta>The command that made this run was not recorded.</p>"
    label = "Reproduce with" if len(commands) == 1 else "Made by these commands, in order (the last resumed it)"
    return f"<p>{_e(label)}{_e(note)}:</p>" + "".join(f"<pre><code>{_e(c)}</code></pre>" for c in commands)


def _cohort_section(run_dir: Path) -> str:
    from pkpd.cohort import summarize_run

    manifest = _read_json(run_dir / "manifest.json")
    spath = run_dir / "summary.json"
    summary = _read_json(spath) if spath.is_file() else summarize_run(run_dir)
    counts = {k: summary.get(k) for k in ("n", "n_ok", "n_failed")} | {"failures": summary.get("failures", {})}
    rows = "".join(
        f"<tr><th>{_e(name)}</th>" + "".join(f'<td class="num">{_e(_fmt(r.get(q)))}</td>'
                                              for q in ("p5", "p50", "p95", "mean")) + "</tr>"
        for name, r in summary.get("readouts", {}).items())
    table = (f"<table><tr><th>readout</th><th>p5</th><th>p50</th><th>p95</th><th>mean</th></tr>{rows}</table>"
             if rows else "<p class=meta>no readouts</p>")
    return (f"<h2>Inputs (cohort spec)</h2>{_render(manifest.get('spec', {}))}"
            f"<h3>Chunking</h3>{_render(manifest.get('chunking', {}))}"
            f"<h2>Results: population summary</h2>{_render(counts)}"
            f"<h3>Readouts over solved subjects (5th, 50th, 95th percentile, mean)</h3>{table}")


def _wu2021_section(run_dir: Path, inputs) -> str:
    summary = _read_json(run_dir / "summary.json")
    paper = summary.get("paper", {}) if isinstance(summary, Mapping) else {}
    split = summary.get("split", {}) if isinstance(summary, Mapping) else {}
    parts = [f"<h2>Inputs</h2>{_render(inputs) if inputs else '<p class=meta>not recorded</p>'}",
             "<h2>Results: the model beside Wu et al. 2021</h2>"]

    def value(key):
        v = summary
        for part in key.split("."):
            if not isinstance(v, Mapping) or part not in v:
                return None
            v = v[part]
        return v

    for role in ("calibration", "validation"):
        keys = split.get(role, [])
        if not keys:
            continue
        rows = "".join(
            f'<tr><th>{_e(k)}</th><td class="num">{_e(_fmt(value(k)))}</td>'
            f'<td>{_e(_fmt(paper.get(k, {}).get("value")) if paper.get(k, {}).get("value") is not None else "")}'
            f'{_e(" " + paper.get(k, {}).get("direction", ""))}</td><td>{_e(paper.get(k, {}).get("panel", ""))}</td>'
            f"</tr>" for k in keys)
        parts.append(f"<h3>{_e(role)} targets</h3><table><tr><th>key</th><th>model</th><th>paper</th>"
                     f"<th>panel</th></tr>{rows}</table>")
    if not split:
        parts.append(f"<h3>Readouts</h3>{_render(summary)}")
    return "".join(parts)


def _study_section(path: Path, rec, show_command: bool = True) -> tuple[str, list[Path]]:
    if not isinstance(rec, Mapping):
        return f"<h2>{_e(path.name)}</h2><p class=meta>not a study record</p>", []
    kind = rec.get("kind", path.name.removesuffix(".study.json"))
    figs = [p if Path(p).is_absolute() else path.parent / p for p in rec.get("figures", []) or []]
    figs = [Path(p) for p in figs]
    other = {k: v for k, v in rec.items() if k not in ("kind", "command", "commands", "version", "inputs",
                                                      "results", "figures")}
    html_ = (f"<h2>Study: {_e(kind)} <span class=meta>({_e(path.name)})</span></h2>"
             + (_command_block(_commands(rec)) if show_command else "")
             + f"<p class=meta>version {_e(rec.get('version', 'not recorded'))}</p>"
             f"<h3>Inputs</h3>{_render(rec.get('inputs', {}))}"
             f"<h3>Results</h3>{_render(rec.get('results', {}))}"
             + (f"<h3>Other fields</h3>{_render(other)}" if other else ""))
    return html_, figs


def build_report(run_dir) -> str:
    """The HTML page (a string) summarizing the run in ``run_dir`` (see the module docstring).

    Raises
    ------
    ValueError
        If ``run_dir`` is not a directory or holds no run (no manifest.json, summary.json of a replication or
        ``*.study.json``).
    """
    from pkpd import __version__

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"RUN_DIR: {str(run_dir)!r} is not a directory")
    kinds = run_kinds(run_dir)
    if not kinds:
        raise ValueError(f"RUN_DIR: {str(run_dir)!r} holds no run (expected manifest.json, summary.json or "
                         f"*.study.json)")
    cpath = run_dir / "command.json"
    crec = _read_json(cpath) if cpath.is_file() else {}
    sections, extra_figs = [], []
    version = crec.get("version") if isinstance(crec, Mapping) else None
    if "cohort" in kinds:
        sections.append(_cohort_section(run_dir))
        version = version or _read_json(run_dir / "manifest.json").get("version")
    if "wu2021" in kinds:
        sections.append(_wu2021_section(run_dir, crec.get("inputs") if isinstance(crec, Mapping) else None))
    if "sensitivity" in kinds:
        sections.append(_sensitivity_section(run_dir))
    if "identifiability" in kinds:
        sections.append(_identifiability_section(run_dir))
    studies = sorted(run_dir.glob("*.study.json"))
    commands = _commands(crec)
    for p in studies:
        rec = _read_json(p)
        # one study and no command.json: its command is the page's reproduce command, shown once at the top
        s, figs = _study_section(p, rec, show_command=bool(commands) or len(studies) > 1)
        sections.append(s)
        extra_figs += figs
        if isinstance(rec, Mapping):
            version = version or rec.get("version")
    if not commands and len(studies) == 1:
        commands = _commands(_read_json(studies[0]))
    figures = find_figures(run_dir, extra_figs)
    title = f"ketamine-qsp report: {', '.join(dict.fromkeys(kinds))} — {run_dir.resolve().name}"
    created = crec.get("created") if isinstance(crec, Mapping) else None
    head = (f"<h1>{_e(title)}</h1><p class=meta>run directory {_e(run_dir.resolve())}; kind "
            f"{_e(', '.join(kinds))}; made with ketamine-qsp {_e(version or 'unknown version')}"
            + (f" on {_e(created)}" if created else "")
            + f"; report by ketamine-qsp {_e(__version__)} on "
              f"{_e(datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'))}</p>"
            + "<h2>Reproduce</h2>" + _command_block(commands))
    fig_html = "".join(_figure_html(p, run_dir) for p in figures) or "<p class=meta>no figures</p>"
    body = head + "".join(sections) + f"<h2>Figures ({len(figures)})</h2>" + fig_html
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


def write_report(run_dir, out=None, *, draw_bands: bool = True) -> Path:
    """Write :func:`build_report` to ``out`` (default ``RUN_DIR/report.html``), atomically; return its path.

    With ``draw_bands``, a finished cohort run without ``bands.png`` first gets one (:func:`pkpd.cohort.plot_bands`,
    as ``ketamine cohort summarize`` draws it), so that its report shows the percentile bands.
    """
    from pkpd.io import atomic_path

    run_dir = Path(run_dir)
    out = run_dir / "report.html" if out is None else Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"out: {str(out)!r} must end in .html")
    if draw_bands and "cohort" in run_kinds(run_dir) and not (run_dir / "bands.png").exists():
        from pkpd.cohort import plot_bands, summarize_run

        if not (run_dir / "percentiles.parquet").is_file():
            summarize_run(run_dir)
        plot_bands(run_dir, run_dir / "bands.png")
    page = build_report(run_dir)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
