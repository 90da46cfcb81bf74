"""Identifiability of the calibrated circuit parameters: profile likelihoods and the local (Fisher / SVD) picture.

The data are the calibration targets (:data:`circuits.calibration.FIT_TARGETS`, values in
:data:`circuits.replication.CALIBRATION`), each a cohort mean with a standard error from the paper
(:data:`TARGET_SPREAD`: the Gaussian-fit SD and n of Wu 2021 FS6-3a/b; where the paper prints no spread, an
assumed SE, labelled). The model value of a target is the typical mouse's (as the calibration fits it), so the
weighted residual of a target is ``(model − target)/SE`` on the probability scale and ``χ² = Σ r²`` is −2 log L up to
a constant (independent Gaussian errors of the means).

* :func:`profile_likelihood` — for one parameter on a grid, ``Δχ²`` minimised over all the others (warm-started
  least squares); flat (``Δχ² < 3.84`` on a side, the pointwise 95 % threshold of χ²₁) means the data do not bound
  the parameter on that side within the searched range.
* :func:`local_svd` — the central-difference Jacobian ``J`` of the weighted residuals in the natural logs of the
  parameters, its SVD and ``FIM = JᵀJ``: a right singular vector whose singular value σ is below
  :data:`SIGMA_UNDETERMINED` (its 1-SE interval ``±1/σ`` wider than a factor 10) is a parameter combination the data
  do not determine; it is named as ``a·ln p1 + b·ln p2 …``.

Generic over the residual function (tested on synthetic problems with known flat directions); :func:`circuit_problem`
builds the circuit's from the calibration at run time, and :func:`identifiability` writes the table and figure
(``ketamine identifiability --out DIR``; ~3 min of CPU for the three fitted parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["TARGET_SPREAD", "target_se", "PRIOR_DECADES", "SIGMA_UNDETERMINED", "DCHI2_95", "Problem",
           "circuit_problem", "profile_likelihood", "local_svd", "name_combination", "identifiability",
           "write_identifiability"]

#: Between-mouse spread behind each calibration target: key -> (SD as a fraction, n mice, source). The SE of a
#: target (a cohort mean) is SD/√n (:func:`target_se`). Baselines are listed too (set in closed form, not fitted).
TARGET_SPREAD = {
    "slh.failure_rate.baseline": (0.03844, 105, "Wu 2021 FS6-3a: Gaussian-fit SD 3.844 %, n = 105"),
    "slh.failure_rate.lh": (0.2223, 107, "Wu 2021 FS6-3a: Gaussian-fit SD 22.23 %, n = 107"),
    "wlh.failure_rate.day1_2": (0.0710, 34, "Wu 2021 FS6-3b: Gaussian-fit SD 7.10 %, n = 34"),
    "wlh.failure_rate.day3_4": (0.1514, 34, "Wu 2021 FS6-3b: Gaussian-fit SD 15.14 %, n = 34"),
    "wlh.failure_rate.ket_day5": (0.1514, 8, "assumed: the paper prints no spread for this level; the between-mouse "
                                             "SD of wLH days 3-4 (FS6-3b, 15.14 %) at the photometry cohort's "
                                             "n = 8 (Fig 2c)"),
}
#: assumed prior range of a calibrated parameter: this many decades either side of its current value, within its
#: declared bounds (log-uniform; the profiles are searched over the same range)
PRIOR_DECADES = 2.0
#: a log-parameter combination is "not determined" when its 1-SE interval ±1/σ is wider than ±ln 10
SIGMA_UNDETERMINED = 1.0 / np.log(10.0)
#: pointwise 95 % threshold of a profile likelihood (χ² with 1 degree of freedom)
DCHI2_95 = 3.841


def target_se(keys: Sequence[str]) -> np.ndarray:
    """The standard error (fraction) of each calibration target: SD/√n of :data:`TARGET_SPREAD`."""
    missing = [k for k in keys if k not in TARGET_SPREAD]
    if missing:
        raise ValueError(f"targets: no spread for {', '.join(missing)}; add its SD and n to "
                         f"circuits.identifiability.TARGET_SPREAD")
    return np.array([TARGET_SPREAD[k][0] / np.sqrt(TARGET_SPREAD[k][1]) for k in keys])


@dataclass(frozen=True)
class Problem:
    """A weighted least-squares calibration in log-parameters.

    Attributes
    ----------
    names : tuple of str
        Parameter names (the coordinates are their natural logs).
    x_hat : ndarray (D,)
        The point estimate (log).
    lo, hi : ndarray (D,)
        Search/prior bounds (log).
    residuals : callable
        ``residuals(X)`` (B, D) -> (B, M) weighted residuals ``(model − target)/SE``; NaN where the model fails.
    targets : tuple of str
        Names of the M residuals.
    """

    names: tuple
    x_hat: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    residuals: Callable
    targets: tuple = ()


def prior_bounds(names: Sequence[str], x_hat: np.ndarray, decades: float = PRIOR_DECADES):
    """Log bounds: ``x_hat ± decades·ln 10`` within each parameter's declared bounds (:func:`circuit_space`)."""
    from .overrides import circuit_space

    space = circuit_space()
    lo = x_hat - decades * np.log(10.0)
    hi = x_hat + decades * np.log(10.0)
    for i, n in enumerate(names):
        blo, bhi = space.specs[n].bounds
        if blo > 0:
            lo[i] = max(lo[i], np.log(blo))
        hi[i] = min(hi[i], np.log(bhi))
    return lo, hi


