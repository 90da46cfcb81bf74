"""Behaviour and photometry readouts: pure functions of simulated traces and states.

* ΔF/F of the DA population (the paper's windows: baseline = mean of the 5 s before shock onset, peak = max within
  8 s of onset; Wu et al. 2021 eLife Methods).
* Failure probability of a 10-s escape trial from the post-shock DA response ``R̂`` relative to the *typical* naive
  mouse's (:func:`response_index`; ``peak_ref_Hz``): ``logit P_fail = b₀ − b₁ (R̂ − 1)``. Behaviour reads the
  size of the DA signal itself, so a mouse whose mPFC→VTA drive is weaker than typical escapes less often at
  baseline and falls further under stress; photometry, which normalises each animal to itself, reports the same
  response relative to that subject before induction (``r_rel`` of :mod:`circuits.experiments`). This is what lets
  the baseline DA signature predict the later outcome (Wu 2021; see :func:`circuits.experiments.wu2021`). With a
  constant escape hazard λ, ``P_fail = e^(−λT)`` and the mean latency (failures scored T) is ``(1 − P_fail)/λ`` —
  which reproduces the tight failure–latency correlation (R = 0.93, Wu 2021). Under the same hazard, an escaping
  trial ends at the mean latency of escapes ``E[L | L < T] = 1/λ − T·P_fail/(1 − P_fail)``
  (:func:`escape_latency_s`), the shock duration of the model's escape readout trials.
* The paper's individual signature (Wu 2021: "the baseline distance between escape and failure mean traces"
  predicts helplessness, R² 0.63, and the ketamine response, R² 0.72): :func:`escape_failure_distance`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pkpd.parameters import check_bounds, param

__all__ = ["BehaviorParams", "response_index", "failure_probability", "mean_latency_s", "escape_latency_s",
           "photometry", "trial_windows", "dff", "escape_failure_distance"]


@dataclass(frozen=True)
class BehaviorParams:
    """The behavioural link."""

    b0: float = param(-3.794, "1", "calibrated: logit of the sLH baseline failure rate 2.2 % (Wu 2021, n = 105) "
                      "at R = 1", bounds=(-20, 20), kind="calibrated")
    b1: float = param(10.545, "1", "calibrated (with the slow-plasticity parameters, circuits.calibration): sLH "
                      "74 % after induction (Wu 2021, n = 107) with the DA response about halved",
                      bounds=(0, 100), kind="calibrated")
    trial_s: float = param(10.0, "s", "Wu 2021 Methods: escapable shock up to 10 s", bounds=(0.1, 100),
                           kind="published")
    peak_ref_Hz: float = param(2.2589, "Hz", "derived: the typical naive mouse's post-shock DA-population peak "
                               "(rise of the indicator above its pre-shock baseline within 8 s of a 3-s shock), so "
                               "R̂ = 1 for it (tests/circuits/test_individual.py recomputes it)", bounds=(1e-6, 1e3),
                               kind="calibrated")

    def __post_init__(self):
        check_bounds(self)


def response_index(peak_Hz, params: BehaviorParams = BehaviorParams()):
    """``R̂``, the behavioural link's input: post-shock DA-population peak(s) ``peak_Hz`` (Hz, array-like; the
    ``peak`` of :func:`photometry`) relative to the typical naive mouse's, ``params.peak_ref_Hz``."""
    return np.asarray(peak_Hz, float) / params.peak_ref_Hz


def failure_probability(r_rel, params: BehaviorParams = BehaviorParams()):
    """P(failure) of one escape trial from the DA response ``r_rel`` = R̂ (array-like; :func:`response_index`)."""
    z = params.b0 - params.b1 * (np.asarray(r_rel, float) - 1.0)
    return 1.0 / (1.0 + np.exp(-z))


def mean_latency_s(p_fail, params: BehaviorParams = BehaviorParams()):
    """Mean escape latency (s; failures scored T) under a constant hazard ``λ = −ln P_fail / T``."""
    p = np.clip(np.asarray(p_fail, float), 1e-12, 1 - 1e-12)
    lam = -np.log(p) / params.trial_s
    return (1.0 - p) / lam


def escape_latency_s(p_fail, params: BehaviorParams = BehaviorParams()):
    """Mean latency (s) of the *escaping* trials under the constant hazard ``λ = −ln P_fail / T`` of
    :func:`mean_latency_s`: the exponential latency truncated at the trial's cap T,

        E[L | L < T] = ∫₀ᵀ t λe^(−λt) dt / (1 − e^(−λT)) = 1/λ − T·P_fail / (1 − P_fail),

    which tends to T/2 as P_fail → 1 (λ → 0) and to 1/λ as P_fail → 0. ``p_fail`` is array-like (clipped to
    [1e-12, 1 − 1e-9]).
    """
    p = np.clip(np.asarray(p_fail, float), 1e-12, 1 - 1e-9)
    lam = -np.log(p) / params.trial_s
    return 1.0 / lam - params.trial_s * p / (1.0 - p)


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


def dff(trace, t_s, onset_s: float):
    """ΔF/F of indicator traces (..., n_times): (F − F₀)/F₀ with F₀ each trace's mean over the 5 s before onset
    (Wu 2021 Methods)."""
    tr = np.asarray(trace, float)
    base_m, _ = trial_windows(t_s, onset_s)
    base = np.cumsum(tr[..., base_m], axis=-1)[..., -1] / np.count_nonzero(base_m)
    return (tr - base[..., None]) / base[..., None]


def escape_failure_distance(escape, failure, t_s, onset_s: float, *, window_s: float = 8.0):
    """The paper's individual signature: the distance between a subject's escape and failure ΔF/F traces.

    Defined here as the **root-mean-square difference** of the two ΔF/F traces (each normalised by its own 5-s
    pre-onset baseline, :func:`dff`) over the paper's response window, onset to onset + 8 s::

        D = sqrt( mean_{onset ≤ t ≤ onset + 8 s} (ΔF/F_escape(t) − ΔF/F_failure(t))² )

    Why RMS: Wu 2021 call it a *distance between mean traces*, i.e. between whole time courses, not between two
    peaks; the RMS difference is that L2 distance divided by √(window), so it is in ΔF/F units and independent
    of the sampling step (the mean is over the window's samples, both ends included, on an evenly sampled axis).
    It weighs the whole window: the phase where the escape trial has ended its shock (rise) while the failure
    trial is still shocked, and any difference of the dips; a peak-to-peak difference would ignore the shape.

    Parameters
    ----------
    escape, failure : ndarray (..., n_times)
        Indicator traces (any units; ΔF/F is taken here) of the escape and failure trials, same time axis.
    t_s : ndarray (n_times,)
        Trial time, s. ``onset_s``: shock onset, s. ``window_s``: the response window (8 s, Wu 2021).

    Returns
    -------
    ndarray (...)
        D in ΔF/F units (fraction; × 100 for %).
    """
    t = np.asarray(t_s, float)
    win = (t >= onset_s) & (t <= onset_s + window_s + 1e-9)
    d = dff(escape, t, onset_s)[..., win] - dff(failure, t, onset_s)[..., win]
    return np.sqrt(np.cumsum(d * d, axis=-1)[..., -1] / np.count_nonzero(win))
