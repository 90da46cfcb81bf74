"""NONMEM-style datasets: a dataset and the equivalent Regimen give bitwise the same result; ADDL/II against
superposition of single doses (the model is linear); every EVID; SS against the periodic profile; steady state
against the one-compartment closed form and brute-force repetition; malformed datasets refused with row and column.

Everything here runs on the exact (matrix exponential) backend: no compilation.
"""

import math

import numpy as np
import pytest

from pkpd import closed_form as cf
from pkpd.dataset import parse_dataset, read_dataset, simulate_dataset
from pkpd.dosing import Dose, Regimen
from pkpd.ode import OdeSystem, Schedule
from pkpd.pk import TABLE_COLUMNS, simulate_pk

HUMAN = {"species": "human"}


def data(text, **kw):
    lines = [ln.strip() for ln in text.strip().splitlines()]
    rows = [ln.split(",") for ln in lines]
    return parse_dataset(rows[1:], rows[0], **kw)


def test_dataset_and_regimen_give_bitwise_the_same_result():
    ds = data("""ID,TIME,AMT(mg/kg),EVID,ROUTE,DV
                 1,0,10,1,ip,.
                 1,0.25,.,0,.,3.1
                 1,0.5,.,0,.,2.2
                 1,2,.,0,.,0.4""")
    out = simulate_dataset(ds, species="mouse")
    t = np.array([0.0, 0.25, 0.5, 2.0])
    ref = simulate_pk(Regimen.single("10mg/kg", "ip"), 2.0, species="mouse", t_eval=t)
    for c in TABLE_COLUMNS[1:]:
        np.testing.assert_array_equal(out[c], ref.columns[c][1:])
    np.testing.assert_array_equal(out["DV"], [3.1, 2.2, 0.4])
    assert out["ID"] == ["1"] * 3 and out["row"].tolist() == [2, 3, 4]


def test_addl_equals_explicit_rows_and_superposition():
    """ADDL 3, II 12 h: the same as four dose rows (bitwise), and, the model being linear, the sum of four single-dose
    profiles shifted by 12 h (to rounding)."""
    obs = [(t, f"1,{t},.,0,.") for t in (1, 6, 13, 25, 37, 40)]
    addl = data("ID,TIME,AMT(mg),EVID,CMT,ADDL,II\n1,0,50,1,1,3,12\n" + "\n".join(r + ",.,." for _, r in obs))
    explicit = sorted(obs + [(12 * k, f"1,{12 * k},50,1,1") for k in range(4)], key=lambda r: r[0])
    rows = data("ID,TIME,AMT(mg),EVID,CMT\n" + "\n".join(r for _, r in explicit))
    a, b = simulate_dataset(addl, **HUMAN), simulate_dataset(rows, **HUMAN)
    np.testing.assert_array_equal(a["plasma_ketamine_uM"], b["plasma_ketamine_uM"])
    t = np.array([1, 6, 13, 25, 37, 40.0])
    single = simulate_pk(Regimen.single("50mg", "oral"), 40.0, species="human", t_eval=np.linspace(0, 40, 161))
    sup = sum(np.where(t >= 12 * k, single.at(np.clip(t - 12 * k, 0, 40))["plasma_ketamine_uM"], 0.0)
              for k in range(4))
    np.testing.assert_allclose(a["plasma_ketamine_uM"], sup, rtol=1e-10)


def test_every_evid():
    """EVID 2 is an output without DV; EVID 3 empties every compartment; EVID 4 empties them and doses; after a
    reset the profile is the fresh single-dose profile, shifted."""
    ds = data("""ID,TIME,AMT(mg),EVID,ROUTE,DV
                 7,0,35,1,iv,.
                 7,1,.,2,.,.
                 7,2,.,0,.,5
                 7,3,.,3,.,.
                 7,3.5,.,0,.,1
                 7,4,35,4,iv,.
                 7,5,.,0,.,2""")
    out = simulate_dataset(ds, **HUMAN)
    fresh = simulate_pk(Regimen.single("35mg", "iv"), 2.0, species="human", t_eval=[0.0, 1.0, 2.0])
    c = out["plasma_ketamine_uM"]
    np.testing.assert_array_equal(out["time_h"], [1, 2, 3.5, 5])
    assert np.isnan(out["DV"][0]) and out["DV"][1] == 5.0
    np.testing.assert_array_equal(c[:2], fresh.columns["plasma_ketamine_uM"][1:])
    assert c[2] == 0.0  # after the reset, before the next dose
    np.testing.assert_array_equal(c[3], fresh.columns["plasma_ketamine_uM"][1])  # 1 h after the EVID 4 dose