def circuit_problem(names: Sequence[str] | None = None) -> Problem:
    """The circuit calibration as a :class:`Problem`: ``names`` (default :data:`circuits.calibration.FITTED`) at
    their current values against :data:`circuits.calibration.FIT_TARGETS` with :func:`target_se`, the typical
    mouse's targets by :func:`circuits.calibration.targets_batch` (all rows of a batch in one engine run)."""
    from .calibration import FIT_TARGETS, FITTED, fitted_values, targets_batch
    from .replication import CALIBRATION

    names = tuple(FITTED if names is None else names)
    target = np.array([CALIBRATION[k][0] for k in FIT_TARGETS])
    se = target_se(FIT_TARGETS)
    x_hat = fitted_values(names)
    lo, hi = prior_bounds(names, x_hat.copy())

    def residuals(X):
        return (targets_batch(X, names) - target) / se

    return Problem(names, x_hat, lo, hi, residuals, tuple(FIT_TARGETS))


def _chi2(problem: Problem, X) -> np.ndarray:
    r = problem.residuals(np.atleast_2d(X))
    return np.where(np.isfinite(r).all(axis=1), np.sum(r * r, axis=1), np.inf)


def _refit(problem: Problem, x0, free) -> tuple[np.ndarray, float]:
    """Least squares over the ``free`` coordinates from ``x0`` (the others fixed): (x, χ²)."""
    from scipy.optimize import least_squares

    x0 = np.asarray(x0, float)
    if not np.any(free):
        return x0, float(_chi2(problem, x0)[0])

    def fun(z):
        x = x0.copy()
        x[free] = z
        r = problem.residuals(x[None])[0]
        return np.where(np.isfinite(r), r, 1e3)

    lo, hi = problem.lo[free], problem.hi[free]
    z0 = np.clip(x0[free], lo + 1e-9, hi - 1e-9)
    res = least_squares(fun, z0, bounds=(lo, hi), method="dogbox", diff_step=1e-4, xtol=1e-10, ftol=1e-10,
                        max_nfev=200)
    x = x0.copy()
    x[free] = res.x
    return x, float(2 * res.cost)


