"""Doses and regimens: immutable :class:`Dose` and :class:`Regimen`, and event tables in CSV or TOML.

A dose says *when* (hours from the start), *how much* (a value and a unit such as ``mg/kg``; optionally the salt
form that was weighed) and *how* (a route, and a duration for an intravenous infusion). What a route does — its
bioavailability, absorption rate, first-pass metabolism, swallowed fraction — belongs to the PK model and the
species (:mod:`pkpd.pk_models`), not to the dose.

Event tables follow the spirit of NONMEM data sets: one row per dose (or per repeated dose), columns

==========  ========  ======================================================================================
column      required  meaning
==========  ========  ======================================================================================
time        yes       dose (or infusion start) time: ``48h``, ``30min``; a bare number is hours
amount      yes       positive number
unit        yes       ``mg/kg``, ``mg``, ``ug``, ``ug/kg``, ``g``, ``umol``, ``umol/kg`` …
route       yes       ``iv``, ``iv-infusion``, ``ip``, ``sc``, ``im``, ``intranasal``, ``oral``
duration    infusion  infusion duration (``40min``); required for ``iv-infusion``, not allowed otherwise
salt        no        ``hcl`` or ``base`` (default: the species default, see :mod:`pkpd.species`)
repeat      no        number of administrations (default 1)
interval    with      time between repeated administrations (``84h``); required when ``repeat`` > 1
            repeat
==========  ========  ======================================================================================

CSV example::

    time,amount,unit,route,duration,repeat,interval
    0h,0.5,mg/kg,iv-infusion,40min,6,48h

TOML example (a list of ``[[dose]]`` tables with the same keys)::

    [[dose]]
    time = "0h"
    amount = 56
    unit = "mg"
    route = "intranasal"
    repeat = 8
    interval = "84h"
"""

from __future__ import annotations

import csv
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .parameters import is_finite_real
from .units import DoseAmount, format_hours, parse_salt, parse_time

__all__ = ["ROUTES", "MAX_DOSES", "Dose", "Regimen", "parse_route", "read_regimen", "regimen_from_rows", "build_regimen"]

#: Routes of administration, in canonical spelling, with a one-line description.
ROUTES = {
    "iv": "intravenous bolus",
    "iv-infusion": "intravenous zero-order infusion (needs a duration)",
    "ip": "intraperitoneal injection",
    "sc": "subcutaneous injection",
    "im": "intramuscular injection",
    "intranasal": "intranasal spray",
    "oral": "oral (swallowed) dose",
}
#: Most doses one regimen may hold: a dose every hour for a year is 8,760. A ceiling that turns a typing slip
#: (``repeat = 1e9``) into an error before a billion doses are built; assumed, not a pharmacological limit.
MAX_DOSES = 10_000
_ROUTE_ALIASES = {"iv-bolus": "iv", "ivbolus": "iv", "bolus": "iv", "infusion": "iv-infusion",
                  "ivinfusion": "iv-infusion", "iv_infusion": "iv-infusion", "i.v.": "iv", "i.p.": "ip", "s.c.": "sc",
                  "i.m.": "im", "in": "intranasal", "nasal": "intranasal", "po": "oral", "p.o.": "oral"}


def parse_route(text: str, field: str = "route") -> str:
    """Canonical route name from user text (``ValueError`` naming the valid routes otherwise)."""
    key = str(text).strip().lower()
    key = _ROUTE_ALIASES.get(key, key)
    if key not in ROUTES:
        raise ValueError(f"{field}: unknown route {text!r}; expected one of {', '.join(ROUTES)}")
    return key


