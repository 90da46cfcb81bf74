"""A posterior of the calibrated circuit parameters (Bayesian MCMC, emcee), stored as an ensemble of parameter sets.

Likelihood: the calibration targets (:data:`circuits.calibration.FIT_TARGETS`) as independent Gaussian cohort
means with the paper's standard errors (:func:`circuits.identifiability.target_se`), the model value being the
typical mouse's (as the calibration fits it). Prior: log-uniform over
:data:`circuits.identifiability.PRIOR_DECADES` decades either side of the current values, within the declared
bounds (assumed). Sampler: the affine-invariant ensemble sampler (Foreman-Mackey et al. 2013 PASP 125:306) with
``vectorize=True``: each half-ensemble of walkers is one batched engine run
(:func:`circuits.calibration.targets_batch`).

The ensemble is stored in :data:`POSTERIOR_PATH` keyed to :func:`model_version` (a hash of the circuit's equations,
parameter defaults, behaviour link, calibration targets and their spreads): :func:`load_posterior` refuses a file
from another model version. Regenerate with ``python -m circuits.posterior`` (~10 min on one core).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["POSTERIOR_PATH", "POSTERIOR_FORMAT", "model_version", "run_mcmc", "generate", "load_posterior",
           "posterior_status", "draw_sets", "draw_overrides", "median_ci90", "posterior_cohort", "with_intervals",
           "wu2021_posterior", "regimens_posterior", "markdown"]

POSTERIOR_PATH = Path(__file__).parent / "data" / "posterior.json"
POSTERIOR_FORMAT = 1
#: the generator's defaults: walkers, steps, burn-in steps discarded, thinning, parameter sets stored
N_WALKERS, N_STEPS, BURN, N_SETS = 64, 1500, 300, 400


def model_version() -> str:
    """A 16-hex-digit hash of what a posterior depends on: the circuit system's equations (its fingerprint and the
    readout-trial system's), every circuit parameter's default value, the behaviour link's source, the fitted
    names, the targets' values and spreads, and the prior's range."""
    import inspect

    from . import behavior
    from .calibration import FIT_TARGETS, FITTED
    from .identifiability import PRIOR_DECADES, TARGET_SPREAD
    from .model import circuit_system, parameter_rows, trial_system
    from .replication import CALIBRATION

    parts = {"equations": [circuit_system().fingerprint, trial_system().fingerprint],
             "defaults": [[r["group"], r["name"], r["value"]] for r in parameter_rows()],
             "behavior": inspect.getsource(behavior), "fitted": list(FITTED), "targets": list(FIT_TARGETS),
             "values": [CALIBRATION[k][0] for k in FIT_TARGETS],
             "spreads": [list(TARGET_SPREAD[k][:2]) for k in FIT_TARGETS], "prior_decades": PRIOR_DECADES}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_mcmc(log_prob: Callable, x0, scale, *, n_walkers: int = N_WALKERS, n_steps: int = N_STEPS, burn: int = BURN,
             seed: int = 0, progress=None) -> dict:
    """emcee's ensemble sampler on a vectorised ``log_prob`` ((W, D) -> (W,)), walkers started in a Gaussian ball
    of per-coordinate ``scale`` around ``x0``.

    Returns ``{"chain": (n_steps − burn, W, D) after burn-in, "log_prob": (n_steps − burn, W), "acceptance": mean
    acceptance fraction, "tau": (D,) integrated autocorrelation times (steps; NaN if the chain is too short for an
    estimate), "evaluations": number of log_prob rows evaluated}``.
    """
    import emcee

    x0 = np.asarray(x0, float)
    D = x0.size
    if n_walkers < 2 * D or n_walkers % 2:
        raise ValueError(f"n_walkers: expected an even number >= {2 * D}, got {n_walkers}")
    if not 0 <= burn < n_steps:
        raise ValueError(f"burn: expected 0 <= burn < n_steps ({n_steps}), got {burn}")
    rng = np.random.default_rng(seed)
    p0 = x0 + np.asarray(scale, float) * rng.standard_normal((n_walkers, D))
    lp0 = log_prob(p0)
    for _ in range(100):  # redraw walkers that start where the prior or the model rejects them
        bad = ~np.isfinite(lp0)
        if not bad.any():
            break
        p0[bad] = x0 + 0.5 * np.asarray(scale) * rng.standard_normal((bad.sum(), D))
        lp0[bad] = log_prob(p0[bad])
    count = [int(n_walkers)]

    def counted(X):
        count[0] += len(X)
        return log_prob(X)

    sampler = emcee.EnsembleSampler(n_walkers, D, counted, vectorize=True)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()  # reproducible moves
    for i, _ in enumerate(sampler.sample(emcee.State(p0, log_prob=lp0), iterations=n_steps)):
        if progress is not None and (i + 1) % 10 == 0:
            progress((i + 1) / n_steps)
    try:
        tau = sampler.get_autocorr_time(discard=burn, quiet=True)
    except Exception:  # noqa: BLE001 - emcee raises its own AutocorrError on too short chains
        tau = np.full(D, np.nan)
    return {"chain": sampler.get_chain(discard=burn), "log_prob": sampler.get_log_prob(discard=burn),
            "acceptance": float(np.mean(sampler.acceptance_fraction)), "tau": np.asarray(tau, float),
            "evaluations": count[0]}


def _log_prob(problem):
    """The circuit posterior's vectorised log density in the problem's log-parameters (uniform prior in the box)."""

    def f(X):
        X = np.atleast_2d(X)
        out = np.full(len(X), -np.inf)
        inside = np.all((X >= problem.lo) & (X <= problem.hi), axis=1)
        if inside.any():
            r = problem.residuals(X[inside])
            ok = np.isfinite(r).all(axis=1)
            lp = np.full(r.shape[0], -np.inf)
            lp[ok] = -0.5 * np.sum(r[ok] ** 2, axis=1)
            out[inside] = lp
        return out

    return f


def generate(path=POSTERIOR_PATH, *, n_walkers: int = N_WALKERS, n_steps: int = N_STEPS, burn: int = BURN,
             n_sets: int = N_SETS, seed: int = 0, progress=None) -> dict:
    """Sample the circuit posterior and write ``n_sets`` parameter sets (evenly thinned from the post-burn-in
    chain) with the model version, the chain's diagnostics and cost to ``path`` (atomically). Returns the record."""
    from pkpd.io import write_json

    from .calibration import FIT_TARGETS
    from .identifiability import circuit_problem, local_svd, target_se

    problem = circuit_problem()
    version = model_version()
    t0 = time.perf_counter()
    loc = local_svd(problem)
    scale = np.clip(0.2 * loc["log_sd"], 1e-3, 0.5)  # a ball well inside the local posterior width
    res = run_mcmc(_log_prob(problem), problem.x_hat, scale, n_walkers=n_walkers, n_steps=n_steps, burn=burn,
                   seed=seed, progress=progress)
    seconds = time.perf_counter() - t0
    flat = res["chain"].reshape(-1, problem.x_hat.size)
    lp = res["log_prob"].reshape(-1)
    if n_sets > flat.shape[0]:
        raise ValueError(f"n_sets: expected at most {flat.shape[0]} (the post-burn-in samples), got {n_sets}")
    idx = np.linspace(0, flat.shape[0] - 1, n_sets).round().astype(int)
    sets = np.exp(flat[idx])
    q = np.percentile(np.exp(flat), [5, 50, 95], axis=0)
    record = {
        "format": POSTERIOR_FORMAT, "model_version": version, "names": list(problem.names),
        "sets": sets.tolist(), "log_prob": lp[idx].tolist(),
        "point_estimate": np.exp(problem.x_hat).tolist(),
        "summary": {n: {"p05": float(q[0, i]), "median": float(q[1, i]), "p95": float(q[2, i])}
                    for i, n in enumerate(problem.names)},
        "targets": [{"key": k, "se": float(s)} for k, s in zip(FIT_TARGETS, target_se(FIT_TARGETS))],
        "prior": {"kind": "log-uniform", "lo": np.exp(problem.lo).tolist(), "hi": np.exp(problem.hi).tolist()},
        "sampler": {"package": "emcee", "walkers": n_walkers, "steps": n_steps, "burn": burn, "seed": seed,
                    "acceptance": res["acceptance"], "tau_steps": res["tau"].tolist(),
                    "steps_over_tau": float((n_steps - burn) / np.nanmax(res["tau"]))
                    if np.isfinite(res["tau"]).any() else None,
                    "evaluations": res["evaluations"], "seconds": seconds,
                    "evaluations_per_s": res["evaluations"] / seconds},
        "regenerate": "python -m circuits.posterior",
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json(record, path)
    return record


def load_posterior(path=None, *, required: bool = False) -> dict | None:
    """The stored posterior (:func:`generate`'s record, ``sets`` as an (S, D) array) if it matches this model's
    :func:`model_version`. A missing file: ``None`` (``ValueError`` if ``required``); a file from another model
    version or format: ``ValueError`` (one line: what to regenerate)."""
    path = Path(path) if path is not None else POSTERIOR_PATH
    if not path.is_file():
        if required:
            raise ValueError(f"posterior: no posterior file at {str(path)!r}; generate it with "
                             f"`python -m circuits.posterior`")
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"posterior: {str(path)!r} is not a posterior file ({e})") from None
    if not isinstance(rec, dict) or rec.get("format") != POSTERIOR_FORMAT:
        raise ValueError(f"posterior: {str(path)!r} has format {rec.get('format') if isinstance(rec, dict) else '?'}"
                         f", expected {POSTERIOR_FORMAT}; regenerate it with `python -m circuits.posterior`")
    mv = model_version()
    if rec.get("model_version") != mv:
        raise ValueError(f"posterior: {str(path)!r} was made for model version {rec.get('model_version')}, this "
                         f"model is {mv}; regenerate it with `python -m circuits.posterior`")
    rec["sets"] = np.asarray(rec["sets"], float)
    return rec


