"""Human translation (clinical course: Murrough et al. 2013 Am J Psychiatry 170:1134): the calibrated mouse circuit driven by human PK, read out as the time course
of *circuit rescue* — the fraction of a stress-induced deficit that a regimen restores.

Every mouse-to-human assumption is stated once, in :data:`ASSUMPTIONS` (``ketamine regimens --list`` and the study
JSON print them). In short:

1. **Same circuit.** Every mPFC, VTA, plasticity and behavioural parameter, and every time constant, is the
   calibrated mouse value (:class:`circuits.model.CircuitParams`); only the PK parameters change (a human PK model
   of :mod:`pkpd.pk_models` — Domino 1982 racemic, Perez-Ruixo 2021 esketamine — in the same composed graph).
2. **Depressed state = chronic stress.** A constant stress input ``s_c`` (an ongoing low duty of uncontrollable
   stress) whose steady-state spine density equals the typical subject's just before the sLH learned-helplessness
   test (72 h). Unlike the post-sLH state, which recovers by itself within ~2 weeks (stress load decays with
   τ_H = 60 h), this state is a fixed point: without drug nothing changes, so the no-drug rescue is 0 (a tested
   oracle) and any fading is the drug's.
3. **Readout** (the same as the mouse experiments): the failure probability of a 10-s escape trial at the state's
   mPFC efficacy E (:func:`circuits.behavior.failure_probability`), and, from a resolved single-shock trial at
   every output time, the post-shock DA response relative to the same subject's naive response. Rescue::

       R(t) = (p_depressed − p(t)) / (p_depressed − p_healthy)

   0 = the depressed state, 1 = healthy (naive); above 1 = fewer failures than naive (acute drug effect).
4. **Metrics** (:func:`effect_metrics`): response = ``R ≥ 0.5`` (half the deficit restored — the analogue of the
   clinical response criterion, a ≥ 50 % fall in MADRS); onset = first time of response; peak value and time;
   duration = time spent at response; half-life of the effect = time from the peak after the last dose until R has
   fallen to half of that peak (linear interpolation between output times).

**Against the clinical course** (onset within hours, peak ≈ 24 h, fading over 1–2 weeks; Zarate et al. 2006,
Murrough et al. 2013). Nothing here was tuned to it; the chronic-stress level comes from the mouse calibration
(sLH spine density). Measured (70 kg; ``ketamine regimens``, v0.1.0) with the earlier behaviour link that read the
DA response, not yet re-measured with the efficacy link:

* *Onset*: within the infusion (R ≥ 0.5 after 7 min of 0.5 mg/kg over 40 min) — faster than the clinic, because
  NMDA block itself raises the post-shock DA response acutely (the same acute effect that rescues mice at 4 h).
* *Peak*: not resolved by this readout. The failure probability reaches 0 within the first hour (R ≈ 1.03, the
  ceiling: ``p_depressed / (p_depressed − p_healthy)``) and stays there for days; the unsaturated DA response
  peaks at 3.5 h, the synaptic efficacy w at ≈ 24 h (the clinical peak is closest to w).
* *Fading*: one infusion: response for 9.7 d, R 0.81 at 7 d, half-life of the effect 9.5 d — the 1–2 weeks of the
  clinic. Six infusions over 12 d: response until day 31 (≈ 20 d after the last infusion; Murrough et al. 2013
  Biol Psychiatry report a median 18 d to relapse). Esketamine 56/84 mg twice weekly: still fully responding 14 d
  after the last dose (day 38); repeated surges accumulate efficacy (w up to ≈ 10× naive) because nothing bounds
  spine formation — a known limitation, not a prediction.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from pkpd.dosing import Regimen
from pkpd.parameters import is_finite_real

__all__ = ["Assumption", "ASSUMPTIONS", "RESPONSE_THRESHOLD", "RegimenSpec", "TranslationResult", "depressed_state",
           "effect_metrics", "translate", "translate_many", "output_grid", "exposure"]

#: Rescue at which a subject counts as responding (half of the deficit restored), the analogue of the clinical
#: response criterion (≥ 50 % reduction of the MADRS score; e.g. Murrough et al. 2013 Am J Psychiatry 170:1134).
RESPONSE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Assumption:
    """One mouse-to-human assumption: a name, the statement, its kind and the source or justification."""

    name: str
    statement: str
    kind: str  # "literature", "assumed" or "calibrated"
    source: str


#: The mouse-to-human assumptions of :func:`translate`, in one place.
ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption("circuit", "The human circuit is the calibrated mouse circuit: every mPFC, VTA, plasticity and "
               "behavioural parameter and time constant unchanged (τ_A 29 h, spine turnover ~7 d, τ_H 60 h).",
               "assumed", "no human data constrain the slow plasticity; the cascade (BDNF/mTORC1, spines) is "
               "conserved (Duman & Aghajanian 2012 Science 338:68)"),
    Assumption("nmda_ki", "NMDA occupancy from free brain S-/R-ketamine and -norketamine with the same Ki as in the "
               "mouse and the same interneuron/pyramidal potency ratio (3).", "literature",
               "Ki are from rat forebrain membranes (Ebert et al. 1997 Eur J Pharmacol 333:99); human NMDA "
               "receptor affinity assumed equal; ratio calibrated in the mouse circuit"),
    Assumption("human_brain", "Human brain concentration from the PK model's perfusion-limited brain compartment "
               "(partition coefficient and brain volume/flow of pkpd.species for human).", "assumed",
               "no measured human ke0 exists; pkpd.pk_models"),
    Assumption("human_pk", "Racemic ketamine: Kamp et al. 2020 meta-analysis (CL 79 L/h, V 252 L per 70 kg); "
               "esketamine intranasal: Perez-Ruixo et al. 2021 (n = 820).", "literature",
               "Kamp et al. 2020 Anesthesiology 133:1192; Perez-Ruixo et al. 2021 Clin Pharmacokinet 60:501"),
    Assumption("depressed_state", "Depression = a chronic-stress steady state: a constant stress input s_c whose "
               "steady-state spine density equals the typical subject's just before the sLH learned-helplessness "
               "test (72 h). Chosen over the post-sLH state itself, which recovers by itself within ~2 weeks "
               "(stress load decays with τ_H 60 h), because depression is persistent and a fixed point makes "
               "any fading of the effect the drug's.", "calibrated",
               "level from the mouse calibration (Wu et al. 2021 eLife sLH, 74 % failures); chronic stress "
               "eliminates prefrontal spines (Moda-Sava et al. 2019 Science 364:eaat8078)"),
    Assumption("readout", "Rescue R(t) = (p_depressed − p(t)) / (p_depressed − p_healthy), p the failure "
               "probability of an escape trial from the post-shock DA response relative to naive — the mouse "
               "readout, used as the circuit's proxy of depressive symptoms.", "assumed",
               "Wu et al. 2021 eLife (DA response predicts helplessness); circuits.behavior"),
    Assumption("response", f"Response = R ≥ {RESPONSE_THRESHOLD:g} (half the deficit restored), the analogue of the "
               "clinical response criterion (≥ 50 % fall in MADRS).", "assumed",
               "Murrough et al. 2013 Am J Psychiatry 170:1134"),
    Assumption("weight", "mg/kg doses scale with body weight (70 kg human, 25 g mouse by default); human doses are "
               "free base, mouse doses the HCl salt (pkpd.species).", "literature", "pkpd.species"),
)

_T_SETTLE_H = 4000.0  # integration to the chronic-stress fixed point: > 40 time constants of the slowest state


def assumption_rows() -> list[dict]:
    """:data:`ASSUMPTIONS` as JSON-ready rows."""
    return [{"name": a.name, "statement": a.statement, "kind": a.kind, "source": a.source} for a in ASSUMPTIONS]


@functools.lru_cache(maxsize=4)
def depressed_state(params=None) -> dict:
    """The chronic-stress depressed state of the typical subject (cached).

    Returns
    -------
    dict
        ``y`` (state vector of :func:`circuits.model.circuit_system`, no drug), ``stress`` (the chronic stress
        input s_c, shock duty), ``rho_slh`` (spine density before the sLH test, the target), ``rho``, ``H``,
        ``p_fail`` (failure probability in that state), ``p_healthy`` (naive), ``naive_peak`` (the naive trial's
        DA peak, Hz), ``drift`` (largest relative change of ρ over the last 500 h of settling).
    """
    from .behavior import failure_probability, photometry
    from .experiments import naive_reference, run_groups
    from .model import CircuitParams, circuit_system, initial_state, parameter_values, parameter_vector, \
        run_long, run_trials
    from .protocols import build_protocol

    c = CircuitParams() if params is None else params
    sysm = circuit_system()
    g = run_groups([c], [build_protocol("slh", post_drug_tests_h=(4.0,))])[0]
    i_lh = int(np.argmin(np.abs(g.t_h - (g.protocol.test_time("lh") - 1e-3))))
    rho_t = float(g.long["rho"][0, i_lh])
    q = c.plasticity
    h_star = math.sqrt((1.0 / rho_t - 1.0) / q.g_h)  # ρ* = 1/(1 + g_H H*²) with P = 0 (no surge at steady state)
    s_c = h_star / (q.k_h_per_h * q.tau_h_h * (1.0 - h_star))  # dH/dt = 0
    y0 = initial_state(c)
    y0[sysm.state_index("stress")] = s_c
    p = parameter_vector(parameter_values(c))
    t = np.array([0.0, _T_SETTLE_H - 500.0, _T_SETTLE_H])
    sol = run_long(y0[None], p[None], t)
    if sol.status[0] != 0:
        raise RuntimeError(f"settling to the chronic-stress state failed (status {int(sol.status[0])})")
    y = sol.y[0, -1].copy()
    ir = sysm.state_index("rho")
    drift = abs(sol.y[0, -1, ir] - sol.y[0, -2, ir]) / sol.y[0, -1, ir]
    ref = naive_reference([c], p=p[None])[0]
    tr = run_trials(y[None], p[None])
    met = photometry(tr.gcamp, tr.t_s, tr.onset_s, tr.shock_s)
    r_rel = float(met["peak"][0] / ref["peak"][0])
    return {"y": y, "stress": s_c, "rho_slh": rho_t, "rho": float(y[ir]), "H": float(y[sysm.state_index("H")]),
            "r_rel": r_rel,
            "p_fail": float(failure_probability(_efficacy(y, c), c.behavior)),
            "p_healthy": float(failure_probability(_efficacy(initial_state(c), c), c.behavior)),
            "naive_peak": float(ref["peak"][0]),
            "drift": float(drift)}


def effect_metrics(t_h, rescue, *, threshold: float = RESPONSE_THRESHOLD, last_dose_h: float = 0.0,
                   first_dose_h: float = 0.0) -> dict:
    """Onset, peak, duration and half-life of an effect curve (pure function; times in h from ``first_dose_h``).

    Parameters
    ----------
    t_h, rescue : array_like, shape (n,)
        Strictly increasing times (h) and the rescue R(t) (fraction of the deficit restored).
    threshold : float
        Response level (default :data:`RESPONSE_THRESHOLD`).
    last_dose_h, first_dose_h : float
        Start of the last and first administration, h.

    Returns
    -------
    dict
        ``onset_h`` (first upward crossing of ``threshold``, interpolated; None if never), ``peak`` and
        ``peak_time_h`` (maximum and its first time), ``duration_h`` (total time with R ≥ threshold),
        ``half_life_h`` (from the maximum at or after the last dose to the first time R falls to half of it,
        interpolated; None if not within the curve), ``last_peak``, ``last_peak_time_h``, ``end`` (R at the end),
        ``at_24h`` and ``at_7d`` (R 24 h and 7 days after the first dose; None beyond the curve).
    """
    from pkpd.exposure import time_above

    t = np.asarray(t_h, float)
    r = np.asarray(rescue, float)
    if t.ndim != 1 or t.shape != r.shape or t.size < 2 or not (np.diff(t) > 0).all():
        raise ValueError("rescue: expected strictly increasing times and a curve of the same length >= 2")

    def cross_up(a, b, lvl):
        return t[a] + (lvl - r[a]) * (t[b] - t[a]) / (r[b] - r[a])

    above = r >= threshold
    onset = None
    if above[0]:
        onset = t[0]
    else:
        k = np.flatnonzero(~above[:-1] & above[1:])
        if k.size:
            onset = cross_up(k[0], k[0] + 1, threshold)
    dur = time_above(t, r, threshold)  # crossings interpolated linearly
    i_pk = int(np.argmax(r))
    after = np.flatnonzero(t >= last_dose_h)
    j = int(after[np.argmax(r[after])]) if after.size else i_pk
    half = 0.5 * r[j]
    hl = None
    if r[j] > 0:
        k = np.flatnonzero((r[j:-1] > half) & (r[j + 1:] <= half))
        if k.size:
            a = j + int(k[0])
            hl = float(t[a] + (half - r[a]) * (t[a + 1] - t[a]) / (r[a + 1] - r[a]) - t[j])
    f0 = float(first_dose_h)
    at = {k: (float(np.interp(f0 + h, t, r)) if f0 + h <= t[-1] else None)
          for k, h in (("at_24h", 24.0), ("at_7d", 168.0))}
    return {**at, "onset_h": None if onset is None else float(onset) - f0, "peak": float(r[i_pk]),
            "peak_time_h": float(t[i_pk]) - f0, "duration_h": float(dur), "half_life_h": hl,
            "last_peak": float(r[j]), "last_peak_time_h": float(t[j]) - f0, "end": float(r[-1]),
            "threshold": float(threshold)}


def output_grid(regimens, horizon_h: float, step_h: float = 1.0, fine_h: float = 0.25,
                fine_span_h: float = 12.0) -> np.ndarray:
    """Output times (h): every ``step_h`` to ``horizon_h``, and every ``fine_h`` for ``fine_span_h`` after each dose
    (onset is a matter of hours)."""
    parts = [np.arange(0.0, horizon_h + 1e-9, step_h), [horizon_h]]
    for reg in regimens:
        for d in reg:
            parts.append(d.time_h + np.arange(0.0, fine_span_h + 1e-9, fine_h))
    t = np.unique(np.round(np.concatenate([np.asarray(x, float) for x in parts]), 9))
    return t[(t >= 0) & (t <= horizon_h)]


def exposure(regimen: Regimen, horizon_h: float, *, species: str, pk_model: str | None = None,
             weight_kg: float | None = None, params=None) -> dict:
    """Plasma ketamine Cmax (µM, ng/mL), Tmax, AUC(0–horizon) (µM·h) and peak NMDA occupancy (mPFC
    interneurons and pyramidal cells): the exposure summary of :func:`pkpd.pk.simulate_pk`
    (:func:`pkpd.exposure.summarize`, exact metrics of the continuous solution)."""
    from pkpd.pk import simulate_pk

    r = simulate_pk(regimen, horizon_h, species=species, pk_model=pk_model, weight_kg=weight_kg, params=params)
    s = r.summary()
    pk = s["plasma_ketamine"]
    return {"cmax_plasma_ketamine_uM": pk["cmax_uM"], "cmax_plasma_ketamine_ng_per_ml": pk["cmax_ng_per_ml"],
            "tmax_h": pk["tmax_h"], "auc_plasma_ketamine_uM_h": pk["auc_0_t_uM_h"],
            "peak_occupancy_interneuron": s["nmda_occupancy_interneuron"]["peak"],
            "peak_occupancy_pyramidal": s["nmda_occupancy_pyramidal"]["peak"],
            "pk_model": r.metadata["pk_model"], "drug": r.metadata["drug"], "weight_kg": r.metadata["weight_kg"],
            "total_base_mg": float(sum(d["base_mg"] for d in r.metadata["doses"]))}


@dataclass(frozen=True, eq=False)
class TranslationResult:
    """The circuit driven by one regimen's PK from the depressed state.

    Attributes
    ----------
    label : str
    regimen : Regimen
    species, pk_model : str
    weight_kg : float
    t_h : ndarray (T,)
        Hours from the start (the first dose is usually at 0).
    rescue : ndarray (T,)
        R(t), fraction of the stress-induced deficit restored (0 depressed, 1 healthy).
    p_fail, da_response_rel, w, occupancy_interneuron, occupancy_pyramidal, plasma_ketamine_uM : ndarray (T,)
        Failure probability of an escape trial, post-shock DA peak / naive, mPFC→VTA efficacy, mPFC NMDA
        occupancy, plasma ketamine (µM; from the composed model's own PK states).
    metrics : dict
        :func:`effect_metrics` of ``rescue``.
    exposure : dict
        :func:`exposure` (from :func:`pkpd.pk.simulate_pk`).
    reference : dict
        The depressed and healthy failure probabilities, chronic stress level, ρ (:func:`depressed_state`).
    da_rescue : ndarray (T,)
        The circuit-level readout: fraction of the DA-response deficit restored,
        ``(R̂(t) − R̂_depressed) / (1 − R̂_depressed)``; unlike ``rescue`` it does not saturate when failures
        reach 0.
    da_metrics : dict
        :func:`effect_metrics` of ``da_rescue``.
    """

    label: str
    regimen: Regimen
    species: str
    pk_model: str
    weight_kg: float
    t_h: np.ndarray
    rescue: np.ndarray
    p_fail: np.ndarray
    da_response_rel: np.ndarray
    w: np.ndarray
    occupancy_interneuron: np.ndarray
    occupancy_pyramidal: np.ndarray
    plasma_ketamine_uM: np.ndarray
    metrics: dict
    exposure: dict
    reference: dict = field(default_factory=dict)
    da_rescue: np.ndarray | None = None
    da_metrics: dict = field(default_factory=dict)

    def row(self) -> dict:
        """One table row: regimen, species, doses, effect metrics (h) and exposure."""
        m, e = self.metrics, self.exposure
        return {"regimen": self.label, "species": self.species, "pk_model": self.pk_model,
                "n_doses": len(self.regimen), "total_base_mg": e["total_base_mg"],
                "onset_h": m["onset_h"], "peak_rescue": m["peak"], "peak_time_h": m["peak_time_h"],
                "duration_h": m["duration_h"], "half_life_h": m["half_life_h"],
                "rescue_24h": m["at_24h"], "rescue_7d": m["at_7d"], "rescue_at_end": m["end"],
                "da_peak_rescue": self.da_metrics.get("peak"),
                "da_peak_time_h": self.da_metrics.get("peak_time_h"),
                "da_half_life_h": self.da_metrics.get("half_life_h"),
                "cmax_plasma_ketamine_ng_per_ml": e["cmax_plasma_ketamine_ng_per_ml"],
                "auc_plasma_ketamine_uM_h": e["auc_plasma_ketamine_uM_h"],
                "peak_occupancy_interneuron": e["peak_occupancy_interneuron"],
                "peak_occupancy_pyramidal": e["peak_occupancy_pyramidal"]}


@dataclass(frozen=True)
class RegimenSpec:
    """What to translate: a labelled regimen with its species, PK model and body weight."""

    label: str
    regimen: Regimen
    species: str = "human"
    pk_model: str | None = None
    weight_kg: float | None = None


def translate_many(specs, *, horizon_h: float, step_h: float = 1.0, params=None, progress=None, pk_params=None):
    """Translate several regimens in one batched solve (plus a no-drug control run). ``params``: the circuit
    (:class:`~circuits.model.CircuitParams`); ``pk_params``: per spec, PK overrides by canonical name
    (:func:`pkpd.overrides.apply_pk`).

    Returns ``(results, control)``: one :class:`TranslationResult` per spec and the no-drug control's rescue
    curve (dict ``t_h``, ``rescue``; 0 within solver tolerance — an oracle of the fixed point).
    """
    from pkpd.ode import Schedule
    from pkpd.overrides import apply_pk
    from pkpd.pk import dose_schedule
    from pkpd.pk import parameter_values as pk_values
    from pkpd.pk_models import get_pk_model
    from pkpd.receptor import NmdaParams
    from pkpd.species import Subject

    from .behavior import failure_probability, photometry
    from .experiments import observe_all
    from .model import CircuitParams, parameter_values, parameter_vector, run_long, run_trials

    specs = list(specs)
    if not specs:
        raise ValueError("regimens: expected at least one regimen")
    if not (is_finite_real(horizon_h) and horizon_h > 0):
        raise ValueError(f"horizon: expected a positive horizon in hours, got {horizon_h!r}")
    if not (is_finite_real(step_h) and 0 < step_h <= horizon_h):
        raise ValueError(f"step: expected a positive output step in hours up to the horizon, got {step_h!r}")
    for s in specs:
        if not isinstance(s.regimen, Regimen) or len(s.regimen) == 0:
            raise ValueError(f"regimen {s.label!r}: expected at least one dose")
        try:
            s.regimen.check_within(horizon_h)
        except ValueError as e:
            raise ValueError(f"regimen {s.label!r}: {str(e).split(': ', 1)[-1]} (horizon)") from None
    c = CircuitParams() if params is None else params
    subjects = [Subject(s.species, s.weight_kg, "male") for s in specs]  # bad species/weight/model: fail first
    models = [get_pk_model(s.pk_model, subj.species) for s, subj in zip(specs, subjects)]
    dep = depressed_state(params)
    if progress:
        progress(0.1)
    base = parameter_values(c)
    pk_params = pk_params or [{} for _ in specs]
    P, scheds = [], []
    for s, subj, model, ov in zip(specs, subjects, models, pk_params):
        nmda = NmdaParams(interneuron_potency_ratio=c.interneuron_potency_ratio)
        model, nmda = apply_pk(model, nmda, ov)
        v = {**base, **pk_values(model, subj, nmda=nmda)}
        P.append(parameter_vector(v))
        scheds.append(dose_schedule(model, subj, s.regimen)[0])
    P.append(parameter_vector(base))  # the no-drug control
    scheds.append(Schedule())
    P = np.array(P)
    T = output_grid([s.regimen for s in specs], horizon_h, step_h)
    y0 = np.repeat(dep["y"][None], len(P), axis=0)
    # weeks of repeated dosing take more steps than the default budget of the protocol runs
    sol = run_long(y0, P, T, scheds, max_steps=5_000_000)
    if (sol.status != 0).any():
        k = int(np.flatnonzero(sol.status != 0)[0])
        raise RuntimeError(f"the circuit solve failed for {specs[k].label if k < len(specs) else 'control'} "
                           f"(status {int(sol.status[k])})")
    if progress:
        progress(0.4)
    R = len(P)
    # a resolved shock trial from every state: the mouse readout
    peaks = np.empty((R, T.size))
    for k in range(R):
        tr = run_trials(sol.y[k], np.repeat(P[k][None], T.size, axis=0))
        if (tr.status != 0).any():
            raise RuntimeError(f"a readout trial failed for run {k} (status {int(tr.status[tr.status != 0][0])})")
        peaks[k] = photometry(tr.gcamp, tr.t_s, tr.onset_s, tr.shock_s)["peak"]
        if progress:
            progress(0.4 + 0.5 * (k + 1) / R)
    r_rel = peaks / dep["naive_peak"]
    with np.errstate(over="ignore"):  # exp overflow = a failure probability of exactly 0
        pf = failure_probability(_efficacy(sol.y[:, :, :], c), c.behavior)
    rescue = (dep["p_fail"] - pf) / (dep["p_fail"] - dep["p_healthy"])
    da_rescue = (r_rel - dep["r_rel"]) / (1.0 - dep["r_rel"])
    ob = observe_all(sol.y, P, T)
    reference = {k: dep[k] for k in ("p_fail", "p_healthy", "stress", "rho", "rho_slh", "H", "r_rel", "drift")}
    out = []
    for k, s in enumerate(specs):
        first = s.regimen.doses[0].time_h
        met = effect_metrics(T, rescue[k], last_dose_h=s.regimen.doses[-1].time_h, first_dose_h=first)
        met_da = effect_metrics(T, da_rescue[k], last_dose_h=s.regimen.doses[-1].time_h, first_dose_h=first)
        ex = exposure(s.regimen, horizon_h, species=s.species, pk_model=s.pk_model, weight_kg=s.weight_kg,
                      params=pk_params[k] or None)
        out.append(TranslationResult(s.label, s.regimen, subjects[k].species, models[k].name,
                                     subjects[k].weight_kg, T, rescue[k], pf[k], r_rel[k], ob["w"][k],
                                     ob["occupancy_mpfc_interneuron"][k], ob["occupancy_mpfc_pyramidal"][k],
                                     ob["plasma_ketamine_uM"][k], met, ex, reference, da_rescue[k], met_da))
    if progress:
        progress(1.0)
    return out, {"t_h": T, "rescue": rescue[-1], "p_fail": pf[-1], "da_rescue": da_rescue[-1]}


def translate(regimen: Regimen, *, species: str = "human", pk_model: str | None = None,
              weight_kg: float | None = None, horizon_days: float = 21.0, step_h: float = 1.0,
              label: str = "regimen", params=None) -> TranslationResult:
    """The calibrated circuit driven by ``regimen`` through a ``species`` PK model, from the depressed state.

    Parameters
    ----------
    regimen : Regimen
        Doses, hours from the start (the depressed state holds at t = 0).
    species : {"human", "mouse"}
    pk_model : str, optional
        Key of :data:`pkpd.pk_models.PK_MODELS` (default the species' default: ``domino1982`` for human).
    weight_kg : float, optional
        Body weight (default 70 kg human, 25 g mouse).
    horizon_days : float
        Length of the simulation, days; every dose must start within it.
    step_h : float
        Output step, h (every 15 min for 12 h after each dose in addition).
    params : CircuitParams, optional
        The circuit (default: the calibrated typical subject).

    Returns
    -------
    TranslationResult
        See the module docstring for the readout and :data:`ASSUMPTIONS` for every assumption.

    Raises
    ------
    ValueError
        A dose after the horizon, an unknown PK model or species, a bad horizon or step.
    """
    if not (is_finite_real(horizon_days) and horizon_days > 0):
        raise ValueError(f"horizon: expected a positive number of days, got {horizon_days!r}")
    res, _ = translate_many([RegimenSpec(label, regimen, species, pk_model, weight_kg)],
                            horizon_h=24.0 * horizon_days, step_h=step_h, params=params)
    return res[0]


def _efficacy(y, c):
    """The behavioural link's input E (:func:`circuits.behavior.escape_efficacy`) of states ``y`` (..., n_states)."""
    from .behavior import escape_efficacy
    from .model import circuit_system

    sysm = circuit_system()
    y = np.asarray(y, float)
    w = y[..., sysm.state_index("rho")] * y[..., sysm.state_index("A")]
    return escape_efficacy(w, c.vta.j_pd_pA_per_Hz, c.behavior)
