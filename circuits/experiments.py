"""In-silico experiments: virtual cohorts through protocols (:func:`run_groups`), the escape/failure trials and the
individual signature, and single-protocol simulations. The Wu et al. 2021 replication itself is
:mod:`circuits.replication`. Every number returned is computed by integrating the composed model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pkpd.dosing import Regimen
from pkpd.parameters import is_finite_real, is_integer
from pkpd.population import Population, default_population

from .behavior import (escape_efficacy, escape_failure_distance, escape_latency_s, failure_probability,
                       mean_latency_s, photometry)
from .model import (LONG_QSS, RTOL, CircuitParams, circuit_system, initial_states, parameter_values, parameter_vector,
                    run_long, run_trials)
from .model import run_long as _project  # the stress-free QSS of a recording in a session (never monkeypatched)
from .protocols import Protocol, apply_manipulations, build_protocol, schedule_for

__all__ = ["COHORT_VARIATION", "circuit_population", "virtual_cohort", "phenotypes", "vary", "output_times",
           "GroupResult", "run_groups", "naive_reference", "baseline_signature", "escape_failure_trials",
           "simulate_protocol"]

#: Per-subject lognormal variation (SD of log) of a few circuit parameters, independent. ``j_pd_pA_per_Hz``: the
#: strength of the mouse's mPFC output, which sets both its naive post-shock DA rise (the mPFC->DA burst drive) and
#: its escape efficacy (:func:`circuits.behavior.escape_efficacy`): the shared cause of the DA signature and
#: behaviour. 0.08 was calibrated to the spread of sLH baseline failures (Wu 2021 FS6-3a: SD 3.8 %, n = 105) under
#: an earlier behaviour link that read the DA response; not refitted. ``g_h`` (stress sensitivity of spine loss, the
#: resilience phenotype) and ``k_a_per_h`` (ketamine-driven potentiation): 0.2, assumed.
COHORT_VARIATION = {"g_h": 0.2, "j_pd_pA_per_Hz": 0.08, "k_a_per_h": 0.2}

def circuit_population(species: str = "mouse", pk_model: str | None = None,
                       variation: Mapping[str, float] | None = None) -> Population:
    """The population of every circuit command (``simulate``, ``experiment``, ``cohort --protocol slh``): the PK
    default population plus the circuit phenotype ``variation`` (SD of log per circuit parameter, default
    :data:`COHORT_VARIATION`), sampled by :meth:`pkpd.population.Population.sample`."""
    variation = COHORT_VARIATION if variation is None else variation
    return dataclasses.replace(default_population(species, pk_model), circuit_variation=dict(variation))


def phenotypes(sample: Mapping[str, np.ndarray], variation: Mapping[str, float],
               base: CircuitParams = CircuitParams()) -> list[CircuitParams]:
    """Each sampled subject's circuit parameters: ``base`` varied by its ``eta_<name>`` column for every name of
    ``variation`` (:func:`vary`), one per row of ``sample``."""
    n = len(sample["id"])
    return [vary(base, {name: float(sample[f"eta_{name}"][k]) for name in variation}) for k in range(n)]


def virtual_cohort(n: int, seed: int = 0, base: CircuitParams = CircuitParams(),
                   variation: dict | None = None) -> list[CircuitParams]:
    """Mice 0 … n−1 of ``seed``: the circuit phenotypes of :func:`circuit_population` (with ``variation``) drawn by
    the one population sampler, so mouse k is subject k of ``ketamine cohort --protocol slh --seed SEED``
    (``simulate`` and ``experiment`` give every mouse the typical PK; the cohort adds each subject's PK
    variability). Mouse k's parameters depend only on (seed, k), not on ``n``."""
    if not is_integer(n) or n < 1:
        raise ValueError(f"n: expected a cohort of at least 1 subject, got {n!r}")
    variation = COHORT_VARIATION if variation is None else variation
    return phenotypes(circuit_population(variation=variation).sample(seed, np.arange(n)), variation, base)


def vary(base: CircuitParams, etas: dict) -> CircuitParams:
    """``base`` with each named circuit parameter set to its typical value × exp(η) (η on the log scale): the one
    place where the cohort variation is applied (:func:`phenotypes`)."""
    return base.replace(**{name: base.value(name) * float(np.exp(eta)) for name, eta in etas.items()})


