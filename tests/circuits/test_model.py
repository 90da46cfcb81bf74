"""The composed circuit model: its right-hand side is exactly its parts', the drug- and stress-free fixed point,
the biphasic shock response, and the long-horizon (session-averaged) mode against resolved shocks."""

import numpy as np
import pytest
import sympy

from circuits import model
from circuits.behavior import photometry
from circuits.model import (CNO_STATES, CircuitParams, circuit_parts, circuit_system, initial_state,
                            parameter_values, parameter_vector, run_long, run_trials)
from circuits.protocols import ProtocolParams, session_duty
from pkpd.dosing import Regimen

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def typical():
    cp = CircuitParams()
    return cp, initial_state(cp), parameter_vector(parameter_values(cp))


def test_composed_rhs_equals_its_parts():
    # exact symbolic identity: the composed system adds nothing and drops nothing
    from pkpd.pk import ketamine_system

    system = circuit_system()
    graph, inputs, *parts = circuit_parts()
    rhs = dict(zip(system.states, system.rhs))
    for part in parts:
        for s, r in zip(part.states, part.rhs):
            assert sympy.simplify(rhs[s] - r) == 0, s
    for s in inputs:
        assert rhs[s] == 0
    depot, cno = sympy.symbols(CNO_STATES)
    ka, t_half = sympy.symbols("cno_ka_per_h cno_half_life_h")
    assert sympy.simplify(rhs[depot] + ka * depot) == 0
    assert sympy.simplify(rhs[cno] - ka * depot + sympy.log(2) / t_half * cno) == 0
    pk = ketamine_system()
    for s, r in zip(pk.states, pk.rhs):
        assert sympy.simplify(rhs[s] - r) == 0, s
    n_parts = sum(len(p.states) for p in parts)
    assert system.n_states == pk.n_states + len(inputs) + len(CNO_STATES) + n_parts


def test_cno_is_a_compound_with_its_own_kinetics(typical):
    # oracle: the Bateman function of a first-order absorption and elimination (closed form), for one 3-mg/kg dose
    from pkpd.ode import Schedule

    cp, y0, p = typical
    m = cp.manipulations
    ka, ke = m.cno_ka_per_h, np.log(2) / m.cno_half_life_h
    t = np.array([0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0])
    sol = model.run_long(y0[None].copy(), p[None], t, [Schedule().bolus(0.0, "cno_depot", 1.0)])  # y0 is shared
    bateman = ka / (ka - ke) * (np.exp(-ke * t) - np.exp(-ka * t))
    np.testing.assert_allclose(sol.state("cno")[0], bateman, rtol=1e-4, atol=1e-7)
    # the agonist peaks 15-20 min after the dose (plasma CNO at 15 min, Jendryka 2019) and keeps an expressed
    # receptor over half active for about 6 h (behavioural effects 6-10 h, Jendryka 2019)
    t_peak = np.log(ka / ke) / (ka - ke)
    assert 0.2 < t_peak < 0.35
    act = model.dreadd_activation(sol.state("cno")[0], m.cno_k_rel)
    assert act[t == 4.0] > 0.5 and act[t == 8.0] < 0.5


def test_fixed_point_without_drug_or_stress(typical):
    # the NumPy fixed point (closed-form VTA, root-found mPFC) zeroes the composed rhs: |f| / scale < 1e-8
    # (fsolve's xtol is 1e-13; fast states relax at ~1e5 /h, so their rhs is scaled by 1e5 x their value)
    cp, y0, p = typical
    system = circuit_system()
    f = sympy.lambdify([*system.states, *system.params], list(system.rhs), "numpy")
    d = np.array(f(*y0, *p), float)
    fast = np.isin(system.state_names, model.NEURAL_STATES)
    scale = np.where(fast, np.maximum(np.abs(y0), 1e-3) * 1e5, 1.0)
    assert np.max(np.abs(d) / scale) < 1e-8
    # calibration targets at rest: r_E = 3 Hz (Deco 2014), tonic DA 4.5 Hz
    obs = {k: float(sympy.lambdify([*system.states, *system.params], system.observables[k])(*y0, *p))
           for k in ("r_e", "r_da", "w")}
    assert obs["r_e"] == pytest.approx(3.0, abs=1e-3)
    assert obs["r_da"] == pytest.approx(4.5, abs=1e-3)
    assert obs["w"] == 1.0
    # and it stays there for two days of integration (rtol 1e-6 -> drift well below 1e-4)
    sol = run_long(y0, p, [0.0, 24.0, 48.0])
    assert sol.status[0] == 0
    assert np.max(np.abs(sol.y[0, -1] - y0) / np.maximum(np.abs(y0), 1e-2)) < 1e-4


