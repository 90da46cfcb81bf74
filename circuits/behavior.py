"""Behaviour and photometry readouts: pure functions of simulated traces and states.

* ΔF/F of the DA population (the paper's windows: baseline = mean of the 5 s before shock onset, peak = max within
  8 s of onset; Wu et al. 2021 eLife Methods).
* Failure probability of a 10-s escape trial from the post-shock DA response relative to the same subject before
  induction, ``R̂``: ``logit P_fail = b₀ − b₁ (R̂ − 1)``. With a constant escape hazard λ, ``P_fail = e^(−λT)`` and
  the mean latency (failures scored T) is ``(1 − P_fail)/λ`` — which reproduces the tight failure–latency
  correlation (R = 0.93, Wu 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pkpd.parameters import check_bounds, param

__all__ = ["BehaviorParams", "failure_probability", "mean_latency_s", "photometry", "trial_windows"]


@dataclass(frozen=True)
class BehaviorParams:
    """The behavioural link."""

    b0: float = param(-3.794, "1", "calibrated: logit of the sLH baseline failure rate 2.2 % (Wu 2021, n = 105) "
                      "at R = 1", bounds=(-20, 20), kind="calibrated")
    b1: float = param(10.532, "1", "calibrated (with the slow-plasticity parameters, circuits.calibration): sLH "
                      "74 % after induction (Wu 2021, n = 107) with the DA response about halved",
                      bounds=(0, 100), kind="calibrated")
    trial_s: float = param(10.0, "s", "Wu 2021 Methods: escapable shock up to 10 s", bounds=(0.1, 100),
                           kind="published")

    def __post_init__(self):
        check_bounds(self)


def failure_probability(r_rel, params: BehaviorParams = BehaviorParams()):
    """P(failure) of one escape trial from the relative DA response ``r_rel`` (array-like)."""
    z = params.b0 - params.b1 * (np.asarray(r_rel, float) - 1.0)
    return 1.0 / (1.0 + np.exp(-z))


def mean_latency_s(p_fail, params: BehaviorParams = BehaviorParams()):
    """Mean escape latency (s; failures scored T) under a constant hazard ``λ = −ln P_fail / T``."""
    p = np.clip(np.asarray(p_fail, float), 1e-12, 1 - 1e-12)
    lam = -np.log(p) / params.trial_s
    return (1.0 - p) / lam


def trial_windows(t_s, onset_s: float, *, baseline_s: float = 5.0, peak_s: float = 8.0):
    """Boolean masks (baseline, peak window) over a trial time axis in seconds."""
    t = np.asarray(t_s, float)
    return (t >= onset_s - baseline_s) & (t < onset_s), (t >= onset_s) & (t <= onset_s + peak_s)


def photometry(trace, t_s, onset_s: float, shock_s: float = 3.0, f_ref=None):
    """Shock-response metrics of DA-population traces.

    Parameters
    ----------
    trace : ndarray, shape (..., n_times)
        Indicator signal (Hz-equivalent).
    t_s : ndarray, shape (n_times,)
        Trial time, s.
    onset_s, shock_s : float
        Shock onset and duration, s.
    f_ref : ndarray or float, optional
        Normaliser for ΔF/F (default: each trace's own baseline).

    Returns
    -------
    dict of ndarray, shape (...)
        ``baseline``, ``peak`` (max rise within 8 s, above baseline), ``dip`` (min during the shock, below
        baseline, ≤ 0), ``dff_peak`` and ``dff_dip`` (divided by ``f_ref``).
    """
    tr = np.asarray(trace, float)
    base_m, peak_m = trial_windows(t_s, onset_s)
    during = (np.asarray(t_s) >= onset_s) & (np.asarray(t_s) <= onset_s + shock_s)
    # summed in index order (cumsum): ndarray.mean's rounding depends on how many traces the array holds, and a
    # subject's readout must not depend on its chunk
    base = np.cumsum(tr[..., base_m], axis=-1)[..., -1] / np.count_nonzero(base_m)
    peak = tr[..., peak_m].max(axis=-1) - base
    dip = tr[..., during].min(axis=-1) - base
    ref = base if f_ref is None else np.asarray(f_ref, float)
    return {"baseline": base, "peak": peak, "dip": dip, "dff_peak": peak / ref, "dff_dip": dip / ref}