@dataclass(frozen=True, eq=False)
class GroupResult:
    """One protocol run on a cohort.

    Attributes
    ----------
    protocol : Protocol
    labels : tuple of str
        Test labels (:attr:`Protocol.tests`).
    r_rel : ndarray (S, n_tests)
        Post-shock DA peak of a 3-s shock relative to the same subject before induction (naive state).
    failure : ndarray (S, n_tests)
        Failure probability of an escape trial of the protocol (10 s sLH, 3 s wLH) at the mouse's mPFC efficacy
        (:func:`circuits.behavior.failure_probability`; not a function of the DA response).
    latency_s : ndarray (S, n_tests)
    dip_rel : ndarray (S, n_tests)
        Dip during the shock relative to naive.
    efficacy : ndarray (S, n_tests)
        The behavioural link's input E (:func:`circuits.behavior.escape_efficacy`).
    t_h, long : ndarray
        Long-horizon output times and the observables/states kept (dict of (S, T) arrays).
    traces : ndarray (S, n_tests, n_trial_times) or None
        Indicator traces of the readout trials (GCaMP-like, Hz).
    """

    protocol: Protocol
    labels: tuple
    r_rel: np.ndarray
    failure: np.ndarray
    latency_s: np.ndarray
    dip_rel: np.ndarray
    t_h: np.ndarray
    long: dict
    traces: np.ndarray | None
    trial_t_s: np.ndarray
    status: np.ndarray | None = None  # (S,) 0 solved, else the engine's status (``on_failure="mask"``)
    reasons: tuple = ()
    efficacy: np.ndarray | None = None

    def take(self, rows) -> "GroupResult":
        """The same result for the subjects ``rows`` only (index array), in that order."""
        rows = np.asarray(rows)

        def cut(a):
            return None if a is None else np.asarray(a)[rows]

        return dataclasses.replace(
            self, r_rel=cut(self.r_rel), failure=cut(self.failure), latency_s=cut(self.latency_s),
            dip_rel=cut(self.dip_rel), long={k: cut(v) for k, v in self.long.items()}, traces=cut(self.traces),
            status=cut(self.status), reasons=tuple(np.asarray(self.reasons, object)[rows]) if self.reasons else (),
            efficacy=cut(self.efficacy))

    def mean_failure(self, label: str) -> float:
        return float(np.mean(self.failure[:, self.labels.index(label)]))

    def mean_r(self, label: str) -> float:
        return float(np.mean(self.r_rel[:, self.labels.index(label)]))


_KEEP = ("r_d1", "r_e", "r_da", "w", "occupancy_mpfc_interneuron", "occupancy_mpfc_pyramidal", "da_uM",
         "plasma_ketamine_uM", "brain_free_ketamine_uM")  # the last two: exposure readouts of circuit cohorts
_KEEP_STATES = ("H", "theta", "M", "A", "P", "rho", "Z")
_READ_BEFORE_H = 1e-3  # readout 3.6 s before a test starts (the test's own stress is not yet applied)


def naive_reference(cohort: list[CircuitParams], p=None):
    """Each subject's drug-free, stress-free trial: (photometry metrics, trial result, y0, params) (``p``: the
    subjects' engine parameter vectors, default the typical mouse's PK with each subject's circuit)."""
    y0 = initial_states(cohort)
    if p is None:
        p = np.array([parameter_vector(parameter_values(c)) for c in cohort])
    tr = run_trials(y0, p)
    return photometry(tr.gcamp, tr.t_s, tr.onset_s, tr.shock_s), tr, y0, p