def posterior_status(path=None) -> tuple[dict | None, str]:
    """``(record or None, one-line reason)``: for the default of ``--posterior``, which falls back to the point
    estimate with the reason instead of failing."""
    try:
        rec = load_posterior(path, required=True)
    except ValueError as e:
        return None, str(e)
    return rec, f"posterior: {len(rec['sets'])} parameter sets, model version {rec['model_version']}"


def draw_sets(record: dict, k: int, seed: int = 0) -> list[dict]:
    """``k`` distinct parameter sets (name -> value) drawn from a posterior record without replacement."""
    S = record["sets"].shape[0]
    if not 1 <= k <= S:
        raise ValueError(f"posterior_draws: expected 1 to {S} (the stored parameter sets), got {k}")
    idx = np.sort(np.random.default_rng([int(seed), 14]).choice(S, k, replace=False))
    return [dict(zip(record["names"], map(float, record["sets"][i]))) for i in idx]


def draw_overrides(record: dict, k: int, seed: int = 0, params=None) -> tuple[list[dict], list[str]]:
    """``k`` posterior parameter sets (:func:`draw_sets`) as circuit overrides, each merged with the user's
    ``params`` (which win over the posterior's values of the same parameter). Returns ``(overrides per draw,
    sorted names of the posterior parameters the user overrode)``."""
    from .overrides import circuit_space

    fixed = set(circuit_space().resolve(dict(params))) if params else set()
    sets = [{**{n: v for n, v in st.items() if n not in fixed}, **dict(params or {})}
            for st in draw_sets(record, k, seed)]
    return sets, sorted(fixed & set(record["names"]))