def _fixed_point_oracle(params, iterations=200):
    """The per-subject fixed point as computed before the batched kernel (:func:`circuits.model._fixed_point_fsolve`:
    scipy's fsolve for the mPFC root inside the D1 loop, the closed-form VTA), as a state vector."""
    from circuits.fixed_point import COLUMNS

    system = circuit_system()
    y = np.zeros(system.n_states)
    for name, v in zip(COLUMNS, model._fixed_point_fsolve(params, iterations)):
        y[system.state_index(name)] = v
    y[system.state_index("A")] = y[system.state_index("rho")] = 1.0
    return y


@pytest.fixture(scope="module")
def varied():
    # mPFC and VTA parameters varied as well (the cohort default varies only j_pd among them): S_E spans ~0.05-0.5
    from circuits.experiments import virtual_cohort

    var = {"g_h": 0.2, "j_pd_pA_per_Hz": 0.15, "k_a_per_h": 0.2, "j_i_nA": 0.03, "i0_nA": 0.02, "j_d1_nA": 0.3,
           "k_d1_uM": 0.3, "i_d_bg_pA": 0.1, "j_pg_pA_per_Hz": 0.3, "vmax_uM_per_s": 0.2, "w_plus": 0.05,
           "tau_e_s": 0.2}
    return virtual_cohort(40, 3, variation=var)


def test_batched_fixed_point_equals_the_per_subject_oracle(varied):
    y = model.initial_states(varied)
    oracle = np.array([_fixed_point_oracle(c) for c in varied])
    assert y.shape == (len(varied), circuit_system().n_states)
    np.testing.assert_allclose(y, oracle, rtol=1e-12, atol=1e-300)
    # one subject = the batch's row; a subject's result does not depend on its batch (bitwise)
    np.testing.assert_array_equal(initial_state(varied[5]), y[5])
    np.testing.assert_array_equal(np.concatenate([model.initial_states(varied[:7]), model.initial_states(varied[7:])]),
                                  y)


def test_batched_fixed_point_zeroes_the_rhs(varied):
    # the same criterion as test_fixed_point_without_drug_or_stress, for every subject of a varied cohort
    system = circuit_system()
    y = model.initial_states(varied)
    p = np.array([parameter_vector(parameter_values(c)) for c in varied])
    f = sympy.lambdify([*system.states, *system.params], list(system.rhs), "numpy")
    d = np.array([np.broadcast_to(v, (len(varied),)) for v in f(*y.T, *p.T)], float).T
    fast = np.isin(system.state_names, model.NEURAL_STATES)
    scale = np.where(fast, np.maximum(np.abs(y), 1e-3) * 1e5, 1.0)
    assert np.max(np.abs(d) / scale) < 1e-8


