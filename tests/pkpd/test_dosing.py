"""Doses, regimens and event tables, including every malformed-input case (the error names row and column)."""

import pytest

from pkpd.dosing import Dose, Regimen, build_regimen, parse_route, read_regimen
from pkpd.units import DoseAmount


def test_dose_validation():
    d = Dose(0.0, "10mg/kg", "ip")
    assert d.amount == DoseAmount(10, "mg/kg") and d.route == "ip" and d.end_h == 0.0
    with pytest.raises(ValueError, match="route: unknown route 'ipp'"):
        Dose(0.0, "10mg/kg", "ipp")
    with pytest.raises(ValueError, match="duration: an iv-infusion needs a duration"):
        Dose(0.0, "0.5mg/kg", "iv-infusion")
    with pytest.raises(ValueError, match="duration: only an iv-infusion takes a duration"):
        Dose(0.0, "10mg/kg", "ip", 0.5)
    with pytest.raises(ValueError, match="time: expected a finite time >= 0 h"):
        Dose(-1.0, "10mg/kg", "ip")
    with pytest.raises(ValueError, match="dose: expected a positive amount"):
        Dose(0.0, "0mg/kg", "ip")


def test_infusion_by_rate():
    d = Dose.infusion(1.0, "0.5mg/kg", rate_per_h=0.75)
    assert d.duration_h == pytest.approx(2 / 3, rel=1e-15) and d.end_h == pytest.approx(1 + 2 / 3, rel=1e-15)


def test_route_aliases():
    assert parse_route("i.p.") == "ip" and parse_route("PO") == "oral" and parse_route("infusion") == "iv-infusion"


def test_regimen_sorted_and_repeated():
    r = Regimen((Dose(5.0, "1mg", "iv"), Dose(1.0, "2mg", "iv")))
    assert [d.time_h for d in r] == [1.0, 5.0]
    rep = Regimen.single("56mg", "intranasal").repeat(84.0, 4)
    assert [d.time_h for d in rep] == [0.0, 84.0, 168.0, 252.0]
    with pytest.raises(ValueError, match="repeat: expected a positive whole number"):
        Regimen.single("56mg", "intranasal").repeat(84.0, 0)
    with pytest.raises(ValueError, match="interval: expected a positive interval"):
        Regimen.single("56mg", "intranasal").repeat(-1.0, 2)


def test_dose_after_the_end_is_rejected():
    with pytest.raises(ValueError, match=r"regimen: dose 2 \(10 mg/kg ip at 2 d\) starts after the end of the "
                                         r"simulation \(4 h\)"):
        (Regimen.single("10mg/kg", "ip") + Regimen.single("10mg/kg", "ip", time_h=48.0)).check_within(4.0)


def test_read_csv_event_table(tmp_path):
    p = tmp_path / "reg.csv"
    p.write_text("time,amount,unit,route,duration,repeat,interval\n"
                 "# antidepressant course\n"
                 "0h,0.5,mg/kg,iv-infusion,40min,6,48h\n"
                 "1d,28,mg,intranasal,,,\n")
    r = read_regimen(p)
    assert len(r) == 7
    assert [d.time_h for d in r] == [0.0, 24.0, 48.0, 96.0, 144.0, 192.0, 240.0]
    assert r.doses[0].duration_h == pytest.approx(2 / 3, rel=1e-15)


def test_read_toml_event_table(tmp_path):
    p = tmp_path / "reg.toml"
    p.write_text('[[dose]]\ntime = "0h"\namount = 56\nunit = "mg"\nroute = "intranasal"\nrepeat = 2\n'
                 'interval = "84h"\n\n[[dose]]\ntime = 200\namount = 84\nunit = "mg"\nroute = "intranasal"\n'
                 'salt = "base"\n')
    r = read_regimen(p)
    assert [d.time_h for d in r] == [0.0, 84.0, 200.0]
    assert r.doses[-1].salt == "base"