def median_ci90(a) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and 5th/95th percentiles (NumPy linear) over axis 0 of ``a`` (draws first), of the finite values
    only; NaN where no draw is finite."""
    a = np.asarray(a, float)
    out = np.full((3, *a.shape[1:]), np.nan)
    flat, res = a.reshape(a.shape[0], -1), out.reshape(3, -1)
    for j in range(flat.shape[1]):
        ok = flat[:, j][np.isfinite(flat[:, j])]
        if ok.size:
            res[:, j] = [np.median(ok), np.percentile(ok, 5), np.percentile(ok, 95)]
    return out[0], out[1], out[2]


def markdown(record: dict) -> str:
    """A stored posterior as markdown: the sampler's run and diagnostics, and each parameter's 5/50/95th
    percentiles beside its point estimate."""
    s = record["sampler"]
    tau = ", ".join(f"{t:.0f}" for t in s["tau_steps"])
    rows = ["| parameter | point estimate | posterior median | 90 % credible interval |", "|---|---:|---:|---|"]
    for n, pe in zip(record["names"], record["point_estimate"]):
        q = record["summary"][n]
        rows.append(f"| `{n}` | {pe:.4g} | {q['median']:.4g} | {q['p05']:.3g} – {q['p95']:.3g} |")
    return (f"{s['walkers']} walkers × {s['steps']} steps (first {s['burn']} discarded), seed {s['seed']}: "
            f"{s['evaluations']} model evaluations in {s['seconds'] / 60:.1f} min ({s['evaluations_per_s']:.0f} per "
            f"s); mean acceptance {s['acceptance']:.2f}; integrated autocorrelation times {tau} steps, so the kept "
            f"chain is {s['steps_over_tau']:.0f} autocorrelation times long; {len(record['sets'])} parameter sets "
            f"stored, model version `{record['model_version']}`.\n\n" + "\n".join(rows) + "\n")


def main(argv=None) -> int:  # pragma: no cover - the generator
    import argparse

    ap = argparse.ArgumentParser(prog="python -m circuits.posterior", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=POSTERIOR_PATH)
    ap.add_argument("--walkers", type=int, default=N_WALKERS)
    ap.add_argument("--steps", type=int, default=N_STEPS)
    ap.add_argument("--burn", type=int, default=BURN)
    ap.add_argument("--sets", type=int, default=N_SETS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--docs", type=Path, help="write the run's table between the posterior markers of this file")
    a = ap.parse_args(argv)
    t = [time.perf_counter()]

    def progress(f):
        if time.perf_counter() - t[0] > 30:
            t[0] = time.perf_counter()
            print(f"  {100 * f:.0f} %", flush=True)

    try:
        rec = generate(a.out, n_walkers=a.walkers, n_steps=a.steps, burn=a.burn, n_sets=a.sets, seed=a.seed,
                       progress=progress)
    except ValueError as e:
        print(f"error: {e}")
        return 2
    s = rec["sampler"]
    print(json.dumps({"model_version": rec["model_version"], "summary": rec["summary"],
                      "acceptance": s["acceptance"], "tau_steps": s["tau_steps"],
                      "steps_over_tau": s["steps_over_tau"], "evaluations": s["evaluations"],
                      "seconds": round(s["seconds"], 1), "evaluations_per_s": round(s["evaluations_per_s"], 1)},
                     indent=1))
    print(f"wrote {a.out}")
    if a.docs:
        from pkpd.io import replace_marked

        replace_marked(a.docs, "<!-- posterior:start -->", "<!-- posterior:end -->",
                       f"\nGenerated by `python -m circuits.posterior --docs docs/uncertainty.md`:\n\n{markdown(rec)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


# ---- posterior predictions of the replication -------------------------------------------------------------------
#: default number of posterior parameter sets an experiment draws (each with its own sub-cohort of mice)
DEFAULT_DRAWS = 20


def posterior_cohort(n: int, seed: int, sets: list[dict], base=None, variation=None) -> tuple[list, list]:
    """Mice for a posterior prediction: ``n // len(sets)`` mice per parameter set, mouse k (0 … K·m − 1) varied
    around set ``k // m`` by subject k's phenotype of ``seed`` (:func:`circuits.experiments.phenotypes`, the
    cohort's own variation). Returns ``(cohort, rows)``, ``rows[d]`` the mice of set d."""
    from .experiments import COHORT_VARIATION, circuit_population, phenotypes
    from .model import CircuitParams

    K = len(sets)
    if n < K:
        raise ValueError(f"n: expected at least {K} mice (one per posterior draw, --posterior-draws), got {n}")
    m = n // K
    variation = COHORT_VARIATION if variation is None else variation
    base = base or CircuitParams()
    sample = circuit_population(variation=variation).sample(seed, np.arange(K * m))
    cohort, rows = [], []
    for d, st in enumerate(sets):
        sl = {k: np.asarray(v)[d * m:(d + 1) * m] for k, v in sample.items()}
        cohort += phenotypes(sl, variation, base.replace(**st))
        rows.append(np.arange(d * m, (d + 1) * m))
    return cohort, rows


