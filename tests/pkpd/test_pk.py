"""The ketamine PK model: the numba engine against closed forms, mass balance, dose proportionality, route
bioavailability, brain partition, and trapping.

One compiled system (``ketamine_pk``, ~40 s to compile once on a cold cache, then loaded from disk) serves every
engine test here; the trapping variant is checked with the scipy reference so that no second system is compiled.
"""

import numpy as np
import pytest

from pkpd import closed_form as cf
from pkpd.dosing import Dose, Regimen
from pkpd.ode import Schedule, solve
from pkpd.pk import (SINKS, TABLE_COLUMNS, dose_schedule, ketamine_graph, ketamine_system, parameter_values,
                     parameter_vector, simulate_pk)
from pkpd.pk_models import PK_MODELS
from pkpd.species import Subject
from pkpd.units import DoseAmount

from tests.pkpd.graph_values import K10, K12, K13, K21, K31, KA, V, base_values

T = np.linspace(0.0, 12.0, 97)


TWO = base_values(k_central_eliminated=K10, k_central_peripheral1=K12, k_peripheral1_central=K21,
                  k_depot_ip_central=KA)


def engine_central(values, sched):
    """Engine solution at tight tolerance (rtol 1e-12, atol 1e-15 of the amounts given)."""
    s = ketamine_system()
    sol = solve(s, np.zeros(s.n_states), T, parameter_vector(s, values), schedule=sched, rtol=1e-12, atol=1e-15)
    assert sol.status[0] == 0
    return sol.y[0, :, s.state_index("central")] / V


def assert_rel_close(a, b, rtol):
    """Relative agreement where the exact value exceeds 1e-6 of its peak, absolute (rtol × peak) elsewhere."""
    peak = np.max(np.abs(b))
    big = np.abs(b) > 1e-6 * peak
    np.testing.assert_allclose(a[big], b[big], rtol=rtol)
    np.testing.assert_allclose(a[~big], b[~big], rtol=0, atol=rtol * peak)


# ---- engine against closed forms: 1e-8 relative ------------------------------------------------------------
# Tolerance: the engine runs at rtol 1e-12; its global error on these smooth, non-stiff linear problems stays
# below 1e-9 relative, so 1e-8 leaves an order of magnitude for error accumulation over ~100 steps.
def test_engine_two_compartment_bolus():
    assert_rel_close(engine_central(TWO, Schedule().bolus(0.0, "central", 5.0)),
              cf.two_compartment_bolus(T, 5.0, V, K10, K12, K21), 1e-8)


def test_engine_one_compartment_bolus():
    one = base_values(k_central_eliminated=K10)
    assert_rel_close(engine_central(one, Schedule().bolus(0.0, "central", 5.0)),
              cf.one_compartment_bolus(T, 5.0, V, K10), 1e-8)


def test_engine_two_compartment_infusion():
    assert_rel_close(engine_central(TWO, Schedule().infusion(0.0, "central", rate=4.0, duration=2.5)),
              cf.two_compartment_infusion(T, 4.0, 2.5, V, K10, K12, K21), 1e-8)


def test_engine_three_compartment_bolus_and_infusion():
    three = base_values(k_central_eliminated=K10, k_central_peripheral1=K12, k_peripheral1_central=K21,
                        k_central_peripheral2=K13, k_peripheral2_central=K31)
    assert_rel_close(engine_central(three, Schedule().bolus(0.0, "central", 5.0)),
                     cf.three_compartment_bolus(T, 5.0, V, K10, K12, K21, K13, K31), 1e-8)
    assert_rel_close(engine_central(three, Schedule().infusion(0.0, "central", rate=4.0, duration=2.5)),
                     cf.three_compartment_infusion(T, 4.0, 2.5, V, K10, K12, K21, K13, K31), 1e-8)


def test_engine_one_compartment_infusion():
    one = base_values(k_central_eliminated=K10)
    assert_rel_close(engine_central(one, Schedule().infusion(0.0, "central", rate=4.0, duration=2.5)),
              cf.one_compartment_infusion(T, 4.0, 2.5, V, K10), 1e-8)


