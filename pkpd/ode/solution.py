"""What the engine returns and the names it answers to: :class:`Solution`, the method table and status codes.

Its own module so that the code generator (which builds the result) and :func:`pkpd.ode.solve.solve` (which checks
the inputs and calls the generator) both import it, and neither imports the other back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Solution", "METHODS", "STATUS", "STATUS_OK", "STATUS_MAX_STEPS", "STATUS_NON_FINITE",
           "STATUS_STEP_TOO_SMALL"]

#: method name -> kernel code. ``auto`` starts explicit and switches a subject to Rosenbrock when it detects
#: stiffness (see :mod:`pkpd.ode._kernels`).
METHODS = {"auto": 0, "explicit": 1, "dopri5": 1, "rosenbrock": 2, "rodas4": 2, "dop853": 3, "rodas5p": 4}

#: status code -> meaning. 0 is success; the others name why a subject stopped early.
STATUS = {
    0: "ok",
    1: "max-steps: the step budget (max_steps) ran out before the end of t_eval",
    2: "non-finite: the state or its derivative became NaN or infinite",
    3: "step-too-small: the step size fell below the floating-point resolution of t",
}
STATUS_OK, STATUS_MAX_STEPS, STATUS_NON_FINITE, STATUS_STEP_TOO_SMALL = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class Solution:
    """The result of :func:`solve` for a batch of subjects.

    Attributes
    ----------
    t : ndarray, shape (n_times,)
        Output times (the ``t_eval`` given).
    y : ndarray, shape (n_subjects, n_times, n_states)
        States at the output times; rows after a subject's failure are NaN.
    status : ndarray of int, shape (n_subjects,)
        0 for success, else a key of :data:`STATUS`.
    n_accepted, n_rejected, n_rhs, n_jac : ndarray of int, shape (n_subjects,)
        Accepted and rejected steps, right-hand side and Jacobian evaluations.
    stiff : ndarray of bool, shape (n_subjects,)
        Whether the subject was integrated (from some time on) by the Rosenbrock method.
    observables : mapping of str to ndarray, shape (n_subjects, n_times)
    state_names : tuple of str
    method : str
    rtol : float
    atol : ndarray, shape (n_states,)
    """

    t: np.ndarray
    y: np.ndarray
    status: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_rhs: np.ndarray
    n_jac: np.ndarray
    stiff: np.ndarray
    state_names: tuple
    method: str
    rtol: float
    atol: np.ndarray
    observables: Mapping = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of subjects that reached the end, shape (n_subjects,)."""
        return self.status == STATUS_OK

    @property
    def failures(self) -> list[tuple[int, str]]:
        """``(subject index, reason)`` for every subject that did not finish."""
        return [(int(i), STATUS[int(self.status[i])]) for i in np.flatnonzero(self.status != STATUS_OK)]

    def state(self, name: str) -> np.ndarray:
        """One state's trajectories, shape (n_subjects, n_times)."""
        try:
            return self.y[:, :, self.state_names.index(name)]
        except ValueError:
            raise ValueError(f"unknown state {name!r}; expected one of {list(self.state_names)}") from None
