"""The README's result tables, generated from the commands' own outputs, never typed.

``python -m circuits.report_table DIR/summary.json`` prints the replication table of a ``summary.json`` of
``ketamine experiment wu2021`` (:func:`circuits.replication.replication_table`: calibration rows, then validation
rows, each missed validation target said plainly); ``--regimens DIR/regimens.csv`` prints the regimen table of
``ketamine regimens --out DIR`` instead (:func:`regimen_table`). ``--readme README.md`` writes the table between the
README's markers (``<!-- replication-table:start/end -->`` or ``<!-- regimen-table:start/end -->``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .replication import replication_table

START, END = "<!-- replication-table:start -->", "<!-- replication-table:end -->"
REGIMEN_START, REGIMEN_END = "<!-- regimen-table:start -->", "<!-- regimen-table:end -->"

#: The regimen table's columns: header -> (column of regimens.csv, scale, significant digits).
REGIMEN_COLUMNS = {"regimen": ("regimen", None, None), "doses": ("n_doses", None, None),
                   "onset (h)": ("onset_h", 1.0, 3), "response lasts (d)": ("duration_h", 1 / 24, 3),
                   "half-life of the effect (d)": ("half_life_h", 1 / 24, 3), "R at 24 h": ("rescue_24h", 1.0, 3),
                   "R at 7 d": ("rescue_7d", 1.0, 3), "Cmax (ng/mL)": ("cmax_plasma_ketamine_ng_per_ml", 1.0, 3),
                   "AUC (µM·h)": ("auc_plasma_ketamine_uM_h", 1.0, 3),
                   "peak interneuron occupancy": ("peak_occupancy_interneuron", 1.0, 2)}


def regimen_table(csv_path: Path) -> str:
    """The markdown table of a ``regimens.csv`` (:data:`REGIMEN_COLUMNS`; an empty cell where a metric is
    undefined, e.g. no response; where the run used the posterior, each metric with ``<col>_ci90_lo/_hi`` columns is
    shown as its median with the 90 % interval in brackets)."""
    import csv

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))

    def num(row, col, scale, digits):
        try:
            x = float(row.get(col, "")) * scale
        except ValueError:
            return ""
        return f"{x:.{digits}g}" if x == x else ""

    def cell(row, col, scale, digits):
        if scale is None:
            v = row.get(col, "")
            return f"`{v}`" if col == "regimen" else v
        lo, hi = num(row, f"{col}_ci90_lo", scale, digits), num(row, f"{col}_ci90_hi", scale, digits)
        v = num(row, col, scale, digits)
        return f"{v} [{lo}, {hi}]" if v and lo and hi else v  # a posterior run: median [90 % interval]

    out = ["| " + " | ".join(REGIMEN_COLUMNS) + " |", "|" + "---|" * len(REGIMEN_COLUMNS)]
    out += ["| " + " | ".join(cell(r, *spec) for spec in REGIMEN_COLUMNS.values()) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_into(readme: Path, table: str, note: str = "", *, start: str = START, end: str = END) -> None:
    """Replace the text between the markers ``start`` and ``end`` in ``readme`` by ``note`` and ``table``
    (:func:`pkpd.io.replace_marked`)."""
    from pkpd.io import replace_marked

    replace_marked(readme, start, end, f"\n{note}{table}")


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m circuits.report_table", description=__doc__.splitlines()[0])
    ap.add_argument("summary", type=Path, nargs="?", help="summary.json of `ketamine experiment wu2021`")
    ap.add_argument("--regimens", type=Path, help="regimens.csv of `ketamine regimens --out DIR` (the regimen table)")
    ap.add_argument("--readme", type=Path, help="write the table between the README's markers")
    ap.add_argument("--note", default="", help="a line put above the table (e.g. the command that made it)")
    a = ap.parse_args(argv)
    if (a.summary is None) == (a.regimens is None):
        ap.error("give a summary.json or --regimens regimens.csv")
    if a.regimens is not None:
        table, markers = regimen_table(a.regimens), (REGIMEN_START, REGIMEN_END)
    else:
        table, markers = replication_table(json.loads(a.summary.read_text())), (START, END)
    if a.readme:
        write_into(a.readme, table, f"{a.note}\n\n" if a.note else "", start=markers[0], end=markers[1])
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
