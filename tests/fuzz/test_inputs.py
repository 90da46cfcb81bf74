"""Property-based fuzzing of every text a user types or writes into a file: each input is either read into a
valid value or refused with a ``ValueError`` whose one-line message names the field — never another exception.

The strategies mix well-formed pieces (numbers, units, routes, column names) with arbitrary text, so that both the
accepting and the refusing paths are exercised; ``derandomize=True`` makes every run draw the same examples, so a
failure reproduces.
"""

import math
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkpd.dosing import ROUTES, read_regimen
from pkpd.units import (DOSE_UNITS, MAX_DOSE_MG, MAX_DOSE_MG_PER_KG, TIME_UNITS, DoseAmount, parse_dose,
                        parse_time, parse_weight)

FUZZ = settings(max_examples=200, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

numbers = st.one_of(st.integers(-10**12, 10**12).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["1e6", "1e-300", "１０", "٣", "0x10", "1_000", ".5", "5.", "-0", "nan", "inf",
                                     "True", "", " "]))
units = st.one_of(st.sampled_from([*DOSE_UNITS, *TIME_UNITS, "mg/lb", "µg", "kg", "g/kg/h", ""]),
                  st.text(max_size=6))
typed = st.one_of(st.builds(lambda n, sp, u: f"{n}{sp}{u}", numbers, st.sampled_from(["", " ", "  "]), units),
                  st.text(max_size=20))


def _one_line(e: ValueError, field: str) -> None:
    msg = str(e)
    assert "\n" not in msg and msg.startswith(f"{field}:"), msg


@FUZZ
@given(typed)
def test_dose_text_is_read_or_refused_with_one_line(text):
    try:
        d = parse_dose(text)
    except ValueError as e:
        _one_line(e, "dose")
        return
    assert isinstance(d, DoseAmount) and math.isfinite(d.value) and d.value > 0
    assert d.unit in DOSE_UNITS
    assert d.value <= (MAX_DOSE_MG_PER_KG if d.per_kg else MAX_DOSE_MG) * 1e6  # ≤ the ceiling in the finest unit


@FUZZ
@given(typed, st.booleans())
def test_time_text_is_read_or_refused_with_one_line(text, allow_zero):
    try:
        h = parse_time(text, "duration", allow_zero=allow_zero)
    except ValueError as e:
        _one_line(e, "duration")
        return
    assert math.isfinite(h) and (h > 0 or (allow_zero and h == 0))


@FUZZ
@given(typed)
def test_weight_text_is_read_or_refused_with_one_line(text):
    try:
        w = parse_weight(text)
    except ValueError as e:
        _one_line(e, "weight")
        return
    assert math.isfinite(w)


cells = st.one_of(numbers, units, st.sampled_from([*ROUTES, "ipp", "iv-infusion", "hcl", "base", "salt", "48h",
                                                   "40min", "1e9"]),
                  st.text(alphabet=string.printable, max_size=8))
columns = st.lists(st.sampled_from(["time", "amount", "unit", "route", "duration", "salt", "repeat", "interval",
                                    "colour", "TIME", " amount "]), min_size=0, max_size=8)


@FUZZ
@given(columns, st.lists(st.lists(cells, max_size=9), max_size=4))
def test_csv_event_tables_are_read_or_refused_with_one_line(tmp_path, header, rows):
    p = tmp_path / "fuzz.csv"
    lines = [",".join(header)] + [",".join(c.replace(",", ";").replace("\n", " ") for c in r) for r in rows]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        reg = read_regimen(p)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    assert len(reg) >= 1 and all(d.time_h >= 0 and d.amount.value > 0 for d in reg)


toml_values = st.one_of(st.booleans(), st.integers(-10**10, 10**10), st.floats(allow_nan=False), cells,
                        st.lists(st.integers(), max_size=2))


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(["time", "amount", "unit", "route", "duration", "salt", "repeat",
                                                 "interval", "x"]), toml_values, max_size=8), max_size=3))
def test_toml_event_tables_are_read_or_refused_with_one_line(tmp_path, tables):
    import json

    def value(v):  # JSON spelling is valid TOML for these scalars and arrays
        if isinstance(v, float) and not math.isfinite(v):
            return "inf" if v > 0 else "-inf"
        return json.dumps(v)

    p = tmp_path / "fuzz.toml"
    p.write_text("".join("[[dose]]\n" + "".join(f"{k} = {value(v)}\n" for k, v in t.items()) for t in tables),
                 encoding="utf-8")
    try:
        reg = read_regimen(p)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    assert all(d.amount.value > 0 and not isinstance(d.amount.value, bool) for d in reg)


@pytest.mark.parametrize("text", ["10mg/kg", "0.5 mg/kg", "56mg", "12.5ug"])
def test_the_fuzzed_readers_accept_the_documented_forms(text):
    # the properties above would pass vacuously if everything were refused
    assert parse_dose(text).value > 0
