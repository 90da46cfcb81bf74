"""An independent, slow reference: the same problem solved by ``scipy.integrate.solve_ivp`` on NumPy functions
lambdified from the sympy model (no generated code, no numba), with the same event semantics as :func:`solve`.

Use it as a test oracle and in benchmarks; it loops over subjects in Python.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .schedule import BOLUS, INFUSION, RESET
from .solve import check_inputs
from .system import OdeSystem

__all__ = ["solve_reference"]


def solve_reference(system: OdeSystem, y0, t_eval, params=None, *, method: str = "Radau", rtol: float = 1e-10,
                    atol=1e-12, schedule=None) -> np.ndarray:
    """Solve with scipy between events; returns ``y`` of shape (n_subjects, n_times, n_states).

    Parameters are those of :func:`pkpd.ode.solve`, except ``method``, which is a scipy method name
    (``"Radau"``, ``"BDF"``, ``"LSODA"``, ``"DOP853"``, ``"RK45"``). A subject whose scipy solve fails raises
    ``RuntimeError`` naming it: a reference must not fail silently.
    """
    n_subjects, Y0, P, T, A, events = check_inputs(system, y0, t_eval, params, "auto", rtol, atol, schedule,
                                                   None, 1)
    ekind, et0, et1, estate, evalue, ecount = events
    f, jac = system.lambdify()
    n = system.n_states
    implicit = method in ("Radau", "BDF", "LSODA")
    out = np.empty((n_subjects, T.size, n))
    for s in range(n_subjects):
        p = P[s if P.shape[0] > 1 else 0]
        r = s if ecount.shape[0] > 1 else 0
        ne = int(ecount[r])
        kinds, starts, stops = ekind[r, :ne], et0[r, :ne], et1[r, :ne]
        states, values = estate[r, :ne], evalue[r, :ne]
        y = Y0[s if Y0.shape[0] > 1 else 0].copy()
        breaks = set(starts.tolist()) | {e for k, e in zip(kinds, stops) if k == INFUSION and e < T[-1]}
        breaks = sorted(b for b in breaks if T[0] < b < T[-1]) + [T[-1]]

        def jump(t):
            for k in range(ne):
                if starts[k] == t:
                    if kinds[k] == BOLUS:
                        y[states[k]] += values[k]
                    elif kinds[k] == RESET:
                        y[states[k]] = values[k]

        def rates(t):
            u = np.zeros(n)
            for k in range(ne):
                if kinds[k] == INFUSION and starts[k] <= t < stops[k]:
                    u[states[k]] += values[k]
            return u

        t = T[0]
        jump(t)
        out[s, 0] = y
        for tb in breaks:
            u = rates(t)
            inside = T[(T > t) & (T < tb)]
            sol = solve_ivp(lambda tt, yy: f(tt, yy, p) + u, (t, tb), y, method=method, rtol=rtol, atol=A,
                            t_eval=np.append(inside, tb), **({"jac": lambda tt, yy: jac(tt, yy, p)}
                                                             if implicit else {}))
            if not sol.success:
                raise RuntimeError(f"reference solve failed for subject {s} on [{t}, {tb}]: {sol.message}")
            idx = np.searchsorted(T, inside)
            out[s, idx] = sol.y[:, :-1].T
            y = sol.y[:, -1].copy()
            t = tb
            jump(t)
            k = np.searchsorted(T, t)
            if k < T.size and T[k] == t:
                out[s, k] = y
    return out

