"""Global sensitivity analysis (Sobol, Morris) of any model given as a function of a parameter matrix.

This module knows nothing of ketamine. A *model* is a callable ``model(X) -> Y`` that maps a sample matrix ``X``
(rows: samples, columns: the factors, in their own units) to readouts ``Y`` (rows: samples, columns: readouts).
:func:`run_sensitivity` draws the sample with SALib (Herman & Usher 2017 J Open Source Softw 2:97; Iwanaga et
al. 2022 Socio-Environmental Systems Modelling 4:18018), evaluates it in chunks of rows (one file per chunk
under ``DIR/chunks``; a resumed run skips the chunks on disk), and estimates the indices with SALib:

``sobol``   first-order and total indices ``S1``, ``ST`` (Saltelli 2002 Comput Phys Commun 145:280; Saltelli et
            al. 2010 Comput Phys Commun 181:259) from ``N·(D + 2)`` model runs, with bootstrap confidence
            intervals (95 %). ``N`` must be a power of 2 (the Sobol' sequence's balance properties).
``morris``  elementary effects ``mu_star`` (mean absolute effect, Campolongo et al. 2007 Environ Model Softw
            22:1509) and ``sigma`` from ``N`` trajectories of ``D + 1`` runs each (Morris 1991 Technometrics
            33:161), 4 levels, bootstrap confidence interval of ``mu_star``.

Factor ranges. Each factor is uniform on ``[lo, hi]``, or log-uniform (uniform in ``log10``) when ``lo > 0``
and the range spans more than one decade (``hi / lo > 10``): a rate constant bounded by ``[1e-3, 1e3]`` is then
sampled evenly over its six decades instead of almost always near ``1e3``. Sobol indices then apportion the
variance under that distribution, and Morris effects are per unit of the sampled (log10 or linear) coordinate,
scaled to the unit hypercube.

Convergence. Both samples are built so that their first half is itself a valid sample of size ``N/2`` (the
first ``N/2`` Saltelli blocks, the first ``N/2`` trajectories); the summary reports the indices at ``N/2`` and
``N`` and their largest absolute difference per readout.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Factor", "METHODS", "factor", "read_ranges", "check_request", "sample", "run_sensitivity",
           "SensitivityResult", "indices_figure", "engine_model", "readout_keys", "check_readouts", "lookup"]

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4
CONF_LEVEL = 0.95
#: Bootstrap resamples of the confidence intervals (SALib's default is 100; 1000 keeps the interval's own
#: Monte Carlo error at a few per cent of its width).
N_RESAMPLES = 1000


@dataclass(frozen=True)
class Factor:
    """One uncertain input: ``name``, range ``[lo, hi]`` (its own unit) and whether it is sampled log-uniformly."""

    name: str
    lo: float
    hi: float
    log: bool = False
    unit: str = ""

    def __post_init__(self):
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.lo >= self.hi:
            raise ValueError(f"ranges: {self.name}: expected lo < hi, got [{self.lo!r}, {self.hi!r}]")
        if self.log and self.lo <= 0:
            raise ValueError(f"ranges: {self.name}: a log-uniform range needs lo > 0, got {self.lo!r}")

    @property
    def sampled_bounds(self) -> list[float]:
        return [math.log10(self.lo), math.log10(self.hi)] if self.log else [self.lo, self.hi]

    def to_value(self, z: np.ndarray) -> np.ndarray:
        """Sampled coordinate -> value, clipped to ``[lo, hi]`` (``10**log10(hi)`` may round above ``hi``)."""
        v = np.power(10.0, z) if self.log else z
        return np.clip(v, self.lo, self.hi)

    def manifest(self) -> dict:
        return {"name": self.name, "lo": self.lo, "hi": self.hi, "unit": self.unit,
                "distribution": "log-uniform" if self.log else "uniform"}


def factor(name: str, lo: float, hi: float, unit: str = "") -> Factor:
    """A factor on ``[lo, hi]``, log-uniform when ``lo > 0`` and ``hi / lo > 10`` (see module docstring)."""
    lo, hi = float(lo), float(hi)
    return Factor(name, lo, hi, bool(lo > 0 and hi > 10 * lo), unit)


def read_ranges(path) -> dict[str, tuple[float, float]]:
    """Ranges from a file: TOML (``NAME = [lo, hi]``, top level or in ``[ranges]``) or CSV (``name, lo, hi``).

    Raises
    ------
    ValueError
        One line naming the file and the entry: unreadable, not two numbers, or ``lo >= hi``.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"ranges: no such file {str(p)!r}")
    out: dict[str, tuple[float, float]] = {}
    if p.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"ranges: {str(p)!r} is not valid TOML ({e})") from None
        data = data["ranges"] if isinstance(data.get("ranges"), dict) else data
        items = list(data.items())
    elif p.suffix.lower() == ".csv":
        import csv

        with p.open(newline="") as fh:
            rows = [r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
        if rows and rows[0][0].strip().lower() == "name":
            rows = rows[1:]
        items = [(r[0].strip(), r[1:]) for r in rows]
    else:
        raise ValueError(f"ranges: {str(p)!r} must end in .toml or .csv")
    for name, v in items:
        try:
            lo, hi = (float(x) for x in v)
        except (TypeError, ValueError):
            raise ValueError(f"ranges: {name}: expected two numbers [lo, hi] in {str(p)!r}, got {v!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise ValueError(f"ranges: {name}: expected lo < hi in {str(p)!r}, got [{lo:g}, {hi:g}]")
        out[name] = (lo, hi)
    return out


def check_request(method: str, n: int, factors: Sequence[Factor]) -> None:
    """One-line ``ValueError`` for a request the method cannot serve (before anything is computed)."""
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if not factors:
        raise ValueError("params: expected at least one parameter to vary")
    names = [f.name for f in factors]
    if len(set(names)) != len(names):
        raise ValueError(f"params: each parameter once, got {names}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n: expected an integer, got {n!r}")
    if method == "sobol":
        # N/2 must itself be a power of 2 >= 2 for the convergence check, and SALib's bootstrap needs a few blocks
        if n < 8 or n & (n - 1):
            raise ValueError(f"n: sobol needs N a power of 2 and at least 8 (N·(D+2) runs), got {n}")
    elif n < 4:
        raise ValueError(f"n: morris needs at least 4 trajectories (2 for the convergence check at N/2), got {n}")


def _problem(factors: Sequence[Factor]) -> dict:
    return {"num_vars": len(factors), "names": [f.name for f in factors],
            "bounds": [f.sampled_bounds for f in factors]}


def sample(method: str, factors: Sequence[Factor], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SALib's sample: ``(Z, X)``, sampled coordinates and values, shape ``(runs, D)``."""
    problem = _problem(factors)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        Z = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    else:
        from SALib.sample import morris as morris_sample

        Z = morris_sample.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)
    X = np.column_stack([f.to_value(Z[:, j]) for j, f in enumerate(factors)])
    return Z, X


def _analyze(method, factors, Z, Y, seed) -> dict[str, np.ndarray]:
    """Indices of one readout column ``Y`` (NaN everywhere if any run failed)."""
    problem = _problem(factors)
    D = len(factors)
    if not np.all(np.isfinite(Y)):
        keys = ("S1", "S1_conf", "ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf", "sigma")
        return {k: np.full(D, np.nan) for k in keys}
    if method == "sobol":
        from SALib.analyze import sobol

        r = sobol.analyze(problem, Y, calc_second_order=False, num_resamples=N_RESAMPLES, conf_level=CONF_LEVEL,
                          seed=seed)
        return {k: np.asarray(r[k], float) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    from SALib.analyze import morris

    r = morris.analyze(problem, Z, Y, num_resamples=N_RESAMPLES, conf_level=CONF_LEVEL, num_levels=MORRIS_LEVELS,
                       seed=seed)
    return {k: np.asarray(r[k], float) for k in ("mu_star", "mu_star_conf", "sigma")}


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """Indices per readout and factor, the convergence check and where they were written.

    ``indices[readout][key]`` is an array over :attr:`factors` (keys ``S1, S1_conf, ST, ST_conf`` or
    ``mu_star, mu_star_conf, sigma``); ``half`` the same at ``N/2``.
    """

    method: str
    n: int
    seed: int
    factors: tuple
    readouts: tuple
    indices: dict
    half: dict
    n_runs: int
    n_failed: dict
    summary: dict
    out: Path | None

    def rows(self) -> list[dict]:
        """One row per (readout, parameter), the columns of ``indices.csv``."""
        keys = ("S1", "S1_conf", "ST", "ST_conf") if self.method == "sobol" else ("mu_star", "mu_star_conf", "sigma")
        return [{"readout": r, "parameter": f.name, **{k: float(self.indices[r][k][j]) for k in keys}}
                for r in self.readouts for j, f in enumerate(self.factors)]


def readout_keys(summary: Mapping, prefix: str = "") -> list[str]:
    """Dotted keys of every numeric leaf of a nested summary (``{"a": {"b": 1.0}}`` -> ``["a.b"]``); lists and
    text are not readouts, ``None`` (a metric that could not be estimated) is. A key that holds a dot itself (a
    reference table keyed by other readouts, such as a replication's ``paper`` values) is not a readout either."""
    out = []
    for k, v in summary.items():
        if "." in str(k):
            continue
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out += readout_keys(v, key + ".")
        elif v is None or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)):
            out.append(key)
    return out


def check_readouts(readouts: Sequence[str], available: Sequence[str]) -> list[str]:
    """``readouts`` if each is one of ``available``; else a one-line ``ValueError`` naming the closest keys."""
    import difflib

    known = set(available)
    for r in readouts:
        if r not in known:
            close = difflib.get_close_matches(r, list(available), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"readout: unknown readout {r!r}{hint} (`--list` prints them)")
    if not readouts:
        raise ValueError("readout: expected at least one --readout (`--list` prints them)")
    return list(dict.fromkeys(readouts))


def lookup(summary: Mapping, key: str) -> float:
    """The value at dotted ``key`` of a nested summary as a float (NaN for ``None``)."""
    v = summary
    for part in key.split("."):
        v = v[part]
    return float("nan") if v is None else float(v)


def engine_model(system, factor_names: Sequence[str], outputs: Sequence[str], *, base_params: Mapping[str, float],
                 t_end: float = 1.0, y0=None, rtol: float = 1e-8, atol: float = 1e-10,
                 method: str = "auto") -> Callable[[np.ndarray], np.ndarray]:
    """A model for :func:`run_sensitivity` from an :class:`~pkpd.ode.OdeSystem`: every row of ``X`` sets the
    parameters ``factor_names`` (the rest from ``base_params``), the whole block is solved in one batched
    :func:`pkpd.ode.solve` from ``y0`` (default zeros) to ``t_end``, and the readouts are the states or
    observables ``outputs`` at ``t_end`` (NaN for a run the solver failed on)."""
    from .ode import solve

    names = list(system.param_names)
    for n in list(factor_names) + list(base_params):
        if n not in names:
            raise ValueError(f"params: {n!r} is not a parameter of {system.name}; expected one of {names}")
    known = set(system.state_names) | set(system.observable_names)
    for o in outputs:
        if o not in known:
            raise ValueError(f"readout: {o!r} is not a state or observable of {system.name}; expected one of "
                             f"{sorted(known)}")
    missing = [n for n in names if n not in factor_names and n not in base_params]
    if missing:
        raise ValueError(f"base_params: no value for {missing}")
    cols = [names.index(n) for n in factor_names]
    base = np.array([base_params.get(n, np.nan) for n in names])
    y0 = np.zeros(system.n_states) if y0 is None else np.asarray(y0, float)

    def model(X: np.ndarray) -> np.ndarray:
        P = np.tile(base, (X.shape[0], 1))
        P[:, cols] = X
        sol = solve(system, y0, np.array([0.0, float(t_end)]), P, method=method, rtol=rtol, atol=atol)
        out = np.empty((X.shape[0], len(outputs)))
        for j, o in enumerate(outputs):
            out[:, j] = sol.y[:, -1, system.state_index(o)] if o in system.state_names else \
                sol.observables[o][:, -1]
        out[np.asarray(sol.status) != 0] = np.nan
        return out

    return model


def _manifest(method, n, seed, factors, readouts, chunk_size, extra) -> dict:
    return {"method": method, "n": int(n), "seed": int(seed), "factors": [f.manifest() for f in factors],
            "readouts": list(readouts), "chunk_size": int(chunk_size), "model": extra or {}}


def run_sensitivity(model: Callable[[np.ndarray], np.ndarray], factors: Sequence[Factor], readouts: Sequence[str],
                    *, method: str = "sobol", n: int = 1024, seed: int = 0, out=None, chunk_size: int = 256,
                    resume: bool = False, progress: Callable[[int, int], None] | None = None,
                    model_info: Mapping | None = None, scheduler: str | None = None,
                    connect_timeout_s: float = 5.0) -> SensitivityResult:
    """Sample, evaluate ``model`` chunk by chunk, and estimate the indices.

    Parameters
    ----------
    model : callable
        ``model(X)`` with ``X`` of shape ``(S, D)`` (factor values, columns in ``factors`` order) returns an array
        ``(S, R)``, one column per readout in ``readouts`` order (NaN for a failed run).
    factors : sequence of Factor
    readouts : sequence of str
        Names of the model's output columns.
    method : {"sobol", "morris"}
    n : int
        Base sample size (Sobol: a power of 2 >= 8, giving ``N (D + 2)`` runs) or number of trajectories (Morris,
        >= 4, giving ``N (D + 1)`` runs).
    seed : int
        Seed of the sample and of the bootstrap.
    out : path, optional
        Directory for ``manifest.json``, ``chunks/chunk_<k>.npy`` (model outputs of rows ``k·chunk_size …``),
        ``indices.csv``, ``summary.json`` and ``indices.png``.
    chunk_size : int
        Rows per model call and per chunk file.
    resume : bool
        Reuse the chunk files of a run with the same manifest in ``out``.
    progress : callable, optional
        ``progress(done_runs, total_runs)``.
    model_info : mapping, optional
        What else determines the model's outputs (recorded in the manifest, compared on resume).
    scheduler : None, "local" or "tcp://HOST:PORT"
        Where the chunks are evaluated (as for cohorts, :func:`pkpd.cohort.runner.run_cohort`): in this process,
        a Dask ``LocalCluster``, or an existing Dask cluster (``model`` is sent to the workers; results come back
        here, which writes every chunk).
    """
    check_request(method, n, factors)
    readouts = tuple(readouts)
    if not readouts:
        raise ValueError("readout: expected at least one readout")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk-size: expected a positive number of runs, got {chunk_size!r}")
    manifest = _manifest(method, n, seed, factors, readouts, chunk_size, dict(model_info or {}))
    out = None if out is None else Path(out)
    if out is not None:
        _prepare(out, manifest, resume)
    Z, X = sample(method, factors, n, seed)
    runs = X.shape[0]
    Y = np.full((runs, len(readouts)), np.nan)
    done = 0

    def store(k, a, b, y):
        nonlocal done
        y = np.asarray(y, float)
        if y.shape != (b - a, len(readouts)):
            raise ValueError(f"model: expected outputs of shape {(b - a, len(readouts))}, got {y.shape}")
        if out is not None:
            path = out / "chunks" / f"chunk_{k:05d}.npy"
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, y)
            tmp.replace(path)
        Y[a:b] = y
        done += b - a
        if progress:
            progress(done, runs)

    todo = []
    for k, a in enumerate(range(0, runs, chunk_size)):
        b = min(a + chunk_size, runs)
        path = None if out is None else out / "chunks" / f"chunk_{k:05d}.npy"
        if path is not None and path.is_file():
            Y[a:b] = np.load(path)
            done += b - a
        else:
            todo.append((k, a, b))
    if progress and done:
        progress(done, runs)
    if scheduler is None:
        for k, a, b in todo:
            store(k, a, b, model(X[a:b]))
    elif todo:
        from .cohort.runner import _close, _connect

        client, cluster = _connect(scheduler, None, connect_timeout_s)
        try:
            from distributed import as_completed

            futures = {client.submit(model, X[a:b], pure=False): (k, a, b) for k, a, b in todo}
            for fut in as_completed(futures):
                store(*futures[fut], fut.result())
        finally:
            _close(client, cluster)
    D = len(factors)
    half_runs = (n // 2) * ((D + 2) if method == "sobol" else (D + 1))
    indices, half, n_failed = {}, {}, {}
    for j, r in enumerate(readouts):
        y = Y[:, j]
        n_failed[r] = int(np.count_nonzero(~np.isfinite(y)))
        indices[r] = _analyze(method, factors, Z, y, seed)
        half[r] = _analyze(method, factors, Z[:half_runs], y[:half_runs], seed)
    summary = _summary(method, n, seed, factors, readouts, indices, half, runs, n_failed, manifest)
    summary["failures"] = {r: _failure_hint(factors, Z, X, Y[:, j]) for j, r in enumerate(readouts) if n_failed[r]}
    res = SensitivityResult(method, n, seed, tuple(factors), readouts, indices, half, runs, n_failed, summary, out)
    if out is not None:
        _write(res)
    return res


def _prepare(out: Path, manifest: dict, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {str(out)!r} exists and is not a directory")
    mpath = out / "manifest.json"
    if resume:
        if not mpath.is_file():
            raise ValueError(f"resume: no sensitivity run in {str(out)!r} (manifest.json missing)")
        old = json.loads(mpath.read_text())
        if old != json.loads(json.dumps(manifest)):
            diff = [k for k in manifest if old.get(k) != json.loads(json.dumps(manifest[k]))]
            raise ValueError(f"resume: the run in {str(out)!r} differs in {', '.join(diff)}; use a new --out")
    elif out.is_dir() and any(out.iterdir()):
        raise ValueError(f"out: {str(out)!r} is not empty; use --resume to continue it or a new directory")
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    if not mpath.is_file():
        from .io import write_json

        write_json(manifest, mpath)


def _summary(method, n, seed, factors, readouts, indices, half, runs, n_failed, manifest) -> dict:
    key = "ST" if method == "sobol" else "mu_star"
    conv = {}
    for r in readouts:
        keys = ("S1", "ST") if method == "sobol" else ("mu_star",)
        diffs = {k: np.abs(indices[r][k] - half[r][k]) for k in keys}
        conv[r] = {"n_half": n // 2, "n": n,
                   "max_abs_change": {k: _num(np.max(d)) for k, d in diffs.items()},
                   "half": {k: dict(zip((f.name for f in factors), map(_num, half[r][k]))) for k in keys}}
        if method == "morris":  # mu_star has the readout's unit: also relative to the largest mu_star
            top = np.nanmax(indices[r]["mu_star"]) if np.any(np.isfinite(indices[r]["mu_star"])) else np.nan
            conv[r]["max_rel_change_mu_star"] = _num(np.max(diffs["mu_star"]) / top) if top and top > 0 else None
    # factors by decreasing index (NaN last; a stable sort keeps the given order among ties)
    ranking = {r: [factors[j].name for j in np.argsort(-np.nan_to_num(indices[r][key], nan=-np.inf), kind="stable")]
               for r in readouts}
    return {"method": method, "n": n, "seed": seed, "runs": runs, "conf_level": CONF_LEVEL,
            "bootstrap_resamples": N_RESAMPLES, "factors": [f.manifest() for f in factors],
            "readouts": list(readouts), "failed_runs": n_failed, "ranking": ranking, "convergence": conv,
            "model": manifest["model"]}


def _failure_hint(factors, Z, X, y) -> dict:
    """Where the failed runs of a readout lie: per factor the values spanned by the failed runs, and the factor
    whose failures crowd into the smallest part of its sampled range (the range to narrow)."""
    bad = ~np.isfinite(y)
    spans = {}
    for j, f in enumerate(factors):
        lo, hi = f.sampled_bounds
        spans[f.name] = (Z[bad, j].max() - Z[bad, j].min()) / (hi - lo)
    worst = min(spans, key=spans.get)
    j = [f.name for f in factors].index(worst)
    return {"n": int(bad.sum()), "narrowest_factor": worst,
            "narrowest_failed_range": [float(X[bad, j].min()), float(X[bad, j].max())],
            "failed_ranges": {f.name: [float(X[bad, k].min()), float(X[bad, k].max())]
                              for k, f in enumerate(factors)}}


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _write(res: SensitivityResult) -> None:
    from .io import write_json, write_table

    out = res.out
    write_table(res.rows(), out / "indices.csv")
    write_json(res.summary, out / "summary.json")
    fig = indices_figure(res)
    from .figures import pyplot

    fig.savefig(out / "indices.png", dpi=120)
    pyplot().close(fig)


def indices_figure(res: SensitivityResult):
    """One panel per readout: factors ranked by ``ST`` (Sobol: ``S1`` and ``ST`` bars with their CIs) or by
    ``mu_star`` (Morris, with its CI, and ``sigma``)."""
    from .figures import pyplot

    plt = pyplot()
    R, D = len(res.readouts), len(res.factors)
    fig, axes = plt.subplots(R, 1, figsize=(7.5, 0.9 + 0.32 * D * R + 0.6 * R), squeeze=False)
    names = [f.name for f in res.factors]
    for ax, r in zip(axes[:, 0], res.readouts):
        ix = res.indices[r]
        key = "ST" if res.method == "sobol" else "mu_star"
        order = np.argsort(-np.nan_to_num(ix[key], nan=-np.inf))[::-1]
        y = np.arange(D)
        if res.method == "sobol":
            ax.barh(y + 0.2, ix["ST"][order], 0.4, xerr=ix["ST_conf"][order], label="ST (total)", color="#4c72b0")
            ax.barh(y - 0.2, ix["S1"][order], 0.4, xerr=ix["S1_conf"][order], label="S1 (first order)",
                    color="#dd8452")
            ax.set_xlabel("Sobol index")
        else:
            ax.barh(y + 0.2, ix["mu_star"][order], 0.4, xerr=ix["mu_star_conf"][order], label="μ*", color="#4c72b0")
            ax.barh(y - 0.2, ix["sigma"][order], 0.4, label="σ", color="#dd8452")
            ax.set_xlabel("elementary effect (readout units per unit range)")
        ax.set_yticks(y, [names[i] for i in order], fontsize=8)
        ax.set_title(f"{r} ({res.method}, N = {res.n})", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
