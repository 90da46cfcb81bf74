"""Dose-response curves: a sigmoid Emax (Hill) fit with confidence intervals, and the shape of a curve.

Generic (NumPy and SciPy only; knows nothing about ketamine). The model is

.. math::  E(D) = E_0 + E_{max} \\, \\frac{D^n}{ED_{50}^n + D^n}

with ``E0`` the effect without drug (a dose of 0 gives exactly ``E0``), ``Emax`` the maximal change (negative for a
falling curve), ``ED50`` the dose of half that change (same unit as the doses) and ``n`` the Hill coefficient.

* :func:`fit_hill` — weighted least squares (:func:`scipy.optimize.least_squares`, several starts), confidence
  intervals by the **delta method** (Wald intervals from the Jacobian at the optimum, covariance
  ``s² (JᵀWJ)⁻¹`` with ``s²`` the weighted residual variance, Student t with ``m − 4`` degrees of freedom). ED50
  and ``n`` are estimated on the log scale, so their intervals are symmetric in ``log ED50`` / ``log n`` and
  asymmetric in ED50 / ``n``.
* :func:`classify_shape` — monotone (increasing / decreasing), flat, inverted U or U, with the dose of the extremum.
* :func:`analyse_dose_response` — the shape and, for a monotone curve, the Hill fit; for an inverted U (or U), an
  explicit statement that the curve is non-monotonic and the dose of maximal effect instead of a fit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .parameters import is_finite_real

__all__ = ["HillFit", "Shape", "hill", "fit_hill", "classify_shape", "analyse_dose_response", "check_doses",
           "SHAPE_NOISE_SEM", "SHAPE_NOISE_FRACTION", "MIN_FIT_POINTS"]

#: an interior extremum must exceed both ends by more than this many combined SEMs …
SHAPE_NOISE_SEM = 2.0
#: … and by more than this fraction of the curve's range (guards noise-free plateaus and missing SEMs)
SHAPE_NOISE_FRACTION = 0.1
#: a Hill fit has four parameters: at least this many dose levels (distinct doses) are needed
MIN_FIT_POINTS = 4


def hill(dose, e0: float, emax: float, ed50: float, n: float) -> np.ndarray:
    """``E0 + Emax·Dⁿ/(ED50ⁿ + Dⁿ)`` (exactly ``E0`` at dose 0)."""
    d = np.asarray(dose, float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        # D^n/(ED50^n + D^n) = 1/(1 + (ED50/D)^n), stable for large n
        frac = np.where(d > 0, 1.0 / (1.0 + np.exp(n * (math.log(ed50) - np.log(np.where(d > 0, d, 1.0))))), 0.0)
    return e0 + emax * frac


@dataclass(frozen=True)
class HillFit:
    """A fitted Hill curve (:func:`fit_hill`).

    Attributes
    ----------
    e0, emax, ed50, hill : float
        Estimates (``ed50`` in the unit of the doses; ``emax`` signed).
    e0_ci, emax_ci, ed50_ci, hill_ci : (float, float)
        Confidence intervals at level ``ci`` (delta method; ED50 and n on the log scale). NaN when there are no
        residual degrees of freedom or the Jacobian is singular.
    ci : float
        Confidence level.
    residual_sd : float
        ``sqrt(Σ wᵢ rᵢ² / (m − 4))`` (in effect units for unit weights); 0 for an exact fit, NaN without degrees of
        freedom.
    n : int
        Number of points fitted (``m``).
    success : bool
    message : str
        Why the fit is not trusted when ``success`` is False (the optimiser failed, ED50 at the edge of its search
        range, i.e. outside the doses by more than a factor 1000, …).
    """

    e0: float
    emax: float
    ed50: float
    hill: float
    e0_ci: tuple[float, float]
    emax_ci: tuple[float, float]
    ed50_ci: tuple[float, float]
    hill_ci: tuple[float, float]
    ci: float
    residual_sd: float
    n: int
    success: bool
    message: str = ""

    def predict(self, dose) -> np.ndarray:
        """The fitted curve at ``dose``."""
        return hill(dose, self.e0, self.emax, self.ed50, self.hill)

    def to_dict(self) -> dict:
        """JSON-able ``{field: value}`` (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    def statement(self, unit: str = "") -> str:
        """One line: ``ED50 = … (95 % CI … – …) …, Emax …, n …``."""
        u = f" {unit}" if unit else ""
        lo, hi = self.ed50_ci
        s = (f"Hill fit: ED50 = {self.ed50:.3g}{u} ({100 * self.ci:g} % CI {lo:.3g}–{hi:.3g}{u}), "
             f"E0 = {self.e0:.3g}, Emax = {self.emax:.3g}, n = {self.hill:.3g}")
        return s if self.success else f"{s} — not trusted: {self.message}"


@dataclass(frozen=True)
class Shape:
    """The shape of a dose-response curve (:func:`classify_shape`).

    ``kind`` is one of ``"increasing"``, ``"decreasing"``, ``"flat"``, ``"inverted_u"`` (an interior maximum),
    ``"u"`` (an interior minimum); ``dose_of_max_effect`` is the dose of the largest mean (increasing, inverted U)
    or of the smallest mean (decreasing, U), i.e. of the largest change in the curve's own direction; ``reason`` says
    which rule decided."""

    kind: str
    dose_of_max_effect: float
    index: int
    reason: str

    @property
    def monotonic(self) -> bool:
        return self.kind in ("increasing", "decreasing")


def check_doses(dose, name: str = "dose", *, strict: bool = True, unit: str = "") -> np.ndarray:
    """``dose`` as a float array, checked: numbers, non-empty, 1-D, finite, >= 0, increasing (strictly with
    ``strict``); ``ValueError`` naming ``name`` (and ``unit`` in the message) otherwise."""
    u = f" {unit}" if unit else ""
    try:
        d = np.asarray(list(dose) if not isinstance(dose, np.ndarray) else dose, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected numbers{f' ({unit})' if unit else ''}, got {dose!r}") from None
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"{name}: expected at least one dose{u} (a non-empty 1-D sequence), got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{name}: expected finite doses{u}, got {d.tolist()}")
    if np.any(d < 0):
        raise ValueError(f"{name}: expected doses >= 0{u}, got {d.tolist()}")
    step = np.diff(d)
    if np.any(step < 0) or (strict and np.any(step == 0)):
        raise ValueError(f"{name}: expected a {'strictly ' if strict else ''}increasing dose grid{u}, "
                         f"got {d.tolist()}")
    return d


def _as_values(x, name: str, m: int, finite: bool = True) -> np.ndarray:
    v = np.asarray(x, dtype=float)
    if v.shape != (m,):
        raise ValueError(f"{name}: expected {m} values (one per dose), got shape {v.shape}")
    if finite and not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: expected finite values, got {v.tolist()}")
    return v


def _t_quantile(ci: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + ci / 2.0, dof))