def with_intervals(summaries: list[dict], pooled: dict | None = None, skip=("split", "paper", "posterior")) -> dict:
    """One summary from a summary per posterior draw: every numeric value (or list of numbers) becomes the median
    over the draws, with ``<key>_ci90: [p05, p95]`` beside it (lists: one pair per element); other values are the
    first draw's. A value undefined (NaN) in every draw (e.g. an R² over 11 mice when a draw has fewer) is the
    ``pooled`` summary's (all draws' mice together), with a NaN interval."""
    import copy

    out = copy.deepcopy(summaries[0])

    def walk(node, others, path, pool):
        for k in list(node):
            v = node[k]
            if path == "" and k in skip:
                continue
            vals = [o[k] for o in others]
            if isinstance(v, dict):
                walk(v, vals, f"{path}{k}.", None if pool is None else pool.get(k))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                m, lo, hi = (float(x) for x in median_ci90(np.array(vals, float)))
                node[k] = m if np.isfinite(m) or pool is None else float(pool[k])
                node[f"{k}_ci90"] = [lo, hi]
            elif isinstance(v, list) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
                a = np.array(vals, float)
                if np.allclose(np.nan_to_num(a - a[0]), 0):  # the same in every draw (e.g. the dose grid)
                    continue
                m, lo, hi = median_ci90(a)
                node[k] = [float(x) for x in m]
                node[f"{k}_ci90"] = [[float(a_), float(b_)] for a_, b_ in zip(lo, hi)]

    walk(out, summaries, "", pooled)
    return out