def test_newton_failures_fall_back_to_the_scipy_path():
    # strongly varied mPFC parameters put some subjects on the high-activity branch, far from Newton's start
    # (0.16, 0.04): where the compiled Newton fails and the per-subject scipy path succeeds, initial_states returns
    # the latter's fixed point
    from circuits.experiments import virtual_cohort
    from circuits.fixed_point import MPFC_FIELDS, VTA_FIELDS, fixed_points

    sd = 0.2
    var = {"j_pd_pA_per_Hz": 0.3, "j_i_nA": sd, "i0_nA": sd / 2, "j_d1_nA": 0.5, "k_d1_uM": 0.5, "i_d_bg_pA": 0.1,
           "j_pg_pA_per_Hz": 0.5, "vmax_uM_per_s": 0.3, "w_plus": sd, "tau_e_s": 0.3, "gamma_e": sd,
           "a_e_per_nC": sd / 4}
    cohort = virtual_cohort(600, 11, variation=var)
    mp = np.array([[getattr(c.mpfc, f) for f in MPFC_FIELDS] for c in cohort])
    vt = np.array([[getattr(c.vta, f) for f in VTA_FIELDS] for c in cohort])
    _, status = fixed_points(mp, vt)
    solved = []
    for k in np.flatnonzero(status == 1):
        try:
            solved.append((cohort[k], _fixed_point_oracle(cohort[k])))
        except ValueError:
            pass
    assert solved
    for c, oracle in solved:
        np.testing.assert_allclose(initial_state(c), oracle, rtol=1e-12, atol=1e-300)


def test_no_fixed_point_names_the_subject():
    bad = CircuitParams().replace(vmax_uM_per_s=0.01)  # DA release above the uptake capacity
    with pytest.raises(ValueError, match="subject 1: DA release exceeds the uptake capacity"):
        model.initial_states([CircuitParams(), bad])


def test_biphasic_shock_response(typical):
    # Wu 2021: a dip during the shock, a rise after it (baseline = mean of 5 s before onset, peak within 8 s)
    cp, y0, p = typical
    tr = run_trials(y0, p)
    assert tr.status[0] == 0
    t, f = tr.t_s, tr.gcamp[0]
    m = photometry(tr.gcamp, t, tr.onset_s, tr.shock_s)
    base = m["baseline"][0]
    assert np.std(f[(t >= 0) & (t < tr.onset_s)]) < 1e-4 * base  # flat at rest
    during = (t > tr.onset_s) & (t <= tr.onset_s + tr.shock_s)
    after = (t > tr.onset_s + tr.shock_s) & (t <= tr.onset_s + 8.0)
    assert f[during].min() < 0.3 * base                     # the dip: firing nearly silenced by GABA
    assert f[after].max() > 1.25 * base                     # the rise after offset, mPFC-driven
    assert t[np.argmax(np.where(after, f, -np.inf))] > tr.onset_s + tr.shock_s
    assert m["peak"][0] == pytest.approx(f[after].max() - base, rel=1e-12)


def test_rise_scales_with_mpfc_to_vta_efficacy(typical):
    # the post-shock rise is the mPFC-driven component: lower efficacy w -> smaller rise, monotone
    cp, y0, p = typical
    system = circuit_system()
    ys = np.tile(y0, (4, 1))
    ys[:, system.state_index("rho")] = [1.0, 0.9, 0.75, 0.6]
    sol = run_long(ys, p, [0.0, 0.2])
    tr = run_trials(sol.y[:, -1], p)
    peak = photometry(tr.gcamp, tr.t_s, tr.onset_s, tr.shock_s)["peak"]
    assert np.all(np.diff(peak) < 0)
    assert peak[-1] < 0.7 * peak[0]


@pytest.fixture(scope="module")
def after_ketamine(typical):
    # a day with a 1-h session at the induction duty, then 10 mg/kg i.p. at 2 h; read at the dose, 20 min and 4 h
    # after it (the drug, ρ, A and Z still moving) and one and two days later. The oracle: rtol 1e-9 with every
    # state to atol 1e-8 (neural_atol=None)
    from pkpd.ode import Schedule
    from pkpd.pk import dose_schedule
    from pkpd.pk_models import get_pk_model
    from pkpd.species import Subject

    cp, y0, p = typical
    sched = dose_schedule(get_pk_model(None, "mouse"), Subject("mouse", None, "male"),
                          Regimen.single("10mg/kg", "ip", time_h=2.0))[0]
    sched = Schedule().reset(0.0, "stress", session_duty(ProtocolParams())).reset(1.0, "stress", 0.0) + sched
    te = np.array([0.0, 1.0, 2.0, 2.0 + 1 / 3, 6.0, 24.0, 48.0])
    truth = run_long(y0, p, te, sched, neural_atol=None, rtol=1e-9, qss=None)
    assert truth.status[0] == 0
    return te, sched, truth, p


