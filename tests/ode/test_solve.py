"""solve(): accuracy against closed forms and scipy, events, failures, determinism and input checks."""

import numpy as np
import pytest
import sympy
from scipy.linalg import expm

from pkpd.ode import STATUS, OdeSystem, Schedule, solve, solve_reference
from pkpd.ode.examples import two_compartment

TWO = two_compartment()
# ka, k10, k12, k21 (1/h), V (L)
P2 = np.array([1.3, 0.25, 0.4, 0.15, 20.0])
P1 = np.array([1.3, 0.25, 0.0, 0.0, 20.0])  # k12 = 0: a one-compartment model with first-order absorption

x = sympy.symbols("x0:4")
A4 = np.array([[-1.0, 0.5, 0, 0.2], [0.3, -2.0, 0.4, 0], [0, 0.6, -0.5, 0.1], [0.2, 0, 0.3, -1.5]])
LINEAR4 = OdeSystem(x, list(sympy.Matrix(A4) * sympy.Matrix(x)), name="linear4")

yb, kb = sympy.symbols("y k")
BLOWUP = OdeSystem([yb], [kb * yb**2], [kb], name="blowup")  # y = 1/(1 - k t): infinite at t = 1/k

u, v, mu = sympy.symbols("u v mu")
VDP = OdeSystem([u, v], [v, mu * ((1 - u**2) * v - u)], [mu], name="van_der_pol")


def _linear_exact(K, x0, t, rate=None):
    """x(t) = e^{Kt} x0 + K^{-1}(e^{Kt} - I) r: the closed-form solution of x' = Kx + r."""
    E = expm(K * t)
    out = E @ x0
    if rate is not None:
        out = out + np.linalg.solve(K, (E - np.eye(len(x0))) @ rate)
    return out


def _two_compartment_matrix(p):
    ka, k10, k12, k21, _ = p
    return np.array([[-ka, 0, 0], [ka, -(k10 + k12), k21], [0, k12, -k21]])


def _one_compartment_bolus_and_infusion(t, dose, t_inf0, t_inf1, rate, k):
    """C·V for a bolus at 0 plus a zero-order infusion (textbook one-compartment closed forms)."""
    bolus = dose * np.exp(-k * t)
    during = rate / k * (1 - np.exp(-k * np.clip(t - t_inf0, 0, t_inf1 - t_inf0)))
    after = np.exp(-k * np.clip(t - t_inf1, 0, None))
    return bolus + np.where(t < t_inf0, 0.0, during * after)


# ---- closed forms --------------------------------------------------------------------------------------------
# Each method family is one numba compile per model (20-40 s cold), so the families meet events on one model,
# LINEAR4 (the piecewise matrix-exponential test below, every family); the PK model TWO runs in the rosenbrock/auto
# family only.
@pytest.mark.parametrize("method", ["rosenbrock", "auto"])
def test_one_compartment_bolus_and_infusion_match_closed_form(method):
    T = np.linspace(0, 24, 97)
    sched = Schedule().bolus(0.0, "central", 100.0).infusion(2.0, "central", rate=30.0, duration=1.5)
    s = solve(TWO, [0, 0, 0], T, P1, method=method, schedule=sched, rtol=1e-11, atol=1e-12)
    exact = _one_compartment_bolus_and_infusion(T, 100.0, 2.0, 3.5, 30.0, P1[1])
    # the target is 1e-8 relative; rtol 1e-11 leaves room for error accumulation over ~100 steps
    np.testing.assert_allclose(s.state("central")[0], exact, rtol=1e-8)
    np.testing.assert_allclose(s.observables["conc"][0], exact / P1[4], rtol=1e-8)