def _defined(v) -> bool:
    if isinstance(v, dict):
        return all(_defined(x) for x in v.values())
    if isinstance(v, list):
        return any(_defined(x) for x in v)
    return isinstance(v, (int, float)) and bool(np.isfinite(v))


def _met_fraction(key: str, per: list[dict], checks: list[dict]) -> float | None:
    """The fraction of draws meeting ``key``'s check, over the draws where its readout is defined (None: in
    none, e.g. an R² over 11-mouse subsamples of a 10-mouse draw)."""
    from .replication import _get

    ok = [c[key] for s, c in zip(per, checks) if _defined(_get(s, key))]
    return float(np.mean(ok)) if ok else None


def wu2021_posterior(n: int, seed: int, record: dict, draws: int = DEFAULT_DRAWS, progress=None,
                     params=None) -> tuple[dict, dict]:
    """The replication with parameter uncertainty: ``draws`` parameter sets of the posterior ``record``
    (:func:`draw_sets`), each given ``n // draws`` mice, all integrated in one batched run; each set's sub-cohort
    summarised on its own (:func:`circuits.replication.wu2021_summary`). Returns ``(summary, details)``: the
    summary's values are medians over the draws with ``<key>_ci90`` (:func:`with_intervals`), plus ``posterior``
    (draws, mice per draw, model version, the fraction of draws in which each check of
    :func:`circuits.replication.assess` is met, and whether each numeric paper value lies inside the 90 %
    interval); ``details`` are those of the pooled cohort (for figures). User overrides (``params``) of a
    posterior parameter win over the posterior's values."""
    from .overrides import circuit_space, resolve_circuit
    from .replication import PAPER, _get, _wu2021_run, assess, wu2021_summary

    base, pkv, _ = resolve_circuit(params)
    fixed = set(circuit_space().resolve(params)) if params else set()
    sets = [{k: v for k, v in st.items() if k not in fixed} for st in draw_sets(record, draws, seed)]
    cohort, rows = posterior_cohort(n, seed, sets, base)
    res, cohort = _wu2021_run(len(cohort), seed, progress, params, cohort)
    per = [wu2021_summary({g: r.take(ix) for g, r in res.items()}, [cohort[i] for i in ix], seed)[0] for ix in rows]
    pooled, details = wu2021_summary(res, cohort, seed)
    summary = with_intervals(per, pooled)
    checks = [assess(s) for s in per]
    inside = {}
    for k, p in PAPER.items():
        if p.get("value") is None:
            continue
        lo, hi = _get(summary, k + "_ci90")
        if np.isfinite(lo) and np.isfinite(hi):
            inside[k] = bool(lo - 1e-12 <= p["value"] <= hi + 1e-12)
    summary["posterior"] = {
        "draws": draws, "mice_per_draw": len(rows[0]), "model_version": record["model_version"],
        "parameters": record["names"], "overridden": sorted(fixed & set(record["names"])),
        "interval": "5th-95th percentile over the draws, each a study of mice_per_draw mice (posterior "
                    "predictive at that n)",
        "met_fraction": {k: _met_fraction(k, per, checks) for k in checks[0]},
        "paper_inside_ci90": inside}
    details["posterior_summaries"] = per
    return summary, details