@dataclass(frozen=True)
class Dose:
    """One administration.

    Attributes
    ----------
    time_h : float
        Time of the dose (start of an infusion), hours from the start of the simulation, >= 0.
    amount : DoseAmount
        How much, in the unit given (``DoseAmount(10, "mg/kg")``); a string such as ``"10mg/kg"`` is parsed.
    route : str
        One of :data:`ROUTES`.
    duration_h : float or None
        Infusion duration in hours; required (> 0) for ``iv-infusion``, must be None for every other route.
    salt : {"hcl", "base"} or None
        The form that was weighed; None means the species default (rodents: HCl, humans: base).
    """

    time_h: float
    amount: DoseAmount
    route: str
    duration_h: float | None = None
    salt: str | None = None

    def __post_init__(self):
        t = self.time_h
        if not is_finite_real(t) or t < 0:
            raise ValueError(f"time: expected a finite time >= 0 h, got {t!r}")
        object.__setattr__(self, "time_h", float(t))
        if isinstance(self.amount, str):
            from .units import parse_dose

            object.__setattr__(self, "amount", parse_dose(self.amount))
        elif not isinstance(self.amount, DoseAmount):
            raise ValueError(f"dose: expected a DoseAmount or text such as '10mg/kg', got {self.amount!r}")
        object.__setattr__(self, "route", parse_route(self.route))
        if self.route == "iv-infusion":
            d = self.duration_h
            if d is None:
                raise ValueError("duration: an iv-infusion needs a duration (e.g. --infusion-time 40min); "
                                 "got none")
            if not is_finite_real(d) or d <= 0:
                raise ValueError(f"duration: expected a positive infusion duration in hours, got {d!r}")
            object.__setattr__(self, "duration_h", float(d))
        elif self.duration_h is not None:
            raise ValueError(f"duration: only an iv-infusion takes a duration; route {self.route!r} got "
                             f"{self.duration_h!r}")
        if self.salt is not None:
            object.__setattr__(self, "salt", parse_salt(self.salt))

    @classmethod
    def infusion(cls, time_h: float, amount, *, duration_h: float | None = None, rate_per_h: float | None = None,
                 salt: str | None = None) -> "Dose":
        """An intravenous infusion given by its duration or by its rate (``amount`` units per hour)."""
        if (duration_h is None) == (rate_per_h is None):
            raise ValueError("duration: give exactly one of duration_h or rate_per_h for an infusion")
        if isinstance(amount, str):
            from .units import parse_dose

            amount = parse_dose(amount)
        if rate_per_h is not None:
            if not (is_finite_real(rate_per_h) and rate_per_h > 0):
                raise ValueError(f"rate: expected a positive infusion rate, got {rate_per_h!r}")
            duration_h = amount.value / rate_per_h
        return cls(time_h, amount, "iv-infusion", duration_h, salt)

    @property
    def end_h(self) -> float:
        """When the administration ends (the dose time for everything but an infusion)."""
        return self.time_h + (self.duration_h or 0.0)

    def describe(self) -> str:
        extra = f" over {format_hours(self.duration_h)}" if self.duration_h else ""
        salt = f" ({self.salt})" if self.salt else ""
        return f"{self.amount}{salt} {self.route}{extra} at {format_hours(self.time_h)}"


@dataclass(frozen=True)
class Regimen:
    """A time-sorted, immutable sequence of :class:`Dose` (ties keep their given order)."""

    doses: tuple[Dose, ...] = field(default_factory=tuple)

    def __post_init__(self):
        ds = tuple(self.doses)
        for i, d in enumerate(ds):
            if not isinstance(d, Dose):
                raise ValueError(f"regimen: entry {i} must be a Dose, got {d!r}")
        object.__setattr__(self, "doses", tuple(sorted(ds, key=lambda d: d.time_h)))

    @classmethod
    def single(cls, amount, route: str, *, time_h: float = 0.0, duration_h: float | None = None,
               salt: str | None = None) -> "Regimen":
        """A regimen of one dose (``Regimen.single("10mg/kg", "ip")``)."""
        return cls((Dose(time_h, amount, route, duration_h, salt),))

    def repeat(self, every_h: float, times: int) -> "Regimen":
        """This regimen given ``times`` times, each copy shifted by ``every_h`` hours from the last."""
        if isinstance(times, bool) or int(times) != times or times < 1:
            raise ValueError(f"repeat: expected a positive whole number of administrations, got {times!r}")
        if times * len(self.doses) > MAX_DOSES:
            raise ValueError(f"repeat: {times:g} administrations of {len(self.doses)} dose(s) would make "
                             f"{times * len(self.doses):g} doses; expected at most {MAX_DOSES} per regimen")
        if not (is_finite_real(every_h) and every_h > 0):
            raise ValueError(f"interval: expected a positive interval in hours, got {every_h!r}")
        return Regimen(tuple(replace(d, time_h=d.time_h + k * every_h) for k in range(int(times))
                             for d in self.doses))

    def __add__(self, other: "Regimen") -> "Regimen":
        return Regimen(self.doses + tuple(other.doses))

    def __len__(self) -> int:
        return len(self.doses)

    def __iter__(self):
        return iter(self.doses)

    @property
    def end_h(self) -> float:
        """The latest dose end time (0 for an empty regimen)."""
        return max((d.end_h for d in self.doses), default=0.0)

    def check_within(self, duration_h: float) -> None:
        """``ValueError`` if a dose starts after the end of a simulation lasting ``duration_h`` hours."""
        for i, d in enumerate(self.doses):
            if d.time_h > duration_h:
                raise ValueError(f"regimen: dose {i + 1} ({d.describe()}) starts after the end of the simulation "
                                 f"({format_hours(duration_h)}); expected every dose time <= the duration")

    def describe(self) -> list[str]:
        return [d.describe() for d in self.doses]