def test_engine_first_order_absorption_one_and_two_compartments():
    one = base_values(k_central_eliminated=K10, k_depot_ip_central=KA)
    sched = Schedule().bolus(0.0, "depot_ip", 5.0)
    assert_rel_close(engine_central(one, sched), cf.one_compartment_absorption(T, 5.0, 1.0, KA, V, K10), 1e-8)
    assert_rel_close(engine_central(TWO, sched), cf.two_compartment_absorption(T, 5.0, 1.0, KA, V, K10, K12, K21), 1e-8)


def test_engine_superposition_of_repeated_doses():
    times, amounts = [0.0, 3.0, 6.5], [5.0, 2.0, 4.0]
    sched = Schedule()
    for tk, ak in zip(times, amounts):
        sched = sched.bolus(tk, "depot_ip", ak)
    single = lambda t, a: cf.two_compartment_absorption(t, a, 1.0, KA, V, K10, K12, K21)  # noqa: E731
    assert_rel_close(engine_central(TWO, sched), cf.superpose(single, T, times, amounts), 1e-8)


def test_bioavailability_split_gives_f_times_the_iv_curve():
    # depot -> central at ka*F, the rest to the sink: the central curve is F x the F = 1 curve (Bateman)
    vals = base_values(k_central_eliminated=K10, k_depot_ip_central=KA * 0.6, k_depot_ip_eliminated=KA * 0.4)
    assert_rel_close(engine_central(vals, Schedule().bolus(0.0, "depot_ip", 5.0)),
              cf.one_compartment_absorption(T, 5.0, 0.6, KA, V, K10), 1e-8)


# ---- the full model: every route, both species ---------------------------------------------------------------
CASES = [
    ("mouse", None, Regimen.single("10mg/kg", "ip") + Regimen.single("5mg/kg", "sc", time_h=1.0)
     + Regimen.single("3mg/kg", "iv-infusion", time_h=2.0, duration_h=0.5)),
    ("mouse", None, Regimen.single("10mg/kg", "oral") + Regimen.single("2mg/kg", "intranasal", time_h=0.5)
     + Regimen.single("2mg/kg", "im", time_h=1.5) + Regimen.single("1mg/kg", "iv", time_h=3.0)),
    ("human", "domino1982", Regimen.single("10mg", "iv") + Regimen.single("0.5mg/kg", "iv-infusion", time_h=1.0,
                                                                          duration_h=40 / 60)
     + Regimen.single("25mg", "intranasal", time_h=2.0)),
    ("human", "fanta2015", Regimen.single("0.5mg/kg", "iv-infusion", duration_h=40 / 60)
     + Regimen.single("20mg", "oral", time_h=2.0)),
    ("human", "perez-ruixo2021", Regimen.single("84mg", "intranasal") + Regimen.single("28mg", "oral", time_h=3)),
]


@pytest.mark.parametrize("species,model,regimen", CASES)
def test_engine_agrees_with_the_exact_solution(species, model, regimen):
    # engine at rtol 1e-10 vs matrix exponential: relative 1e-7 of each column's peak (three orders above the
    # solver tolerance to absorb error growth over several events)
    a = simulate_pk(regimen, 4.0, species=species, pk_model=model, backend="engine", rtol=1e-10)
    b = simulate_pk(regimen, 4.0, species=species, pk_model=model, backend="exact")
    for col in TABLE_COLUMNS[1:]:
        np.testing.assert_allclose(a.columns[col], b.columns[col], rtol=0, atol=1e-7 * np.max(b.columns[col]))


@pytest.mark.parametrize("species,model,regimen", CASES)
def test_mass_balance_at_all_times(species, model, regimen):
    # sum of all states (depots, body, brain, norketamine, sinks) = amount administered so far. The engine
    # preserves linear invariants up to rounding, so 1e-10 relative is generous.
    r = simulate_pk(regimen, 4.0, species=species, pk_model=model, backend="engine", rtol=1e-8)
    total = r.amounts_umol.sum(axis=1)
    given = np.zeros_like(r.t_h)
    subject = Subject(species)
    sched, _ = dose_schedule(PK_MODELS[model or "mouse"], subject, regimen)
    for e in sched:
        if e.kind == "bolus":
            given += np.where(r.t_h >= e.time, e.value, 0.0)
        else:
            given += e.value * np.clip(r.t_h - e.time, 0.0, e.end - e.time)
    np.testing.assert_allclose(total, given, rtol=1e-10, atol=1e-12 * given.max())