def escape_failure_trials(y, p, efficacy, behaviors, *, trial_s: float = 3.0, total_s: float = 15.0) -> dict:
    """A mouse's escape and failure trials from states ``y`` (S, N) with parameters ``p`` (S, P), as the paper
    records them in wLH (Wu 2021 Fig 2c,d): a **failure** trial is a shock of the test's full length ``trial_s``
    (3 s in wLH; shock length is constant on failure trials); an **escape** trial's shock ends at the mouse's mean
    escape latency given escape, ``E[L | L < T]`` (:func:`~circuits.behavior.escape_latency_s` at its efficacy
    ``efficacy`` (S,), the behaviour model's Weibull hazard). One trial at the mean latency stands for the mean
    escape trace (the model is deterministic; averaging over the latency distribution would smear the offset).
    One batched solve (one shock duration per row).

    Returns
    -------
    dict
        ``escape``, ``failure`` (S, n_times) indicator traces; ``t_s``, ``onset_s``; ``escape_latency_s`` (S,);
        ``distance`` (S,) :func:`~circuits.behavior.escape_failure_distance`; ``escape_dff_peak``,
        ``failure_dff_dip``, ``failure_dff_peak`` (S,) ΔF/F metrics (:func:`~circuits.behavior.photometry`);
        ``status`` (S,) 0 where both trials solved.
    """
    y, p = np.asarray(y, float), np.asarray(p, float)
    S = y.shape[0]
    lat = np.array([float(escape_latency_s(e, b, trial_s=trial_s)) for e, b in zip(efficacy, behaviors)])
    lat = np.where(np.isfinite(lat) & (lat > 0), np.minimum(lat, trial_s), trial_s)
    tr = run_trials(np.concatenate([y, y]), np.concatenate([p, p]),
                    shock_s=np.concatenate([lat, np.full(S, trial_s)]), total_s=max(total_s, 5.0 + trial_s + 9.0))
    esc, fail = tr.gcamp[:S], tr.gcamp[S:]
    status = np.maximum(tr.status[:S], tr.status[S:])
    me = photometry(esc, tr.t_s, tr.onset_s, trial_s)  # its peak: the max within 8 s of onset
    mf = photometry(fail, tr.t_s, tr.onset_s, trial_s)
    dist = np.where(status == 0, escape_failure_distance(esc, fail, tr.t_s, tr.onset_s), np.nan)
    return {"escape": esc, "failure": fail, "t_s": tr.t_s, "onset_s": tr.onset_s, "escape_latency_s": lat,
            "distance": dist, "escape_dff_peak": me["dff_peak"], "failure_dff_dip": mf["dff_dip"],
            "failure_dff_peak": mf["dff_peak"], "status": status, "failure_shock_s": trial_s}


def baseline_signature(cohort: list[CircuitParams], p=None, *, trial_s: float = 3.0) -> dict:
    """The paper's individual signature from each subject's naive state (no drug, no stress; Wu 2021 Fig 2h,i:
    "the baseline distance between escape and failure mean traces", wLH): :func:`escape_failure_trials` from the
    drug-free fixed point with the wLH test's 3-s shocks, at the naive efficacy ``E = j_PD/j_PD,ref`` (w = 1).
    ``p``: engine parameter vectors (default: typical PK, each subject's circuit).

    Returns
    -------
    dict
        :func:`escape_failure_trials`' keys plus ``signature`` (= ``distance``, ΔF/F RMS) and ``naive_failure``
        (S,) the naive failure probability of a ``trial_s`` trial.
    """
    y0 = initial_states(cohort)
    if p is None:
        p = np.array([parameter_vector(parameter_values(c)) for c in cohort])
    e = np.array([float(escape_efficacy(1.0, c.vta.j_pd_pA_per_Hz, c.behavior)) for c in cohort])
    out = escape_failure_trials(y0, p, e, [c.behavior for c in cohort], trial_s=trial_s)
    out["signature"] = out["distance"]
    out["naive_failure"] = np.array([float(failure_probability(x, c.behavior, trial_s=trial_s))
                                     for x, c in zip(e, cohort)])
    return out


def _read(t: float) -> float:
    return max(t - _READ_BEFORE_H, 0.0)


def output_times(protocols: list[Protocol], extra_t_h=()) -> tuple[np.ndarray, list]:
    """The long-horizon output times of :func:`run_groups` (hourly, the readout times, ``extra_t_h``) and the
    segment bounds (readouts and the end)."""
    t_end = max(pr.duration_h for pr in protocols)
    bounds = sorted({_read(t) for pr in protocols for _, t in pr.tests} | {t_end})
    grid = np.linspace(0.0, t_end, int(np.ceil(t_end)) + 1)
    T = np.unique(np.concatenate([grid, bounds, np.asarray(extra_t_h, float)]))
    return T[(T >= 0) & (T <= t_end)], bounds


