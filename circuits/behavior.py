"""Behaviour and photometry readouts: pure functions of simulated traces and states.

* ΔF/F of the DA population (the paper's windows: baseline = mean of the 5 s before shock onset, peak = max within
  8 s of onset; Wu et al. 2021 eLife Methods).
* **Escape** (:func:`failure_probability`). Silencing VTA DA neurons leaves escape unchanged in naive and in
  helpless mice (Wu 2021 Fig 3f: CNO alone in hM4Di⁺ mice), so the failure probability is *not* a function of the
  DA response. It is set by the mouse's learned controllability state, carried by the slow efficacy of its mPFC
  output, ``E = w · j_PD/j_PD,ref`` (``w = ρA``, spines × potentiation, :mod:`circuits.plasticity`: falls with
  uncontrollable shock, rises with the DA/D1-gated plasticity that ketamine starts; ``j_PD/j_PD,ref`` the mouse's
  own strength of that output relative to the typical mouse's). The same ``E`` scales the mPFC→VTA drive that makes
  the post-shock DA rise, so the DA response and escape share their upstream cause and correlate without one
  driving the other (the mPFC's role in detecting control over stressors: Amat et al. 2005 Nat Neurosci 8:365;
  Maier & Seligman 2016 Psychol Rev 123:349). DA is needed for *recovery* (its D1 gate drives the potentiation A),
  not for the act of escaping.
* Escape latency is a Weibull time-to-event with cumulative hazard ``Λ(t) = Λ₁₀ (t/10 s)^k e^{b₁(E − 1)}``, so
  ``P_fail(T) = exp(−Λ(T))`` for a trial whose shock lasts T (10 s sLH, 3 s wLH) — a complementary log–log link.
  Λ₁₀ and k follow in closed form from the two baseline rates (sLH 2.19 % over 10-s trials, wLH 11.88 % over 3-s
  trials; Wu 2021 FS6-3); k < 1 is a falling hazard (a mouse that has not escaped early is less likely to). The
  mean latency (failures scored T) is ``∫₀ᵀ e^{−Λ(t)} dt``, which reproduces the tight failure–latency correlation
  (R = 0.93, Wu 2021 Fig 1b).
* The paper's individual signature (Wu 2021 Fig 2g–i: the baseline distance between the escape and failure mean
  traces in wLH): :func:`escape_failure_distance`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pkpd.parameters import check_bounds, param

__all__ = ["BehaviorParams", "escape_efficacy", "failure_probability", "mean_latency_s", "escape_latency_s",
           "photometry", "trial_windows", "dff", "escape_failure_distance", "baseline_link"]

_SLH_BASE, _WLH_BASE = 0.0219, 0.1188  # Wu 2021 FS6-3a,b: sLH (10-s trials) and wLH days 1-2 (3-s trials)


def baseline_link(p_slh: float = _SLH_BASE, p_wlh: float = _WLH_BASE, t_slh: float = 10.0,
                  t_wlh: float = 3.0) -> tuple[float, float]:
    """``(Λ₁₀, k)`` of the Weibull escape hazard from two baseline failure rates over trials of two lengths (s):
    ``−ln p = Λ₁₀ (T/10)^k`` for both (closed form; the calibration of :class:`BehaviorParams`)."""
    a, b = -np.log(p_slh), -np.log(p_wlh)
    k = np.log(b / a) / np.log(t_wlh / t_slh)
    return float(a * (10.0 / t_slh) ** k), float(k)


@dataclass(frozen=True)
class BehaviorParams:
    """The behavioural link (escape hazard as a function of the mPFC efficacy E)."""

    cumhaz_10s: float = param(3.8213, "1", "calibrated (closed form, baseline_link): cumulative escape hazard "
                              "over a 10-s trial of the typical naive mouse, -ln of the sLH baseline 2.19 % (Wu "
                              "2021 FS6-3a, n = 105)", bounds=(1e-3, 100), kind="calibrated")
    hazard_shape: float = param(0.4853, "1", "calibrated (closed form, baseline_link): Weibull shape of the escape "
                                "time, from the sLH (10-s trials) and wLH days 1-2 (3-s trials, 11.88 %, Wu 2021 "
                                "FS6-3b, n = 34) baselines", bounds=(0.05, 5), kind="calibrated")
    b1: float = param(3.9437, "1", "calibrated (circuits.calibration): log-hazard change per unit change of the "
                      "mPFC efficacy E, to sLH 74 % and wLH days 3-4 48.9 % after induction (Wu 2021 FS6-3)",
                      bounds=(0, 100), kind="calibrated")
    trial_s: float = param(10.0, "s", "Wu 2021 Methods: sLH escapable shock up to 10 s (the reference trial)",
                           bounds=(0.1, 100), kind="published")
    j_pd_ref_pA_per_Hz: float = param(355.0, "pA/Hz", "derived: the typical mouse's mPFC->DA drive (VtaParams."
                                      "j_pd_pA_per_Hz), the reference of a mouse's own mPFC output strength",
                                      bounds=(1e-6, 1e5), kind="calibrated")

    def __post_init__(self):
        check_bounds(self)


def escape_efficacy(w, j_pd_pA_per_Hz, params: BehaviorParams = BehaviorParams()):
    """``E = w · j_PD/j_PD,ref``: the slow mPFC efficacy ``w = ρA`` (array-like) scaled by the mouse's own mPFC
    output strength (dimensionless; 1 for the typical naive mouse)."""
    return np.asarray(w, float) * (np.asarray(j_pd_pA_per_Hz, float) / params.j_pd_ref_pA_per_Hz)


def _cumhaz(e, t_s, params: BehaviorParams):
    z = np.clip(params.b1 * (np.asarray(e, float) - 1.0), -700.0, 700.0)
    return params.cumhaz_10s * (np.asarray(t_s, float) / 10.0) ** params.hazard_shape * np.exp(z)


def failure_probability(e, params: BehaviorParams = BehaviorParams(), trial_s: float | None = None):
    """P(no escape) of one trial whose shock lasts ``trial_s`` (s; default ``params.trial_s``) at efficacy ``e``
    (array-like; :func:`escape_efficacy`): ``exp(−Λ(T))``."""
    return np.exp(-_cumhaz(e, params.trial_s if trial_s is None else trial_s, params))


def _survival_integral(c, k, t):
    """``∫₀ᵗ exp(−c s^k) ds`` (closed form with the regularised lower incomplete gamma function)."""
    from scipy.special import gamma, gammainc

    c = np.maximum(np.asarray(c, float), 1e-300)
    return gamma(1.0 / k) * gammainc(1.0 / k, c * t ** k) / (k * c ** (1.0 / k))


def mean_latency_s(e, params: BehaviorParams = BehaviorParams(), trial_s: float | None = None):
    """Mean latency (s) over trials, failures scored T = ``trial_s``: ``∫₀ᵀ exp(−Λ(t)) dt``."""
    t = params.trial_s if trial_s is None else trial_s
    c = _cumhaz(e, 1.0, params)  # Λ(t) = c t^k, t in s
    return _survival_integral(c, params.hazard_shape, t)


def escape_latency_s(e, params: BehaviorParams = BehaviorParams(), trial_s: float | None = None):
    """Mean latency (s) of the *escaping* trials, ``E[L | L < T] = (∫₀ᵀ S dt − T·S(T))/(1 − S(T))`` with
    ``S = exp(−Λ)``; tends to T/2 as escapes become rare (array-like ``e``)."""
    t = params.trial_s if trial_s is None else trial_s
    c = _cumhaz(e, 1.0, params)
    s_t = np.exp(-c * t ** params.hazard_shape)
    num = _survival_integral(c, params.hazard_shape, t) - t * s_t
    return np.where(s_t < 1 - 1e-9, num / np.maximum(1.0 - s_t, 1e-300), t / 2.0)


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
