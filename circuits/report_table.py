"""The README's replication table, generated from a ``summary.json`` of ``ketamine experiment wu2021``.

``python -m circuits.report_table DIR/summary.json`` prints the markdown table
(:func:`circuits.replication.replication_table`: calibration rows, then validation rows, each missed validation
target said plainly); ``--readme README.md`` writes it between the markers ``<!-- replication-table:start -->``
and ``<!-- replication-table:end -->`` instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .replication import replication_table

START, END = "<!-- replication-table:start -->", "<!-- replication-table:end -->"


def write_into(readme: Path, table: str, note: str = "") -> None:
    """Replace the text between :data:`START` and :data:`END` in ``readme`` by ``note`` and ``table``."""
    text = readme.read_text()
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"readme: expected one {START} before one {END} in {readme}")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    readme.write_text(f"{head}{START}\n{note}{table}{END}{tail}")


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m circuits.report_table", description=__doc__.splitlines()[0])
    ap.add_argument("summary", type=Path, help="summary.json of `ketamine experiment wu2021`")
    ap.add_argument("--readme", type=Path, help="write the table between the README's markers")
    ap.add_argument("--note", default="", help="a line put above the table (e.g. the command that made it)")
    a = ap.parse_args(argv)
    table = replication_table(json.loads(a.summary.read_text()))
    if a.readme:
        write_into(a.readme, table, f"{a.note}\n\n" if a.note else "")
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