def test_long_horizon_neural_tolerance_costs_no_accuracy(typical, after_ketamine):
    # LONG_NEURAL_ATOL on the neural states against atol 1e-8 on every state, both at the default rtol: the slow
    # states, drug amounts and kept observables are as close to the oracle (within 1.25x the all-1e-8 solution's
    # own error, itself up to 1.6e-3 on ρ and 2.6e-3 on A here: ketamine's surge amplifies small errors; measured
    # 1.06x), with fewer steps (312 against 556 after the recalibration of 2026-12-02; how much faster is measured
    # in benchmarks/, not asserted here)
    cp, y0, p = typical
    te, sched, truth, _ = after_ketamine
    sol = run_long(y0, p, te, sched, qss=None)  # the tolerance alone (the QSS projection: the next test)
    ref = run_long(y0, p, te, sched, neural_atol=None, qss=None)
    assert sol.status[0] == 0 and ref.status[0] == 0
    assert (sol.n_accepted + sol.n_rejected)[0] < (ref.n_accepted + ref.n_rejected)[0]
    ratios = {}
    for name in (*model.SLOW_STATES, "brain", "central", "r_e", "r_da", "w"):
        get = (lambda s: s.state(name)[0]) if name in circuit_system().state_names else \
            (lambda s: s.observables[name][0])
        e_sol, e_ref = np.max(np.abs(get(sol) - get(truth))), np.max(np.abs(get(ref) - get(truth)))
        # floor 1e-5 of the course's range: with the parameters of 2026-12-02 both solutions are within 3e-6
        # absolute of the oracle (A: 1.8e-7 against 2.5e-8; before, the surge amplified both to ~2e-3), far below
        # the 1e-3 to which readouts are judged, where a ratio of two round-off-sized errors means nothing
        ratios[name] = e_sol / max(e_ref, 1e-5 * np.ptp(get(truth)))
    assert max(ratios.values()) <= 1.25, ratios


def test_trial_subsystem_matches_the_whole_system(after_ketamine):
    # run_trials holds TRIAL_FROZEN constant, with the neural states to TRIAL_NEURAL_ATOL; the oracle is the same
    # trial on the whole 35-state system at rtol 1e-8, atol 1e-10. The DA peak and dip and the whole indicator trace
    # agree within 2e-4 of the response (measured as documented at TRIAL_FROZEN)
    from pkpd.ode import Schedule, solve

    _, _, ref, p = after_ketamine
    system = circuit_system()
    assert model.trial_system().n_states == system.n_states - len(model.TRIAL_FROZEN)
    ys = ref.y[0, 2:5].copy()  # at the dose, 20 min and 4 h after it
    tr = run_trials(ys, p)
    sched = Schedule().reset(tr.onset_s / 3600, "shock", 1.0).reset((tr.onset_s + tr.shock_s) / 3600, "shock", 0.0)
    full = solve(system, ys, tr.t_s / 3600, np.tile(p, (3, 1)), method="rosenbrock", rtol=1e-8, atol=1e-10,
                 schedule=sched)
    assert (tr.status == 0).all() and (full.status == 0).all()
    g = full.state("gcamp")
    m_sub = photometry(tr.gcamp, tr.t_s, tr.onset_s, tr.shock_s)
    m_full = photometry(g, tr.t_s, tr.onset_s, tr.shock_s)
    np.testing.assert_allclose(m_sub["peak"], m_full["peak"], rtol=2e-4)
    np.testing.assert_allclose(m_sub["dip"], m_full["dip"], rtol=2e-4)
    assert np.max(np.abs(tr.gcamp - g)) <= 2e-4 * np.max(m_full["peak"])
    # the drug is still present 20 min after the dose: the trial would differ if it were ignored
    assert ys[1, system.state_index("brain")] > 0.1 * np.max(ref.state("brain"))