@pytest.mark.parametrize("method", ["explicit", "rosenbrock", "rodas5p", "dop853"])
def test_repeated_doses_and_an_infusion_match_the_matrix_exponential(method):
    # LINEAR4 (x' = A4 x, A4 off-diagonals >= 0: amounts stay non-negative) dosed like an oral regimen: repeated
    # doses into x0 every 12 h (superposition) plus an infusion into x1 straddling a dose; every method family
    sched = Schedule().bolus(0.0, "x0", 50.0).repeat(every=12.0, times=3) \
        + Schedule().infusion(10.0, "x1", amount=40.0, duration=4.0)
    T = np.linspace(0, 48, 193)
    s = solve(LINEAR4, [0, 0, 0, 0], T, method=method, schedule=sched, rtol=1e-11, atol=1e-12)
    # piecewise exact solution between events
    events = [0.0, 10.0, 12.0, 14.0, 24.0, 48.0]
    xk = np.array([50.0, 0, 0, 0])
    exact = np.empty((T.size, 4))
    for a, b in zip(events[:-1], events[1:]):
        r = np.array([0, 10.0, 0, 0]) if 10.0 <= a < 14.0 else None
        idx = (T >= a) & (T < b) if b < 48 else (T >= a)
        exact[idx] = [_linear_exact(A4, xk, tt - a, r) for tt in T[idx]]
        xk = _linear_exact(A4, xk, b - a, r)
        if b in (12.0, 24.0):
            xk = xk + [50.0, 0, 0, 0]
    # 1e-8 relative (the target); the absolute floor, 100x the solver's atol, only matters for amounts near zero
    # (the first minutes after the first dose), where atol, not rtol, governs the step size
    np.testing.assert_allclose(s.y[0], exact, rtol=1e-8, atol=1e-10)


def test_observables_equal_their_expressions_and_can_be_skipped():
    """Solution.observables evaluate the system's observable expressions on the states (here conc = amount / V,
    checked against the states directly); observables=False skips them and leaves the states bit-identical."""
    sched = Schedule().bolus(0.0, "depot", 50.0)
    T = np.linspace(0, 24, 25)
    full = solve(TWO, [0, 0, 0], T, P2, schedule=sched, rtol=1e-8, atol=1e-10)
    bare = solve(TWO, [0, 0, 0], T, P2, schedule=sched, rtol=1e-8, atol=1e-10, observables=False)
    assert TWO.observables and full.observables and bare.observables == {}
    assert np.array_equal(full.y, bare.y)
    f = sympy.lambdify([*TWO.states, *TWO.params], list(TWO.observables.values()))
    for k, name in enumerate(TWO.observables):
        expected = np.array([f(*full.y[0, i], *P2)[k] for i in range(T.size)], float)
        np.testing.assert_allclose(full.observables[name][0], expected, rtol=1e-14, atol=0)


def test_output_at_an_event_time_is_the_state_after_the_event():
    sched = Schedule().bolus(0.0, "central", 10.0).bolus(5.0, "central", 7.0).reset(8.0, "peripheral", 0.0)
    s = solve(TWO, [0, 0, 0], [0.0, 5.0, 8.0, 9.0], P2, schedule=sched, rtol=1e-10, atol=1e-12)
    before5 = _linear_exact(_two_compartment_matrix(P2), np.array([0, 10.0, 0]), 5.0)
    np.testing.assert_allclose(s.y[0, 1], before5 + [0, 7.0, 0], rtol=1e-9)
    assert s.y[0, 2, 2] == 0.0  # reset applied exactly