def profile_likelihood(problem: Problem, index: int, n_grid: int = 21, refit_optimum: bool = True) -> dict:
    """The profile of parameter ``index``: ``Δχ²`` on a log grid over its bounds, minimised over the others.

    The grid runs from the optimum out to each bound (denser near the optimum), each point warm-started from its
    neighbour toward the optimum. Returns ``{"x": (G,) log values, "value": (G,) values, "dchi2": (G,),
    "chi2_min", "x_opt" (D,), "ci95": (lo, hi) values where Δχ² crosses 3.84 (None: not reached within the
    bounds), "bounded": (below, above) bools}``.
    """
    D = problem.x_hat.size
    x_opt, chi2_min = (_refit(problem, problem.x_hat, np.ones(D, bool)) if refit_optimum
                       else (problem.x_hat.copy(), float(_chi2(problem, problem.x_hat)[0])))
    free = np.ones(D, bool)
    free[index] = False
    half = max(n_grid // 2, 2)
    s = np.linspace(0.0, 1.0, half + 1)[1:] ** 1.5
    pts = {}
    for edge in (problem.lo[index], problem.hi[index]):
        x = x_opt.copy()
        for u in s:
            x = x.copy()
            x[index] = x_opt[index] + u * (edge - x_opt[index])
            x, c = _refit(problem, x, free)
            pts[float(x[index])] = c
    pts[float(x_opt[index])] = chi2_min
    xs = np.array(sorted(pts))
    chi2_min = min(chi2_min, float(np.min(np.array([pts[v] for v in xs]))))
    dchi2 = np.array([pts[v] for v in xs]) - chi2_min

    def cross(side):
        sel = xs < x_opt[index] if side < 0 else xs > x_opt[index]
        xv, dv = xs[sel], dchi2[sel]
        if side < 0:
            xv, dv = xv[::-1], dv[::-1]
        prev_x, prev_d = x_opt[index], 0.0
        for a, d in zip(xv, dv):
            if d >= DCHI2_95:
                f = (DCHI2_95 - prev_d) / (d - prev_d) if d > prev_d else 1.0
                return float(np.exp(prev_x + f * (a - prev_x)))
            prev_x, prev_d = a, d
        return None

    lo_ci, hi_ci = cross(-1), cross(+1)
    return {"x": xs, "value": np.exp(xs), "dchi2": dchi2, "chi2_min": chi2_min, "x_opt": x_opt,
            "ci95": (lo_ci, hi_ci), "bounded": (lo_ci is not None, hi_ci is not None)}


def local_svd(problem: Problem, x=None, step: float = 1e-3) -> dict:
    """The local picture at ``x`` (default the point estimate): central-difference Jacobian ``J`` (M, D) of the
    weighted residuals in log-parameters (all 2D points in one batch), its SVD, the Fisher information ``JᵀJ``, the
    correlation of the log-parameters (from its pseudo-inverse) and the undetermined combinations (σ below
    :data:`SIGMA_UNDETERMINED`, plus the D − M directions no data reach when there are fewer targets than
    parameters)."""
    x = problem.x_hat if x is None else np.asarray(x, float)
    D = x.size
    E = np.eye(D) * step
    R = problem.residuals(np.concatenate([x + E, x - E]))
    J = ((R[:D] - R[D:]) / (2 * step)).T  # (M, D)
    if not np.isfinite(J).all():
        raise RuntimeError("identifiability: the model failed next to the point estimate; no Jacobian")
    _, sv, Vt = np.linalg.svd(J, full_matrices=True)
    sig = np.zeros(D)
    sig[:sv.size] = sv
    fim = J.T @ J
    cov = np.linalg.pinv(fim)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    order = np.argsort(-sig)
    sig, V = sig[order], Vt[order]
    undetermined = [i for i in range(D) if sig[i] < SIGMA_UNDETERMINED]
    for i in undetermined:  # a parameter in an undetermined direction has no local SD (the pseudo-inverse hides it)
        sd[np.abs(V[i]) > 0.05] = np.inf
    return {"jacobian": J, "singular_values": sig, "vectors": V, "fim": fim, "correlation": corr,
            "log_sd": sd, "condition": float(sig[0] / sig[-1]) if sig[-1] > 0 else float("inf"),
            "undetermined": [{"sigma": float(sig[i]), "vector": V[i].tolist(),
                              "combination": name_combination(V[i], problem.names)} for i in undetermined]}


def name_combination(v, names: Sequence[str], tol: float = 0.05) -> str:
    """A unit vector in log-parameter space as text: ``ln g_h − 0.98 ln b1`` (largest component normalised to 1,
    components under ``tol`` of it left out)."""
    v = np.asarray(v, float)
    k = int(np.argmax(np.abs(v)))
    v = v / v[k]
    parts = []
    for c, n in sorted(zip(v, names), key=lambda t: -abs(t[0])):
        if abs(c) < tol:
            continue
        mag = "" if abs(abs(c) - 1) < 5e-3 else f"{abs(c):.2f} "
        sign = "−" if c < 0 else "+"
        parts.append(f"{sign} {mag}ln {n}")
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else text


def identifiability(names: Sequence[str] | None = None, n_grid: int = 21, progress=None) -> dict:
    """Profiles of every parameter of :func:`circuit_problem` and its :func:`local_svd` at the point estimate.
    Returns a JSON-able dict: per parameter (value, profile 95 % interval, identifiable), the singular values and
    undetermined combinations, the correlation, the targets with their SEs, and the profiles."""
    from .calibration import FIT_TARGETS
    from .replication import CALIBRATION

    problem = circuit_problem(names)
    loc = local_svd(problem)
    rows, profiles = [], {}
    for i, n in enumerate(problem.names):
        pr = profile_likelihood(problem, i, n_grid=n_grid)
        lo, hi = pr["ci95"]
        rows.append({"parameter": n, "value": float(np.exp(problem.x_hat[i])),
                     "profile_optimum": float(np.exp(pr["x_opt"][i])),
                     "ci95_lo": lo, "ci95_hi": hi, "search_lo": float(np.exp(problem.lo[i])),
                     "search_hi": float(np.exp(problem.hi[i])), "local_sd_log": float(loc["log_sd"][i]),
                     "identifiable": bool(all(pr["bounded"]))})
        profiles[n] = {"value": pr["value"].tolist(), "dchi2": pr["dchi2"].tolist()}
        if progress is not None:
            progress((i + 1) / len(problem.names))
    se = target_se(FIT_TARGETS)
    return {"parameters": rows, "profiles": profiles,
            "targets": [{"key": k, "value": CALIBRATION[k][0], "se": float(s), "spread_source": TARGET_SPREAD[k][2]}
                        for k, s in zip(FIT_TARGETS, se)],
            "singular_values": loc["singular_values"].tolist(), "condition": loc["condition"],
            "singular_vectors": loc["vectors"].tolist(), "undetermined": loc["undetermined"],
            "correlation": loc["correlation"].tolist(), "names": list(problem.names),
            "thresholds": {"dchi2_95": DCHI2_95, "sigma_undetermined": SIGMA_UNDETERMINED,
                           "prior_decades": PRIOR_DECADES}}


def write_identifiability(result: dict, out) -> list:
    """``out/identifiability.csv`` (one row per parameter), ``out/profiles.csv``, ``out/summary.json``,
    ``out/identifiability.md`` (:func:`markdown`) and ``out/identifiability.png`` (profiles and singular values),
    atomically."""
    from pathlib import Path

    from pkpd.figures import pyplot, save_figure
    from pkpd.io import atomic_path, write_json, write_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = result["parameters"]
    table = {k: [r[k] for r in rows] for k in rows[0]}
    table["ci95_lo"] = [np.nan if v is None else v for v in table["ci95_lo"]]
    table["ci95_hi"] = [np.nan if v is None else v for v in table["ci95_hi"]]
    paths = [write_table(table, out / "identifiability.csv")]
    prof = {"parameter": [], "value": [], "dchi2": []}
    for n, p in result["profiles"].items():
        prof["parameter"] += [n] * len(p["value"])
        prof["value"] += p["value"]
        prof["dchi2"] += p["dchi2"]
    paths.append(write_table(prof, out / "profiles.csv"))
    paths.append(write_json(result, out / "summary.json"))
    with atomic_path(out / "identifiability.md") as tmp:
        tmp.write_text(markdown(result))
    paths.append(out / "identifiability.md")
    plt = pyplot()
    D = len(rows)
    fig, axes = plt.subplots(1, D + 1, figsize=(3.2 * (D + 1), 3.0))
    for ax, r in zip(axes, rows):
        p = result["profiles"][r["parameter"]]
        ax.semilogx(p["value"], np.minimum(p["dchi2"], 30), "o-", ms=3)
        ax.axhline(DCHI2_95, color="grey", ls="--", lw=0.8)
        ax.axvline(r["value"], color="k", lw=0.6)
        ax.set_xlabel(r["parameter"])
        ax.set_title("identifiable" if r["identifiable"] else "not bounded", fontsize=9)
    axes[0].set_ylabel("Δχ² (profile, capped at 30)")
    sv = np.asarray(result["singular_values"])
    axes[-1].semilogy(np.arange(1, sv.size + 1), np.maximum(sv, 1e-6), "s-")
    axes[-1].axhline(SIGMA_UNDETERMINED, color="grey", ls="--", lw=0.8)
    axes[-1].set_xlabel("singular value index")
    axes[-1].set_title("SVD of weighted Jacobian", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out / "identifiability.png", title="Identifiability of the calibrated circuit parameters",
                svg=False)
    plt.close(fig)
    paths.append(out / "identifiability.png")
    return paths


def markdown(result: dict) -> str:
    """The identifiability result as markdown: one row per parameter, then the singular values and the
    undetermined combinations."""
    rows = ["| parameter | value | profile 95 % interval | local SD of ln | identifiable |", "|---|---:|---|---:|---|"]
    for r in result["parameters"]:
        sd = "∞ (undetermined)" if r["local_sd_log"] is None or not np.isfinite(r["local_sd_log"]) \
            else f"{r['local_sd_log']:.3g}"
        lo = "not reached" if r["ci95_lo"] is None else f"{r['ci95_lo']:.3g}"
        hi = "not reached" if r["ci95_hi"] is None else f"{r['ci95_hi']:.3g}"
        rows.append(f"| `{r['parameter']}` | {r['value']:.4g} | {lo} – {hi} (searched {r['search_lo']:.3g} – "
                    f"{r['search_hi']:.3g}) | {sd} | {'yes' if r['identifiable'] else '**no**'} |")
    sv = ", ".join(f"{v:.3g}" for v in result["singular_values"])
    und = "; ".join(f"`{u['combination']}` (σ = {u['sigma']:.2g})" for u in result["undetermined"]) or "none"
    cond = result["condition"]
    cond = "∞" if cond is None or not np.isfinite(cond) else f"{cond:.3g}"
    corr = np.array(result["correlation"], dtype=float)  # None (from JSON) -> NaN
    names = result["names"]
    pairs = sorted(((abs(corr[i, j]), names[i], names[j], corr[i, j]) for i in range(len(names))
                    for j in range(i + 1, len(names)) if np.isfinite(corr[i, j])), reverse=True)[:3]
    cs = ", ".join(f"{a}–{b} {c:+.2f}" for _, a, b, c in pairs)
    cs_note = " (of the pseudo-inverse: within the determined directions)" if result["undetermined"] else ""
    return ("\n".join(rows) + f"\n\nSingular values of the weighted Jacobian: {sv} (condition "
            f"{cond}). Undetermined combinations (σ < {SIGMA_UNDETERMINED:.3f}): {und}. "
            f"Largest local correlations of the logs{cs_note}: {cs}.\n")


def main(argv=None) -> int:  # pragma: no cover - the generator behind the docs' table
    import argparse
    from pathlib import Path

    from pkpd.io import replace_marked

    ap = argparse.ArgumentParser(prog="python -m circuits.identifiability", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--with", dest="extra", default="", help="further circuit parameters, comma-separated")
    ap.add_argument("--grid", type=int, default=21)
    ap.add_argument("--docs", type=Path, help="write the table between the identifiability markers of this file")
    a = ap.parse_args(argv)
    from .calibration import FITTED

    names = tuple(FITTED) + tuple(x.strip() for x in a.extra.split(",") if x.strip())
    res = identifiability(names, n_grid=a.grid)
    write_identifiability(res, a.out)
    md = markdown(res)
    print(md)
    if a.docs:
        tag = "identifiability" + ("-with" if len(names) > len(FITTED) else "")
        replace_marked(a.docs, f"<!-- {tag}:start -->", f"<!-- {tag}:end -->",
                       f"\nGenerated by `python -m circuits.identifiability --out DIR"
                       f"{' --with ' + a.extra if a.extra else ''} --docs docs/uncertainty.md`:\n\n{md}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
