"""In-silico experiments: virtual cohorts through protocols, and the replication of Wu et al. 2021 (SCIENCE §6,
experiments 1–8). Every number returned is computed by integrating the composed model; nothing is hard-coded
except the paper's own values, which are kept apart in :data:`PAPER` for side-by-side figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pkpd.dosing import Regimen
from pkpd.parameters import is_finite_real, is_integer
from pkpd.population import Population, default_population

from .behavior import (dff, escape_failure_distance, escape_latency_s, failure_probability, mean_latency_s,
                       photometry, response_index)
from .model import (RTOL, CircuitParams, circuit_system, initial_states, parameter_values, parameter_vector,
                    run_long, run_trials)
from .protocols import Protocol, apply_manipulations, build_protocol, schedule_for

__all__ = ["COHORT_VARIATION", "circuit_population", "virtual_cohort", "phenotypes", "vary", "output_times",
           "GroupResult", "run_groups", "wu2021",
           "PAPER", "DOSE_GRID",
           "naive_reference", "baseline_signature", "simulate_protocol"]

#: Per-subject lognormal variation (SD of log) of a few circuit parameters, independent. ``j_pd_pA_per_Hz`` (the
#: mPFC→DA burst drive, which sets each mouse's naive post-shock DA response and so its baseline failure rate):
#: 0.08, calibrated to the spread of sLH baseline failures (Wu 2021: SD 3.8 % over mice, n = 105, 30 trials each;
#: the model's per-mouse failure probabilities plus 30-trial binomial noise give 4.3 % at n = 300); ``g_h`` (stress
#: sensitivity of spine loss, the resilience phenotype) and ``k_a_per_h`` (ketamine-driven potentiation): 0.2,
#: assumed. With these, a cohort's sLH failure-rate SD after induction is 19 % (paper: 22 %, n = 107) — a check,
#: not a target.
COHORT_VARIATION = {"g_h": 0.2, "j_pd_pA_per_Hz": 0.08, "k_a_per_h": 0.2}

#: mg/kg i.p. (HCl salt), the dose–response grid of experiment 7.
DOSE_GRID = (1.0, 3.0, 10.0, 30.0, 50.0, 100.0, 200.0)

#: The paper's values (Wu et al. 2021 eLife; SCIENCE §1), for figures only. None = reported only qualitatively.
PAPER = {
    "slh.failure_rate": {"baseline": 0.022, "lh": 0.74, "ket_4h": None, "ket_24h": None, "ket_72h": None,
                         "saline_4h": 0.74},
    "wlh.failure_rate": {"baseline": 0.119, "lh": 0.489, "ket_4h": 0.36 / 0.60 * 0.489, "ket_24h": None},
    "individual.r2": {"helplessness": 0.63, "ketamine_response": 0.72},
}


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
        Post-shock DA peak relative to the same subject before induction (naive state).
    failure : ndarray (S, n_tests)
        Failure probability of an escape trial.
    latency_s : ndarray (S, n_tests)
    dip_rel : ndarray (S, n_tests)
        Dip during the shock relative to naive.
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


def baseline_signature(cohort: list[CircuitParams], p=None, *, total_s: float = 25.0) -> dict:
    """The paper's individual signature from each subject's naive state (no drug, no stress; Wu 2021: "the baseline
    distance between escape and failure mean traces").

    Two resolved trials per subject from its drug-free fixed point (one batched solve, one shock duration per row),
    after the naive readout trial that sets the escape latency:

    * **failure**: the shock lasts the test trial's full 10 s (:attr:`ProtocolParams.test_trial_s`; a failure
      is never escaped);
    * **escape**: the shock ends at the subject's mean escape latency given escape at baseline,
      ``E[L | L < T] = 1/λ − T·P_fail/(1 − P_fail)`` with ``λ = −ln P_fail / T`` (:func:`escape_latency_s`, the
      behaviour model's constant hazard) and ``P_fail`` the subject's own naive failure probability (from its
      naive readout trial, :func:`naive_reference`; 2.2 % and 2.4 s for the typical mouse, R̂ = 1). One trial at
      the mean latency stands for the mean escape trace (the model is deterministic; averaging trials over the
      latency distribution would smear the offset).

    The signature is :func:`~circuits.behavior.escape_failure_distance` of the two traces (RMS difference of
    ΔF/F over onset to onset + 8 s). ``p``: engine parameter vectors (default: typical PK, each subject's circuit).

    Returns
    -------
    dict
        ``signature`` (S,) ΔF/F fraction; ``escape_minus_failure`` (S,): a diagnostic, the *signed* mean
        difference escape − failure of ΔF/F over the same window (equal to the L1 distance / window wherever the
        escape trace lies above the failure trace, as in the paper's traces; unlike the RMS distance it keeps
        its sign when a failure trace rises above the escape trace during a long shock);
        ``escape_latency_s`` (S,); ``naive_failure`` (S,) the naive failure probability it came from;
        ``t_s`` (n_times,); ``onset_s``;
        ``escape``, ``failure`` (S, n_times) indicator traces; ``status`` (S,) 0 where all three trials solved.
    """
    from .protocols import ProtocolParams

    fail_s = ProtocolParams().test_trial_s
    S = len(cohort)
    naive, naive_tr, y0, p = naive_reference(cohort, p)
    p_naive = [failure_probability(response_index(naive["peak"][k], c.behavior), c.behavior)
               for k, c in enumerate(cohort)]
    lat = np.array([float(escape_latency_s(pk, c.behavior)) for pk, c in zip(p_naive, cohort)])
    lat = np.where((naive_tr.status == 0) & np.isfinite(lat), lat, fail_s)  # a failed naive trial: status below
    tr = run_trials(np.concatenate([y0, y0]), np.concatenate([p, p]),
                    shock_s=np.concatenate([lat, np.full(S, fail_s)]), total_s=max(total_s, 5.0 + fail_s + 1.0))
    esc, fail = tr.gcamp[:S], tr.gcamp[S:]
    status = np.maximum(np.maximum(tr.status[:S], tr.status[S:]), naive_tr.status)
    sig = np.where(status == 0, escape_failure_distance(esc, fail, tr.t_s, tr.onset_s), np.nan)
    win = (tr.t_s >= tr.onset_s) & (tr.t_s <= tr.onset_s + 8.0 + 1e-9)
    signed = (dff(esc, tr.t_s, tr.onset_s) - dff(fail, tr.t_s, tr.onset_s))[:, win]
    signed = np.where(status == 0, np.cumsum(signed, axis=-1)[:, -1] / np.count_nonzero(win), np.nan)
    return {"signature": sig, "escape_minus_failure": signed, "escape_latency_s": lat,
            "naive_failure": np.array(p_naive, float), "failure_shock_s": fail_s,
            "t_s": tr.t_s, "onset_s": tr.onset_s, "escape": esc, "failure": fail, "status": status}


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

    All runs are integrated together (one batched solve per segment), test to test: just before a test starts,
    a resolved single-shock trial from each run's state gives the DA response relative to the same subject's
    naive response (``r_rel``, what photometry reports) and the failure probability (from the response relative
    to the typical naive mouse's, :func:`circuits.behavior.response_index`); the test session's stress drive is
    then set from it (failed trials are uncontrollable shocks) and integration continues to the next readout.

    ``pk_values`` (one mapping per subject: engine parameter name -> value, e.g. a sampled subject's PK) override
    the typical mouse's values; ``weights_kg`` (one per subject) scale each subject's mg/kg doses.
    ``rtol`` is the relative tolerance of the long-horizon solves (the readout trials keep
    :data:`circuits.model.TRIAL_METHOD` at :data:`~circuits.model.TRIAL_RTOL`). ``on_failure="raise"`` (default) raises if any solve fails; ``"mask"``
    drops a failed run from later segments and reports it in :attr:`GroupResult.status` / ``reasons`` (its
    readouts NaN); since the engine solves each run independently of its batch, the other runs' results are
    unchanged.
    """
    from pkpd.ode import Schedule

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
    test_events = [Schedule() for _ in range(R)]
    r_rel = [np.zeros((S, len(pr.tests))) for pr in protocols]
    dip = [np.zeros((S, len(pr.tests))) for pr in protocols]
    pf = [np.zeros((S, len(pr.tests))) for pr in protocols]
    traces = [np.zeros((S, len(pr.tests), 0)) for pr in protocols]
    trial_t = None
    a = 0.0
    for ib, b in enumerate(bounds):
        alive = np.flatnonzero(status == 0)
        if b > a and alive.size:
            sel = (T >= a) & (T <= b)
            te = T[sel]
            scheds = [clip_schedule(base_sched[i] + test_events[i], a, b, last=(b == t_end)) for i in alive]
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
                pf[g][k, j] = float(failure_probability(response_index(met["peak"][n], link), link))
                if keep_traces:
                    if traces[g].shape[2] == 0:
                        traces[g] = np.zeros((S, len(pr.tests), tr.t_s.size))
                    traces[g][k, j] = gcamp[n]
                t_test = pr.tests[j][1]
                level = pr.test_level_per_failure * pf[g][k, j]
                if level > 0 and t_test + pr.test_h <= t_end:
                    test_events[i] = test_events[i].reset(t_test, "stress", level).reset(t_test + pr.test_h,
                                                                                           "stress", 0.0)
        a = b
        if progress:
            progress((ib + 1) / len(bounds))
    results = []
    for g, pr in enumerate(protocols):
        rows = slice(g * S, (g + 1) * S)
        failed = status[rows] != 0
        for arr in (r_rel[g], dip[g], pf[g]):
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
        results.append(GroupResult(pr, tuple(lbl for lbl, _ in pr.tests), r_rel[g], pf[g], mean_latency_s(pf[g]),
                                   dip[g], T, long, traces[g] if keep_traces else None,
                                   trial_t if trial_t is not None else np.zeros(0), status[rows].copy(),
                                   tuple(reasons[rows])))
    return results


def observe_all(y, p, t=None) -> dict[str, np.ndarray]:
    """Every observable of the composed system on stored states ``y`` (S, T, N) with parameters ``p`` (S, P) at
    times ``t`` (T,) (default 0: the model is autonomous): name -> (S, T), by the compiled model's own observable
    function."""
    from pkpd.ode.codegen import compile_system

    y = np.asarray(y, float)
    t = np.zeros(y.shape[1]) if t is None else t
    return compile_system(circuit_system(), "rosenbrock").observe(t, y, p)


def _ket(dose_mg_per_kg: float = 10.0) -> Regimen:
    return Regimen.single(f"{dose_mg_per_kg:g}mg/kg", "ip")


def wu2021(n: int = 100, seed: int = 0, progress=None) -> tuple[dict, dict]:
    """Experiments 1–8 of SCIENCE §6 on a virtual cohort. Returns ``(summary, details)``: ``summary`` has exactly
    the keys of issue 4; ``details`` holds group results for figures.

    Individual differences (experiment 8): each mouse's baseline signature is the paper's, the distance between
    its naive escape and failure ΔF/F traces (:func:`baseline_signature`); ``summary["individual"]`` holds its
    R² (squared Pearson correlation over the cohort) against the ketamine response (sLH failure rate after
    induction − 4 h after ketamine), against the failure rate 4 h after ketamine (the other reading of the
    paper's "ketamine response"; our sources do not say which measure its R² 0.72 used) and against
    helplessness (the failure rate after induction); ``details`` repeats them with the signed correlations
    ``r_…`` and the trials (``signature_trials``)."""
    cohort = virtual_cohort(n, seed)
    ket = _ket(10.0)
    groups = {
        "slh_ket": build_protocol("slh", regimen=ket),
        "slh_saline": build_protocol("slh", post_drug_tests_h=(4,)),
        "da_silenced_ket": build_protocol("slh", regimen=ket, manipulations="da_silencing", post_drug_tests_h=(4, 24)),
        "cno_only": build_protocol("slh", manipulations="cno_only", post_drug_tests_h=(4,)),
        "mpfc_silenced_ket": build_protocol("slh", regimen=ket, manipulations="mpfc_silencing",
                                            post_drug_tests_h=(4,)),
        "vta_infusion_ket": build_protocol("slh", regimen=ket, manipulations="vta_infusion", post_drug_tests_h=(4,)),
        "mpfc_infusion_ket": build_protocol("slh", regimen=ket, manipulations="mpfc_infusion",
                                            post_drug_tests_h=(4,)),
        "drd1_activation": build_protocol("slh", manipulations="drd1_activation", post_drug_tests_h=(4,)),
        "drd1_inhibition_ket": build_protocol("slh", regimen=ket, manipulations="drd1_inhibition",
                                              post_drug_tests_h=(4,)),
        "mtor_block_ket": build_protocol("slh", regimen=ket, manipulations="mtor_block", post_drug_tests_h=(4, 24)),
        "spine_block_ket": build_protocol("slh", regimen=ket, manipulations="spine_block",
                                          post_drug_tests_h=(4, 48)),
        "wlh_ket": build_protocol("wlh", regimen=ket),
    }
    for d in DOSE_GRID:
        groups[f"dose_{d:g}"] = build_protocol("slh", regimen=_ket(d), post_drug_tests_h=(4,))
    names = list(groups)
    extra = 96.0 + np.linspace(0.0, 2.0, 25)  # fine grid over the first 2 h after the drug (mPFC surge)
    res = dict(zip(names, run_groups(cohort, [groups[k] for k in names], extra_t_h=extra, keep_traces=True,
                                     progress=progress)))
    s, w = res["slh_ket"], res["wlh_ket"]
    fl = lambda g, lbl: res[g].mean_failure(lbl)  # noqa: E731
    dose_peak = []
    for d in DOSE_GRID:
        g = res[f"dose_{d:g}"]
        t = g.t_h
        pre = np.searchsorted(t, 96.0)
        win = (t > 96.0) & (t <= 97.0 + 1e-9)
        dose_peak.append(float(np.mean(g.long["r_e"][:, win].mean(axis=1) / g.long["r_e"][:, pre])))
    sig = baseline_signature(cohort)
    base_sig = sig["signature"]
    after_ket = s.failure[:, s.labels.index("4h")]
    helpless = s.failure[:, s.labels.index("lh")]
    resp = helpless - after_ket

    def corr(x, y):  # Pearson r over the cohort; NaN when undefined (n ≤ 2, a constant or a failed readout)
        ok = n > 2 and np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.std(x) > 0 and np.std(y) > 0
        return float(np.corrcoef(x, y)[0, 1]) if ok else float("nan")

    def r2(x, y):
        return corr(x, y) ** 2

    summary = {
        "slh": {"failure_rate": {"baseline": fl("slh_ket", "baseline"), "lh": fl("slh_ket", "lh"),
                                 "ket_4h": fl("slh_ket", "4h"), "ket_24h": fl("slh_ket", "24h"),
                                 "ket_72h": fl("slh_ket", "72h"), "saline_4h": fl("slh_saline", "4h")}},
        "wlh": {"failure_rate": {"baseline": float(np.mean(w.failure[:, :2])), "lh": float(np.mean(w.failure[:, 2:4])),
                                 "ket_4h": fl("wlh_ket", "test5"), "ket_24h": fl("wlh_ket", "test6")}},
        "da_response": {"lh": s.mean_r("lh"), "ket_4h": s.mean_r("4h"), "ket_24h": s.mean_r("24h")},
        "controls": {
            "da_silenced_ket_4h": fl("da_silenced_ket", "4h"),
            "cno_only_lh": fl("cno_only", "4h"),
            "mpfc_silenced_ket_4h": fl("mpfc_silenced_ket", "4h"),
            "vta_infusion_ket_4h": fl("vta_infusion_ket", "4h"),
            "mpfc_infusion_ket_4h": fl("mpfc_infusion_ket", "4h"),
            "drd1_activation_no_ket_4h": fl("drd1_activation", "4h"),
            "drd1_inhibition_ket_4h": fl("drd1_inhibition_ket", "4h"),
            "mtor_block_ket_24h": fl("mtor_block_ket", "24h"),
            "spine_block_ket_4h": fl("spine_block_ket", "4h"),
            "spine_block_ket_48h": fl("spine_block_ket", "48h"),
        },
        "dose_response": {"dose_mg_per_kg": list(DOSE_GRID), "mpfc_peak_rel": dose_peak,
                          "failure_rate_4h": [fl(f"dose_{d:g}", "4h") for d in DOSE_GRID]},
        "individual": {"r2_baseline_signature_vs_ket_response": r2(base_sig, resp),
                       "r2_baseline_signature_vs_failure_after_ket": r2(base_sig, after_ket),
                       "r2_baseline_signature_vs_helplessness": r2(base_sig, helpless)},
    }
    details = {"groups": res, "cohort": cohort, "baseline_signature": base_sig, "ket_response": resp,
               "helplessness": helpless, "failure_after_ket": after_ket,
               "r2_baseline_signature_vs_failure_after_ket": r2(base_sig, after_ket),
               "r2_baseline_signature_vs_helplessness": r2(base_sig, helpless),
               "r2_baseline_signature_vs_ket_response": r2(base_sig, resp),
               "r_baseline_signature_vs_helplessness": corr(base_sig, helpless),
               "r_baseline_signature_vs_ket_response": corr(base_sig, resp),
               "r_baseline_signature_vs_failure_after_ket": corr(base_sig, after_ket),
               "signature_trials": sig,
               # diagnostic: the signed escape − failure difference (see baseline_signature)
               "r_signed_signature_vs_helplessness": corr(sig["escape_minus_failure"], helpless),
               "r_signed_signature_vs_ket_response": corr(sig["escape_minus_failure"], resp),
               "n": n, "seed": seed}
    return summary, details


def simulate_protocol(protocol: str = "slh", *, regimen: Regimen | None = None, manipulations=(), n: int = 1,
                      seed: int = 0, step_h: float = 1.0, post_drug_tests_h=None) -> dict:
    """One subject (``n = 1``: the typical subject) or a few (a seeded virtual cohort) through a protocol.

    Returns
    -------
    dict
        ``timecourse``: columns ``subject, time_h`` and occupancy, mPFC rates, DA rate, plasticity states,
        efficacy, the post-shock DA response relative to naive (``da_response_rel``, from a resolved trial at every
        output time; NaN inside a shock session) and the failure probability of an escape trial (``p_fail``);
        ``tests``: one row per subject and test; ``protocol``: the timed protocol's description.
    """
    if not is_integer(n) or n < 1:
        raise ValueError(f"subjects: expected at least 1 subject, got {n!r}")
    if not (is_finite_real(step_h) and step_h > 0):
        raise ValueError(f"step: expected a positive output step in hours, got {step_h!r}")
    pr = build_protocol(protocol, regimen=regimen, manipulations=manipulations, post_drug_tests_h=post_drug_tests_h)
    cohort = [CircuitParams()] if n == 1 else virtual_cohort(n, seed)
    grid = np.arange(0.0, pr.duration_h + 1e-9, step_h)
    if grid.size > 5000:
        raise ValueError(f"step: {step_h:g} h gives {grid.size} output times; expected at most 5000")
    g = run_groups(cohort, [pr], extra_t_h=grid, keep_y=True)[0]
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
    r_hat = np.array([response_index(pk, c.behavior) for pk, c in zip(met["peak"].reshape(S, T), cohort)])
    r_hat[in_session] = np.nan
    pf = np.array([failure_probability(r_hat[k], cohort[k].behavior) for k in range(S)])
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
            tests["subject"].append(k)
            tests["test"].append(lbl)
            tests["time_h"].append(tt)
            tests["da_response_rel"].append(float(g.r_rel[k, j]))
            tests["failure_rate"].append(float(g.failure[k, j]))
            tests["latency_s"].append(float(g.latency_s[k, j]))
    return {"timecourse": cols, "tests": tests, "protocol": {
        "name": pr.name, "sessions": [list(s) for s in pr.sessions], "tests": [list(x) for x in pr.tests],
        "doses": [d.describe() for d in pr.regimen], "windows": [list(w) for w in pr.windows],
        "overrides": pr.overrides, "duration_h": pr.duration_h, "drug_time_h": pr.drug_time_h}}