def test_rate_and_dur_give_the_same_infusion():
    a = data("ID,TIME,AMT(mg),EVID,CMT,RATE\n1,0,40,1,2,60\n1,1,.,0,.,.")
    b = data("ID,TIME,AMT(mg),EVID,CMT,DUR(h)\n1,0,40,1,2,0.6666666666666666\n1,1,.,0,.,.")
    ref = simulate_pk(Regimen((Dose.infusion(0.0, "40mg", duration_h=40 / 60),)), 1.0, species="human",
                      t_eval=[0.0, 1.0])
    for d in (a, b):
        assert simulate_dataset(d, **HUMAN)["plasma_ketamine_uM"][0] == pytest.approx(
            ref.columns["plasma_ketamine_uM"][1], rel=1e-14)


def test_time_and_weight_units_from_header():
    """TIME in minutes and WT in g: the same subject as hours and kg."""
    a = data("ID,TIME(min),AMT(mg/kg),EVID,ROUTE,WT(g)\n1,0,10,1,ip,30\n1,30,.,0,.,30")
    ref = simulate_pk(Regimen.single("10mg/kg", "ip"), 0.5, species="mouse", weight_kg=0.03, t_eval=[0.0, 0.5])
    np.testing.assert_array_equal(simulate_dataset(a, species="mouse")["plasma_ketamine_uM"],
                                  ref.columns["plasma_ketamine_uM"][1:])


# ---- steady state ---------------------------------------------------------------------------------------------------
def test_periodic_linear_matches_one_compartment_closed_form():
    """C_ss(t) = D/V e^{−kt} / (1 − e^{−kτ}) (Gibaldi & Perrier 1982, ch. 3) just after each bolus and in between."""
    a, k, v = OdeSystem(["A"], ["-k*A"], ["k"]), 0.3, 20.0
    dose, tau = 100.0, 8.0
    y = cf.periodic_linear(a, [k], Schedule().bolus(0.0, "A", dose), tau)
    t = np.linspace(0.0, tau, 17)
    sol = cf.solve_linear(a, y, t, [k], Schedule().bolus(0.0, "A", dose))[:, 0] / v
    np.testing.assert_allclose(sol, dose / v * np.exp(-k * t) / (1 - np.exp(-k * tau)), rtol=1e-13)


def test_steady_state_equals_long_repetition():
    """--steady-state 12h over two intervals against 42 repeated doses (after 40, the memory is e^{-40·12 k} ≈ 0)."""
    reg = Regimen.single("28mg", "intranasal")
    ss = simulate_pk(reg, 24.0, species="human", steady_state_h=12.0, t_eval=np.linspace(0, 24, 97))
    long = simulate_pk(reg.repeat(12.0, 42), 492.0, species="human", t_eval=np.linspace(0, 492, 1969))
    for c in ("plasma_ketamine_uM", "brain_norketamine_uM", "nmda_occupancy_pyramidal"):
        np.testing.assert_allclose(ss.columns[c], long.columns[c][-97:], rtol=1e-12, atol=1e-15)


def test_ss1_row_is_the_periodic_profile_and_ss2_adds_to_what_is_there():
    ss1 = data("ID,TIME,AMT(mg),EVID,CMT,SS,II\n1,0,50,1,1,1,12\n" + "\n".join(f"1,{t},.,0,.,.,." for t in (2, 6, 11)))
    ss2 = data("ID,TIME,AMT(mg),EVID,CMT,SS,II\n1,0,50,1,1,2,12\n" + "\n".join(f"1,{t},.,0,.,.,." for t in (2, 6, 11)))
    ref = simulate_pk(Regimen.single("50mg", "oral"), 12.0, species="human", steady_state_h=12.0,
                      t_eval=np.linspace(0, 12, 13))
    want = ref.columns["plasma_ketamine_uM"][[2, 6, 11]]
    np.testing.assert_allclose(simulate_dataset(ss1, **HUMAN)["plasma_ketamine_uM"], want, rtol=1e-13)
    np.testing.assert_allclose(simulate_dataset(ss2, **HUMAN)["plasma_ketamine_uM"], want, rtol=1e-13)


def test_steady_state_refuses_a_dose_beyond_the_interval():
    reg = Regimen.single("28mg", "intranasal", time_h=13.0)
    with pytest.raises(ValueError, match="steady-state: the dose .* does not end within the interval"):
        simulate_pk(reg, 24.0, species="human", steady_state_h=12.0)


