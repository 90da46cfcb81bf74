"""Exposure metrics of a sampled concentration–time curve (non-compartmental analysis) and of occupancy.

Conventions follow standard NCA practice (Gabrielsson & Weiner, *Pharmacokinetic and Pharmacodynamic Data
Analysis*, 5th ed., ch. 2):

* AUC by the **linear-up / log-down** trapezoidal rule: linear where the concentration rises or stays level,
  logarithmic where it falls (exact for a mono-exponential decline).
* Terminal rate constant ``λz`` by log-linear least squares on the last ``n ≥ 3`` positive points after Cmax;
  ``n`` maximises the adjusted R², and among fits within 1e-4 of the best the one with most points is taken.
* ``AUC(0–∞) = AUC(0–tlast) + C_last / λz``.
* Time above a threshold with crossing times interpolated linearly.

All functions take times ``t`` (h) and values ``c`` of the same shape (n,), and return plain floats (``None`` where a
quantity cannot be estimated), so that results serialise to JSON directly.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cmax_tmax", "auc", "terminal_phase", "auc_inf", "time_above", "occupancy_metrics",
           "concentration_metrics", "summarize"]


def _check(t, c):
    t = np.asarray(t, float)
    c = np.asarray(c, float)
    if t.ndim != 1 or t.shape != c.shape or t.size < 2:
        raise ValueError(f"t and c must be 1-D arrays of the same length >= 2, got shapes {t.shape} and {c.shape}")
    if not (np.diff(t) > 0).all():
        raise ValueError("t must be strictly increasing")
    return t, c


def cmax_tmax(t, c) -> tuple[float, float]:
    """Maximum value and the first time it is reached."""
    t, c = _check(t, c)
    i = int(np.argmax(c))
    return float(c[i]), float(t[i])


def auc(t, c, t_start: float | None = None, t_end: float | None = None) -> float:
    """Area under ``c(t)`` from ``t_start`` to ``t_end`` (defaults: the sampled span), linear-up/log-down.

    Interval ends that fall between samples are handled by restricting to the samples inside (pass sample times
    for exact limits).
    """
    t, c = _check(t, c)
    m = np.ones_like(t, bool)
    if t_start is not None:
        m &= t >= t_start
    if t_end is not None:
        m &= t <= t_end
    t, c = t[m], c[m]
    if t.size < 2:
        return 0.0
    dt = np.diff(t)
    c0, c1 = c[:-1], c[1:]
    lin = 0.5 * (c0 + c1) * dt
    down = (c1 < c0) & (c1 > 0) & (c0 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logd = (c0 - c1) * dt / np.log(c0 / c1)
    return float(np.sum(np.where(down, logd, lin)))


def terminal_phase(t, c, min_points: int = 3) -> dict | None:
    """Terminal log-linear fit: ``{"lambda_z_per_h", "half_life_h", "r2_adj", "n_points", "t_first_h"}``.

    Returns None when fewer than ``min_points`` positive samples follow Cmax.
    """
    t, c = _check(t, c)
    i = int(np.argmax(c))
    tt, cc = t[i + 1:], c[i + 1:]
    ok = cc > 0
    tt, cc = tt[ok], np.log(cc[ok])
    n_all = tt.size
    if n_all < min_points:
        return None
    best = None
    fits = []
    for n in range(min_points, n_all + 1):
        x, y = tt[-n:], cc[-n:]
        xm, ym = x.mean(), y.mean()
        sxx = np.sum((x - xm) ** 2)
        slope = np.sum((x - xm) * (y - ym)) / sxx
        resid = y - (ym + slope * (x - xm))
        sst = np.sum((y - ym) ** 2)
        r2 = 1.0 - np.sum(resid ** 2) / sst if sst > 0 else 1.0
        r2_adj = 1.0 - (1.0 - r2) * (n - 1) / (n - 2)
        fits.append((r2_adj, n, slope, x[0]))
        if best is None or r2_adj > best:
            best = r2_adj
    r2_adj, n, slope, t_first = max((f for f in fits if f[0] >= best - 1e-4), key=lambda f: f[1])
    if not slope < 0:
        return None
    lam = -slope
    return {"lambda_z_per_h": float(lam), "half_life_h": float(math.log(2) / lam), "r2_adj": float(r2_adj),
            "n_points": int(n), "t_first_h": float(t_first)}


def auc_inf(t, c, phase: dict | None = None) -> float | None:
    """``AUC(0–∞)`` = AUC over the samples + ``C_last/λz`` (None if λz cannot be estimated)."""
    t, c = _check(t, c)
    phase = terminal_phase(t, c) if phase is None else phase
    if phase is None:
        return None
    return auc(t, c) + float(c[-1]) / phase["lambda_z_per_h"]


def time_above(t, c, threshold: float) -> float:
    """Total time (h) with ``c > threshold``, crossing times interpolated linearly between samples."""
    t, c = _check(t, c)
    total = 0.0
    for k in range(t.size - 1):
        a, b = c[k] - threshold, c[k + 1] - threshold
        dt = t[k + 1] - t[k]
        if a > 0 and b > 0:
            total += dt
        elif a > 0 >= b:
            total += dt * a / (a - b)
        elif b > 0 >= a:
            total += dt * b / (b - a)
    return float(total)


def concentration_metrics(t, c, threshold_uM: float | None = None) -> dict:
    """Cmax, Tmax, AUC(0–t), AUC(0–∞), terminal half-life (and time above ``threshold_uM``) of one curve."""
    cmax, tmax = cmax_tmax(t, c)
    phase = terminal_phase(t, c)
    out = {"cmax_uM": cmax, "tmax_h": tmax, "auc_0_t_uM_h": auc(t, c),
           "auc_0_inf_uM_h": auc_inf(t, c, phase) if phase else None,
           "half_life_h": phase["half_life_h"] if phase else None}
    if threshold_uM is not None:
        out["time_above_threshold_h"] = time_above(t, c, threshold_uM)
        out["threshold_uM"] = threshold_uM
    return out


def occupancy_metrics(t, occ, threshold: float = 0.5) -> dict:
    """Peak occupancy, its time, area under the occupancy curve (h) and time above ``threshold``."""
    peak, tpeak = cmax_tmax(t, occ)
    t, occ = _check(t, occ)
    area = float(np.sum(0.5 * (occ[1:] + occ[:-1]) * np.diff(t)))
    return {"peak": peak, "t_peak_h": tpeak, "area_h": area, "time_above_threshold_h": time_above(t, occ, threshold),
            "threshold": threshold}


def summarize(result, threshold_uM: float | None = None, occupancy_threshold: float = 0.5) -> dict:
    """Exposure metrics of a :class:`pkpd.pk.PkResult`, with the provenance needed to read them (doses, salt).

    Plasma ketamine metrics are also given in ng/mL. The brain:plasma AUC ratio of ketamine is included.
    """
    from .units import uM_to_ng_per_mL

    t = result.t_h
    cols = result.columns
    out = {k: result.metadata[k] for k in ("species", "pk_model", "drug", "weight_kg", "sex", "doses", "duration_h")}
    for name in ("plasma_ketamine", "brain_ketamine", "brain_free_ketamine", "plasma_norketamine",
                 "brain_norketamine", "brain_free_norketamine"):
        out[name] = concentration_metrics(t, cols[f"{name}_uM"], threshold_uM)
    pk = out["plasma_ketamine"]
    pk["cmax_ng_per_ml"] = float(uM_to_ng_per_mL(pk["cmax_uM"], "ketamine"))
    pk["auc_0_t_ng_h_per_ml"] = float(uM_to_ng_per_mL(pk["auc_0_t_uM_h"], "ketamine"))
    a_p, a_b = pk["auc_0_t_uM_h"], out["brain_ketamine"]["auc_0_t_uM_h"]
    out["brain_to_plasma_auc_ratio"] = a_b / a_p if a_p > 0 else None
    for cell in ("interneuron", "pyramidal"):
        out[f"nmda_occupancy_{cell}"] = occupancy_metrics(t, cols[f"nmda_occupancy_{cell}"], occupancy_threshold)
    return out