def test_long_horizon_quasi_steady_states_agree_with_the_resolved_transients(typical, after_ketamine):
    # LONG_QSS: at each input switch and at the dose the neural states are set to their quasi-steady state instead
    # of being integrated through their transient. Oracle: the resolved solution at rtol 1e-9 (every state to
    # 1e-8). The slow states and drug amounts everywhere, and the neural observables away from the switch instants,
    # are within 1.25x the resolved default run's own error; at a switch instant (outputs are right-continuous) the
    # neural observables are those just after the transient (the oracle 2 min later, after 2 min of slow drift;
    # measured within 1.5e-4)
    from pkpd.ode import Schedule

    cp, y0, p = typical
    te, sched, truth, _ = after_ketamine
    sol = run_long(y0, p, te, sched)
    ref = run_long(y0, p, te, sched, qss=None)
    assert sol.status[0] == 0 and ref.status[0] == 0
    switch = np.isin(te, [0.0, 1.0])  # the session's start and end (the dose at 2 h moves no neural state at once)
    for name in (*model.SLOW_STATES, "brain", "central", "r_e", "r_da", "w"):
        get = (lambda s: s.state(name)[0]) if name in circuit_system().state_names else \
            (lambda s: s.observables[name][0])
        rows = slice(None) if name not in ("r_e", "r_da") else ~switch
        e_sol = np.max(np.abs(get(sol) - get(truth))[rows])
        e_ref = np.max(np.abs(get(ref) - get(truth))[rows])
        # floor: 1e-5 of the course's range (as in the tolerance test above: both errors are now ~1e-7 absolute) or
        # 1e-9, a tenth of atol (θ: 4.4e-7 against 5.8e-8, range 0.11); for the neural rates, the long horizon's own
        # neural tolerance LONG_NEURAL_ATOL (1e-4) relative to their size (20 min after the dose: r_E 4.1e-5 Hz of
        # 3.5 Hz, r_DA 4.0e-4 Hz of 4.5 Hz: the projection at the dose changes the transient that follows it)
        floor = (model.LONG_NEURAL_ATOL * np.max(np.abs(get(truth))) if name in ("r_e", "r_da")
                 else 1e-5 * np.ptp(get(truth)))
        if name in (*model.SLOW_STATES, "w"):
            # the slow states (and w = ρA) integrate the ~30-s burst transient that switching the session's averaged drive on at
            # once makes (an artifact of the averaging; the DA dip no longer saturates since the shock's GABA drive
            # passes through w) and that the projection skips: measured 2026-12-02 ≤ 2.4e-4 of each slow state's
            # range (θ 2.7e-5 Hz), the failure probability within 8.3e-6 (checked below against the budget)
            floor = max(floor, 5e-4 * np.ptp(get(truth)))
        assert e_sol <= 1.25 * max(e_ref, floor, 1e-9), name
    from circuits.behavior import failure_probability

    dp = failure_probability(sol.observables["w"][0], cp.behavior) - failure_probability(truth.observables["w"][0],
                                                                                           cp.behavior)
    assert np.max(np.abs(dp)) < 2e-4  # a tenth of the readout budget (2e-3)
    session = Schedule().reset(0.0, "stress", session_duty(ProtocolParams())).reset(1.0, "stress", 0.0)
    later = run_long(y0, p, [0.0, 2 / 60, 1.0, 1.0 + 2 / 60], session, neural_atol=None, rtol=1e-9, qss=None)
    for name in ("r_e", "r_da"):
        np.testing.assert_allclose(sol.observables[name][0, switch], later.observables[name][0, [1, 3]], rtol=5e-4)