def test_dose_proportionality():
    # linear model + absolute tolerance scaled with the dose: the solver takes the same steps, so concentrations
    # scale by exactly 10 (rounding only; 1e-10)
    a = simulate_pk(Regimen.single("1mg/kg", "ip"), 4.0, backend="engine")
    b = simulate_pk(Regimen.single("10mg/kg", "ip"), 4.0, backend="engine")
    for col in ("plasma_ketamine_uM", "brain_ketamine_uM", "plasma_norketamine_uM", "brain_norketamine_uM"):
        np.testing.assert_allclose(b.columns[col], 10 * a.columns[col], rtol=1e-10, atol=1e-14)
    # occupancy is not proportional (saturable): 10x the dose gives less than 10x the peak
    assert b.columns["nmda_occupancy_pyramidal"].max() < 10 * a.columns["nmda_occupancy_pyramidal"].max()


def _auc_plasma(model, subject, route, mg=10.0):
    """Exact AUC(0-inf) of the plasma ketamine concentration (µM h) after one µmol by ``route``."""
    s = ketamine_system()
    vals = parameter_values(model, subject)
    p = parameter_vector(s, vals)
    y0 = np.zeros(s.n_states)
    for part in model.dose_parts(route, mg, 1.0 if route == "iv-infusion" else None):
        y0[s.state_index(part.state)] += part.fraction  # zero-order inputs have the same AUC as a bolus
    return cf.auc_inf_linear(s, p, y0, exclude=SINKS)[s.state_index("central")] / vals["v_central_L"]


@pytest.mark.parametrize("model,species,route,f", [
    ("mouse", "mouse", "ip", 0.75), ("mouse", "mouse", "sc", 1.0), ("mouse", "mouse", "im", 0.93),
    ("mouse", "mouse", "oral", 0.17), ("mouse", "mouse", "intranasal", 0.45), ("kamp2020", "human", "im", 0.93),
    ("kamp2020", "human", "oral", 0.17), ("fanta2015", "human", "oral", 0.08),
    ("domino1982", "human", "im", 0.93), ("domino1982", "human", "sc", 0.93), ("domino1982", "human", "oral", 0.17),
    ("domino1982", "human", "intranasal", 0.45), ("fanta2015", "human", "intranasal", 0.45),
])
def test_auc_ratio_between_routes_equals_bioavailability(model, species, route, f):
    # exact AUC(0-inf) by linear algebra: the ratio is F to rounding (1e-10)
    m, subj = PK_MODELS[model], Subject(species)
    assert _auc_plasma(m, subj, route) / _auc_plasma(m, subj, "iv") == pytest.approx(f, rel=1e-10)


def _auc_both(model, route):
    """Exact AUC(0-inf) (µmol·h/L per µmol dosed) of plasma ketamine and norketamine after one dose by ``route``."""
    s, subj = ketamine_system(), Subject(model.species)
    vals = parameter_values(model, subj)
    y0 = np.zeros(s.n_states)
    for part in model.dose_parts(route, 10.0, 1.0 if route == "iv-infusion" else None):
        y0[s.state_index(part.state)] += part.fraction
    auc = cf.auc_inf_linear(s, parameter_vector(s, vals), y0, exclude=SINKS)
    return (auc[s.state_index("central")] / vals["v_central_L"],
            auc[s.state_index("nor_central")] / vals["v_nor_central_L"], vals)