@pytest.mark.slow
def test_linear_system_matches_expm_with_both_methods_and_counts_work():
    y0 = np.array([1.0, 0.5, -0.3, 0.8])
    T = np.linspace(0, 5, 11)
    exact = np.array([expm(A4 * t) @ y0 for t in T])
    for method in ("explicit", "rosenbrock", "rodas5p", "dop853"):
        # outputs at interior times come from each method's dense output
        s = solve(LINEAR4, y0, T, method=method, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(s.y[0], exact, rtol=1e-8, atol=1e-12)
        assert s.n_accepted[0] > 0 and s.n_rhs[0] > s.n_accepted[0]
        assert (s.n_jac[0] > 0) == (method in ("rosenbrock", "rodas5p"))


@pytest.mark.parametrize("method, order, slack", [("explicit", 5, 0.6), ("rosenbrock", 4, 0.6), ("rodas5p", 6, 0.6),
                                                  ("dop853", 8, 1.0)])
def test_convergence_order_against_expm(method, order, slack):
    # Global error vs number of steps over a tolerance sweep: the slope of log(error) against log(steps) is
    # -order for a method of that order (work-precision diagram). ±0.6 allows for step-controller granularity;
    # DOP853 takes only 5-24 steps here, so its slope (measured -7.5) gets ±1. Rodas5P is of order 5, but its
    # stability function matches exp(z) to O(z^7) (the local error of R(z) - e^z falls 2^7.3-fold per halving
    # of z), so on a linear constant-coefficient system it converges at order 6 (measured -6.2).
    y0 = np.array([1.0, 0.5, -0.3, 0.8])
    exact = expm(A4 * 5.0) @ y0
    steps, errors = [], []
    for rtol in 10.0 ** -np.arange(4, 11):
        s = solve(LINEAR4, y0, [0.0, 5.0], method=method, rtol=rtol, atol=rtol * 1e-3)
        steps.append(s.n_accepted[0] + s.n_rejected[0])
        errors.append(np.abs(s.y[0, -1] - exact).max())
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert -order - slack < slope < -order + slack


# ---- stiffness and the scipy reference -----------------------------------------------------------------------
@pytest.mark.slow
def test_auto_switches_to_rosenbrock_on_a_stiff_problem_and_matches_radau():
    T = np.linspace(0, 0.5, 11)  # the slow branch, before the first relaxation jump of the mu = 1000 subject
    s = solve(VDP, [2.0, 0.0], T, [[1.0], [1000.0]], method="auto", rtol=1e-6, atol=1e-8)
    ref = solve_reference(VDP, [2.0, 0.0], T, [[1.0], [1000.0]], method="Radau", rtol=1e-12, atol=1e-14)
    assert s.stiff.tolist() == [False, True]  # mu = 1: non-stiff; mu = 1000: stiff
    # u is O(1); a run at rtol 1e-6 against a 1e-12 reference: agreement to ~100x the tolerance
    np.testing.assert_allclose(s.y[:, :, 0], ref[:, :, 0], rtol=1e-4, atol=1e-6)
    explicit = solve(VDP, [2.0, 0.0], T, [1000.0], method="explicit", rtol=1e-6, atol=1e-8)
    # the stiff subject costs the explicit method many more steps than auto (stability-limited: 399 vs 76)
    assert explicit.n_accepted[0] > 3 * s.n_accepted[1]


@pytest.mark.slow
def test_solution_agrees_with_the_scipy_reference_on_a_nonautonomous_system():
    from tests.ode.test_codegen import NONLINEAR

    T = np.linspace(0, 3, 13)
    P = [[1.0, 0.5, 2.0], [2.0, 0.2, 1.0]]
    sched = Schedule().bolus(1.0, "a", 0.5)
    ref = solve_reference(NONLINEAR, [0.5, 1.0, 0.2], T, P, schedule=sched, rtol=1e-12, atol=1e-13)
    # auto runs the explicit steps (this problem is not stiff) and rosenbrock the Rodas4 ones, with the time
    # derivative: both kinds of step on a non-autonomous system, from the one compiled module of that family
    for method in ("auto", "rosenbrock"):
        s = solve(NONLINEAR, [0.5, 1.0, 0.2], T, P, method=method, schedule=sched, rtol=1e-9, atol=1e-11)
        assert s.stiff.tolist() == [method == "rosenbrock"] * 2
        np.testing.assert_allclose(s.y, ref, rtol=1e-6, atol=1e-8)


# ---- failures stay with their subject ------------------------------------------------------------------------
@pytest.mark.slow
def test_a_failing_subject_is_reported_and_the_others_finish():
    k = np.array([[0.1], [1.0], [0.3]])  # the second subject blows up at t = 1
    T = np.linspace(0, 2, 5)
    s = solve(BLOWUP, [1.0], T, k, rtol=1e-9, atol=1e-12)
    assert s.status[0] == 0 and s.status[2] == 0 and s.status[1] in (2, 3)
    assert s.failures == [(1, STATUS[int(s.status[1])])]
    np.testing.assert_allclose(s.y[[0, 2], :, 0], 1 / (1 - k[[0, 2]] * T), rtol=1e-7)
    assert np.isnan(s.y[1, -1, 0])


def test_max_steps_is_reported():
    s = solve(VDP, [2.0, 0.0], [0.0, 3000.0], [1000.0], method="explicit", max_steps=200)
    assert s.status.tolist() == [1] and "max-steps" in s.failures[0][1]


# ---- determinism ---------------------------------------------------------------------------------------------
def test_results_are_bitwise_identical_with_one_and_two_threads():
    rng = np.random.default_rng(0)
    P = P2 * np.exp(rng.normal(0, 0.3, (257, 5)))
    sched = [Schedule().bolus(0.0, "depot", d) for d in rng.uniform(10, 100, 257)]
    T = np.linspace(0, 24, 25)
    one = solve(TWO, [0, 0, 0], T, P, schedule=sched, threads=1)
    two = solve(TWO, [0, 0, 0], T, P, schedule=sched, threads=2)
    assert np.array_equal(one.y, two.y) and np.array_equal(one.n_rhs, two.n_rhs)
    # and a subject's result does not depend on which batch it is in
    alone = solve(TWO, [0, 0, 0], T, P[100], schedule=sched[100])
    assert np.array_equal(alone.y[0], one.y[100])


# ---- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    (dict(y0=[0, 0]), r"y0 must have shape \(3,\) or \(n_subjects, 3\)"),
    (dict(y0=[0, np.nan, 0]), r"y0 must be finite: entry \[subject 0, state 1\] is nan"),
    (dict(params=[1, 2, 3]), r"params must have shape \(5,\)"),
    (dict(params=[1, 2, np.inf, 1, 1]), "params must be finite"),
    (dict(params=None), "params is required"),
    (dict(t_eval=[0, 2, 1]), r"t_eval must be strictly increasing: t_eval\[1\] = 2.0 >= t_eval\[2\] = 1.0"),
    (dict(t_eval=[-1, 2]), "t_eval must be non-negative"),
    (dict(t_eval=[]), "t_eval must be a non-empty 1-D array"),
    (dict(rtol=0.0), "rtol must be a positive finite number"),
    (dict(rtol=-1e-3), "rtol must be a positive finite number"),
    (dict(rtol=1.0), r"rtol must be below 1 \(a relative error of 100 % controls nothing\), got 1.0"),
    (dict(rtol=10), "rtol must be below 1"),
    (dict(y0=[0, -1e-3, 0]), "y0: state 'central' is an amount and must be >= 0"),  # 1e-3 > atol (default 1e-9)
    (dict(schedule=Schedule().bolus(1.0, "depot", -5.0)),
     "schedule: bolus -5 at t=1 on state 'depot', an amount that must stay >= 0"),
    (dict(schedule=[Schedule(), Schedule().infusion(2.0, "central", rate=-1.0, duration=1.0)],
          y0=np.zeros((2, 3))), "schedule: infusion rate -1 at t=2 on state 'central'"),
    (dict(schedule=Schedule().reset(3.0, "peripheral", -0.5)), "schedule: reset value -0.5 at t=3"),
    (dict(atol=-1.0), "atol must be positive"),
    (dict(atol=[1e-9, 1e-9]), r"atol must be a number or an array of shape \(3,\)"),
    (dict(method="rk4"), "method must be one of"),
    (dict(schedule=Schedule().bolus(30.0, "central", 1.0)), r"outside the time span \[0, 24\]"),
    (dict(schedule=Schedule().bolus(1.0, "gut", 1.0)), r"unknown state 'gut'"),
    (dict(y0=np.zeros((2, 3)), params=np.ones((3, 5))), "disagree on the number of subjects"),
    (dict(max_steps=0), "max_steps must be a positive integer"),
    (dict(threads=0), "threads must be a positive integer"),
])
def test_bad_input_is_rejected_before_any_work(kwargs, message, monkeypatch):
    import pkpd.ode.codegen as codegen

    def no_compile(*a, **k):  # proves the check happens before compilation
        raise AssertionError("compiled despite bad input")

    monkeypatch.setattr(codegen, "compile_system", no_compile)
    args = dict(y0=[0, 0, 0], t_eval=np.linspace(0, 24, 5), params=P2) | kwargs
    with pytest.raises(ValueError, match=message):
        solve(TWO, args.pop("y0"), args.pop("t_eval"), args.pop("params"), **args)