def fit_hill(dose, effect, *, weights=None, increasing: bool | None = None, ci: float = 0.95) -> HillFit:
    """Fit ``E0 + Emax·Dⁿ/(ED50ⁿ + Dⁿ)`` to (dose, effect) by weighted least squares.

    Parameters
    ----------
    dose : (m,) array
        Doses, >= 0, in non-decreasing order (replicates allowed; 0 means no drug), at least
        :data:`MIN_FIT_POINTS` distinct positive-or-zero levels with at least 2 of them positive.
    effect : (m,) array
        Observed effect (any unit).
    weights : (m,) array, optional
        Relative weights (e.g. ``1/SEM²``), > 0; scaled by the residual variance, as ``curve_fit`` with
        ``absolute_sigma=False``.
    increasing : bool, optional
        Constrain the sign of ``Emax`` (True: >= 0, False: <= 0); None: free.
    ci : float
        Confidence level of the intervals, in (0, 1).

    Returns
    -------
    HillFit
        Intervals by the delta method: the covariance of ``θ = (E0, Emax, log ED50, log n)`` is ``s² (JᵀWJ)⁻¹``
        (J the Jacobian of the residuals at the optimum), the intervals ``θ ± t(m−4)·se`` mapped back with
        ``exp`` for ED50 and n. Search ranges: ED50 within the doses' range widened 1000-fold each way, n in
        [0.1, 20]; an estimate at the edge sets ``success=False``.

    Raises
    ------
    ValueError
        Naming the argument: unsorted or negative doses, length mismatch, non-finite values, too few dose
        levels, bad weights or ``ci``.
    """
    from scipy.optimize import least_squares

    d = check_doses(dose, "dose", strict=False)
    m = d.size
    y = _as_values(effect, "effect", m)
    w = np.ones(m) if weights is None else _as_values(weights, "weights", m)
    if np.any(w <= 0):
        raise ValueError(f"weights: expected positive weights, got {w.tolist()}")
    if not (is_finite_real(ci) and 0 < ci < 1):
        raise ValueError(f"ci: expected a confidence level in (0, 1), got {ci!r}")
    if increasing not in (None, True, False):
        raise ValueError(f"increasing: expected True, False or None, got {increasing!r}")
    levels = np.unique(d)
    pos = levels[levels > 0]
    if levels.size < MIN_FIT_POINTS or pos.size < 2:
        raise ValueError(f"dose: a Hill fit needs at least {MIN_FIT_POINTS} dose levels (2 of them > 0); got "
                         f"{levels.size} ({levels.tolist()})")
    sw = np.sqrt(w)
    logd = np.log(np.where(d > 0, d, 1.0))
    lo_ed, hi_ed = math.log(pos[0]) - math.log(1e3), math.log(pos[-1]) + math.log(1e3)
    lo_n, hi_n = math.log(0.1), math.log(20.0)

    def frac(th):
        # D^n/(ED50^n + D^n) via a logistic in log D; 0 at D = 0
        z = np.exp(th[3]) * (logd - th[2])
        return np.where(d > 0, 0.5 * (1.0 + np.tanh(0.5 * z)), 0.0)

    def resid(th):
        return sw * (th[0] + th[1] * frac(th) - y)

    def jac(th):
        n = math.exp(th[3])
        f = frac(th)
        df = np.where(d > 0, f * (1.0 - f), 0.0)  # d f / d z
        z = n * (logd - th[2])
        return sw[:, None] * np.column_stack([np.ones(m), f, th[1] * df * (-n), th[1] * df * z])

    span = float(np.ptp(y)) or 1.0
    e_lo, e_hi = -np.inf, np.inf
    if increasing is True:
        e_lo = 0.0
    elif increasing is False:
        e_hi = 0.0
    lower = [-np.inf, e_lo, lo_ed, lo_n]
    upper = [np.inf, e_hi, hi_ed, hi_n]
    first = y[d == d[0]].mean()
    last = y[d == d[-1]].mean()
    best = None
    for emax0 in ([last - first] if increasing is None else [abs(last - first) * (1 if increasing else -1)]):
        emax0 = emax0 if emax0 != 0 else (span if increasing is not False else -span)
        for led in np.log(pos[[0, pos.size // 2, -1]]):
            for ln in (0.0, math.log(3.0)):
                x0 = np.clip([first, emax0, led, ln], np.add(lower, 1e-12), np.subtract(upper, 1e-12))
                try:
                    r = least_squares(resid, x0, jac=jac, bounds=(lower, upper), method="trf", x_scale="jac",
                                      ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=5000)
                except ValueError:  # pragma: no cover - infeasible start after clipping
                    continue
                if best is None or r.cost < best.cost:
                    best = r
    th = best.x
    dof = m - 4
    rss = float(np.sum(best.fun ** 2))
    s2 = rss / dof if dof > 0 else math.nan
    nan2 = (math.nan, math.nan)
    cis = [nan2] * 4
    problems = [] if best.success else [f"optimiser: {best.message}"]
    notes = []
    if dof > 0:
        J = jac(th)
        try:
            cov = s2 * np.linalg.inv(J.T @ J)
            se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
            q = _t_quantile(ci, dof)
            cis = [(float(th[i] - q * se[i]), float(th[i] + q * se[i])) for i in range(4)]
            with np.errstate(over="ignore"):  # an unidentifiable parameter: an interval to infinity
                cis[2] = tuple(float(v) for v in np.exp(cis[2]))
                cis[3] = tuple(float(v) for v in np.exp(cis[3]))
        except np.linalg.LinAlgError:
            problems.append("singular Jacobian: the parameters are not identifiable from these doses")
    else:
        notes.append(f"no residual degrees of freedom ({m} points, 4 parameters): no confidence intervals")
    tol = 1e-6
    if th[2] - lo_ed < tol or hi_ed - th[2] < tol:
        problems.append("ED50 at the edge of its search range (1000-fold beyond the doses): the curve does not "
                        "turn within the doses")
    if th[3] - lo_n < tol or hi_n - th[3] < tol:
        problems.append("Hill coefficient at the edge of its search range [0.1, 20]")
    success = not problems
    message = "; ".join(problems + notes)
    return HillFit(e0=float(th[0]), emax=float(th[1]), ed50=math.exp(th[2]), hill=math.exp(th[3]),
                   e0_ci=cis[0], emax_ci=cis[1], ed50_ci=cis[2], hill_ci=cis[3], ci=float(ci),
                   residual_sd=math.sqrt(s2) if dof > 0 else math.nan, n=int(m), success=success,
                   message=message)


def classify_shape(dose, mean, sem=None) -> Shape:
    """The shape of a mean dose-response curve.

    Rule: let ``R`` be the range of the means and, for two doses i and j, the noise
    ``δᵢⱼ = max(SHAPE_NOISE_SEM·sqrt(semᵢ² + semⱼ²), SHAPE_NOISE_FRACTION·R)`` (2 combined SEMs, at least 10 % of
    the range). The curve is

    * ``flat`` when ``R`` is 0 or does not exceed the noise between its extreme points;
    * an ``inverted_u`` when the largest mean is at an interior dose k and exceeds the means at both end doses by
      more than ``δ`` (``U`` likewise for the smallest mean; when both hold, the larger excursion wins);
    * otherwise ``increasing`` or ``decreasing`` by the sign of (last − first) mean (or of the larger excursion
      from the first dose when the ends are equal).

    Parameters
    ----------
    dose : (m,) array
        Doses, >= 0, strictly increasing.
    mean : (m,) array
        Mean effect at each dose.
    sem : (m,) array, optional
        Standard error of each mean (default 0: only the range fraction counts as noise).
    """
    d = check_doses(dose, "dose")
    m = d.size
    y = _as_values(mean, "mean", m)
    s = np.zeros(m) if sem is None else _as_values(sem, "sem", m)
    if np.any(s < 0):
        raise ValueError(f"sem: expected standard errors >= 0, got {s.tolist()}")
    R = float(np.ptp(y))
    imax, imin = int(np.argmax(y)), int(np.argmin(y))

    def noise(i, j):
        return max(SHAPE_NOISE_SEM * math.hypot(s[i], s[j]), SHAPE_NOISE_FRACTION * R)

    if R == 0 or R <= SHAPE_NOISE_SEM * math.hypot(s[imax], s[imin]):
        two_sem = SHAPE_NOISE_SEM * math.hypot(s[imax], s[imin])
        return Shape("flat", float(d[0]), 0, f"range {R:.3g} within noise (2 SEM {two_sem:.3g})")
    bumps = []
    if 0 < imax < m - 1:
        ex = min(y[imax] - y[0], y[imax] - y[-1])
        if y[imax] - y[0] > noise(imax, 0) and y[imax] - y[-1] > noise(imax, m - 1):
            bumps.append((ex, "inverted_u", imax))
    if 0 < imin < m - 1:
        ex = min(y[0] - y[imin], y[-1] - y[imin])
        if y[0] - y[imin] > noise(imin, 0) and y[-1] - y[imin] > noise(imin, m - 1):
            bumps.append((ex, "u", imin))
    if bumps:
        ex, kind, k = max(bumps)
        what = "maximum" if kind == "inverted_u" else "minimum"
        return Shape(kind, float(d[k]), k, f"interior {what} at dose {d[k]:g} beyond both ends by {ex:.3g} "
                                           f"(> 2 SEM and > {SHAPE_NOISE_FRACTION:g} of the range {R:.3g})")
    up = y[-1] > y[0] or (y[-1] == y[0] and y[imax] - y[0] >= y[0] - y[imin])
    k = imax if up else imin
    return Shape("increasing" if up else "decreasing", float(d[k]), k,
                 "no interior extremum beyond both ends by more than the noise")


def analyse_dose_response(dose, mean, sem=None, *, ci: float = 0.95, unit: str = "") -> dict:
    """Shape, and a Hill fit when the curve is monotone.

    Returns one of

    * ``{"shape": "monotonic", "direction": "increasing"|"decreasing", "fit": HillFit.to_dict() or None,
      "dose_of_max_effect", "statement"}`` — the fit is None (with the reason in ``statement``) when there are
      fewer than :data:`MIN_FIT_POINTS` doses;
    * ``{"shape": "inverted_u"|"u", "dose_of_max_effect", "statement": "non-monotonic: …", "fit": None}``;
    * ``{"shape": "flat", "fit": None, "statement"}``.

    The fit uses weights ``1/max(SEM, 1 % of the range)²`` when SEMs are given (a floor, so that a dose with a
    near-zero SEM does not take all the weight), unit weights otherwise; ``Emax``'s sign is fixed by the direction.
    Every dict also has ``"reason"`` (the shape rule that decided).
    """
    d = check_doses(dose, "dose")
    y = _as_values(mean, "mean", d.size)
    sh = classify_shape(d, y, sem)
    u = f" {unit}" if unit else ""
    out = {"shape": sh.kind if not sh.monotonic else "monotonic", "dose_of_max_effect": sh.dose_of_max_effect,
           "reason": sh.reason, "fit": None}
    if sh.kind == "flat":
        out["statement"] = f"flat: no change with dose beyond noise ({sh.reason})"
        return out
    if not sh.monotonic:
        what = "maximum" if sh.kind == "inverted_u" else "minimum"
        name = "an inverted U" if sh.kind == "inverted_u" else "a U"
        out["statement"] = (f"non-monotonic: {name}, the readout's {what} at {sh.dose_of_max_effect:g}{u} (the dose "
                            f"of maximal effect); no Hill/ED50 fit ({sh.reason})")
        return out
    out["direction"] = sh.kind
    if np.unique(d).size < MIN_FIT_POINTS or np.sum(d > 0) < 2:
        out["statement"] = (f"monotonic ({sh.kind}); {d.size} doses are too few for a Hill fit (at least "
                            f"{MIN_FIT_POINTS}, 2 of them > 0)")
        return out
    w = None
    if sem is not None:
        s = np.asarray(sem, float)
        floor = 0.01 * float(np.ptp(y))
        w = 1.0 / np.maximum(s, floor) ** 2
    fit = fit_hill(d, y, weights=w, increasing=sh.kind == "increasing", ci=ci)
    out["fit"] = fit.to_dict()
    out["statement"] = f"monotonic ({sh.kind}); {fit.statement(unit)}"
    return out