@pytest.mark.parametrize("model_name", ["domino1982", "kamp2020"])
def test_norketamine_to_ketamine_ratio_differs_by_route_as_first_pass_makes_it(model_name):
    m = PK_MODELS[model_name]
    k_iv, n_iv, vals = _auc_both(m, "iv")
    # i.m. and s.c.: everything absorbed enters plasma as ketamine, so the metabolite ratio is the i.v. one exactly
    for route in ("im", "sc"):
        k, n, _ = _auc_both(m, route)
        assert n / k == pytest.approx(n_iv / k_iv, rel=1e-10)
    # oral: F reaches plasma, fm(1 - F) becomes norketamine on the first pass; the AUC of norketamine is the sum
    # of the two by linearity (AUC of a unit norketamine input = 1 / CL_nor), exactly
    f, fm = 0.17, m.fm_norketamine
    cl_nor = vals["k_nor_central_nor_eliminated"] * vals["v_nor_central_L"]
    k, n, _ = _auc_both(m, "oral")
    assert k == pytest.approx(f * k_iv, rel=1e-10)
    assert n == pytest.approx(f * n_iv + fm * (1 - f) / cl_nor, rel=1e-10)
    # intranasal: the swallowed part passes the liver, the nasal part does not: the ratio lies between
    k_in, n_in, _ = _auc_both(m, "intranasal")
    assert n_iv / k_iv < n_in / k_in < n / k
    assert n_in / k_in > 2 * n_iv / k_iv


def test_auc_ratio_from_simulated_curves():
    # the same ratio from the summaries, whose areas are quadratures of the exact solution over 4 h (18
    # half-lives; the extrapolated tail is ~1e-6 of the area and the same fraction for both routes)
    iv = simulate_pk(Regimen.single("10mg/kg", "iv"), 4.0).summary()["plasma_ketamine"]["auc_0_inf_uM_h"]
    ip = simulate_pk(Regimen.single("10mg/kg", "ip"), 4.0).summary()["plasma_ketamine"]["auc_0_inf_uM_h"]
    assert ip / iv == pytest.approx(0.75, rel=1e-8)


def _linear_oracle(route, duration_h):
    """Plasma ketamine Cmax, Tmax and AUC(0–T) of one mouse dose from the matrix exponential alone: y(t) =
    e^{Kt} y0; ∫_0^T y = the upper-right block of exp([[K, I], [0, 0]] T) y0 (Van Loan 1978); Tmax where
    dC/dt = (K y)_central / V changes sign (brentq)."""
    from scipy.linalg import expm
    from scipy.optimize import brentq

    s, m, subj = ketamine_system(), PK_MODELS["mouse"], Subject("mouse")
    p = parameter_vector(s, parameter_values(m, subj))
    K = cf.linear_matrix(s, p)
    sched, _ = dose_schedule(m, subj, Regimen.single("10mg/kg", route))
    y0 = np.zeros(s.n_states)
    for e in sched:
        y0[s.state_index(e.state)] += e.value
    n, ic = s.n_states, s.state_index("central")
    v = p[s.param_names.index("v_central_L")]
    big = np.zeros((2 * n, 2 * n))
    big[:n, :n], big[:n, n:] = K, np.eye(n)
    auc = (expm(big * duration_h)[:n, n:] @ y0)[ic] / v
    if route == "iv":
        return y0[ic] / v, 0.0, auc
    slope = lambda t: (K @ expm(K * t) @ y0)[ic]  # noqa: E731
    tmax = brentq(slope, 1e-4, 1.0, xtol=1e-14)
    return (expm(K * tmax) @ y0)[ic] / v, tmax, auc


@pytest.mark.parametrize("route", ["iv", "ip"])
@pytest.mark.parametrize("duration_h", [1.0, 4.0, 7 * 24.0, 60 * 24.0])
def test_summary_is_exact_whatever_the_duration_or_output_grid(route, duration_h):
    # the metrics come from the solution, not the table: a 60-day run with its 2-h default grid (and a
    # three-row table) reports what the closed form gives (a grid-based Cmax was 300-fold low at 60 d)
    cmax, tmax, auc = _linear_oracle(route, duration_h)
    for t_eval in (None, np.array([0.0, duration_h / 2, duration_h])):
        pk = simulate_pk(Regimen.single("10mg/kg", route), duration_h, t_eval=t_eval).summary()["plasma_ketamine"]
        assert pk["cmax_uM"] == pytest.approx(cmax, rel=1e-10)
        assert pk["tmax_h"] == pytest.approx(tmax, abs=1e-6)  # refined to ~1e-6 of a quadrature panel
        assert pk["auc_0_t_uM_h"] == pytest.approx(auc, rel=1e-10)


