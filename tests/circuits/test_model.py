"""The composed circuit model: its right-hand side is exactly its parts', the drug- and stress-free fixed point,
the biphasic shock response, and the long-horizon (session-averaged) mode against resolved shocks."""

import numpy as np
import pytest
import sympy

from circuits import model
from circuits.behavior import photometry
from circuits.model import CircuitParams, circuit_parts, circuit_system, initial_state, parameter_values, \
    parameter_vector, run_long, run_trials
from circuits.protocols import ProtocolParams, session_duty

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
    pk = ketamine_system()
    for s, r in zip(pk.states, pk.rhs):
        assert sympy.simplify(rhs[s] - r) == 0, s
    n_parts = sum(len(p.states) for p in parts)
    assert system.n_states == pk.n_states + len(inputs) + n_parts


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
    sol = run_long(np.tile(y0, (2, 1)), p, [0.0, end, end + 24.0], [resolved, averaged], max_steps=400_000)
    assert (sol.status == 0).all()
    system = circuit_system()
    for name in ("H", "rho"):
        i = system.state_index(name)
        change = abs(sol.y[1, 1:, i] - y0[i])
        assert np.all(change > 1e-3)
        assert np.all(np.abs(sol.y[0, 1:, i] - sol.y[1, 1:, i]) <= 0.03 * change), name
    # the activity reference integrates the (convex) mPFC rate: the mean of the resolved rate exceeds the rate
    # of the mean drive by a fraction of a percent of theta itself
    i = system.state_index("theta")
    assert np.all(np.abs(sol.y[0, 1:, i] - sol.y[1, 1:, i]) <= 0.002 * sol.y[1, 1:, i])
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
