"""Closed-form linear pharmacokinetics: a fast path and the exact test oracle.

Two layers:

1. Textbook formulas for one-, two- and three-compartment models (Gibaldi & Perrier, *Pharmacokinetics*, 2nd ed., 1982,
   ch. 1–2; Rowland & Tozer): intravenous bolus, zero-order infusion and first-order absorption, and
   :func:`superpose` for repeated doses. Concentrations are amount/volume in whatever consistent units are passed
   (the package uses µmol, L, h → µM).
2. :func:`solve_linear`: the exact solution of *any* linear, autonomous :class:`~pkpd.ode.OdeSystem`
   ``dy/dt = K y + u(t)`` with a :class:`~pkpd.ode.Schedule` of boluses, zero-order infusions and resets, by the
   matrix exponential of the augmented matrix ``[[K, u], [0, 0]]`` between events (Van Loan 1978, IEEE Trans
   Autom Control 23:395). It uses the same event semantics as :func:`pkpd.ode.solve` (right-continuous at
   events; infusion input on ``[start, end)``), so it is both an oracle for the engine and a compile-free solver
   for the linear ketamine model. :func:`auc_inf_linear` gives exact areas under the curve.

All times share one unit (hours in this package).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from .ode.schedule import BOLUS, INFUSION, RESET, Schedule, pack_schedules

__all__ = ["one_compartment_bolus", "one_compartment_infusion", "one_compartment_absorption",
           "two_compartment_bolus", "two_compartment_infusion", "two_compartment_absorption", "superpose",
           "two_compartment_macro", "three_compartment_macro", "three_compartment_bolus",
           "three_compartment_infusion", "linear_matrix", "solve_linear", "auc_inf_linear", "periodic_linear"]


def _t(t) -> np.ndarray:
    return np.asarray(t, dtype=float)


# ---- one compartment ---------------------------------------------------------------------------------------
def one_compartment_bolus(t, dose: float, v: float, k: float):
    """``C(t) = dose/V · exp(−k t)`` for ``t >= 0`` (0 before). Shapes follow ``t``."""
    t = _t(t)
    return np.where(t >= 0, dose / v * np.exp(-k * np.maximum(t, 0.0)), 0.0)


def one_compartment_infusion(t, rate: float, duration: float, v: float, k: float):
    """Zero-order infusion of ``rate`` (amount/time) for ``duration`` starting at 0.

    ``C = R/(kV)(1 − e^{−kt})`` during, ``C(T) e^{−k(t−T)}`` after.
    """
    t = _t(t)
    tin = np.clip(t, 0.0, duration)
    c_in = rate / (k * v) * (-np.expm1(-k * tin))
    return np.where(t < 0, 0.0, c_in * np.exp(-k * np.maximum(t - duration, 0.0)))


def one_compartment_absorption(t, dose: float, f: float, ka: float, v: float, k: float):
    """First-order absorption (Bateman): ``F·D·ka / (V(ka − k)) (e^{−kt} − e^{−ka t})``; ``ka = k`` limit
    ``F·D·k t e^{−kt} / V``."""
    t = np.maximum(_t(t), 0.0)
    if abs(ka - k) <= 1e-12 * max(ka, k):
        return f * dose / v * k * t * np.exp(-k * t)
    return f * dose * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


# ---- two compartments ----------------------------------------------------------------------------------------
def two_compartment_macro(k10: float, k12: float, k21: float) -> tuple[float, float]:
    """Hybrid rate constants ``(α, β)``, α > β > 0: the roots of ``λ² − (k10+k12+k21)λ + k10 k21 = 0``."""
    s = k10 + k12 + k21
    disc = np.sqrt(s * s - 4.0 * k10 * k21)
    alpha = 0.5 * (s + disc)
    beta = k10 * k21 / alpha  # the product of roots; avoids cancellation in (s - disc)/2
    return alpha, beta


def two_compartment_bolus(t, dose: float, v1: float, k10: float, k12: float, k21: float):
    """Central concentration after a bolus: ``D/V1 [ (α−k21)/(α−β) e^{−αt} + (k21−β)/(α−β) e^{−βt} ]``."""
    t = _t(t)
    a, b = two_compartment_macro(k10, k12, k21)
    tt = np.maximum(t, 0.0)
    c = dose / v1 * ((a - k21) / (a - b) * np.exp(-a * tt) + (k21 - b) / (a - b) * np.exp(-b * tt))
    return np.where(t >= 0, c, 0.0)


def two_compartment_infusion(t, rate: float, duration: float, v1: float, k10: float, k12: float, k21: float):
    """Central concentration for a zero-order infusion of ``rate`` over ``duration`` from 0.

    Each exponential ``A_i e^{−λ_i t}`` of the unit-bolus response integrates to
    ``A_i/λ_i (1 − e^{−λ_i t})`` during the infusion and ``A_i/λ_i (e^{−λ_i (t−T)} − e^{−λ_i t})`` after.
    """
    t = _t(t)
    a, b = two_compartment_macro(k10, k12, k21)
    coef = ((a - k21) / (a - b), (k21 - b) / (a - b))
    out = np.zeros_like(t)
    for ci, lam in zip(coef, (a, b)):
        during = ci / lam * (-np.expm1(-lam * np.clip(t, 0.0, None)))
        after = ci / lam * (np.exp(-lam * np.maximum(t - duration, 0.0)) - np.exp(-lam * np.maximum(t, 0.0)))
        out = out + np.where(t <= duration, during, after)
    return np.where(t < 0, 0.0, rate / v1 * out)


def two_compartment_absorption(t, dose: float, f: float, ka: float, v1: float, k10: float, k12: float,
                               k21: float):
    """Central concentration with first-order absorption from a depot (three exponentials).

    ``C = F D ka / V1 Σ_i (k21 − λ_i) / Π_{j≠i} (λ_j − λ_i) · e^{−λ_i t}`` over ``λ ∈ {ka, α, β}``
    (``ka`` distinct from α and β).
    """
    t = np.maximum(_t(t), 0.0)
    a, b = two_compartment_macro(k10, k12, k21)
    lams = (ka, a, b)
    out = np.zeros_like(t)
    for i, li in enumerate(lams):
        denom = np.prod([lj - li for j, lj in enumerate(lams) if j != i])
        out = out + (k21 - li) / denom * np.exp(-li * t)
    return f * dose * ka / v1 * out


# ---- three compartments (mammillary: central 1 with peripherals 2 and 3) ---------------------------------------
def three_compartment_macro(k10: float, k12: float, k21: float, k13: float, k31: float) -> np.ndarray:
    """Hybrid rate constants ``λ1 > λ2 > λ3 > 0``: the roots of the characteristic cubic
    ``λ³ − a2 λ² + a1 λ − a0 = 0`` with ``a2 = k10+k12+k13+k21+k31``,
    ``a1 = k10 k21 + k10 k31 + k12 k31 + k13 k21 + k21 k31``, ``a0 = k10 k21 k31`` (Gibaldi & Perrier, ch. 2)."""
    a2 = k10 + k12 + k13 + k21 + k31
    a1 = k10 * k21 + k10 * k31 + k12 * k31 + k13 * k21 + k21 * k31
    a0 = k10 * k21 * k31
    lam = np.sort(np.roots([1.0, -a2, a1, -a0]).real)[::-1]
    return lam


def _three_compartment_coefficients(k10, k12, k21, k13, k31):
    """``(A_i, λ_i)`` of the central unit-bolus response ``Σ A_i e^{−λ_i t}`` (per unit volume):
    ``A_i = (k21 − λ_i)(k31 − λ_i) / Π_{j≠i} (λ_j − λ_i)``."""
    lam = three_compartment_macro(k10, k12, k21, k13, k31)
    coef = [(k21 - li) * (k31 - li) / np.prod([lj - li for j, lj in enumerate(lam) if j != i])
            for i, li in enumerate(lam)]
    return np.array(coef), lam


def three_compartment_bolus(t, dose: float, v1: float, k10: float, k12: float, k21: float, k13: float,
                            k31: float):
    """Central concentration after a bolus: ``D/V1 Σ_i A_i e^{−λ_i t}`` (0 before the dose)."""
    t = _t(t)
    coef, lam = _three_compartment_coefficients(k10, k12, k21, k13, k31)
    tt = np.maximum(t, 0.0)
    c = sum(a * np.exp(-li * tt) for a, li in zip(coef, lam))
    return np.where(t >= 0, dose / v1 * c, 0.0)


def three_compartment_infusion(t, rate: float, duration: float, v1: float, k10: float, k12: float, k21: float,
                               k13: float, k31: float):
    """Central concentration for a zero-order infusion of ``rate`` over ``duration`` from 0 (each exponential
    integrated as in :func:`two_compartment_infusion`)."""
    t = _t(t)
    coef, lam = _three_compartment_coefficients(k10, k12, k21, k13, k31)
    out = np.zeros_like(t)
    for ci, li in zip(coef, lam):
        during = ci / li * (-np.expm1(-li * np.clip(t, 0.0, None)))
        after = ci / li * (np.exp(-li * np.maximum(t - duration, 0.0)) - np.exp(-li * np.maximum(t, 0.0)))
        out = out + np.where(t <= duration, during, after)
    return np.where(t < 0, 0.0, rate / v1 * out)


def superpose(single, t, times, amounts):
    """Superposition of linear responses: ``Σ_k single(t − t_k, amount_k)``; ``single`` returns 0 for t < 0.

    Parameters
    ----------
    single : callable ``(t, amount) -> array``
        Response to one dose given at time 0 (must be 0 for negative times).
    t : array_like
        Output times.
    times, amounts : sequences
        Dose times and amounts.
    """
    t = _t(t)
    total = np.zeros_like(t)
    for tk, ak in zip(times, amounts):
        total = total + np.where(t >= tk, single(t - tk, ak), 0.0)
    return total


# ---- any linear system ---------------------------------------------------------------------------------------
_MATRIX_FUNCTIONS: dict = {}


def _matrix_function(system):
    """Check linearity once per system and lambdify its (constant) Jacobian; cached by content hash."""
    key = system.fingerprint
    if key not in _MATRIX_FUNCTIONS:
        import sympy

        states = set(system.states)
        for i, e in enumerate(system.rhs):
            if system.time in e.free_symbols:
                raise ValueError(f"system {system.name!r} is not autonomous (rhs[{i}] depends on time)")
            if e.subs({s: 0 for s in states}) != 0:
                raise ValueError(f"system {system.name!r} has a constant term in rhs[{i}]; not homogeneous-linear")
        jac = system.jacobian
        if any(s in states for s in jac.free_symbols):
            raise ValueError(f"system {system.name!r} is not linear in its states")
        _MATRIX_FUNCTIONS[key] = sympy.lambdify([system.params], jac, "numpy")
    return _MATRIX_FUNCTIONS[key]


def linear_matrix(system, params) -> np.ndarray:
    """The constant matrix ``K`` of a linear, autonomous, homogeneous system ``dy/dt = K y``.

    Raises
    ------
    ValueError
        If the right-hand side depends on time, is not linear in the states, or has a constant term.
    """
    f = _matrix_function(system)
    return np.array(f(list(np.asarray(params, float))), dtype=float).reshape(system.n_states, system.n_states)


def solve_linear(system, y0, t_eval, params, schedule: Schedule | None = None) -> np.ndarray:
    """Exact solution of a linear system with events, at ``t_eval``; shape (n_times, n_states).

    Between consecutive event or output times the state advances by ``expm(M Δ)`` of the augmented matrix
    ``M = [[K, u], [0, 0]]`` (``u`` the current infusion input), which is exact for piecewise-constant input.
    The propagators are cached by (Δ, input) so a uniform output grid costs a handful of matrix exponentials.
    """
    K = linear_matrix(system, params)
    n = K.shape[0]
    T = np.asarray(t_eval, dtype=float)
    kind, t0s, t1s, state, value, count = pack_schedules(schedule, system.state_index, 1, float(T[0]), float(T[-1]))
    ne = int(count[0])
    ev = [(int(kind[0, k]), float(t0s[0, k]), float(t1s[0, k]), int(state[0, k]), float(value[0, k]))
          for k in range(ne)]
    breaks = sorted({e[1] for e in ev} | {e[2] for e in ev if e[0] == INFUSION and e[2] < T[-1]}
                    | set(T.tolist()))
    y = np.array(y0, dtype=float).reshape(n).copy()
    out = np.empty((T.size, n))
    cache: dict = {}

    def inputs(t):
        u = np.zeros(n)
        for k_, s_, e_, st, v in ev:
            if k_ == INFUSION and s_ <= t < e_:
                u[st] += v
        return u

    def jump(t):
        for k_, s_, _, st, v in ev:
            if s_ == t:
                if k_ == BOLUS:
                    y[st] += v
                elif k_ == RESET:
                    y[st] = v

    def step(y, dt, u):
        key = (dt, u.tobytes())
        P = cache.get(key)
        if P is None:
            M = np.zeros((n + 1, n + 1))
            M[:n, :n] = K
            M[:n, n] = u
            P = expm(M * dt)
            cache[key] = P
        return P[:n, :n] @ y + P[:n, n]

    t = float(T[0])
    jump(t)
    j = 0
    if T[0] == t:
        out[0] = y
        j = 1
    for tb in breaks:
        if tb <= t:
            continue
        y = step(y, tb - t, inputs(t))
        t = tb
        jump(t)
        while j < T.size and T[j] == t:
            out[j] = y
            j += 1
    return out


def auc_inf_linear(system, params, y0, exclude=()) -> np.ndarray:
    """Exact ``∫_0^∞ y(t) dt`` of every state after starting from ``y0`` with no further input.

    Only states reachable from the nonzero entries of ``y0`` take part; states listed in ``exclude`` (sinks,
    which never return amount and grow without bound) are removed. The reachable sub-system must eliminate
    everything (a non-singular matrix). Returns an array of the full state length: ``−K_sub⁻¹ y0_sub`` on the
    reachable states, 0 on unreachable ones and NaN on excluded ones.
    """
    K = linear_matrix(system, params)
    y0 = np.asarray(y0, float)
    excluded = {system.state_index(s) for s in exclude}
    reach = {i for i in np.flatnonzero(y0)} - excluded
    frontier = list(reach)
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero(K[:, i]):
            if j not in reach and j not in excluded:
                reach.add(int(j))
                frontier.append(int(j))
    keep = sorted(reach)
    out = np.zeros(K.shape[0])
    out[list(excluded)] = np.nan
    if keep:
        out[keep] = -np.linalg.solve(K[np.ix_(keep, keep)], y0[keep])
    return out


def periodic_linear(system, params, schedule: Schedule, interval: float) -> np.ndarray:
    """The state just before time 0 of a linear system whose ``schedule`` (events within ``[0, interval)``) has
    been repeated every ``interval`` forever: the exact steady state of repeated dosing.

    Over one interval ``y(τ−) = e^{Kτ} y(0−) + b``, with ``b`` the interval's response from zero (:func:`solve_linear`),
    so the periodic state solves ``(I − e^{Kτ}) y = b``; only states that eliminate (``K_ii < 0``) take part, and the
    others (sinks, which accumulate, and compartments nothing leaves) are 0. For a one-compartment bolus this is
    ``D e^{−kτ} / (1 − e^{−kτ})``, the trough of the textbook ``C_ss(t) = D/V e^{−kt} / (1 − e^{−kτ})``.
    """
    K = linear_matrix(system, params)
    b = solve_linear(system, np.zeros(K.shape[0]), [0.0, float(interval)], params, schedule)[-1]
    live = np.flatnonzero(np.diag(K) < 0)
    y = np.zeros(K.shape[0])
    A = np.eye(live.size) - expm(K * float(interval))[np.ix_(live, live)]
    y[live] = np.linalg.solve(A, b[live])
    return y