@pytest.mark.parametrize("body,match", [
    ("time,amount,unit,route\n0h,10,mg/kg,ipp\n", r"row 1, column 'route': unknown route 'ipp'"),
    ("time,amount,unit,route\n0h,10,mg/kg,ip\n1h,-3,mg/kg,ip\n", r"row 2, column 'amount': expected a positive"),
    ("time,amount,unit,route\n0h,10,mg/lb,ip\n", r"row 1, column 'unit': unknown unit 'mg/lb'"),
    ("time,amount,unit,route\nsoon,10,mg/kg,ip\n", r"row 1, column 'time': cannot read 'soon'"),
    ("time,amount,unit,route\n0h,ten,mg/kg,ip\n", r"row 1, column 'amount': expected a number"),
    ("time,amount,unit,route\n0h,,mg/kg,ip\n", r"row 1, column 'amount': missing value"),
    ("time,amount,unit,route\n0h,1,mg/kg,iv-infusion\n", r"row 1, column 'duration': an iv-infusion needs"),
    ("time,amount,unit,route,repeat\n0h,1,mg/kg,ip,3\n", r"row 1, column 'interval': missing value"),
    ("time,amount,unit,route,colour\n0h,1,mg/kg,ip,red\n", r"row 1, column 'colour': unknown column"),
    ("time,amount,unit\n0h,1,mg/kg\n", r"header lacks column 'route'"),
    ("time,amount,unit,route\n", r"the event table holds no doses"),
    ("time,amount,unit,route\n0h,1,mg/kg,ip,extra\n", r"row 1: more values than header columns"),
])
def test_malformed_csv_names_row_and_column(tmp_path, body, match):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(ValueError, match=match):
        read_regimen(p)


@pytest.mark.parametrize("body,match", [
    ('[[dose]]\ntime = 0\namount = true\nunit = "mg"\nroute = "ip"\n',
     r"row 1, column 'amount': expected a number written with ASCII digits, got True"),
    ('[[dose]]\ntime = 0\namount = 1\nunit = "mg"\nroute = "ip"\nrepeat = 1e9\ninterval = "1h"\n',
     r"row 1, column 'repeat': the regimen would hold 1000000000 doses; expected at most 10000"),
    ('[[dose]]\ntime = "0h"\namount = 1\nunit = "mg"\nroute = "ip"\n'
     '[[dose]]\ntime = "0min"\namount = 1\nunit = "mg"\nroute = "ip"\n',
     r"rows 1 and 2: two ip doses at 0 h; merge them into one row, or allow duplicates"),
])
def test_toml_values_are_read_strictly(tmp_path, body, match):
    p = tmp_path / "strict.toml"
    p.write_text(body)
    with pytest.raises(ValueError, match=match):
        read_regimen(p)


def test_duplicate_doses_can_be_allowed_and_then_add_up(tmp_path):
    p = tmp_path / "twice.csv"
    p.write_text("time,amount,unit,route,repeat,interval\n0h,1,mg,ip,3,24h\n48h,2,mg,ip\n48h,1,mg,sc\n")
    with pytest.raises(ValueError, match="rows 1 and 2: two ip doses at 2 d"):
        read_regimen(p)
    r = read_regimen(p, allow_duplicates=True)
    assert [(d.time_h, d.amount.value, d.route) for d in r] == [(0, 1, "ip"), (24, 1, "ip"), (48, 1, "ip"),
                                                                 (48, 2, "ip"), (48, 1, "sc")]


def test_malformed_toml(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[[dose]]\ntime = "0h"\namount = 1\nunit = "mg"\nroute = "ipp"\n')
    with pytest.raises(ValueError, match=r"bad.toml row 1, column 'route': unknown route"):
        read_regimen(p)
    p.write_text("this is = = not toml")
    with pytest.raises(ValueError, match="not valid TOML"):
        read_regimen(p)


def test_unknown_regimen_file_type(tmp_path):
    p = tmp_path / "reg.xlsx"
    p.write_text("x")
    with pytest.raises(ValueError, match="regimen: unknown file type '.xlsx'"):
        read_regimen(p)
    with pytest.raises(ValueError, match="does not exist"):
        read_regimen(tmp_path / "missing.csv")


def test_build_regimen_from_options():
    r = build_regimen(dose="0.5mg/kg", route="iv-infusion", infusion_time="40min")
    assert r.doses[0].duration_h == pytest.approx(2 / 3, rel=1e-15)
    with pytest.raises(ValueError, match="infusion-time: only route iv-infusion"):
        build_regimen(dose="1mg/kg", route="ip", infusion_time="40min")
    with pytest.raises(ValueError, match="dose: expected --dose"):
        build_regimen()
    with pytest.raises(ValueError, match="route: expected --route"):
        build_regimen(dose="1mg/kg")
    with pytest.raises(ValueError, match="regimen: give either"):
        build_regimen(dose="1mg/kg", route="ip", regimen_file="x.csv")