def test_session_averaged_drive_matches_360_resolved_shocks(typical):
    # Long-horizon mode replaces the 360 shocks of an induction session by their duty fraction. The stress load
    # and spine density after the session and a day later agree within 3 % of their change from rest (the
    # residual is the saturation of the stress load within each shock and the nonlinearity of mPFC activity)
    cp, y0, p = typical
    q = ProtocolParams()
    rng = np.random.default_rng(0)
    isi = rng.uniform(1.0, 15.0, 360)
    onsets = np.concatenate([[0.0], np.cumsum(q.shock_s + isi[:-1])]) / 3600.0
    end = (onsets[-1] * 3600.0 + q.shock_s + isi[-1]) / 3600.0
    from pkpd.ode import Schedule

    resolved = Schedule()
    for t0 in onsets:
        resolved = resolved.reset(t0, "shock", 1.0).reset(t0 + q.shock_s / 3600.0, "shock", 0.0)
    averaged = Schedule().reset(0.0, "stress", 360 * q.shock_s / (end * 3600.0)).reset(end, "stress", 0.0)
    assert 360 * q.shock_s / (end * 3600.0) == pytest.approx(session_duty(q), rel=0.05)
    sol = run_long(np.tile(y0, (2, 1)), p, [0.0, end, end + 24.0], [resolved, averaged], max_steps=400_000,
                   neural_atol=None, qss=None)  # resolved shocks: the neural states to 1e-8, every transient
    assert (sol.status == 0).all()
    system = circuit_system()
    for name in ("H", "rho"):
        i = system.state_index(name)
        change = abs(sol.y[1, 1:, i] - y0[i])
        assert np.all(change > 1e-3)
        assert np.all(np.abs(sol.y[0, 1:, i] - sol.y[1, 1:, i]) <= 0.03 * change), name
    # the activity reference integrates the (convex) mPFC rate: the mean of the resolved rate exceeds the rate
    # of the mean drive by a fraction of a percent of theta itself. Measured 0.33 % after the session and 0.13 % a
    # day later: resolved shocks silence DA firing and the post-shock rise follows each one, so D1 (and with it
    # the mPFC rate) swings both ways, which a steady partial inhibition at the mean drive does not reproduce (it
    # was < 0.2 % while the shock inhibition was too weak to silence DA for a whole 10-s shock). A θ off by 0.5 %
    # moves the surge threshold of BDNF/mTOR (δ = 0.35 above θ) by 0.007, well inside its margin
    i = system.state_index("theta")
    assert np.all(np.abs(sol.y[0, 1:, i] - sol.y[1, 1:, i]) <= 0.005 * sol.y[1, 1:, i])
    # BDNF/mTOR drive stays below threshold in both modes (shocks are not a ketamine-like surge)
    i = system.state_index("M")
    assert np.all(np.abs(sol.y[:, 1:, i]) < 0.02)
    print({n: sol.y[:, 1:, system.state_index(n)].tolist() for n in ("H", "rho", "theta", "M")})


def test_parameter_rows_have_unit_kind_and_source():
    rows = model.parameter_rows()
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    assert {"j_i_nA", "g_h", "b1", "hm4di_da", "interneuron_potency_ratio"} <= set(names)
    for r in rows:
        assert r["unit"] and r["source"] and r["kind"] in ("published", "calibrated", "assumed", "derived")
    # every circuit parameter of the compiled system is listed (PK parameters are listed by pkpd)
    from pkpd.pk import ketamine_system

    circuit_params = set(circuit_system().param_names) - set(ketamine_system().param_names)
    assert circuit_params <= set(names)


def test_replace_names_the_bad_field():
    with pytest.raises(ValueError, match="unknown circuit parameter 'nope'"):
        CircuitParams().replace(nope=1.0)
    with pytest.raises(ValueError, match="PlasticityParams.g_h"):
        CircuitParams().replace(g_h=-1.0)
    with pytest.raises(ValueError, match="unknown circuit parameter 'nope'"):
        CircuitParams().value("nope")


def test_fields_are_found_by_name_in_their_group():
    # replace() and value() address a field by its name alone; oracle: the group dataclasses themselves
    cp = CircuitParams().replace(g_h=3.0, j_pd_pA_per_Hz=7.0, b1=2.5, hm4di_da=1.0, interneuron_potency_ratio=2.0)
    assert (cp.plasticity.g_h, cp.vta.j_pd_pA_per_Hz, cp.behavior.b1, cp.manipulations.hm4di_da) == (3.0, 7.0, 2.5, 1.0)
    assert cp.interneuron_potency_ratio == 2.0 and cp.mpfc == CircuitParams().mpfc
    assert [cp.value(n) for n in ("g_h", "j_pd_pA_per_Hz", "b1", "hm4di_da")] == [3.0, 7.0, 2.5, 1.0]
