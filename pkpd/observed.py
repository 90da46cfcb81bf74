"""Observed data to set beside simulations: a tidy table or the DV rows of a NONMEM-style dataset.

A tidy table (``.csv`` or ``.parquet``) has the columns ``ID, TIME, NAME, VALUE`` and optionally ``UNIT``; TIME is
in hours unless its header names a unit (``TIME(min)``). NAME is the simulated quantity the value is compared with
(a column of the ``pk`` table, a band series of a cohort run: ``plasma_ketamine_uM``). A dataset (a table with a
``DV`` column and no NAME/VALUE) contributes its observation rows with a DV (EVID 0, MDV 0) under one name
(``dv_name``), in the unit its header gives (``DV(uM)``) or that name's unit.

Every error names the row (1-based, counting data rows) and the column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Observed", "read_observed"]

_SAME_UNIT = {"µm": "um", "μm": "um", "ng/ml": "ng/ml", "fraction": "1", "": ""}


def _norm_unit(u: str) -> str:
    u = str(u).strip().lower()
    return _SAME_UNIT.get(u, u)


@dataclass(frozen=True)
class Observed:
    """Observations, one entry per point (arrays of equal length).

    Attributes
    ----------
    id : ndarray of str
    time_h : ndarray of float
        h.
    name : ndarray of str
        The simulated quantity each value is compared with.
    value : ndarray of float
    unit : ndarray of str
    rows : ndarray of int
        The data row of each point in its file.
    source : str
    """

    id: np.ndarray
    time_h: np.ndarray
    name: np.ndarray
    value: np.ndarray
    unit: np.ndarray
    rows: np.ndarray
    source: str = "observed"

    def select(self, name: str) -> "Observed":
        """The points of one name."""
        m = self.name == name
        return Observed(self.id[m], self.time_h[m], self.name[m], self.value[m], self.unit[m], self.rows[m],
                        self.source)

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(self.name.tolist()))


def read_observed(path, *, units: Mapping[str, str] | None = None, dv_name: str = "plasma_ketamine_uM",
                  time_unit: str | None = None) -> Observed:
    """Read observed data from a tidy table or a dataset's DV rows (see the module docstring).

    Parameters
    ----------
    path : path-like
        ``.csv`` or ``.parquet``.
    units : mapping of str to str, optional
        The names the values may be compared with and their units: a NAME not in it, or a UNIT that differs, is
        an error (µM and uM are the same unit).
    dv_name : str
        The name of a dataset's DV values.
    time_unit : str, optional
        A dataset's time unit when its header gives none (as for ``--data-time-unit``).

    Raises
    ------
    ValueError
        One line naming the file, row and column.
    """
    from .dataset import _HEADER, read_dataset, read_rows
    from .units import TIME_UNITS

    header, rows, src = read_rows(path, "observed")
    cols, hunits = {}, {}
    for j, h in enumerate(header):
        m = _HEADER.match(str(h))
        if not m:
            raise ValueError(f"{src} header, column {j + 1}: cannot read {h!r} as NAME or NAME(unit)")
        cols[m.group(1).upper()] = j
        if m.group(2):
            hunits[m.group(1).upper()] = m.group(2)
    if "NAME" not in cols and "DV" in cols:  # a dataset: its DV rows under one name
        # AMT's unit does not matter here; without one in the header any will do
        data = read_dataset(path, time_unit=time_unit, amount_unit=None if "AMT" in hunits else "mg")
        if units is not None and dv_name not in units:
            raise ValueError(f"dv-name: {dv_name!r} is nothing simulated here; expected one of {', '.join(units)}")
        unit = hunits.get("DV", (units or {}).get(dv_name, ""))
        if units is not None and unit and _norm_unit(unit) != _norm_unit(units[dv_name]):
            raise ValueError(f"{src} header, column 'DV': unit {unit!r} differs from {dv_name}'s "
                             f"{units[dv_name]!r}; expected DV in {units[dv_name]!r} or another --dv-name")
        ids, t, v, r = [], [], [], []
        for s in data.subjects:
            keep = ~np.isnan(s.dv)
            ids += [s.id] * int(keep.sum())
            t += s.times_h[keep].tolist()
            v += s.dv[keep].tolist()
            r += s.rows[keep].tolist()
        n = len(v)
        obs = Observed(np.array(ids, dtype=object).astype(str), np.array(t, float), np.full(n, dv_name),
                       np.array(v, float), np.full(n, unit), np.array(r, int), src)
        if n == 0:
            raise ValueError(f"{src}: no observation rows with a DV (EVID 0, MDV 0)")
        return obs
    for req in ("ID", "TIME", "NAME", "VALUE"):
        if req not in cols:
            raise ValueError(f"{src} header: the required column {req!r} is missing; expected ID, TIME, NAME, "
                             "VALUE[, UNIT] (a tidy table) or a dataset with DV")
    tu = hunits.get("TIME", "h").strip().lower()
    if tu not in TIME_UNITS:
        raise ValueError(f"{src} header, column 'TIME': unknown time unit {tu!r}; expected one of s, min, h, d, w")
    to_h = TIME_UNITS[tu]
    out = {k: [] for k in ("id", "t", "name", "value", "unit", "row")}
    for i, row in enumerate(rows, start=1):
        def cell(c):
            j = cols.get(c)
            v = None if j is None or j >= len(row) else row[j]
            return None if v is None or (isinstance(v, str) and v.strip() in ("", ".")) else v

        def number(c):
            v = cell(c)
            try:
                x = float(v) if v is not None and not isinstance(v, bool) else math.nan
            except (TypeError, ValueError):
                x = math.nan
            if not math.isfinite(x):
                raise ValueError(f"{src} row {i}, column {c!r}: expected a number, got {v!r}")
            return x

        if cell("ID") is None:
            raise ValueError(f"{src} row {i}, column 'ID': missing value")
        t = number("TIME")
        if t < 0:
            raise ValueError(f"{src} row {i}, column 'TIME': expected a time >= 0, got {t:g}")
        name = cell("NAME")
        if name is None:
            raise ValueError(f"{src} row {i}, column 'NAME': missing value")
        out["id"].append(str(cell("ID")).strip())
        out["t"].append(t * to_h)
        out["name"].append(str(name).strip())
        out["value"].append(number("VALUE"))
        out["unit"].append(str(cell("UNIT") or "").strip())
        out["row"].append(i)
    if not out["row"]:
        raise ValueError(f"{src}: no data rows")
    obs = Observed(np.array(out["id"], dtype=object).astype(str), np.array(out["t"], float),
                   np.array(out["name"], dtype=object).astype(str), np.array(out["value"], float),
                   np.array(out["unit"], dtype=object).astype(str), np.array(out["row"], int), src)
    if units is not None:
        _check_units(obs, units, "UNIT")
    return obs


def _check_units(obs: Observed, units: Mapping[str, str], unit_column: str) -> None:
    for k in range(obs.value.size):
        name, unit = str(obs.name[k]), str(obs.unit[k])
        if name not in units:
            raise ValueError(f"{obs.source} row {obs.rows[k]}, column 'NAME': {name!r} is nothing simulated here; "
                             f"expected one of {', '.join(units)}")
        if unit and _norm_unit(unit) != _norm_unit(units[name]):
            raise ValueError(f"{obs.source} row {obs.rows[k]}, column {unit_column!r}: unit {unit!r} differs from "
                             f"{name}'s {units[name]!r}; expected values in {units[name]!r}")
