"""Studies over many virtual cohorts: the dose-response study (``ketamine dose-response``).

A dose grid × one virtual cohort per dose, run by the cohort runner (:func:`pkpd.cohort.run_cohort`, one resumable
run directory per dose), reduced per dose and readout to mean, SEM and 5/50/95th percentiles, then per readout to a
curve shape and, for a monotone curve, a Hill fit with ED50 and its confidence interval
(:func:`pkpd.emax.analyse_dose_response`).

* **mouse**: the circuit protocol ``slh`` (strong learned helplessness, :mod:`circuits.cohort`), the dose given at
  the protocol's drug time (96 h); every readout below. A dose of 0 is the saline group (the protocol run with an
  empty regimen).
* **human**: no circuit protocol: the PK protocol ``pk`` (24 h by default) and the exposure/occupancy readouts only.
  A dose of 0 has no exposure: its rows are exactly 0 without a simulation.

The same seed gives the same virtual subjects at every dose (a subject's parameters depend only on (seed, id)), so
the curve compares like with like; each dose's cohort equals a direct ``run_cohort`` with the same spec, bit for bit.

With a posterior of the circuit parameters (mouse only; :mod:`circuits.posterior`), each dose runs K sub-cohorts of
n // K subjects (ids 0 … n // K − 1 of the seed, the same in every sub-cohort), sub-cohort j with posterior
parameter set j as overrides of the typical mouse: K resumable runs per dose (``dose_<d>_draw_<j>``). Every
statistic becomes the median over the K sub-cohorts, with its 5th–95th percentile over them (a 90 % interval).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pkpd.parameters import is_integer

from .posterior import DEFAULT_DRAWS

__all__ = ["Readout", "READOUTS", "DEFAULT_READOUT", "DoseResponseResult", "dose_response", "plot_dose_response",
           "dose_grid", "readouts_for", "STATISTICS"]


@dataclass(frozen=True)
class Readout:
    """A dose-response readout: the cohort runner's column it reads, a label and unit for axes and tables, and
    whether it needs the circuit model (mouse only) or only PK."""

    column: str
    label: str
    unit: str
    circuit: bool


_TESTS = ("baseline", "lh", "4h")  # the sLH protocol's tests (Wu 2021 Fig 1: one test 4 h after the dose)
_TEST_LABEL = {"baseline": "baseline test", "lh": "LH test", "4h": "4 h after the dose"}

#: short readout name (CLI ``--readout``) -> :class:`Readout`
READOUTS: dict[str, Readout] = {
    **{f"failure_{t}": Readout(f"failure_prob_{t}", f"P(failure), {_TEST_LABEL[t]}", "fraction", True)
       for t in _TESTS},
    **{f"da_response_{t}": Readout(f"da_response_rel_{t}", f"DA response / naive, {_TEST_LABEL[t]}", "ratio", True)
       for t in _TESTS},
    **{f"latency_{t}": Readout(f"latency_s_{t}", f"escape latency, {_TEST_LABEL[t]}", "s", True) for t in _TESTS},
    "mpfc_peak": Readout("mpfc_response_peak_rel", "peak mPFC response r_E / pre-dose (first 4 h)", "ratio", True),
    "mpfc_1h": Readout("mpfc_response_mean_1h_rel", "mPFC response, mean r_E over the first hour / pre-dose",
                       "ratio", True),
    "occupancy_peak": Readout("nmda_occupancy_pyramidal_peak", "peak NMDA occupancy, pyramidal", "fraction", False),
    "occupancy_peak_interneuron": Readout("nmda_occupancy_interneuron_peak", "peak NMDA occupancy, interneurons",
                                          "fraction", False),
    "cmax": Readout("plasma_ketamine_cmax_uM", "plasma ketamine Cmax", "µM", False),
    "auc": Readout("plasma_ketamine_auc_uM_h", "plasma ketamine AUC(0–t)", "µM·h", False),
    "brain_cmax": Readout("brain_free_ketamine_cmax_uM", "free brain ketamine Cmax", "µM", False),
    "brain_auc": Readout("brain_free_ketamine_auc_uM_h", "free brain ketamine AUC(0–t)", "µM·h", False),
}
#: the default readout of each species
DEFAULT_READOUT = {"mouse": "failure_4h", "human": "occupancy_peak"}
#: statistics per dose and readout (columns of :meth:`DoseResponseResult.table`)
STATISTICS = ("mean", "sem", "p5", "p50", "p95", "n_solved")
_PROTOCOL = {"mouse": "slh", "human": "pk"}
_HUMAN_DURATION_H = 24.0
_ROUTE_LABEL = {"iv": "i.v.", "iv-infusion": "i.v. infusion", "ip": "i.p.", "sc": "s.c.", "im": "i.m.",
                "intranasal": "intranasal", "oral": "oral"}


def readouts_for(species: str) -> tuple[str, ...]:
    """The readout names available for ``species`` (the circuit ones only for the mouse)."""
    return tuple(k for k, r in READOUTS.items() if species == "mouse" or not r.circuit)


def dose_grid(doses, field_name: str = "doses") -> np.ndarray:
    """Doses in mg/kg as a float array, checked: non-empty, finite, >= 0, strictly increasing (``ValueError``
    naming ``field_name`` otherwise; :func:`pkpd.emax.check_doses`)."""
    from pkpd.emax import check_doses

    return check_doses(doses, field_name, unit="mg/kg")


def _check_readouts(readouts, species: str) -> tuple[str, ...]:
    if readouts is None:
        return (DEFAULT_READOUT[species],)
    if isinstance(readouts, str):
        readouts = [readouts]
    names = tuple(dict.fromkeys(str(r).strip() for r in readouts))
    if not names:
        raise ValueError(f"readouts: expected at least one readout; valid: {', '.join(readouts_for(species))}")
    for r in names:
        if r not in READOUTS:
            raise ValueError(f"readouts: unknown readout {r!r}; expected one of {', '.join(readouts_for(species))}")
        if READOUTS[r].circuit and species != "mouse":
            raise ValueError(f"readouts: {r!r} needs the circuit model, which is a mouse model; for {species} only "
                             f"the exposure/occupancy readouts exist: {', '.join(readouts_for(species))}")
    return names


def _stats(x: np.ndarray) -> dict:
    """Mean, SEM (ddof 1; 0 for one subject), 5/50/95th percentiles (NumPy's linear) of the finite values."""
    v = x[np.isfinite(x)]
    k = int(v.size)
    if k == 0:
        return {"mean": math.nan, "sem": math.nan, "p5": math.nan, "p50": math.nan, "p95": math.nan, "n_solved": 0}
    p5, p50, p95 = np.percentile(v, [5.0, 50.0, 95.0])
    sem = float(np.std(v, ddof=1) / math.sqrt(k)) if k > 1 else 0.0
    return {"mean": float(np.mean(v)), "sem": sem, "p5": float(p5), "p50": float(p50), "p95": float(p95),
            "n_solved": k}


@dataclass(frozen=True)
class DoseResponseResult:
    """What :func:`dose_response` returns.

    Attributes
    ----------
    doses : (D,) array
        Dose grid, mg/kg (HCl salt for the mouse, base for the human).
    readouts : tuple of str
        Short names (:data:`READOUTS`).
    stats : dict
        readout -> statistic (:data:`STATISTICS`) -> (D,) array.
    analysis : dict
        readout -> :func:`pkpd.emax.analyse_dose_response` result (shape, fit or the non-monotonic statement).
    inputs : dict
        The arguments that determine the result (species, route, n, seed, doses, readouts, protocol, …).
    runs : tuple of str
        The cohort run directory of each dose (None where none was kept: a temporary directory, or dose 0 of the PK
        protocol); with a posterior, a tuple of the K sub-cohort runs per dose.
    seconds : float
    command : str, optional
        The command line that produced it (set by the CLI).
    posterior : dict, optional
        With a posterior (``stats`` then hold the medians over the draws): ``draws`` (K), ``mice_per_draw``,
        ``model_version``, ``parameters``, ``overridden`` (posterior parameters the user's overrides fixed),
        ``sets`` (the K override mappings), ``ci90`` (readout -> statistic -> ((D,) 5th, (D,) 95th percentile
        over the draws)) and ``per_draw`` (readout -> statistic -> (K, D) array).
    """

    doses: np.ndarray
    readouts: tuple[str, ...]
    stats: dict
    analysis: dict
    inputs: dict
    runs: tuple
    seconds: float
    command: str | None = None
    posterior: dict | None = None

    def table(self) -> list[dict]:
        """One row per dose × readout: dose, readout, column, unit and :data:`STATISTICS` (for CSV); with a
        posterior, the statistics are medians over the draws, followed by ``<statistic>_ci90_lo`` and ``_hi``."""
        rows = []
        ci = self.posterior["ci90"] if self.posterior else {}
        for i, d in enumerate(self.doses):
            for r in self.readouts:
                ro = READOUTS[r]
                rows.append({"dose_mg_per_kg": float(d), "readout": r, "column": ro.column, "unit": ro.unit,
                             **{s: self.stats[r][s][i].item() for s in STATISTICS},
                             **{f"{s}_ci90_{e}": float(ci[r][s][k][i]) for s in ci.get(r, {})
                                for k, e in enumerate(("lo", "hi"))}})
        return rows

    def to_json(self, command: str | None = None) -> dict:
        """A JSON-able record: ``kind``, ``version``, ``command``, ``inputs``, ``results`` (per readout: label,
        unit, per-dose statistics and the shape/fit)."""
        from pkpd import __version__

        results = {}
        for r in self.readouts:
            ro = READOUTS[r]
            results[r] = {"column": ro.column, "label": ro.label, "unit": ro.unit,
                          "doses_mg_per_kg": self.doses.tolist(),
                          **{s: self.stats[r][s].tolist() for s in STATISTICS},
                          "analysis": self.analysis[r]}
            if self.posterior:
                for s, (lo, hi) in self.posterior["ci90"][r].items():
                    results[r][f"{s}_ci90"] = [[float(a), float(b)] for a, b in zip(lo, hi)]
                results[r]["mean_per_draw"] = self.posterior["per_draw"][r]["mean"].tolist()
        post = {} if not self.posterior else {"posterior": {k: self.posterior[k] for k in (
            "draws", "mice_per_draw", "model_version", "parameters", "overridden", "sets", "interval")}}
        return {"kind": "dose_response", "version": __version__, "command": command or self.command,
                "inputs": self.inputs, "results": results, "seconds": round(self.seconds, 3), **post}

    def statements(self) -> dict[str, str]:
        """readout -> the one-line shape/fit statement."""
        return {r: self.analysis[r]["statement"] for r in self.readouts}


def _regimen(dose: float, route: str, infusion_time_h):
    from pkpd.dosing import Regimen
    from pkpd.units import DoseAmount

    if dose == 0:
        return Regimen()
    return Regimen.single(DoseAmount(float(dose), "mg/kg"), route, duration_h=infusion_time_h)


def _resolved(params) -> dict:
    """The user's circuit overrides by canonical name (as a cohort spec keeps them)."""
    from .overrides import circuit_space

    return dict(sorted(circuit_space().resolve(dict(params)).items())) if params else {}


def dose_response(doses: Sequence[float], *, species: str = "mouse", route: str = "ip", n: int = 1000,
                  seed: int = 0, readouts: Sequence[str] | str | None = None, work_dir=None,
                  chunk_size: int = 1000, resume: bool = False,
                  progress: Callable[[int, int], None] | None = None, infusion_time_h: float | None = None,
                  duration_h: float | None = None, ci: float = 0.95, params=None, posterior: dict | None = None,
                  posterior_draws: int = DEFAULT_DRAWS) -> DoseResponseResult:
    """Run one virtual cohort per dose and analyse the dose-response of each readout.

    Parameters
    ----------
    doses : sequence of float
        Dose grid in mg/kg (mouse: HCl salt, as weighed; human: base), >= 0, strictly increasing; 0 is the
        saline/no-drug group.
    species : {"mouse", "human"}
        mouse: circuit protocol ``slh`` (dose at its drug time, 96 h); human: PK only (``duration_h``, default 24 h).
    route : str
        Any :data:`pkpd.dosing.ROUTES` the species' PK model has (``iv-infusion`` needs ``infusion_time_h``).
    n : int
        Subjects per dose (> 0); the same subjects (ids 0 … n−1 of ``seed``) at every dose.
    seed : int
    readouts : str or sequence of str, optional
        Names of :data:`READOUTS` (default :data:`DEFAULT_READOUT` of the species).
    work_dir : path, optional
        Where the cohort run of each dose goes (``work_dir/dose_<d>``; kept, so that ``resume`` can continue an
        interrupted study). Default: a temporary directory, removed at the end.
    chunk_size, resume, progress
        Passed to :func:`pkpd.cohort.run_cohort` (``progress(done, total)`` counts subjects over all doses).
    infusion_time_h, duration_h : float, optional
    ci : float
        Confidence level of the Hill fit's intervals.
    params : mapping, optional
        Parameter overrides by name for every dose's cohort (:class:`pkpd.cohort.CohortSpec` ``params``).
    posterior : dict, optional
        A posterior record (:func:`circuits.posterior.load_posterior`; mouse only): ``posterior_draws`` (K)
        parameter sets (:func:`circuits.posterior.draw_overrides` with ``seed``; ``params`` win) each run on
        n // K subjects per dose; ``stats`` are then the medians over the K sub-cohorts and
        :attr:`DoseResponseResult.posterior` holds the intervals. The shape/fit is that of the median means.
    posterior_draws : int

    Raises
    ------
    ValueError
        Before any simulation, naming the field: a bad dose grid (``doses``), an unknown readout (listing the valid
        ones) or a circuit readout for the human, ``n``, ``seed``, ``route``, ``chunk_size``, ``duration``,
        ``posterior`` (for the human), ``posterior_draws``.
    """
    import time

    from pkpd.cohort import CohortSpec, read_subjects, run_cohort
    from pkpd.dosing import parse_route
    from pkpd.emax import analyse_dose_response
    from pkpd.pk_models import get_pk_model
    from pkpd.species import get_species

    # ---- validate everything before any computation -------------------------------------------------------
    t0 = time.perf_counter()
    d = dose_grid(doses)
    sp = get_species(species).name
    if sp not in _PROTOCOL:
        raise ValueError(f"species: expected one of {', '.join(_PROTOCOL)}, got {species!r}")
    names = _check_readouts(readouts, sp)
    if not is_integer(n) or n < 1:
        raise ValueError(f"n: expected a positive number of subjects per dose, got {n!r}")
    if not is_integer(chunk_size) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected a positive number of subjects per chunk, got {chunk_size!r}")
    route = parse_route(route)
    if route != "iv-infusion":  # the route must exist in the species' PK model (infusions: checked by the Dose)
        get_pk_model(None, sp).dose_parts(route, 1.0)
    protocol = _PROTOCOL[sp]
    if protocol == "pk":
        if duration_h is None:
            duration_h = _HUMAN_DURATION_H
    elif duration_h is not None:
        raise ValueError("duration: the mouse study runs the slh protocol, whose length is fixed by the protocol; "
                         "expected no duration")
    if posterior is None:
        draws, m, overridden = [dict(params or {})], int(n), []
    else:
        from .posterior import draw_overrides

        if sp != "mouse":
            raise ValueError(f"posterior: the posterior is of the circuit's parameters; the {sp} study is PK only "
                             f"(expected --no-posterior)")
        if not is_integer(posterior_draws) or not 1 <= posterior_draws <= n:
            raise ValueError(f"posterior_draws: expected 1 to n ({n}) parameter sets, got {posterior_draws!r}")
        draws, overridden = draw_overrides(posterior, int(posterior_draws), seed, params)
        m = int(n) // len(draws)
    K = len(draws)
    specs = []  # per dose: one spec per draw (None: nothing to simulate)
    from .registry import get_protocol

    proto = get_protocol(protocol)
    for dose in d:
        reg = _regimen(dose, route, infusion_time_h)
        if dose == 0 and protocol == "pk":
            specs.append([None])  # no drug, no exposure: exactly 0, nothing to simulate
            continue
        dur = proto.default_duration_h(reg) if protocol != "pk" else float(duration_h)
        specs.append([CohortSpec(n=m, regimen=reg, duration_h=dur, species=sp, seed=seed, protocol=proto,
                                 params=tuple(p.items())) for p in draws])
    columns = [READOUTS[r].column for r in names]

    # ---- run ---------------------------------------------------------------------------------------------
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ketamine-dose-response-")
        base = Path(tmp.name)
    else:
        base = Path(work_dir)
    total = m * sum(s is not None for ss in specs for s in ss)
    per = {r: {s: np.full((K, d.size), np.nan) for s in STATISTICS} for r in names}  # per draw
    runs = []
    try:
        done_before = 0
        for i, (dose, dose_specs) in enumerate(zip(d, specs)):
            dose_runs = []
            for j, spec in enumerate(dose_specs):
                if spec is None:
                    vals = {c: np.zeros(m) for c in columns}
                    dose_runs.append(None)
                else:
                    out = base / (f"dose_{dose:g}" if posterior is None else f"dose_{dose:g}_draw_{j}")

                    def cb(done, _total, _b=done_before):
                        if progress is not None:
                            progress(_b + done, total)

                    run_cohort(spec, out, chunk_size=int(chunk_size), resume=resume, progress=cb)
                    tab = read_subjects(out, columns=["status", *columns]).to_pydict()
                    vals = {c: np.asarray(tab[c], float) for c in columns}
                    done_before += m
                    dose_runs.append(None if tmp is not None else str(out))
                for r, c in zip(names, columns):
                    for s, v in _stats(vals[c]).items():
                        per[r][s][j, i] = v
            runs.append(dose_runs[0] if posterior is None else tuple(dose_runs))
    finally:
        if tmp is not None:
            tmp.cleanup()
    post = None
    if posterior is None:
        stats = {r: {s: v[0] for s, v in st.items()} for r, st in per.items()}
    else:
        from .posterior import median_ci90

        stats, ci90 = {}, {}
        for r, st in per.items():
            stats[r], ci90[r] = {"n_solved": st["n_solved"].sum(axis=0)}, {}
            for s in STATISTICS[:-1]:
                stats[r][s], lo, hi = median_ci90(st[s])
                ci90[r][s] = (lo, hi)
        post = {"draws": K, "mice_per_draw": m, "model_version": posterior["model_version"],
                "parameters": list(posterior["names"]), "overridden": overridden, "sets": draws,
                "interval": "5th-95th percentile over the draws of each statistic, each draw's statistic over "
                            "mice_per_draw subjects (the same subjects in every draw)",
                "ci90": ci90, "per_draw": per}
    stats = {r: {s: (v.astype(np.int64) if s == "n_solved" else v) for s, v in st.items()} for r, st in stats.items()}
    analysis = {}
    for r in names:
        m, se = stats[r]["mean"], stats[r]["sem"]
        ok = np.isfinite(m)
        if ok.sum() == 0:
            analysis[r] = {"shape": "undetermined", "fit": None, "statement": "no subject solved at any dose"}
            continue
        a = analyse_dose_response(d[ok], m[ok], np.where(np.isfinite(se[ok]), se[ok], 0.0), ci=ci, unit="mg/kg")
        if not ok.all():
            a["statement"] += f" (doses without a solved subject left out: {d[~ok].tolist()})"
        analysis[r] = a
    inputs = {"doses_mg_per_kg": d.tolist(), "dose_unit": "mg/kg",
              "salt": get_species(sp).default_salt, "species": sp, "route": route, "n": int(n), "seed": int(seed),
              "readouts": list(names), "protocol": protocol,
              "duration_h": None if protocol != "pk" else float(duration_h), "infusion_time_h": infusion_time_h,
              "pk_model": get_pk_model(None, sp).name, "ci": ci, "chunk_size": int(chunk_size),
              "work_dir": None if work_dir is None else str(work_dir),
              "overrides": _resolved(params) if posterior is not None
              else dict(next((s.params for ss in specs for s in ss if s is not None), ())),
              **({} if posterior is None else {"posterior_draws": K, "mice_per_draw": m})}
    return DoseResponseResult(d, names, stats, analysis, inputs, tuple(runs), time.perf_counter() - t0,
                              posterior=post)


def plot_dose_response(result: DoseResponseResult, path=None, *, readout: str | Sequence[str] | None = None):
    """Draw each readout's dose-response (one panel each, three to a row, in the order of ``readout``, default the
    study's): the mean (± SEM) with the 5–95 % band on a log-dose axis (with a posterior: the medians over the
    draws, and the mean's 90 % interval over them as a second band), the fitted Hill
    curve (monotone) or a marker at the dose of maximal effect (inverted U / U). A dose of 0 cannot sit on a log
    axis: its mean is drawn as a dotted horizontal line labelled "0 mg/kg".

    Returns ``(fig, paths)``: the matplotlib Figure (left open for inspection; close it with
    ``pkpd.figures.pyplot().close(fig)``) and the files written by :func:`pkpd.figures.save_figure` (PNG + SVG;
    empty when ``path`` is None).
    """
    from pkpd.emax import hill
    from pkpd.figures import pyplot, save_figure

    names = result.readouts if readout is None else ((readout,) if isinstance(readout, str) else tuple(readout))
    for r in names:
        if r not in result.readouts:
            raise ValueError(f"readout: {r!r} is not in this study; expected one of {', '.join(result.readouts)}")
    plt = pyplot()
    ncol = min(3, len(names))
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 4.0 * nrow), squeeze=False)
    for ax in axes.ravel()[len(names):]:
        fig.delaxes(ax)
    d = result.doses
    pos = d > 0
    route = result.inputs.get("route", "")
    xlabel = f"dose (mg/kg, {_ROUTE_LABEL.get(route, route)})"
    for ax, r in zip(axes.ravel(), names):
        ro, st, an = READOUTS[r], result.stats[r], result.analysis[r]
        if pos.any():
            ax.fill_between(d[pos], st["p5"][pos], st["p95"][pos], alpha=0.25, label="5–95 % of subjects")
            if result.posterior:
                lo, hi = result.posterior["ci90"][r]["mean"]
                ax.fill_between(d[pos], lo[pos], hi[pos], color="C2", alpha=0.3,
                                label=f"mean: 90 % interval over {result.posterior['draws']} posterior draws")
            ax.errorbar(d[pos], st["mean"][pos], yerr=st["sem"][pos], fmt="o", ms=4, capsize=2,
                        label="mean ± SEM" + (" (medians over the draws)" if result.posterior else ""))
        if (~pos).any():
            ax.axhline(st["mean"][~pos][0], ls=":", color="0.3", label="0 mg/kg (mean)")
        fit = an.get("fit")
        if fit and pos.sum() >= 2:
            xs = np.geomspace(d[pos][0], d[pos][-1], 200)
            trusted = fit["success"]
            ax.plot(xs, hill(xs, fit["e0"], fit["emax"], fit["ed50"], fit["hill"]), "-" if trusted else "--",
                    lw=1.5, label=f"Hill fit, ED50 {fit['ed50']:.3g} mg/kg" if trusted
                    else "Hill fit (not trusted: no ED50 within the doses)")
            lo, hi = fit["ed50_ci"]
            if trusted and math.isfinite(lo) and math.isfinite(hi):  # the CI, clipped to the drawn dose range
                ax.axvspan(max(lo, xs[0] / 2), min(hi, xs[-1] * 2), color="C1", alpha=0.1,
                           label=f"ED50 {100 * fit['ci']:g} % CI")
        elif an.get("shape") in ("inverted_u", "u") and an.get("dose_of_max_effect", 0) > 0:
            x = an["dose_of_max_effect"]
            ax.axvline(x, ls="--", color="C3", label=f"non-monotonic: extremum at {x:g} mg/kg")
        ax.set_xscale("log")
        if pos.any():
            ax.set_xlim(d[pos][0] / 1.5, d[pos][-1] * 1.5)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{ro.label} ({ro.unit})")
        ax.set_title(r, fontsize=9)
        ax.legend(fontsize=7)
    inp = result.inputs
    fig.suptitle(f"dose-response: {inp.get('species')} {inp.get('protocol')}, n = {inp.get('n')} per dose, "
                 f"seed {inp.get('seed')}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    paths = []
    if path is not None:
        paths = save_figure(fig, path, title=f"dose-response ({', '.join(names)})", parameters=inp, close=False)
    return fig, paths
