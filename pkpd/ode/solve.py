"""``solve``: integrate a batch of subjects of one :class:`~pkpd.ode.system.OdeSystem`.

Every subject gets its own adaptive step inside one numba ``prange`` loop (no lockstep), its own parameters, initial
state and event schedule. Inputs are checked here, in Python, before any compilation or integration, so that a bad
argument fails in milliseconds with a message naming it.
"""

from __future__ import annotations

import numpy as np

from ..parameters import is_finite_real
from .codegen import compile_system
from .schedule import BOLUS, INFUSION, RESET, Schedule, pack_schedules
from .solution import METHODS, STATUS, Solution
from .system import OdeSystem

__all__ = ["solve", "check_inputs"]

def _float_array(x, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {type(x).__name__}") from None
    return a


def _batch(x, name: str, width: int, what: str) -> np.ndarray:
    """Validate ``x`` as (width,) or (n, width) and return a C-contiguous 2-D float array."""
    a = _float_array(x, name)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"{name} must have shape ({width},) or (n_subjects, {width}) for {width} {what}, "
                         f"got shape {np.shape(x)}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one subject, got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{name} must be finite: entry [subject {r}, {what[:-1]} {c}] is {a[r, c]}")
    # writable and C-contiguous: numba types read-only arrays differently and would compile the solver again
    return np.require(a, float, ["C", "W"])


def _check_nonnegative(system: OdeSystem, Y0: np.ndarray, A: np.ndarray, events) -> None:
    """Refuse negative initial values, boluses, infusion rates and resets on the system's non-negative states.

    An initial value within the state's absolute tolerance ``A`` below 0 is numerically 0 (a state handed on from
    an earlier solve carries that much noise) and passes.
    """
    if not system.nonnegative:
        return
    idx = np.array([system.state_index(s) for s in system.nonnegative])
    bad = np.flatnonzero((Y0[:, idx] < -A[idx]).any(axis=0))
    if bad.size:
        raise ValueError(f"y0: state {system.nonnegative[bad[0]]!r} is an amount and must be >= 0")
    kind, t0, _, state, value, count = events
    live = np.arange(kind.shape[1])[None, :] < count[:, None]
    neg = live & (value < 0) & np.isin(state, idx)
    if neg.any():
        r, k = map(int, np.argwhere(neg)[0])
        what = {BOLUS: "bolus", INFUSION: "infusion rate", RESET: "reset value"}[int(kind[r, k])]
        raise ValueError(f"schedule: {what} {value[r, k]:g} at t={t0[r, k]:g} on state "
                         f"{system.state_names[state[r, k]]!r}, an amount that must stay >= 0")


def check_inputs(system: OdeSystem, y0, t_eval, params, method, rtol, atol, schedule, threads, max_steps):
    """Validate every argument of :func:`solve`; returns the packed arrays. Raises ``ValueError``."""
    if not isinstance(system, OdeSystem):
        raise ValueError(f"system must be an OdeSystem, got {type(system).__name__}")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    n = system.n_states
    Y0 = _batch(y0, "y0", n, "states")
    if params is None:
        if system.n_params:
            raise ValueError(f"params is required: the system has {system.n_params} parameters "
                             f"{list(system.param_names)}")
        params = np.zeros((1, 0))
    P = _batch(params, "params", system.n_params, "params") if system.n_params else np.zeros((1, 0))
    T = _float_array(t_eval, "t_eval")
    if T.ndim != 1 or T.size == 0:
        raise ValueError(f"t_eval must be a non-empty 1-D array of times, got shape {T.shape}")
    if not np.isfinite(T).all():
        raise ValueError("t_eval must be finite")
    if T[0] < 0:
        raise ValueError(f"t_eval must be non-negative, got t_eval[0] = {T[0]}")
    if T.size > 1 and not (np.diff(T) > 0).all():
        k = int(np.argmax(~(np.diff(T) > 0)))
        raise ValueError(f"t_eval must be strictly increasing: t_eval[{k}] = {T[k]} >= t_eval[{k + 1}] = {T[k + 1]}")
    if not is_finite_real(rtol) or rtol <= 0:
        raise ValueError(f"rtol must be a positive finite number, got {rtol!r}")
    if rtol < 1e-13:
        raise ValueError(f"rtol must be at least 1e-13 (double precision), got {rtol!r}")
    if rtol >= 1:
        raise ValueError(f"rtol must be below 1 (a relative error of 100 % controls nothing), got {rtol!r}")
    A = _float_array(atol, "atol")
    if A.ndim == 0:
        A = np.full(n, float(A))
    if A.shape != (n,):
        raise ValueError(f"atol must be a number or an array of shape ({n},), got shape {A.shape}")
    if not (np.isfinite(A).all() and (A > 0).all()):
        raise ValueError(f"atol must be positive and finite, got {A.tolist()}")
    if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")

    sizes = {Y0.shape[0], P.shape[0]} - {1}
    if isinstance(schedule, (list, tuple)):
        sizes.add(len(schedule))
    if len(sizes) > 1:
        raise ValueError(f"y0, params and schedule disagree on the number of subjects: y0 has {Y0.shape[0]}, "
                         f"params {P.shape[0]}" + (f", schedule {len(schedule)}"
                                                   if isinstance(schedule, (list, tuple)) else ""))
    n_subjects = sizes.pop() if sizes else 1
    if schedule is not None and not isinstance(schedule, (Schedule, list, tuple)):
        raise ValueError(f"schedule must be a Schedule or a list of one Schedule per subject, "
                         f"got {type(schedule).__name__}")
    events = pack_schedules(schedule, system.state_index, n_subjects, float(T[0]), float(T[-1]))
    _check_nonnegative(system, Y0, A, events)
    return n_subjects, Y0, P, np.require(T, float, ["C", "W"]), np.require(A, float, ["C", "W"]), events


