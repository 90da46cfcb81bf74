"""Per-subject curve metrics of a chunk (maximum, its time, area) in one numba pass, summed row by row so that a
subject's value never depends on how many subjects share its chunk."""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["curve_metrics", "auc_linear_up_log_down"]


@functools.lru_cache(maxsize=None)
def _curve_kernel():
    """A one-pass numba kernel: per row, max, first index of the max and area (log-down or trapezoid).

    Serial (no prange): it is cheap next to the solve, and needs no lock against concurrent parallel regions.
    Compiled once and cached on disk beside this module.
    """
    import numba

    @numba.njit(cache=True, error_model="numpy")
    def curve_metrics(t, c, log_down, out):
        S, T = c.shape
        for i in range(S):
            cmax = c[i, 0]
            imax = 0
            area = 0.0
            for k in range(1, T):
                c0 = c[i, k - 1]
                c1 = c[i, k]
                dt = t[k] - t[k - 1]
                if c1 > cmax:
                    cmax = c1
                    imax = k
                if log_down and c1 < c0 and c1 > 0 and c0 > 0:
                    area += (c0 - c1) * dt / np.log(c0 / c1)
                else:
                    area += 0.5 * (c0 + c1) * dt
            out[i, 0] = cmax
            out[i, 1] = t[imax]
            out[i, 2] = area

    return curve_metrics


def curve_metrics(t: np.ndarray, c: np.ndarray, log_down: bool = True) -> tuple[np.ndarray, ...]:
    """Per row of ``c`` (S, T) over ``t`` (T,): maximum, its first time, and the area — linear-up/log-down as
    :func:`pkpd.exposure.auc` (same operations per interval, summed left to right) or plain trapezoids.

    Rows holding NaN (failed subjects) give meaningless values; the caller masks them.
    """
    c = np.ascontiguousarray(c, dtype=np.float64)
    out = np.empty((c.shape[0], 3))
    _curve_kernel()(np.ascontiguousarray(t, dtype=np.float64), c, bool(log_down), out)
    return out[:, 0], out[:, 1], out[:, 2]


def auc_linear_up_log_down(t: np.ndarray, c: np.ndarray) -> np.ndarray:
    """AUC of each row of ``c`` (S, T) over ``t`` (T,), linear-up/log-down (see :func:`curve_metrics`)."""
    return curve_metrics(t, c)[2]
