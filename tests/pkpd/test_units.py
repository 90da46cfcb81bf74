"""Units: dose, salt, time, weight and concentration conversions (exact arithmetic, so tolerances are rounding)."""

import numpy as np
import pytest

from pkpd.units import (KETAMINE_BASE_G_PER_MOL, KETAMINE_HCL_G_PER_MOL, DoseAmount, dose_to_umol, format_hours,
                        ng_per_mL_to_uM, parse_dose, parse_salt, parse_time, parse_weight, salt_factor,
                        uM_to_ng_per_mL)


@pytest.mark.parametrize("text,value,unit", [
    ("10mg/kg", 10.0, "mg/kg"), ("0.5 mg/kg", 0.5, "mg/kg"), ("56mg", 56.0, "mg"), ("12.5ug", 12.5, "ug"),
    ("12.5 µg", 12.5, "ug"), ("3mcg/kg", 3.0, "ug/kg"), ("1e-3 g", 1e-3, "g"), ("2 umol/kg", 2.0, "umol/kg"),
])
def test_parse_dose(text, value, unit):
    d = parse_dose(text)
    assert (d.value, d.unit) == (value, unit)


@pytest.mark.parametrize("text,match", [
    ("10mg/lb", "dose: unknown unit 'mg/lb'"), ("-1mg/kg", "dose: expected a positive amount"),
    ("0mg", "dose: expected a positive amount"), ("10", "dose: '10' has no unit"),
    ("ten mg", "dose: cannot read 'ten mg'"), ("10 furlongs", "dose: unknown unit"),
    ("１０mg/kg", "dose: cannot read"),  # full-width digits: float() would take them
    ("1e6g/kg", r"dose: 1000000.0 g/kg is 1e\+09 mg/kg, above the ceiling of 1000 mg/kg"),
    ("1001mg/kg", "above the ceiling of 1000 mg/kg"), ("101g", "above the ceiling of 100000 mg"),
    ("5mmol/kg", r"is 1189 mg/kg, above the ceiling"),  # 5 mmol × 237.73 g/mol
])
def test_bad_doses_name_the_field(text, match):
    with pytest.raises(ValueError, match=match):
        parse_dose(text)


def test_the_dose_ceiling_admits_anaesthetic_doses():
    # ketamine:xylazine anaesthesia is 100 mg/kg in mice (Wu et al. 2021 eLife Methods); the ceiling itself passes
    assert parse_dose("200mg/kg").value == 200 and parse_dose("1000mg/kg").value == 1000
    assert parse_dose("100g").value == 100


@pytest.mark.parametrize("value", [True, "１", "٣"])
def test_numbers_must_be_numbers_in_ascii(value):
    with pytest.raises(ValueError, match="ASCII digits"):
        DoseAmount(value, "mg")


def test_salt_conversion():
    # 237.73 / 274.19 = 0.86703...; 10 mg/kg HCl is 8.67 mg/kg base (Wu et al. 2021)
    assert salt_factor("hcl") == KETAMINE_BASE_G_PER_MOL / KETAMINE_HCL_G_PER_MOL
    assert 10 * salt_factor("HCl") == pytest.approx(8.670, abs=5e-4)
    assert salt_factor("base") == 1.0
    assert parse_salt("hydrochloride") == "hcl"
    with pytest.raises(ValueError, match="salt: unknown salt form 'sulfate'"):
        parse_salt("sulfate")


def test_dose_to_umol():
    # 10 mg/kg HCl, 25 g: 0.25 mg salt = 0.25/274.19 mmol = 0.91178 µmol (exact arithmetic, rounding only)
    assert dose_to_umol(parse_dose("10mg/kg"), weight_kg=0.025, salt="hcl") == pytest.approx(250 / 274.19,
                                                                                             rel=1e-14)
    assert dose_to_umol(parse_dose("56mg"), weight_kg=70, salt="base") == pytest.approx(56e3 / 237.73, rel=1e-14)
    assert dose_to_umol(parse_dose("12.5ug"), weight_kg=70, salt="base") == pytest.approx(12.5 / 237.73,
                                                                                         rel=1e-14)
    # molar doses ignore the salt
    assert dose_to_umol(DoseAmount(2, "umol/kg"), weight_kg=0.025, salt="hcl") == pytest.approx(0.05, rel=1e-14)


def test_concentration_conversion():
    # 1 µM ketamine = 237.73 ng/mL; norketamine 223.70
    assert uM_to_ng_per_mL(1.0) == 237.73
    assert uM_to_ng_per_mL(1.0, "norketamine") == 223.70
    x = np.array([0.1, 2.5])
    np.testing.assert_allclose(ng_per_mL_to_uM(uM_to_ng_per_mL(x)), x, rtol=1e-15)


@pytest.mark.parametrize("text,hours", [("4h", 4.0), ("40min", 40 / 60), ("30 s", 30 / 3600), ("2d", 48.0),
                                        ("1.5 hours", 1.5), ("0h", 0.0)])
def test_parse_time(text, hours):
    assert parse_time(text) == pytest.approx(hours, rel=1e-15)


@pytest.mark.parametrize("text,match", [("4", "has no unit"), ("4 fortnights", "unknown time unit"),
                                        ("-2h", "cannot read|non-negative"), ("soon", "cannot read")])
def test_bad_times(text, match):
    with pytest.raises(ValueError, match=match):
        parse_time(text, "duration")


def test_zero_duration_is_rejected_when_not_allowed():
    with pytest.raises(ValueError, match="duration: expected a positive time"):
        parse_time("0min", "duration", allow_zero=False)


def test_bare_number_time_with_default_unit():
    assert parse_time("48", default_unit="h") == 48.0


def test_parse_weight():
    assert parse_weight("25g") == pytest.approx(0.025, rel=1e-15)
    assert parse_weight("70kg") == 70.0
    assert parse_weight("70") == 70.0
    with pytest.raises(ValueError, match="weight: cannot read '70 lb'"):
        parse_weight("70 lb")


def test_format_hours():
    assert format_hours(2 / 3) == "40 min"
    assert format_hours(48.0) == "2 d"
    assert format_hours(4.0) == "4 h"