@pytest.mark.parametrize("build, message", [
    (lambda: Schedule().infusion(1.0, "central", rate=1.0), "exactly one of duration or end"),
    (lambda: Schedule().infusion(1.0, "central", rate=1.0, duration=-2.0), "duration must be positive"),
    (lambda: Schedule().bolus(float("nan"), "central", 1.0), "bolus time must be finite"),
    (lambda: Schedule().bolus(0.0, "central", 1.0).repeat(every=0.0, times=2), "every must be positive"),
])
def test_bad_schedules_are_rejected(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_schedule_is_time_sorted_however_it_is_built():
    # Schedule keeps its events sorted by time, and events at the same time in the order given (stable sort);
    # appending in time order takes a path that skips the sort. Oracle: Python's stable sort of the same events.
    from pkpd.ode.schedule import Event

    steps = [("bolus", 2.0, "central", 1.0), ("reset", 2.0, "peripheral", 0.0), ("bolus", 1.0, "central", 3.0),
             ("reset", 5.0, "central", 0.5), ("bolus", 5.0, "peripheral", 2.0), ("bolus", 0.5, "central", 4.0)]
    s, given = Schedule(), []
    for kind, t, state, v in steps:
        s = getattr(s, kind)(t, state, v)
        given.append(Event(kind, t, state, v))
        assert s.events == tuple(sorted(given, key=lambda e: e.time))
    early = Schedule().bolus(3.0, "central", 1.0).reset(3.0, "central", 0.0)
    late = Schedule().bolus(5.0, "central", 9.0)
    for a, b in ((early, late), (late, early), (s, early), (early, s)):
        assert (a + b).events == tuple(sorted(a.events + b.events, key=lambda e: e.time))


# ---- quasi-steady states at discontinuities ---------------------------------------------------------------------
ys, yf, eps = sympy.symbols("ys yf eps")
# a slow decay driving a fast, nonlinear state: yf' = (ys - yf^3)/eps; its quasi-steady state is yf = ys^(1/3)
FAST_SLOW = OdeSystem([ys, yf], [-ys, (ys - yf**3) / eps], [eps], name="fast_slow")


@pytest.mark.slow
def test_qss_states_start_every_segment_at_their_root():
    # oracle: the closed-form root ys^(1/3) with ys(t) = c e^{-t}. At t = 0 and right after a reset of ys at t = 1
    # (outputs at event times are right-continuous), yf is the cube root of ys; between events it stays on its slow
    # manifold, which for eps = 1e-6 is that root to O(eps); without qss the transient is integrated.
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    sched = Schedule().reset(1.0, "ys", 8.0)
    kw = dict(method="rosenbrock", rtol=1e-8, atol=1e-10, schedule=sched)
    with_qss = solve(FAST_SLOW, [1.0, 0.2], t, [1e-6], qss=["yf"], **kw)
    resolved = solve(FAST_SLOW, [1.0, 0.2], t, [1e-6], **kw)
    ys_exact = np.where(t < 1.0, np.exp(-t), 8.0 * np.exp(-(t - 1.0)))
    np.testing.assert_allclose(with_qss.y[0, :, 0], ys_exact, rtol=1e-7)
    np.testing.assert_allclose(with_qss.y[0, :, 1], np.cbrt(ys_exact), rtol=2e-6)
    assert with_qss.y[0, 0, 1] == pytest.approx(1.0, rel=1e-12) and with_qss.y[0, 2, 1] == pytest.approx(2.0, rel=1e-12)
    # the resolved run starts off its manifold and reaches it within microseconds: the same values later on,
    # but not at the event times themselves
    np.testing.assert_allclose(resolved.y[0, [1, 3, 4], 1], with_qss.y[0, [1, 3, 4], 1], rtol=1e-6)
    assert resolved.y[0, 0, 1] == 0.2 and abs(resolved.y[0, 2, 1] - np.exp(-1.0 / 3.0)) < 1e-5
    assert with_qss.n_accepted[0] < resolved.n_accepted[0]


def test_qss_keeps_the_state_where_newton_fails():
    # yf' = (ys - yf^3)/eps with ys < 0 has the root -|ys|^(1/3); from yf = 0 Newton's first step divides by
    # 3 yf^2 = 0 (a singular Jacobian block): the state keeps its value and the transient is integrated instead
    t = np.array([0.0, 1.0])
    sol = solve(FAST_SLOW, [-1.0, 0.0], t, [1e-3], qss=["yf"], method="rosenbrock", rtol=1e-8, atol=1e-10)
    ref = solve(FAST_SLOW, [-1.0, 0.0], t, [1e-3], method="rosenbrock", rtol=1e-8, atol=1e-10)
    assert sol.status[0] == 0 and sol.y[0, 0, 1] == 0.0
    np.testing.assert_array_equal(sol.y[0, 1], ref.y[0, 1])


@pytest.mark.parametrize("qss, message", [
    ("yf", "qss must be a sequence"), (["zz"], "qss: unknown state 'zz'"), (["yf", 1], "qss: a state is listed twice"),
])
def test_bad_qss_is_rejected(qss, message):
    with pytest.raises(ValueError, match=message):
        solve(FAST_SLOW, [1.0, 1.0], [0.0, 1.0], [1e-6], qss=qss)


def test_an_amount_within_atol_below_zero_is_zero():
    # a state handed on from an earlier solve carries noise of the order of atol around 0: accepted, and the
    # solution moves by no more than that noise (the refusal is for real negative amounts: test above)
    T = np.linspace(0, 24, 5)
    a = solve(TWO, [5.0, -1e-12, 0.0], T, P2, atol=1e-9)
    b = solve(TWO, [5.0, 0.0, 0.0], T, P2, atol=1e-9)
    np.testing.assert_allclose(a.y, b.y, rtol=0, atol=1e-11)