def run_groups(cohort: list[CircuitParams], protocols: list[Protocol], *, extra_t_h=(), keep_traces: bool = False,
               keep_y: bool = False, progress=None, pk_values=None, weights_kg=None,
               on_failure: str = "raise", rtol: float = RTOL) -> list[GroupResult]:
    """Run every protocol on every subject of ``cohort`` and read out behaviour at each test.

    All runs are integrated together (one batched solve per segment), readout to readout: just before a test or a
    photometry recording, a resolved single-shock trial (3 s) from each run's state gives the DA response relative
    to the same subject's naive response (``r_rel``, what photometry reports), and the mouse's mPFC efficacy there
    gives the failure probability of the protocol's escape trial (:func:`circuits.behavior.failure_probability`).
    Test sessions add no stress (escapable shocks are controllable; :mod:`circuits.protocols`).

    ``pk_values`` (one mapping per subject: engine parameter name -> value, e.g. a sampled subject's PK) override
    the typical mouse's values; ``weights_kg`` (one per subject) scale each subject's mg/kg doses.
    ``rtol`` is the relative tolerance of the long-horizon solves (the readout trials keep
    :data:`circuits.model.TRIAL_METHOD` at :data:`~circuits.model.TRIAL_RTOL`). ``on_failure="raise"`` (default)
    raises if any solve fails; ``"mask"``
    drops a failed run from later segments and reports it in :attr:`GroupResult.status` / ``reasons`` (its
    readouts NaN); since the engine solves each run independently of its batch, the other runs' results are
    unchanged.
    """
    from .protocols import clip_schedule

    if not cohort:
        raise ValueError("cohort: expected at least 1 subject, got 0")
    if not protocols:
        raise ValueError("protocols: expected at least one protocol")
    if on_failure not in ("raise", "mask"):
        raise ValueError(f"on_failure: expected 'raise' or 'mask', got {on_failure!r}")
    system = circuit_system()
    S = len(cohort)
    for name, v in (("pk_values", pk_values), ("weights_kg", weights_kg)):
        if v is not None and len(v) != S:
            raise ValueError(f"{name}: expected one entry per subject ({S}), got {len(v)}")

    def values(k, c):
        vals = parameter_values(c)
        return parameter_vector(vals if pk_values is None else {**vals, **pk_values[k]})

    p_naive = [values(k, c) for k, c in enumerate(cohort)]
    ref, ref_tr, y0_naive, p_ref = naive_reference(cohort, p=np.array(p_naive))
    base_peak, base_dip = ref["peak"], ref["dip"]
    t_end = max(pr.duration_h for pr in protocols)
    read = _read
    T, bounds = output_times(protocols, extra_t_h)
    runs = []  # (group, subject)
    P, base_sched = [], []
    for g, pr in enumerate(protocols):
        sch = schedule_for(pr) if weights_kg is None else None
        for k, c in enumerate(cohort):
            runs.append((g, k))
            cm = apply_manipulations(c, pr)
            P.append(p_naive[k] if cm is c else values(k, cm))  # no overrides: the naive vector, not built again
            base_sched.append(sch if sch is not None else schedule_for(pr, weight_kg=float(weights_kg[k])))
    P = np.array(P)
    R = len(runs)
    y = np.array([y0_naive[k] for _, k in runs])
    # what is kept on the output grid: the _KEEP observables and _KEEP_STATES, observed segment by segment (the
    # full state trajectories, (R, T, n_states), only for keep_y: allocating them cost ~0.6 ms per subject)
    kept_cols = [system.state_index(k) for k in _KEEP_STATES]
    kept = np.full((len(_KEEP) + len(_KEEP_STATES), R, T.size), np.nan)  # one (R, T) plane per kept name
    Y = None
    if keep_y:
        Y = np.full((R, T.size, system.n_states), np.nan)
        Y[:, 0] = y
    status = np.zeros(R, np.int64)
    reasons = [""] * R
    for k in np.flatnonzero(ref_tr.status != 0):
        msg = f"naive readout trial failed (status {int(ref_tr.status[k])})"
        if on_failure == "raise":
            raise RuntimeError(f"subject {k}: {msg}")
        for i, (_, kk) in enumerate(runs):
            if kk == k:
                status[i], reasons[i] = int(ref_tr.status[k]), msg
    r_rel = [np.zeros((S, len(pr.tests))) for pr in protocols]
    dip = [np.zeros((S, len(pr.tests))) for pr in protocols]
    pf = [np.zeros((S, len(pr.tests))) for pr in protocols]
    eff = [np.zeros((S, len(pr.tests))) for pr in protocols]
    i_rho, i_a, i_stress = system.state_index("rho"), system.state_index("A"), system.state_index("stress")
    traces = [np.zeros((S, len(pr.tests), 0)) for pr in protocols]
    trial_t = None
    a = 0.0
    for ib, b in enumerate(bounds):
        alive = np.flatnonzero(status == 0)
        if b > a and alive.size:
            sel = (T >= a) & (T <= b)
            te = T[sel]
            scheds = [clip_schedule(base_sched[i], a, b, last=(b == t_end)) for i in alive]
            sol = run_long(y[alive], P[alive], te, scheds, rtol=rtol, observables=False)
            if (sol.status != 0).any():
                bad = np.flatnonzero(sol.status != 0)
                if on_failure == "raise":
                    raise RuntimeError(f"long-horizon solve failed for {len(bad)} runs (first: run {alive[bad[0]]}, "
                                       f"status {int(sol.status[bad[0]])}, segment {a:g}-{b:g} h)")
                for j in bad:
                    status[alive[j]] = int(sol.status[j])
                    reasons[alive[j]] = f"long-horizon solve failed (status {int(sol.status[j])}), segment " \
                                        f"{a:g}-{b:g} h"
            good = sol.status == 0
            sy = sol.y if good.all() else sol.y[good]
            rows = alive[good] if good.size < R or not good.all() else slice(None)
            cols = np.flatnonzero(sel)
            cols = slice(cols[0], cols[-1] + 1)  # T is sorted: the segment's outputs are contiguous
            if Y is not None:
                Y[rows, cols] = sy
            obs = observe_all(sy, P[alive[good]], te)  # pointwise: the same numbers as observing the whole grid
            for j, k in enumerate(_KEEP):
                kept[j, rows, cols] = obs[k]
            for j, c in enumerate(kept_cols):
                kept[len(_KEEP) + j, rows, cols] = sy[:, :, c]
            y[alive[good]] = sy[:, -1]
        # readouts due at b
        due = [(i, g, k, j) for i, (g, k) in enumerate(runs) for j, (_, t) in enumerate(protocols[g].tests)
               if abs(read(t) - b) < 1e-9 and status[i] == 0]
        if due:
            yd, pd = np.array([y[i] for i, *_ in due]), np.array([P[i] for i, *_ in due])
            kd = np.array([k for _, _, k, _ in due])
            # a recording inside an inescapable session (the end of induction): the trial runs without the
            # session-averaged drive, from the neural states' stress-free quasi-steady state at the session's slow
            # states (between the session's shocks, 1-15 s apart, the fast states relax within ~1 s), not from the
            # averaged state, whose relaxation would fall into the trial's 5-s ΔF/F baseline
            live = np.flatnonzero(yd[:, i_stress] != 0.0)
            if live.size:
                yl = yd[live].copy()
                yl[:, i_stress] = 0.0
                pr_sol = _project(yl, pd[live], np.array([b, b + 1e-9]), rtol=rtol, observables=False, qss=LONG_QSS)
                yd[live] = pr_sol.y[:, 0]
            # a run still in its naive state with the naive parameters (the sLH baseline test at 0 h) would repeat
            # its naive readout trial exactly (the engine solves each row on its own): reuse that trial
            same = (yd == y0_naive[kd]).all(axis=1) & (pd == p_ref[kd]).all(axis=1)
            tr = ref_tr
            gcamp, t_status = np.empty((len(due), ref_tr.t_s.size)), np.empty(len(due), np.int64)
            gcamp[same], t_status[same] = ref_tr.gcamp[kd[same]], ref_tr.status[kd[same]]
            if not same.all():
                tr = run_trials(yd[~same], pd[~same])
                gcamp[~same], t_status[~same] = tr.gcamp, tr.status
            if (t_status != 0).any():
                if on_failure == "raise":
                    raise RuntimeError(f"a readout trial at {b:g} h failed")
                for n in np.flatnonzero(t_status != 0):
                    i = due[n][0]
                    status[i] = int(t_status[n])
                    reasons[i] = f"readout trial at {b:g} h failed (status {int(t_status[n])})"
            met = photometry(gcamp, tr.t_s, tr.onset_s, tr.shock_s)
            trial_t = tr.t_s
            for n, (i, g, k, j) in enumerate(due):
                if status[i] != 0:
                    continue
                pr = protocols[g]
                r_rel[g][k, j] = met["peak"][n] / base_peak[k]
                dip[g][k, j] = met["dip"][n] / base_dip[k]
                link = cohort[k].behavior
                e = float(escape_efficacy(y[i, i_rho] * y[i, i_a], cohort[k].vta.j_pd_pA_per_Hz, link))
                eff[g][k, j] = e
                pf[g][k, j] = float(failure_probability(e, link, trial_s=pr.trial_s))
                if keep_traces:
                    if traces[g].shape[2] == 0:
                        traces[g] = np.zeros((S, len(pr.tests), tr.t_s.size))
                    traces[g][k, j] = gcamp[n]
        a = b
        if progress:
            progress((ib + 1) / len(bounds))
    results = []
    for g, pr in enumerate(protocols):
        rows = slice(g * S, (g + 1) * S)
        failed = status[rows] != 0
        for arr in (r_rel[g], dip[g], pf[g], eff[g]):
            arr[failed] = np.nan
        kg = kept[:, rows]
        if failed.any():  # a failed run's partial trajectory is not a result: its observables are those of NaN states
            obs = observe_all(np.full((np.count_nonzero(failed), T.size, system.n_states), np.nan), P[rows][failed],
                              T)
            for j, k in enumerate(_KEEP + _KEEP_STATES):
                kg[j, failed] = obs[k] if j < len(_KEEP) else np.nan
        long = {k: kg[j] for j, k in enumerate(_KEEP + _KEEP_STATES)}
        if keep_y:
            yy = Y[rows]
            yy[failed] = np.nan
            long["_y"] = yy
            long["_p"] = P[rows]
        lat = np.array([mean_latency_s(eff[g][k], c.behavior, trial_s=pr.trial_s) for k, c in enumerate(cohort)])
        results.append(GroupResult(pr, tuple(lbl for lbl, _ in pr.tests), r_rel[g], pf[g], lat.reshape(S, -1),
                                   dip[g], T, long, traces[g] if keep_traces else None,
                                   trial_t if trial_t is not None else np.zeros(0), status[rows].copy(),
                                   tuple(reasons[rows]), eff[g]))
    return results


