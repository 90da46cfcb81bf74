"""Named parameter overrides: units convert exactly, bad names/units/values are one-line errors naming the field,
and an override reaches the solver (a changed clearance changes the AUC by exactly CL_old/CL_new)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from pkpd import closed_form as cf
from pkpd.dosing import Regimen
from pkpd.overrides import (apply_pk, collect_overrides, convert_unit, parse_assignment, pk_space,
                            read_params_file)
from pkpd.pk import ketamine_system, parameter_values, parameter_vector, simulate_pk
from pkpd.pk_models import PK_MODELS
from pkpd.receptor import NmdaParams
from pkpd.species import Subject

runner = CliRunner()


def test_unit_conversion_is_exact():
    assert convert_unit(40.0, "L/h", "mL/min") == pytest.approx(40e3 / 60, rel=1e-15)
    assert convert_unit(1.0, "1/min", "1/h") == pytest.approx(60.0, rel=1e-15)
    assert convert_unit(300.0, "nM", "uM") == pytest.approx(0.3, rel=1e-15)
    assert convert_unit(2.0, "pA/Hz", "nA/Hz") == pytest.approx(2e-3, rel=1e-15)
    assert convert_unit(15.0, "min", "h") == pytest.approx(0.25, rel=1e-15)
    with pytest.raises(ValueError, match="cl_L_per_h: expected a value in L/h"):
        convert_unit(40.0, "L", "L/h", "cl_L_per_h")
    with pytest.raises(ValueError, match="unknown unit 'furlong'"):
        convert_unit(1.0, "furlong", "L")


def test_names_aliases_and_closest_matches():
    space = pk_space(PK_MODELS["kamp2020"])
    assert space.canonical("cl_L_per_h") == "cl_L_per_h"
    assert space.canonical("CL") == "cl_L_per_h"  # the unit-less stem, case-insensitively
    assert space.canonical("V") == "v_L"
    assert space.canonical("route.oral.f_systemic") == "route.oral.f_systemic"
    with pytest.raises(ValueError, match=r"unknown parameter 'cl_L_per_hr'; did you mean cl_L_per_h"):
        space.canonical("cl_L_per_hr")
    # a parameter of another set is unknown here (Fanta's V1 is not Kamp's)
    with pytest.raises(ValueError, match="unknown parameter 'v1_L'"):
        space.canonical("v1_L")


def test_values_are_unit_checked_and_bounds_checked():
    space = pk_space(PK_MODELS["kamp2020"])
    assert space.value("CL", "666.6667 mL/min") == pytest.approx(40.0, rel=1e-7)
    assert space.value("CL", 40) == 40.0  # a bare number is in the parameter's own unit
    with pytest.raises(ValueError, match=r"cl_L_per_h: expected a value in L/h .* got 'L'"):
        space.value("CL", "40 L")
    with pytest.raises(ValueError, match=r"cl_L_per_h: expected a value in \[1, 1000\] L/h, got '4000 L/h'"):
        space.value("CL", "4000 L/h")
    with pytest.raises(ValueError, match="cl_L_per_h: cannot read 'fast'"):
        space.value("CL", "fast")
    with pytest.raises(ValueError, match="given twice"):
        space.resolve({"CL": 40, "cl_L_per_h": 50})


def test_clearance_override_reaches_the_solver_by_the_closed_form_ratio():
    """AUC(0-inf) of plasma ketamine after an i.v. bolus is dose/CL in this linear model (all elimination leaves
    the central compartment; the brain and peripheral exchanges return what they take). Exactly, from the
    parameter vector the override builds (closed_form.auc_inf_linear), and through simulate_pk's solver and
    summary (non-compartmental AUC on the 48-h grid: within 1e-3)."""
    model = PK_MODELS["kamp2020"]
    subject = Subject("human", 70.0, "male")
    system = ketamine_system(False)
    over, nmda = apply_pk(model, NmdaParams(), {"cl_L_per_h": 40.0})
    aucs = []
    for m in (model, over):
        v = parameter_values(m, subject)
        y0 = np.zeros(system.n_states)
        y0[system.state_index("central")] = 100.0  # µmol
        a = cf.auc_inf_linear(system, parameter_vector(system, v), y0, exclude=("eliminated", "nor_eliminated"))
        aucs.append(a[system.state_index("central")] / v["v_central_L"])
    assert aucs[0] == pytest.approx(100.0 / 79.0, rel=1e-10)
    assert aucs[1] == pytest.approx(100.0 / 40.0, rel=1e-10)
    assert aucs[0] / aucs[1] == pytest.approx(40.0 / 79.0, rel=1e-10)

    reg = Regimen.single("35mg", "iv")
    base = simulate_pk(reg, 48.0, species="human", pk_model="kamp2020")  # a set whose parameter is CL itself
    new = simulate_pk(reg, 48.0, species="human", pk_model="kamp2020", params={"CL": "666.6667 mL/min"})
    dose = new.metadata["doses"][0]["base_umol"]
    a0 = base.summary()["plasma_ketamine"]["auc_0_inf_uM_h"]
    a1 = new.summary()["plasma_ketamine"]["auc_0_inf_uM_h"]
    assert a1 == pytest.approx(dose / 40.0, rel=1e-3)
    assert a0 / a1 == pytest.approx(40.0 / 79.0, rel=1e-4)  # the grid's NCA error cancels in the ratio
    [rec] = new.metadata["overrides"]
    assert rec["name"] == "cl_L_per_h" and rec["value"] == pytest.approx(40.0, rel=1e-7)
    assert rec["given"] == "666.6667 mL/min" and rec["default"] == 79.0 and rec["unit"] == "L/h"
    assert base.metadata["overrides"] == []


def test_route_and_receptor_overrides_reach_the_model():
    reg = Regimen.single("10mg/kg", "ip")
    base = simulate_pk(reg, 4.0).summary()
    # a slower i.p. absorption lowers and delays the plasma peak
    slow = simulate_pk(reg, 4.0, params={"route.ip.ka_per_h": 3.0}).summary()
    assert slow["plasma_ketamine"]["cmax_uM"] < base["plasma_ketamine"]["cmax_uM"]
    assert slow["plasma_ketamine"]["tmax_h"] > base["plasma_ketamine"]["tmax_h"]
    # a tenfold Ki lowers the peak pyramidal occupancy to what a tenth of the drive gives: O = x/(1+x)
    o0 = base["nmda_occupancy_pyramidal"]["peak"]
    x0 = o0 / (1 - o0)
    weak = simulate_pk(reg, 4.0, params={k: "%g uM" % (10 * getattr(NmdaParams(), k)) for k in
                                         ("ki_s_ketamine_uM", "ki_r_ketamine_uM", "ki_s_norketamine_uM",
                                          "ki_r_norketamine_uM")}).summary()
    assert weak["nmda_occupancy_pyramidal"]["peak"] == pytest.approx((x0 / 10) / (1 + x0 / 10), rel=1e-9)
    with pytest.raises(ValueError, match="must not exceed 1"):
        simulate_pk(reg, 4.0, params={"route.ip.f_systemic": 1.0})  # plus the first-pass fraction: > 1


def test_a_mouse_calibration_target_recalibrates_clearance():
    """half_life_min is the target the mouse clearance is calibrated to: overriding it moves the terminal
    half-life of the simulated curve to the new target (estimated by NCA on the 6-h curve: within 1 %)."""
    s = simulate_pk(Regimen.single("10mg/kg", "iv"), 6.0, params={"half_life_min": "26 min"}).summary()
    assert s["plasma_ketamine"]["half_life_h"] * 60 == pytest.approx(26.0, rel=1e-2)


def test_params_file_and_assignments(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[params]\ncl_L_per_h = "40 L/h"\nkp_brain = 5\n')
    assert read_params_file(f) == {"cl_L_per_h": "40 L/h", "kp_brain": 5}
    assert collect_overrides(["kp_brain=3"], f) == {"cl_L_per_h": "40 L/h", "kp_brain": "3"}
    assert parse_assignment("CL = 40 L/h") == ("CL", "40 L/h")
    with pytest.raises(ValueError, match="param: expected NAME=VALUE"):
        parse_assignment("CL")
    bad = tmp_path / "bad.toml"
    bad.write_text("cl_L_per_h = [1, 2]\n")
    with pytest.raises(ValueError, match="must be a number or a string"):
        read_params_file(bad)


def test_cli_pk_records_overrides_and_rejects_unknown_names(tmp_path):
    args = ["pk", "--species", "human", "--pk-model", "kamp2020", "--route", "iv", "--dose", "35mg", "--duration",
            "24h", "--summary", "--json"]
    res = runner.invoke(cli.app, [*args, "--param", "CL=40L/h"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["overrides"][0]["name"] == "cl_L_per_h" and doc["overrides"][0]["value"] == 40.0
    f = tmp_path / "p.toml"
    f.write_text('cl_L_per_h = "40 L/h"\n')
    res2 = runner.invoke(cli.app, [*args, "--params", str(f)])
    assert json.loads(res2.stdout)["plasma_ketamine"] == doc["plasma_ketamine"]
    for bad, msg in ((["--param", "clearance=40L/h"], "unknown parameter 'clearance'"),
                     (["--param", "CL=40L"], "cl_L_per_h: expected a value in L/h"),
                     (["--param", "CL=0.1L/h"], "cl_L_per_h: expected a value in [1, 1000] L/h")):
        r = runner.invoke(cli.app, [*args, *bad])
        assert r.exit_code == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output


def test_cohort_overrides_move_every_subject_and_are_recorded(tmp_path):
    """A PK cohort with CL overridden: every subject keeps its η and covariates, its clearance is the new typical
    value × exp(η), and its AUC over 72 h after an i.v. bolus changes by CL_old/CL_new (AUC = dose/CL; within 1e-3:
    the tail beyond 72 h differs between the two clearances)."""
    from pkpd.cohort import CohortSpec, read_subjects, run_cohort

    reg = Regimen.single("35mg", "iv")
    runs = {}
    for key, params in (("base", ()), ("cl40", (("CL", "40 L/h"),))):
        spec = CohortSpec(n=8, regimen=reg, duration_h=72.0, species="human", pk_model="kamp2020", params=params)
        run_cohort(spec, tmp_path / key, chunk_size=8)
        runs[key] = read_subjects(tmp_path / key).to_pydict()
    a, b = (np.asarray(runs[k]["plasma_ketamine_auc_uM_h"]) for k in ("base", "cl40"))
    assert a / b == pytest.approx(np.full(8, 40.0 / 79.0), rel=1e-3)
    assert np.asarray(runs["cl40"]["cl_L_per_h"]) / np.asarray(runs["base"]["cl_L_per_h"]) == \
        pytest.approx(np.full(8, 40.0 / 79.0), rel=1e-12)
    manifest = json.loads((tmp_path / "cl40" / "manifest.json").read_text())["spec"]
    assert manifest["params"] == {"cl_L_per_h": 40.0} and manifest["population"]["typical"]["cl_L_per_h"] == 40.0
    assert "params" not in json.loads((tmp_path / "base" / "manifest.json").read_text())["spec"]
    with pytest.raises(ValueError, match="unknown parameter 'g_h'"):
        CohortSpec(n=8, regimen=reg, duration_h=72.0, species="human", pk_model="kamp2020", params=(("g_h", 60),))
