"""Visual predictive check of a cohort run against observed data (Karlsson & Holford 2008, "A tutorial on visual
predictive checks", PAGE 17 abstr 1434; Bergstrand et al. 2011 AAPS J 13:143).

The model's distribution at an observed time is the run's subjects' band series (their values on the band grid,
:mod:`.store`) interpolated linearly in time to that time. Two results:

* **fraction outside**: the share of observed points below the model's 5th or above its 95th percentile at their
  time. Data drawn from the model itself give 10 % up to sampling noise (binomial, reported as the range that
  holds 95 % of such fractions for this number of points); a model that misses the data gives more.
* **the VPC**: observed points binned by time (each distinct time a bin when there are at most
  :data:`MAX_NOMINAL_TIMES`, else bins of equal counts); in each bin the observed 5th, 50th and 95th percentiles,
  and the model's 90 % prediction interval of each: the percentiles of :data:`REPLICATES` simulated replicates of
  the bin's observations, each replicate the values of subjects drawn with replacement from the run at the
  observations' times (a fixed generator seed: the same run and data give the same figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..observed import Observed
from .store import read_bands, read_manifest

__all__ = ["vpc", "vpc_figure", "plot_vpc", "REPLICATES", "MAX_NOMINAL_TIMES"]

REPLICATES = 200
MAX_NOMINAL_TIMES = 12
_Q = (5.0, 50.0, 95.0)


def _model_at(t_band: np.ndarray, y: np.ndarray, t: float) -> np.ndarray:
    """Every subject's value at time ``t`` (linear between band times), shape (N,)."""
    k = int(np.searchsorted(t_band, t))
    if k < t_band.size and t_band[k] == t:
        return y[:, k].astype(float)
    w = (t - t_band[k - 1]) / (t_band[k] - t_band[k - 1])
    return y[:, k - 1].astype(float) * (1 - w) + y[:, k].astype(float) * w


def vpc(run_dir, observed: Observed, *, name: str | None = None, n_bins: int = 8) -> dict:
    """The fraction of observed points outside the model's 90 % interval and the binned VPC (module docstring).

    Parameters
    ----------
    run_dir : path-like
        A finished cohort run.
    observed : Observed
    name : str, optional
        The band series compared (default: the observed data's only name).
    n_bins : int
        Time bins when the observations have more than :data:`MAX_NOMINAL_TIMES` distinct times.

    Returns
    -------
    dict
        ``series``, ``n_observed``, ``n_outside``, ``fraction_outside``, ``expected_fraction`` (0.10),
        ``binomial_95`` (the range of fractions data from the model give 95 % of the time), ``n_subjects`` (of the
        run, solved), and ``bins``: per bin ``t_lo``, ``t_hi``, ``t_mid`` (h), ``n``, ``observed`` (p5, p50, p95)
        and ``model`` ({"p5": [lo, median, hi], …}: each observed percentile's 5th/50th/95th over the replicates).

    Raises
    ------
    ValueError
        Naming the field: a name that is not a band series of the run, an observation outside the run's time
        span (row and column), no solved subjects.
    """
    from scipy.stats import binom

    spec = read_manifest(run_dir)["spec"]
    names = observed.names
    if name is None:
        if len(names) != 1:
            raise ValueError(f"name: the observed data hold {', '.join(names)}; choose one with --name")
        name = names[0]
    if name not in spec["bands"]:
        raise ValueError(f"name: {name!r} is not a band series of the run; expected one of {', '.join(spec['bands'])}")
    obs = observed.select(name)
    if obs.value.size == 0:
        raise ValueError(f"name: the observed data hold no {name!r}")
    t_band, y = read_bands(run_dir, name)
    y = y[~np.isnan(y).all(axis=1)]
    if y.shape[0] == 0:
        raise ValueError("run: no solved subjects")
    for k in np.flatnonzero((obs.time_h < t_band[0]) | (obs.time_h > t_band[-1])):
        raise ValueError(f"{obs.source} row {obs.rows[k]}, column 'TIME': {obs.time_h[k]:g} h is outside the run's "
                         f"band times [{t_band[0]:g}, {t_band[-1]:g}] h")
    times = np.unique(obs.time_h)
    at = {float(t): _model_at(t_band, y, float(t)) for t in times}
    lo_hi = {t: np.nanpercentile(v, (5.0, 95.0)) for t, v in at.items()}
    outside = np.array([not (lo_hi[float(t)][0] <= v <= lo_hi[float(t)][1]) for t, v in zip(obs.time_h, obs.value)])
    n = int(obs.value.size)
    if times.size <= MAX_NOMINAL_TIMES:
        edges = [(float(t), float(t)) for t in times]
    else:
        q = np.unique(np.quantile(obs.time_h, np.linspace(0, 1, n_bins + 1)))
        edges = [(float(a), float(b)) for a, b in zip(q[:-1], q[1:])]
    rng = np.random.default_rng(0)
    bins = []
    for i, (a, b) in enumerate(edges):
        if a == b:  # a nominal time
            m = obs.time_h == a
        else:  # [a, b), the last bin [a, b]
            m = (obs.time_h >= a) & ((obs.time_h < b) | ((i == len(edges) - 1) & (obs.time_h <= b)))
        if not m.any():
            continue
        tv, vv = obs.time_h[m], obs.value[m]
        draws = rng.integers(0, y.shape[0], size=(REPLICATES, tv.size))
        sim = np.column_stack([at[float(t)][draws[:, j]] for j, t in enumerate(tv)])  # (R, m)
        sim_q = np.nanpercentile(sim, _Q, axis=1)  # (3, R)
        model = {f"p{int(q)}": np.nanpercentile(sim_q[j], _Q).tolist() for j, q in enumerate(_Q)}
        bins.append({"t_lo": a, "t_hi": b, "t_mid": float(np.mean(tv)), "n": int(m.sum()),
                     "observed": np.percentile(vv, _Q).tolist(), "model": model})
    return {"series": name, "label": spec.get("band_labels", {}).get(name, name), "n_observed": n,
            "n_outside": int(outside.sum()), "fraction_outside": float(outside.mean()), "expected_fraction": 0.10,
            "binomial_95": [float(binom.ppf(0.025, n, 0.1) / n), float(binom.ppf(0.975, n, 0.1) / n)],
            "n_subjects": int(y.shape[0]), "replicates": REPLICATES, "bins": bins,
            "points": {"time_h": obs.time_h.tolist(), "value": obs.value.tolist(), "outside": outside.tolist()}}