# ---- malformed datasets ---------------------------------------------------------------------------------------------
H = "ID,TIME,AMT(mg),EVID,CMT,ADDL,II,SS,RATE"


@pytest.mark.parametrize("text, where", [
    (f"{H}\n1,0,10,5,1,.,.,.,.", "row 1, column 'EVID': unknown EVID 5"),
    (f"{H}\n1,-1,10,1,1,.,.,.,.", "row 1, column 'TIME': expected a time >= 0"),
    (f"{H}\n1,2,10,1,1,.,.,.,.\n1,1,.,0,.,.,.,.,.", "row 2, column 'TIME': time 1 is before"),
    (f"{H}\n1,0,10,0,1,.,.,.,.", "row 1, column 'AMT': an observation row (EVID 0) has AMT 10"),
    (f"{H}\n1,0,10,1,9,.,.,.,.", "row 1, column 'CMT': compartment 9 maps to no route"),
    (f"{H}\n1,0,10,1,1,.,.,1,.", "row 1, column 'II': SS = 1 needs an interdose interval"),
    (f"{H}\n1,0,10,1,1,2,.,.,.", "row 1, column 'II': ADDL = 2 needs an interdose interval"),
    (f"{H}\n1,0,10,1,2,.,.,.,-2", "row 1, column 'RATE': RATE = -2 means the infusion duration is modelled"),
    (f"{H}\n1,0,ten,1,1,.,.,.,.", "row 1, column 'AMT': expected a number, got 'ten'"),
    (f"{H}\n1,0,10,1,1,.,.,.,.\n2,0,10,1,1,.,.,.,.\n1,3,.,0,.,.,.,.,.", "row 3, column 'ID': ID 1 appears again"),
    ("ID,AMT(mg)\n1,10", "header: the required column 'TIME' is missing"),
    ("ID,TIME,AMT,EVID,CMT\n1,0,10,1,1", "row 1, column 'AMT': no amount unit"),
    ("ID,TIME,AMT(mg),EVID,CMT,SEX\n1,0,10,1,1,1", "row 1, column 'SEX': expected male or female"),
])
def test_malformed_datasets_name_row_and_column(text, where):
    with pytest.raises(ValueError) as e:
        data(text)
    assert where in str(e.value) and "\n" not in str(e.value)


def test_read_csv_and_parquet_agree(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path = tmp_path / "d.csv"
    csv_path.write_text("# a comment\nID,TIME,AMT,EVID,CMT,DV\n1,0,20,1,2,.\n1,1,.,0,.,0.1\n")
    pq.write_table(pa.table({"ID": [1, 1], "TIME": [0.0, 1.0], "AMT": [20.0, None], "EVID": [1, 0],
                             "CMT": [2, None], "DV": [None, 0.1]}), tmp_path / "d.parquet")
    a = simulate_dataset(read_dataset(csv_path, amount_unit="mg"), **HUMAN)
    b = simulate_dataset(read_dataset(tmp_path / "d.parquet", amount_unit="mg"), **HUMAN)
    np.testing.assert_array_equal(a["plasma_ketamine_uM"], b["plasma_ketamine_uM"])
    assert a["ID"] == b["ID"] == ["1"] and math.isclose(b["DV"][0], 0.1)


def test_trapping_steady_state_is_a_fixed_point_of_one_interval():
    """The nonlinear (trapping) model: the state reached by integration to periodicity comes back after one more
    interval, to within the stated tolerance (PERIODIC_TOL of each trapping state's range, plus the engine's rtol
    1e-8 over the interval simulated here)."""
    from pkpd.pk import PERIODIC_TOL

    reg = Regimen.single("56mg", "intranasal")
    res = simulate_pk(reg, 24.0, species="human", trapping=True, steady_state_h=24.0, t_eval=np.linspace(0, 24, 25))
    occ = res.columns["nmda_occupancy_pyramidal"]
    assert occ[0] > 0  # receptors still blocked from the previous dose
    assert abs(occ[-1] - occ[0]) <= (PERIODIC_TOL + 1e-7) * occ.max()


def test_reset_cancels_additional_doses_still_to_come():
    ds = data("ID,TIME,AMT(mg),EVID,CMT,ADDL,II\n1,0,50,1,2,3,12\n1,20,.,3,.,.,.\n1,30,.,0,.,.,.")
    assert simulate_dataset(ds, **HUMAN)["plasma_ketamine_uM"].tolist() == [0.0]