def solve(system: OdeSystem, y0, t_eval, params=None, *, method: str = "auto", rtol: float = 1e-6,
          atol=1e-9, schedule=None, threads: int | None = None, max_steps: int = 100_000,
          observables: bool = True, qss=None) -> Solution:
    """Integrate ``dy/dt = f(t, y, p)`` for a batch of subjects.

    Parameters
    ----------
    system : OdeSystem
    y0 : array_like, shape (n_states,) or (n_subjects, n_states)
        Initial state at ``t_eval[0]``, shared or per subject.
    t_eval : array_like, shape (n_times,)
        Strictly increasing, non-negative output times; integration runs from ``t_eval[0]`` to ``t_eval[-1]``
        and lands exactly on each.
    params : array_like, shape (n_params,) or (n_subjects, n_params), optional
        Parameters in the order of ``system.params``; required when the system has any.
    method : {"auto", "explicit", "rosenbrock", "dopri5", "rodas4", "rodas5p", "dop853"}
        ``explicit``: Dormand–Prince 5(4) with PI step control. ``dop853``: Hairer's 8th-order pair with its
        7th-order dense output, the better choice for non-stiff problems at tight tolerances. ``rosenbrock``:
        Rodas4, L-stable, order 4(3), with the analytic Jacobian. ``rodas5p``: Steinebach's Rodas5P, L-stable,
        order 5(4), 8 stages, with the residual control of Rodas5Pr (one more right-hand side per step): more
        accurate than Rodas4 at the same rtol, but its error estimate can still miss errors that Rodas4's
        catches (the circuit model after a dose: 2 % at rtol 1e-6), so ``rosenbrock`` stays the default.
        ``auto``: explicit first; a subject switches to Rosenbrock (Rodas4) for the rest of its integration once
        Hairer's stiffness test (h·|λ| estimate above 2.6 on 15 accepted steps) fires.
    rtol : float
        Relative tolerance.
    atol : float or array_like, shape (n_states,)
        Absolute tolerance, in each state's unit.
    schedule : Schedule or list of Schedule, optional
        Events shared by all subjects or one schedule per subject.
    threads : int, optional
        Number of numba threads (default: numba's current setting, normally all cores). The results do not
        depend on it, bit for bit.
    max_steps : int
        Step budget (accepted + rejected) per subject.
    observables : bool
        Evaluate the system's observables at every output time (default). ``False`` leaves
        ``Solution.observables`` empty, for callers that read only states (saves their evaluation, which for a
        short, densely sampled solve can cost a fifth of the time).
    qss : sequence of str or int, optional
        States held at quasi-steady state at discontinuities: at ``t_eval[0]`` and after the jumps of every event
        before ``t_eval[-1]`` (and at infusion starts and ends), these states are set to the root of their own
        right-hand sides with the others held (Newton with the analytic Jacobian, to 1e-3 of their error
        tolerance), so a fast subsystem starts each segment on its slow manifold instead of being resolved through
        its transient. Between events they remain ordinary states. Where Newton does not converge they keep their
        values and the transient is integrated. Meant for states whose transients are far shorter than anything
        read from the solution.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError
        For any malformed argument, before compilation or integration.
    """
    n_subjects, Y0, P, T, A, events = check_inputs(system, y0, t_eval, params, method, rtol, atol, schedule,
                                                  threads, max_steps)
    qss_idx = _qss_indices(system, qss)

    compiled = compile_system(system, method)
    return compiled.run(n_subjects, Y0, P, T, A, events, METHODS[method], float(rtol), int(max_steps), threads,
                        method_name=method, observables=bool(observables), qss=qss_idx)


def _qss_indices(system: OdeSystem, qss) -> np.ndarray:
    """The state indices of ``qss`` (names or indices), checked: known, no repeats."""
    if qss is None:
        return np.zeros(0, np.int64)
    if isinstance(qss, (str, int)):
        raise ValueError(f"qss must be a sequence of state names or indices, got {qss!r}")
    try:
        idx = [system.state_index(s) for s in qss]
    except (ValueError, TypeError, IndexError) as e:
        raise ValueError(f"qss: {e}") from None
    if len(set(idx)) != len(idx):
        raise ValueError(f"qss: a state is listed twice in {list(qss)!r}")
    return np.array(idx, np.int64)