def observe_all(y, p, t=None) -> dict[str, np.ndarray]:
    """Every observable of the composed system on stored states ``y`` (S, T, N) with parameters ``p`` (S, P) at
    times ``t`` (T,) (default 0: the model is autonomous): name -> (S, T), by the compiled model's own observable
    function."""
    from pkpd.ode.codegen import compile_system

    y = np.asarray(y, float)
    t = np.zeros(y.shape[1]) if t is None else t
    return compile_system(circuit_system(), "rosenbrock").observe(t, y, p)


def simulate_protocol(protocol: str = "slh", *, regimen: Regimen | None = None, manipulations=(), n: int = 1,
                      seed: int = 0, step_h: float = 1.0, post_drug_tests_h=None, params=None) -> dict:
    """One subject (``n = 1``: the typical subject) or a few (a seeded virtual cohort) through a protocol.

    Returns
    -------
    dict
        ``timecourse``: columns ``subject, time_h`` and occupancy, mPFC rates, DA rate, plasticity states,
        efficacy, the post-shock DA response relative to naive (``da_response_rel``, from a resolved trial at every
        output time; NaN inside a shock session) and the failure probability of an escape trial (``p_fail``);
        ``tests``: one row per subject and test; ``protocol``: the timed protocol's description; ``overrides``:
        the parameter overrides ``params`` (by name, :mod:`circuits.overrides`) applied to the typical mouse.
    """
    from .overrides import resolve_circuit

    base, pkv, record = resolve_circuit(params)
    if not is_integer(n) or n < 1:
        raise ValueError(f"subjects: expected at least 1 subject, got {n!r}")
    if not (is_finite_real(step_h) and step_h > 0):
        raise ValueError(f"step: expected a positive output step in hours, got {step_h!r}")
    pr = build_protocol(protocol, regimen=regimen, manipulations=manipulations, post_drug_tests_h=post_drug_tests_h)
    cohort = [base] if n == 1 else virtual_cohort(n, seed, base=base)
    grid = np.arange(0.0, pr.duration_h + 1e-9, step_h)
    if grid.size > 5000:
        raise ValueError(f"step: {step_h:g} h gives {grid.size} output times; expected at most 5000")
    g = run_groups(cohort, [pr], extra_t_h=grid, keep_y=True, pk_values=None if pkv is None else [pkv] * n)[0]
    t = g.t_h
    keep = np.isin(np.round(t, 9), np.round(grid, 9))
    t_out = t[keep]
    system = circuit_system()
    Yk, P = g.long["_y"][:, keep], g.long["_p"]
    S, T = len(cohort), t_out.size
    # a resolved trial at every output time -> DA response and failure probability time courses; inside a
    # session (stress input on) the readout is undefined (NaN)
    ref = naive_reference(cohort)[0]
    tr = run_trials(Yk.reshape(S * T, -1), np.repeat(P, T, axis=0))
    met = photometry(tr.gcamp, tr.t_s, tr.onset_s, tr.shock_s)
    r_rel = met["peak"].reshape(S, T) / ref["peak"][:, None]
    in_session = Yk[:, :, system.state_index("stress")] > 1e-9  # reset to 0 leaves ~1e-19 round-off
    r_rel[in_session] = np.nan
    w = Yk[:, :, system.state_index("rho")] * Yk[:, :, system.state_index("A")]
    pf = np.array([failure_probability(escape_efficacy(w[k], c.vta.j_pd_pA_per_Hz, c.behavior), c.behavior,
                                       trial_s=pr.trial_s) for k, c in enumerate(cohort)])
    obs = observe_all(Yk, P)
    cols = {"subject": np.repeat(np.arange(S), T), "time_h": np.tile(t_out, S)}
    for k in ("occupancy_mpfc_interneuron", "occupancy_mpfc_pyramidal", "r_e", "r_d1", "r_da", "da_uM"):
        cols[k] = obs[k].reshape(-1)
    for k in ("H", "M", "A", "P", "rho"):
        cols[k] = Yk[:, :, system.state_index(k)].reshape(-1)
    cols["w"] = obs["w"].reshape(-1)
    cols["da_response_rel"] = r_rel.reshape(-1)
    cols["p_fail"] = pf.reshape(-1)
    tests = {"subject": [], "test": [], "time_h": [], "da_response_rel": [], "failure_rate": [], "latency_s": []}
    for k in range(S):
        for j, (lbl, tt) in enumerate(pr.tests):
            if lbl in pr.recordings:  # photometry recordings are not behavioural tests
                continue
            tests["subject"].append(k)
            tests["test"].append(lbl)
            tests["time_h"].append(tt)
            tests["da_response_rel"].append(float(g.r_rel[k, j]))
            tests["failure_rate"].append(float(g.failure[k, j]))
            tests["latency_s"].append(float(g.latency_s[k, j]))
    return {"timecourse": cols, "tests": tests, "protocol": {
        "name": pr.name, "sessions": [list(s) for s in pr.sessions], "tests": [list(x) for x in pr.tests],
        "doses": [d.describe() for d in pr.regimen], "windows": [list(w) for w in pr.windows],
        "overrides": pr.overrides, "duration_h": pr.duration_h, "drug_time_h": pr.drug_time_h},
        "overrides": record}