def regimens_posterior(items, record: dict, draws: int = DEFAULT_DRAWS, seed: int = 0, params=None, progress=None,
                       **options):
    """:func:`circuits.regimens.compare_regimens` with parameter uncertainty: the point estimate (time courses and
    figures) plus one comparison per posterior draw (:func:`draw_sets`; user overrides ``params`` of a posterior
    parameter win), whose table columns give each regimen's median and 90 % interval
    (:attr:`~circuits.regimens.RegimenComparison.posterior`). The typical subject per regimen: the interval is
    the parameter uncertainty alone. ``options``: the other arguments of ``compare_regimens``."""
    import dataclasses

    from .overrides import circuit_space
    from .regimens import TABLE_COLUMNS, compare_regimens

    point = compare_regimens(items, params=params, **options)
    space = circuit_space()
    fixed = set()
    for name in params or {}:
        try:
            fixed.add(space.canonical(name))
        except ValueError:
            pass
    tables = []
    sets = draw_sets(record, draws, seed)
    for d, st in enumerate(sets):
        p = {**{k: v for k, v in st.items() if k not in fixed}, **dict(params or {})}
        tables.append(compare_regimens(items, params=p, **options).table())
        if progress is not None:
            progress((d + 1) / len(sets))
    base = point.table()
    median, ci = {}, {}
    for col in TABLE_COLUMNS:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None for v in base[col]):
            continue
        a = np.array([[np.nan if v is None else float(v) for v in t[col]] for t in tables])  # (draws, regimens)
        if np.allclose(np.nan_to_num(a - a[0]), 0) and np.array_equal(np.isnan(a), np.isnan(a[:1]).repeat(len(a), 0)):
            continue  # the same in every draw (doses, exposure): no interval
        med, lo, hi = ([float(x) if np.isfinite(x) else None for x in v] for v in median_ci90(a))
        median[col], ci[col] = med, [list(x) for x in zip(lo, hi)]
    return dataclasses.replace(point, posterior={"draws": len(sets), "model_version": record["model_version"],
                                                 "median": median, "ci90": ci})