def test_infusion_and_bolus_deliver_the_same_auc():
    s, m, subj = ketamine_system(), PK_MODELS["kamp2020"], Subject("human")
    assert _auc_plasma(m, subj, "iv-infusion") == pytest.approx(_auc_plasma(m, subj, "iv"), rel=1e-12)


# ---- structure: one symbolic source ----------------------------------------------------------------------------
def test_system_is_generated_from_the_graph():
    g = ketamine_graph()
    s = ketamine_system()
    assert s.state_names == g.compartment_names
    # each state's equation is inflows minus outflows of the graph (checked symbolically)
    rhs = g.amount_rhs()
    for name, expr in zip(s.state_names, s.rhs):
        assert (expr - rhs[name]).expand() == 0
    # conservation: the column sums of the Jacobian vanish, i.e. d(sum of states)/dt = 0 identically
    import sympy

    assert all(sympy.simplify(sum(s.jacobian[:, j])) == 0 for j in range(s.n_states))


def test_observables_and_table_columns_units():
    r = simulate_pk(Regimen.single("10mg/kg", "ip"), 1.0)
    assert tuple(r.table()) == TABLE_COLUMNS
    # ng/mL = µM × 237.73 g/mol (rounding only)
    np.testing.assert_allclose(r.columns["plasma_ketamine_ng_per_ml"], r.columns["plasma_ketamine_uM"] * 237.73,
                               rtol=1e-14)
    # concentrations are amounts over volumes of the parameter set
    vals = parameter_values(PK_MODELS["mouse"], Subject("mouse"))
    np.testing.assert_allclose(r.columns["brain_ketamine_uM"], r.state("brain") / vals["v_brain_L"], rtol=1e-14)
    assert r.units["plasma_ketamine_ng_per_ml"] == "ng/mL"


def test_salt_default_and_override():
    # mouse default HCl: 10 mg/kg x 25 g x 237.73/274.19 / 237.73 g/mol = 0.9117765 µmol (exact arithmetic)
    r = simulate_pk(Regimen.single("10mg/kg", "iv"), 1.0)
    d = r.metadata["doses"][0]
    assert d["salt"] == "hcl" and d["base_umol"] == pytest.approx(10 * 0.025 / 274.19 * 1e3, rel=1e-12)
    rb = simulate_pk(Regimen.single("10mg/kg", "iv"), 1.0, salt="base")
    assert rb.metadata["doses"][0]["base_umol"] == pytest.approx(10 * 0.025 / 237.73 * 1e3, rel=1e-12)
    assert rb.columns["plasma_ketamine_uM"][1] / r.columns["plasma_ketamine_uM"][1] == pytest.approx(
        274.19 / 237.73, rel=1e-12)
    # the human default is base
    h = simulate_pk(Regimen.single("35mg", "iv"), 1.0, species="human")
    assert h.metadata["doses"][0]["salt"] == "base"


def test_esketamine_is_more_potent_than_racemic_at_equal_exposure():
    rac = simulate_pk(Regimen.single("10mg/kg", "ip"), 1.0, drug="racemic")
    esk = simulate_pk(Regimen.single("10mg/kg", "ip"), 1.0, drug="esketamine")
    np.testing.assert_allclose(esk.columns["plasma_ketamine_uM"], rac.columns["plasma_ketamine_uM"], rtol=1e-14)
    assert esk.columns["nmda_occupancy_pyramidal"].max() > rac.columns["nmda_occupancy_pyramidal"].max()


def test_female_clearance_factor():
    # fanta2015: women have 1.2 x the S-ketamine clearance -> AUC(0-inf) lower by exactly 1/1.2
    m = PK_MODELS["fanta2015"]
    ratio = _auc_plasma(m, Subject("human", sex="female"), "iv") / _auc_plasma(m, Subject("human"), "iv")
    assert ratio == pytest.approx(1 / 1.2, rel=1e-10)


def test_allometric_weight_scaling():
    # kamp2020 scales CL with (W/70)^0.75: AUC after the same mg dose scales by (W/70)^-0.75
    m = PK_MODELS["kamp2020"]
    ratio = _auc_plasma(m, Subject("human", 100.0), "iv") / _auc_plasma(m, Subject("human", 70.0), "iv")
    assert ratio == pytest.approx((100 / 70) ** -0.75, rel=1e-10)