def vpc_figure(result: dict):
    """The VPC (a matplotlib ``Figure``): per bin, the model's 90 % intervals of the 5th, 50th and 95th
    percentiles (shaded), the observed percentiles (lines) and the observed points (outside points in red)."""
    from ..figures import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    bins = result["bins"]
    t = np.array([b["t_mid"] for b in bins])
    for key, colour in (("p5", "tab:blue"), ("p50", "tab:red"), ("p95", "tab:blue")):
        lo = [b["model"][key][0] for b in bins]
        hi = [b["model"][key][2] for b in bins]
        ax.fill_between(t, lo, hi, color=colour, alpha=0.2, step=None,
                        label={"p5": "model 90 % PI of the 5th and 95th percentiles",
                               "p50": "model 90 % PI of the median"}.get(key))
        j = {"p5": 0, "p50": 1, "p95": 2}[key]
        ax.plot(t, [b["observed"][j] for b in bins], color=colour, lw=1.5, ls="-" if key == "p50" else "--",
                label="observed median" if key == "p50" else ("observed 5th/95th percentiles" if key == "p5" else None))
    pts = result["points"]
    out = np.asarray(pts["outside"], bool)
    tp, vp = np.asarray(pts["time_h"]), np.asarray(pts["value"])
    ax.plot(tp[~out], vp[~out], "o", ms=3, color="0.3", alpha=0.6, label="observed")
    ax.plot(tp[out], vp[out], "o", ms=3, color="tab:red", label="outside the model's 90 % interval")
    ax.set_xlabel("time (h)")
    ax.set_ylabel(result["label"])
    ax.set_title(f"VPC: {result['n_outside']} of {result['n_observed']} points "
                 f"({100 * result['fraction_outside']:.1f} %) outside the 90 % interval (expected 10 %)", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def plot_vpc(result: dict, path, *, svg: bool = True, parameters: dict | None = None) -> Path:
    """Draw :func:`vpc_figure` to ``path`` (.png, .pdf, .svg; a PNG gets an SVG twin unless ``svg`` is false),
    atomically, with ``parameters`` (the run, the data) in the file's metadata."""
    from ..figures import check_figure_path, save_figure

    path = check_figure_path(path)
    save_figure(vpc_figure(result), path, title=f"visual predictive check of {result['series']}",
                parameters=parameters or {}, svg=svg)
    return path
