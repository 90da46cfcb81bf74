"""Datasets in NONMEM conventions: one row per dose or observation, grouped by subject.

Columns (case-insensitive; a unit may follow the name in parentheses or brackets, ``TIME(min)``, ``AMT[mg/kg]``):

======  ========  ====================================================================================================
column  required  meaning
======  ========  ====================================================================================================
ID      yes       subject; a subject's rows are contiguous (an ID that reappears after another is an error)
TIME    yes       time since the subject's first record, >= 0 and non-decreasing within an ID (unit: header or
                  ``time_unit``; default h)
AMT     doses     dose amount (unit: header or ``amount_unit``, one of the dose units, e.g. ``mg``, ``mg/kg``)
EVID    no        0 observation, 1 dose, 2 other (an output time without an observation), 3 reset (every amount to
                  0), 4 reset and dose; default 1 where AMT > 0, else 0. A reset (and SS 1) cancels the
                  additional doses (ADDL) of earlier rows still to come
CMT     no        dose compartment number, mapped to a route by ``cmt_routes`` (default 1 = oral, 2 = iv: depot and
                  central, the ADVAN2/4 numbering)
ROUTE   no        the route by name (``iv``, ``ip``, ``oral`` …), instead of CMT
RATE    no        infusion rate (amount unit per time unit); > 0 makes an iv dose an infusion of AMT/RATE;
                  -1 and -2 (rate or duration modelled) are refused: the PK models estimate neither
DUR     no        infusion duration (time unit), instead of RATE
ADDL    no        additional doses, one every II after this one
II      with      interdose interval (time unit); required by ADDL > 0 and SS > 0
        ADDL/SS
SS      no        0 none; 1 steady state: the dose repeated every II since long before, amounts reset first; 2 the
                  same, added to the amounts present
MDV     no        1: no observation on this row (DV ignored)
DV      no        the observed value
WT      no        body weight (kg, or the header's unit: ``WT(g)``); constant within an ID
SEX     no        ``male``/``female`` (``M``/``F``); constant within an ID. Numeric codes are refused: they differ
                  between datasets
======  ========  ====================================================================================================

A cell written ``.`` or left empty is missing. Every error names the row (1-based, counting data rows) and the
column, on one line.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dosing import Dose, Regimen, parse_route
from .units import TIME_UNITS, DoseAmount, parse_weight

__all__ = ["DataSubject", "Dataset", "read_dataset", "read_rows", "parse_dataset", "DEFAULT_CMT_ROUTES",
           "simulate_dataset"]

#: CMT -> route when a dataset gives compartments by number (ADVAN2/ADVAN4: 1 depot, 2 central).
DEFAULT_CMT_ROUTES = {1: "oral", 2: "iv"}
_KNOWN = ("ID", "TIME", "AMT", "EVID", "CMT", "ROUTE", "RATE", "DUR", "ADDL", "II", "SS", "MDV", "DV", "WT",
          "SEX")
_HEADER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:[(\[]\s*([^)\]]*?)\s*[)\]])?\s*$")
#: Most dose records one subject may expand to (ADDL), as for event tables (:data:`pkpd.dosing.MAX_DOSES`).
MAX_DOSES = 10_000


@dataclass(frozen=True)
class DataSubject:
    """One subject of a dataset.

    Attributes
    ----------
    id : str
        The ID as written.
    segments : tuple of (float, str, Regimen, float)
        ``(start_h, kind, regimen, interval_h)`` per stretch of the timeline, the regimen's dose times in hours
        from ``start_h``. ``kind`` says where the amounts at ``start_h`` come from: ``"zero"`` (the first record,
        EVID 3/4 resets), ``"ss1"`` (SS 1: the steady state of the segment's first dose given every
        ``interval_h``), ``"ss2"`` (SS 2: that steady state added to the amounts the previous segment ends with).
    times_h : ndarray, shape (n_obs,)
        Output times (EVID 0 and 2 rows), h, non-decreasing.
    dv : ndarray, shape (n_obs,)
        The observations (NaN for EVID 2, MDV 1 or missing DV).
    rows : ndarray of int, shape (n_obs,)
        The data row of each output time.
    weight_kg : float or None
    sex : str or None
    """

    id: str
    segments: tuple
    times_h: np.ndarray
    dv: np.ndarray
    rows: np.ndarray
    weight_kg: float | None = None
    sex: str | None = None

    @property
    def end_h(self) -> float:
        """The last output or dose time, h."""
        last = max((s + d.end_h for s, _, r, _ in self.segments for d in r), default=0.0)
        return float(max(last, self.times_h.max(initial=0.0)))


@dataclass(frozen=True)
class Dataset:
    """The subjects of a dataset, in file order, with the units it was read in."""

    subjects: tuple[DataSubject, ...]
    time_unit: str = "h"
    amount_unit: str | None = None
    source: str = "dataset"
    columns: tuple = field(default=())


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() in ("", "."))


def parse_dataset(rows, header, *, time_unit: str | None = None, amount_unit: str | None = None,
                  cmt_routes=None, source: str = "dataset") -> Dataset:
    """Build a :class:`Dataset` from the header names and data rows (sequences of cells, text or numbers).

    Parameters
    ----------
    rows : sequence of sequence
    header : sequence of str
        Column names, each optionally with a unit: ``TIME(min)``.
    time_unit, amount_unit : str, optional
        Units of TIME (and II, DUR) and of AMT (and RATE per time unit), when the header does not give them; the
        header's unit and the option must not disagree. Time defaults to h; AMT has no default.
    cmt_routes : mapping of int to str, optional
        CMT number -> route (default :data:`DEFAULT_CMT_ROUTES`).

    Raises
    ------
    ValueError
        One line naming the row and column (or the header) and what was expected.
    """
    cols: dict[str, int] = {}
    units: dict[str, str] = {}
    for j, h in enumerate(header):
        m = _HEADER.match(str(h))
        if not m:
            raise ValueError(f"{source} header, column {j + 1}: cannot read {h!r} as NAME or NAME(unit)")
        name = m.group(1).upper()
        if name in cols:
            raise ValueError(f"{source} header: column {name!r} appears twice")
        cols[name] = j
        if m.group(2):
            units[name] = m.group(2)
    for req in ("ID", "TIME"):
        if req not in cols:
            raise ValueError(f"{source} header: the required column {req!r} is missing; found "
                             f"{', '.join(cols) or 'none'}")
    if "CMT" in cols and "ROUTE" in cols:
        raise ValueError(f"{source} header: give the dose route by CMT or by ROUTE, not both")
    if "RATE" in cols and "DUR" in cols:
        raise ValueError(f"{source} header: give infusions by RATE or by DUR, not both")

    def unit_of(col, option, what):
        u = units.get(col)
        if u is not None and option is not None and u != option:
            raise ValueError(f"{source} header, column {col!r}: its unit {u!r} disagrees with the {what} option "
                             f"{option!r}")
        return u if u is not None else option

    t_unit = unit_of("TIME", time_unit, "time-unit") or "h"
    if t_unit.strip().lower() not in TIME_UNITS:
        raise ValueError(f"{source} header, column 'TIME': unknown time unit {t_unit!r}; expected one of s, min, "
                         "h, d, w")
    to_h = TIME_UNITS[t_unit.strip().lower()]
    for c in ("II", "DUR"):
        if c in units and units[c].strip().lower() != t_unit.strip().lower():
            raise ValueError(f"{source} header, column {c!r}: unit {units[c]!r} differs from TIME's {t_unit!r}; "
                             "expected the same time unit")
    a_unit = unit_of("AMT", amount_unit, "amount-unit")
    wt_unit = units.get("WT", "kg")
    routes = dict(DEFAULT_CMT_ROUTES if cmt_routes is None else cmt_routes)

    subjects: list[DataSubject] = []
    seen_ids: set = set()
    current = None

    def finish(state):
        if state is None:
            return
        segs = [(s, kind, Regimen(tuple(d)), ii) for s, kind, d, ii in state["segments"]]
        subjects.append(DataSubject(state["id"], tuple(segs), np.array(state["times"], float),
                                    np.array(state["dv"], float), np.array(state["rows"], int),
                                    state["wt"], state["sex"]))

    for i, row in enumerate(rows, start=1):
        row = list(row)
        if len(row) > len(header):
            raise ValueError(f"{source} row {i}: {len(row)} cells for {len(header)} header columns")

        def cell(col):
            j = cols.get(col)
            return None if j is None or j >= len(row) or _missing(row[j]) else row[j]

        def number(col, *, default=None, integer=False, minimum=None):
            v = cell(col)
            if v is None:
                return default
            bad = isinstance(v, bool) or (isinstance(v, str) and not v.strip().isascii())
            try:
                x = float(v) if not bad else math.nan
            except (TypeError, ValueError):
                x = math.nan
            if not math.isfinite(x):
                raise ValueError(f"{source} row {i}, column {col!r}: expected a number, got {v!r}")
            if integer and x != int(x):
                raise ValueError(f"{source} row {i}, column {col!r}: expected a whole number, got {v!r}")
            if minimum is not None and x < minimum:
                raise ValueError(f"{source} row {i}, column {col!r}: expected a value >= {minimum:g}, got {v!r}")
            return int(x) if integer else x

        def err(col, msg):
            return ValueError(f"{source} row {i}, column {col!r}: {msg}")

        sid = cell("ID")
        if sid is None:
            raise err("ID", "missing value")
        sid = str(sid).strip()
        if sid.endswith(".0") and sid[:-2].isdigit():
            sid = sid[:-2]
        time = number("TIME")
        if time is None:
            raise err("TIME", "missing value")
        if time < 0:
            raise err("TIME", f"expected a time >= 0, got {time:g}")
        t_h = time * to_h
        if current is None or current["id"] != sid:
            if sid in seen_ids:
                raise err("ID", f"ID {sid} appears again after other IDs; expected each subject's rows together")
            finish(current)
            seen_ids.add(sid)
            current = {"id": sid, "segments": [(0.0, "zero", [], 0.0)], "times": [], "dv": [], "rows": [],
                       "wt": None, "sex": None, "last": 0.0, "n_doses": 0}
        if t_h < current["last"]:
            raise err("TIME", f"time {time:g} is before the previous row's {current['last'] / to_h:g} for ID {sid}; "
                      "expected non-decreasing times within an ID")
        current["last"] = t_h
        amt = number("AMT")
        evid = number("EVID", integer=True)
        if evid is None:
            evid = 1 if amt is not None and amt > 0 else 0
        if evid not in (0, 1, 2, 3, 4):
            raise err("EVID", f"unknown EVID {evid}; expected 0 (observation), 1 (dose), 2 (other), 3 (reset) or "
                      "4 (reset and dose)")
        # covariates: constant within an ID
        wt = cell("WT")
        if wt is not None:
            try:
                w = parse_weight(f"{float(wt)}{wt_unit}" if str(wt).strip().replace(".", "", 1).isdigit() else wt)
            except (ValueError, TypeError):
                raise err("WT", f"expected a body weight in {wt_unit}, got {wt!r}") from None
            if current["wt"] is not None and abs(current["wt"] - w) > 1e-12 * w:
                raise err("WT", f"body weight changes within ID {sid}; expected one weight per subject")
            current["wt"] = w
        sex = cell("SEX")
        if sex is not None:
            s = {"m": "male", "male": "male", "f": "female", "female": "female"}.get(str(sex).strip().lower())
            if s is None:
                raise err("SEX", f"expected male or female (M or F), got {sex!r}; numeric codes differ between "
                          "datasets")
            if current["sex"] not in (None, s):
                raise err("SEX", f"sex changes within ID {sid}; expected one per subject")
            current["sex"] = s
        if evid in (3, 4):
            current["segments"].append((t_h, "zero", [], 0.0))
        if evid in (0, 2):
            if amt is not None and amt != 0:
                raise err("AMT", f"an observation row (EVID {evid}) has AMT {amt:g}; expected none")
            mdv = number("MDV", integer=True, default=0)
            if mdv not in (0, 1):
                raise err("MDV", f"expected 0 or 1, got {mdv}")
            dv = number("DV") if evid == 0 and mdv == 0 else None
            current["times"].append(t_h)
            current["dv"].append(math.nan if dv is None else dv)
            current["rows"].append(i)
            continue
        if evid == 3:
            continue
        # a dose (EVID 1 or 4)
        if amt is None or amt <= 0:
            raise err("AMT", f"a dose row (EVID {evid}) needs a positive AMT")
        if a_unit is None:
            raise err("AMT", "no amount unit: declare it in the header (AMT(mg), AMT(mg/kg)) or by the "
                      "amount-unit option")
        try:
            amount = DoseAmount(amt, a_unit)
        except ValueError as e:
            raise err("AMT", str(e).split(": ", 1)[-1]) from None
        if "ROUTE" in cols:
            r = cell("ROUTE")
            if r is None:
                raise err("ROUTE", "missing route on a dose row")
            try:
                route = parse_route(r)
            except ValueError as e:
                raise err("ROUTE", str(e).split(": ", 1)[-1]) from None
        else:
            cmt = number("CMT", integer=True)
            if cmt is None:
                if "CMT" in cols:
                    raise err("CMT", "missing compartment on a dose row")
                raise err("CMT", "a dose row needs a CMT or ROUTE column to say where the dose goes")
            if cmt not in routes:
                raise err("CMT", f"compartment {cmt} maps to no route; expected one of "
                          + ", ".join(f"{k} ({v})" for k, v in sorted(routes.items())))
            route = parse_route(routes[cmt])
        rate = number("RATE", default=0.0)
        dur = number("DUR", default=0.0, minimum=0.0)
        if rate in (-1.0, -2.0):
            raise err("RATE", f"RATE = {rate:g} means the infusion {'rate' if rate == -1 else 'duration'} is "
                      "modelled; the PK models here have no such parameter: give RATE > 0 or DUR")
        if rate < 0:
            raise err("RATE", f"expected a rate >= 0 (or -1/-2), got {rate:g}")
        duration_h = None
        if rate > 0 or dur > 0:
            if route not in ("iv", "iv-infusion"):
                raise err("RATE" if rate > 0 else "DUR", f"a zero-order input into route {route!r}; only "
                          "intravenous doses can be infusions")
            route = "iv-infusion"
            duration_h = (amt / rate if rate > 0 else dur) * to_h
        elif route == "iv-infusion":
            raise err("RATE" if "RATE" in cols else "DUR", "an iv-infusion needs a RATE or DUR > 0")
        addl = number("ADDL", integer=True, default=0, minimum=0)
        ii = number("II", default=0.0, minimum=0.0)
        ss = number("SS", integer=True, default=0)
        if ss not in (0, 1, 2):
            raise err("SS", f"expected 0, 1 or 2, got {ss}")
        if addl > 0 and ii <= 0:
            raise err("II", f"ADDL = {addl} needs an interdose interval II > 0")
        if ss and ii <= 0:
            raise err("II", f"SS = {ss} needs an interdose interval II > 0")
        if duration_h is not None and ii > 0 and duration_h > ii * to_h:
            raise err("II", "the infusion lasts longer than the interdose interval")
        current["n_doses"] += 1 + addl
        if current["n_doses"] > MAX_DOSES:
            raise err("ADDL", f"ID {sid} would hold {current['n_doses']} doses; expected at most {MAX_DOSES}")
        if ss:  # a new stretch starts with this dose; SS 2 carries the doses still to come
            prev_start, _, prev, _ = current["segments"][-1]
            carried = [] if ss == 1 else [d for d in prev if prev_start + d.time_h >= t_h]
            for d in carried:
                prev.remove(d)
            current["segments"].append((t_h, f"ss{ss}", [], ii * to_h))
        start = current["segments"][-1][0]
        try:
            doses = [Dose(t_h - start + k * ii * to_h, amount, route, duration_h) for k in range(addl + 1)]
        except ValueError as e:
            raise err("AMT", str(e)) from None
        current["segments"][-1][2].extend(doses)
        if ss == 2:
            current["segments"][-1][2].extend(Dose(prev_start + d.time_h - t_h, d.amount, d.route, d.duration_h,
                                                   d.salt) for d in carried)
    finish(current)
    if not subjects:
        raise ValueError(f"{source}: no data rows")
    return Dataset(tuple(subjects), t_unit, a_unit, source, tuple(cols))


def read_rows(path, what: str = "data") -> tuple[list, list, str]:
    """``(header, rows, file name)`` of a ``.csv`` (``#`` comment lines skipped) or ``.parquet`` table;
    ``ValueError`` naming ``what`` for a missing file or another type."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what}: file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        from .io import read_csv_lines

        table = list(csv.reader(read_csv_lines(p)))
        if not table:
            raise ValueError(f"{p.name}: empty table; expected a header row")
        return table[0], table[1:], p.name
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(p)
        header = t.column_names
        data = [t.column(c).to_pylist() for c in header]
        return header, list(zip(*data)), p.name
    raise ValueError(f"{what}: unknown file type {p.suffix!r} for {p.name}; expected .csv or .parquet")


def read_dataset(path, *, time_unit: str | None = None, amount_unit: str | None = None,
                 cmt_routes=None) -> Dataset:
    """Read a NONMEM-style dataset from ``.csv`` (``#`` comment lines skipped) or ``.parquet``; see
    :func:`parse_dataset`."""
    header, rows, name = read_rows(path)
    return parse_dataset(rows, header, time_unit=time_unit, amount_unit=amount_unit, cmt_routes=cmt_routes,
                         source=name)


def simulate_dataset(data: Dataset, **pk_options) -> dict[str, np.ndarray]:
    """Simulate every subject of ``data`` with :func:`pkpd.pk.simulate_pk` at its output times.

    Each segment (see :class:`DataSubject`) starts from zero amounts, a steady state, or a steady state added to
    the previous segment's final amounts; a subject's WT and SEX override ``weight_kg`` and ``sex``. Returns the
    columns ``ID``, ``row``, :data:`pkpd.pk.TABLE_COLUMNS` (``time_h`` in hours since the subject's first record)
    and ``DV``, one entry per output row of the dataset, in file order.
    """
    from .pk import TABLE_COLUMNS, periodic_state, simulate_pk

    out: dict[str, list] = {"ID": [], "row": [], **{c: [] for c in TABLE_COLUMNS}, "DV": []}
    for s in data.subjects:
        opts = dict(pk_options)
        if s.weight_kg is not None:
            opts["weight_kg"] = s.weight_kg
        if s.sex is not None:
            opts["sex"] = s.sex
        ends = [seg[0] for seg in s.segments[1:]] + [max(s.end_h, s.segments[-1][0])]
        y_end = None
        for k, (start, kind, reg, interval) in enumerate(s.segments):
            last = k == len(s.segments) - 1
            sel = (s.times_h >= start) & ((s.times_h < ends[k]) | last)
            rel = s.times_h[sel] - start
            span = max(ends[k] - start, rel.max(initial=0.0), reg.end_h)
            y0 = None
            if kind != "zero":
                y0 = periodic_state(Regimen(reg.doses[:1]), interval, **opts)
                if kind == "ss2" and y_end is not None:
                    y0 = y0 + y_end
            if len(reg) == 0 and y0 is None:  # nothing dosed since a reset: every amount stays 0
                cols = {c: np.zeros(rel.size) for c in TABLE_COLUMNS}
                y_end = None
            else:
                grid = np.unique(np.concatenate([[0.0], rel, [span if span > 0 else 1e-9]]))
                res = simulate_pk(reg, float(grid[-1]), t_eval=grid, y0_umol=y0, **opts)
                idx = np.searchsorted(grid, rel)
                cols = {c: res.columns[c][idx] for c in TABLE_COLUMNS}
                y_end = res.amounts_umol[-1] if abs(grid[-1] - (ends[k] - start)) < 1e-12 else \
                    res.solution(np.array([ends[k] - start]))[0] if ends[k] - start <= grid[-1] else None
            cols["time_h"] = s.times_h[sel]
            out["ID"] += [s.id] * int(sel.sum())
            out["row"] += s.rows[sel].tolist()
            for c in TABLE_COLUMNS:
                out[c] += list(cols[c])
            out["DV"] += s.dv[sel].tolist()
    return {k: np.asarray(v) if k != "ID" else v for k, v in out.items()}