# ---- event tables ------------------------------------------------------------------------------------------
_COLUMNS = ("time", "amount", "unit", "route", "duration", "salt", "repeat", "interval")
_REQUIRED = ("time", "amount", "unit", "route")


def regimen_from_rows(rows, source: str = "regimen", *, allow_duplicates: bool = False) -> Regimen:
    """Build a :class:`Regimen` from event-table rows (mappings of column name to text or number).

    Every error names the source, the row (1-based, counting data rows) and the column. Two doses by the same
    route at the same time (after ``repeat`` is expanded) are an error — a copied row would silently double a
    dose — unless ``allow_duplicates``, when both are given (their amounts add up). At most :data:`MAX_DOSES`.
    """
    doses: list[Dose] = []
    rows_of: list[int] = []
    n = 0
    for i, row in enumerate(rows, start=1):
        n = i
        if not isinstance(row, dict):
            raise ValueError(f"{source} row {i}: expected a table of column values, got {row!r}")
        clean = {str(k).strip().lower(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()
                 if k is not None}
        unknown = sorted(set(clean) - set(_COLUMNS))
        if unknown:
            raise ValueError(f"{source} row {i}, column {unknown[0]!r}: unknown column; expected columns "
                             f"{', '.join(_COLUMNS)}")
        for c in _REQUIRED:
            if clean.get(c) in (None, ""):
                raise ValueError(f"{source} row {i}, column {c!r}: missing value; the columns "
                                 f"{', '.join(_REQUIRED)} are required")

        def cell(col, fn):
            try:
                return fn(clean[col])
            except ValueError as e:
                msg = str(e).split(": ", 1)[-1]
                raise ValueError(f"{source} row {i}, column {col!r}: {msg}") from None

        time_h = cell("time", lambda v: parse_time(v, "time", default_unit="h"))
        amount = cell("amount", lambda v: _number(v, "amount"))
        unit = clean["unit"]
        try:
            dose_amount = DoseAmount(amount, unit)
        except ValueError as e:
            col = "amount" if "positive" in str(e) else "unit"
            raise ValueError(f"{source} row {i}, column {col!r}: {str(e).split(': ', 1)[-1]}") from None
        route = cell("route", parse_route)
        duration = None
        if clean.get("duration") not in (None, ""):
            duration = cell("duration", lambda v: parse_time(v, "duration", default_unit="h", allow_zero=False))
        salt = cell("salt", parse_salt) if clean.get("salt") not in (None, "") else None
        try:
            dose = Dose(time_h, dose_amount, route, duration, salt)
        except ValueError as e:
            col = str(e).split(":", 1)[0]
            raise ValueError(f"{source} row {i}, column {col!r}: {str(e).split(': ', 1)[-1]}") from None
        times = 1
        if clean.get("repeat") not in (None, ""):
            times = cell("repeat", lambda v: _count(v))
        if times > 1:
            if clean.get("interval") in (None, ""):
                raise ValueError(f"{source} row {i}, column 'interval': missing value; a repeated dose "
                                 f"(repeat = {times}) needs an interval such as '48h'")
            every = cell("interval", lambda v: parse_time(v, "interval", default_unit="h", allow_zero=False))
        if len(doses) + times > MAX_DOSES:
            raise ValueError(f"{source} row {i}, column 'repeat': the regimen would hold {len(doses) + times} doses; "
                             f"expected at most {MAX_DOSES}")
        doses.extend(Regimen((dose,)).repeat(every, times).doses if times > 1 else (dose,))
        rows_of.extend([i] * times)
    if n == 0:
        raise ValueError(f"{source}: the event table holds no doses; expected at least one row")
    if not allow_duplicates:
        seen: dict = {}
        for d, row in zip(doses, rows_of):  # one row's repeats never coincide (interval > 0)
            other = seen.setdefault((d.time_h, d.route), row)
            if other != row:
                raise ValueError(f"{source} rows {other} and {row}: two {d.route} doses at {format_hours(d.time_h)}; "
                                 "merge them into one row, or allow duplicates to give both")
    return Regimen(tuple(doses))


def _number(v, what: str) -> float:
    if isinstance(v, bool) or (isinstance(v, str) and not v.isascii()):  # TOML `amount = true` is not 1
        raise ValueError(f"{what}: expected a number written with ASCII digits, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a number, got {v!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{what}: expected a finite number, got {v!r}")
    return x


def _count(v) -> int:
    x = _number(v, "repeat")
    if x != int(x) or x < 1:
        raise ValueError(f"repeat: expected a positive whole number, got {v!r}")
    return int(x)


def read_regimen(path, *, allow_duplicates: bool = False) -> Regimen:
    """Read an event table from a ``.csv`` or ``.toml`` file (see the module docstring for the columns).

    Raises
    ------
    ValueError
        For a missing file, an unknown extension, a malformed file or row; the message names the row and column.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"regimen: file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        from .io import read_csv_lines

        reader = csv.DictReader(read_csv_lines(p))
        if reader.fieldnames is None:
            raise ValueError(f"{p.name}: empty event table; expected a header row with columns "
                             f"{', '.join(_REQUIRED)}")
        header = [h.strip().lower() for h in reader.fieldnames]
        missing = [c for c in _REQUIRED if c not in header]
        if missing:
            raise ValueError(f"{p.name}: header lacks column {missing[0]!r}; expected columns "
                             f"{', '.join(_REQUIRED)} (and optionally duration, salt, repeat, interval)")
        rows = []
        for i, row in enumerate(reader, start=1):
            if None in row:
                raise ValueError(f"{p.name} row {i}: more values than header columns")
            rows.append(row)
        return regimen_from_rows(rows, p.name, allow_duplicates=allow_duplicates)
    if suffix == ".toml":
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{p.name}: not valid TOML ({e})") from None
        rows = data.get("dose")
        if not isinstance(rows, list):
            raise ValueError(f"{p.name}: expected an array of [[dose]] tables, found keys {sorted(data)}")
        return regimen_from_rows(rows, p.name, allow_duplicates=allow_duplicates)
    raise ValueError(f"regimen: unknown file type {p.suffix!r} for {p.name}; expected .csv or .toml")


def build_regimen(*, dose: str | None = None, route: str | None = None, regimen_file=None,
                  infusion_time: str | None = None, salt: str | None = None,
                  allow_duplicates: bool = False) -> Regimen:
    """The regimen of the ``ketamine pk`` options: one dose from ``dose`` + ``route`` (+ ``infusion_time`` for
    ``iv-infusion``), or an event table ``regimen_file`` — exactly one of the two.

    Raises
    ------
    ValueError
        Naming the option: both or neither given, a missing route, an infusion without a duration, a duration
        for a route that is not an infusion.
    """
    from .units import parse_dose

    if regimen_file is not None:
        if dose is not None or route is not None or infusion_time is not None:
            raise ValueError("regimen: give either --regimen FILE or --dose/--route/--infusion-time, not both")
        reg = read_regimen(regimen_file, allow_duplicates=allow_duplicates)
        if salt is not None:
            reg = Regimen(tuple(replace(d, salt=d.salt or parse_salt(salt)) for d in reg))
        return reg
    if dose is None:
        raise ValueError("dose: expected --dose (e.g. 10mg/kg) with --route, or --regimen FILE")
    if route is None:
        raise ValueError("route: expected --route with --dose; one of " + ", ".join(ROUTES))
    amount = parse_dose(dose)
    r = parse_route(route)
    duration = None
    if infusion_time is not None:
        if r != "iv-infusion":
            raise ValueError(f"infusion-time: only route iv-infusion takes an infusion time; route is {r!r}")
        duration = parse_time(infusion_time, "infusion-time", allow_zero=False)
    return Regimen((Dose(0.0, amount, r, duration, salt),))