# ---- trapping (scipy reference; no second compilation) ---------------------------------------------------------
def test_trapping_relaxes_to_equilibrium_when_fast():
    from pkpd.receptor import NmdaParams

    fast = NmdaParams(trap_k_on_per_h=2e3, trap_k_off_per_h=2e3)
    r = simulate_pk(Regimen.single("10mg/kg", "ip"), 1.0, trapping=True, nmda=fast, backend="scipy",
                    t_eval=np.linspace(0, 1, 61))
    eq = simulate_pk(Regimen.single("10mg/kg", "ip"), 1.0, t_eval=np.linspace(0, 1, 61))
    # with rates 2000/h (time constant 2 s) against absorption over minutes, the lag is < 1e-2 of occupancy
    np.testing.assert_allclose(r.columns["nmda_occupancy_pyramidal"], eq.columns["nmda_occupancy_pyramidal"],
                               atol=1e-2)


def test_trapped_block_outlasts_the_drug():
    r = simulate_pk(Regimen.single("10mg/kg", "ip"), 12.0, trapping=True, backend="scipy",
                    t_eval=np.linspace(0, 12, 49))
    eq = simulate_pk(Regimen.single("10mg/kg", "ip"), 12.0, t_eval=np.linspace(0, 12, 49))
    # at 12 h free ketamine is ~1e-16 of its peak, so equilibrium block is ~0, whereas trapped block decays with
    # k_off = 0.1/h from a near-saturated level: > 0.2 remains (exp(-1.2) x ~0.99 = 0.30)
    assert eq.columns["nmda_occupancy_pyramidal"][-1] < 1e-3
    assert r.columns["nmda_occupancy_pyramidal"][-1] > 0.2
    assert np.all(r.columns["nmda_occupancy_pyramidal"] <= 1.0 + 1e-9)


def test_dose_parts_of_intranasal_esketamine():
    m = PK_MODELS["perez-ruixo2021"]
    parts = m.dose_parts("intranasal", 56.0)
    # 56 mg = 2 devices: FRn_eff = 0.54 (1 + 0.62) / 2 = 0.4374 nasal; the rest swallowed over Dsw = 0.53 h
    assert parts[0].state == "depot_nasal" and parts[0].fraction == pytest.approx(0.4374, rel=1e-12)
    assert parts[1].state == "gut_swallowed" and parts[1].zero_order_h == 0.53
    assert parts[0].fraction + parts[1].fraction == pytest.approx(1.0, rel=1e-15)


def test_doses_of_a_regimen_become_engine_events():
    reg = Regimen.single("0.5mg/kg", "iv-infusion", duration_h=2 / 3).repeat(48.0, 3)
    sched, rec = dose_schedule(PK_MODELS["kamp2020"], Subject("human"), reg)
    # three infusions of 35 mg base = 147.2 µmol over 40 min each, 48 h apart
    assert [e.kind for e in sched] == ["infusion"] * 3
    assert [e.time for e in sched] == [0.0, 48.0, 96.0]
    assert sched.events[0].value * (2 / 3) == pytest.approx(35.0 / 237.73 * 1e3, rel=1e-12)
    assert len(rec) == 3 and isinstance(reg.doses[0], Dose)


def test_summary_of_a_regimen_by_superposition():
    # 10 mg/kg i.v. then 1 mg/kg at 1 h and 2 h: Cmax is the first bolus, and AUC(0–T) superposes single-dose
    # areas (linear PK); refining the first peak must integrate past the later events
    doses = ((0.0, 10.0), (1.0, 1.0), (2.0, 1.0))
    reg = Regimen(tuple(Dose(t, DoseAmount(a, "mg/kg"), "iv") for t, a in doses))
    pk = simulate_pk(reg, 6.0).summary()["plasma_ketamine"]
    cmax, _, _ = _linear_oracle("iv", 6.0)
    auc = sum(a / 10.0 * _linear_oracle("iv", 6.0 - t)[2] for t, a in doses)
    assert pk["cmax_uM"] == pytest.approx(cmax, rel=1e-10) and pk["tmax_h"] == 0.0
    assert pk["auc_0_t_uM_h"] == pytest.approx(auc, rel=1e-10)
