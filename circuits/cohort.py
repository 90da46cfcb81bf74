"""The circuit model in the cohort runner: protocols ``slh`` and ``wlh`` and their per-subject readouts.

:class:`CircuitProtocol` implements the runner's contract (:class:`pkpd.cohort.CohortProtocol`); the registry
(:mod:`circuits.registry`) hands it to the runner by name. Nothing here simulates on its own: a chunk is run by
:func:`circuits.experiments.run_groups` (the same path as ``ketamine experiment`` / ``simulate``), fed with

* each subject's circuit phenotype: ``typical × exp(η)`` of :data:`circuits.experiments.COHORT_VARIATION`
  (:func:`circuits.experiments.phenotypes`), η drawn by the population sampler from its own generator
  (:attr:`pkpd.population.Population.circuit_variation`), so the weight, sex and PK draws are those of a PK cohort
  with the same seed, and subject k is mouse k of ``simulate`` / ``experiment`` with the same seed
  (:func:`circuits.experiments.virtual_cohort`: the same sampler);
* each subject's PK parameters (body weight, sex, PK η) through :func:`pkpd.cohort.pk_parameters`, and its
  mg/kg doses scaled by its own weight;
* the cohort's regimen, with dose times relative to the protocol's standard drug time (sLH 96 h, wLH 92 h); an
  empty regimen is the saline group (``allows_saline``).

Readouts (one row per subject): ``da_response_rel_<test>``, ``failure_prob_<test>``, ``latency_s_<test>`` at
every readout (sLH: baseline, ind_start, ind_end (photometry recordings at the start and end of induction), lh,
4h; wLH: test1, test2, ind_start, ind_end, test3…test6); peak NMDA occupancy at mPFC (interneuron,
pyramidal); peak mPFC response (max r_E within 4 h after the first dose / r_E just before it) and its mean over
the first hour (time-averaged r_E / r_E just before the dose); Cmax, Tmax and
AUC of plasma and free brain ketamine (``circuit_exposure``, the PK ``exposure`` column names); the solver status
is the runner's own ``status``/``reason`` columns (a failed subject keeps its row, readouts NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pkpd.cohort import (ChunkInputs, ChunkSolution, CohortProtocol, ReadoutContext, cohort_time_grid,
                         label_with_unit, param_bounds, pk_parameters)
from pkpd.exposure import sampled_metrics

from .experiments import circuit_population, output_times, phenotypes, run_groups, vary
from .model import CircuitParams, circuit_system
from .protocols import build_protocol

__all__ = ["CircuitProtocol", "CircuitInputs", "CircuitTestResults", "protocol_duration_h", "BAND_OBSERVABLES",
           "BAND_UNITS", "BAND_LABELS"]

#: time courses run_groups keeps (observables and slow states), available as bands
BAND_OBSERVABLES = ("occupancy_mpfc_interneuron", "occupancy_mpfc_pyramidal", "r_e", "r_d1", "r_da", "da_uM", "w",
                    "H", "theta", "M", "A", "P", "rho", "plasma_ketamine_uM", "brain_free_ketamine_uM")
#: unit of every band observable (axis labels): occupancy a fraction of receptors, rates Hz, DA µM, the
#: efficacy w and the slow plasticity states dimensionless, the activity reference θ in Hz (that of r_D1)
BAND_UNITS = {"occupancy_mpfc_interneuron": "1", "occupancy_mpfc_pyramidal": "1", "r_e": "Hz", "r_d1": "Hz",
              "r_da": "Hz", "da_uM": "uM", "w": "1", "H": "1", "theta": "Hz", "M": "1", "A": "1", "P": "1",
              "rho": "1", "plasma_ketamine_uM": "uM", "brain_free_ketamine_uM": "uM"}
#: readable names of the band observables (axis labels)
BAND_LABELS = {"occupancy_mpfc_interneuron": "NMDA occupancy, mPFC interneurons",
               "occupancy_mpfc_pyramidal": "NMDA occupancy, mPFC pyramidal", "r_e": "mPFC pyramidal rate r_E",
               "r_d1": "mPFC Drd1 output r_D1", "r_da": "VTA DA rate r_DA", "da_uM": "extracellular DA",
               "w": "mPFC→VTA efficacy w", "H": "stress load H", "theta": "activity reference θ",
               "M": "BDNF/mTOR drive M", "A": "potentiation A", "P": "structural drive P", "rho": "spine density ρ",
               "plasma_ketamine_uM": "plasma ketamine", "brain_free_ketamine_uM": "free brain ketamine"}
_MPFC_WINDOW_H = 4.0  # peak mPFC response: within 4 h after the first dose (end excluded)


def protocol_duration_h(name: str, regimen=None) -> float:
    """Simulated time of protocol ``name`` (h; ``slh``, ``wlh``, or either with ``+manipulation``): a circuit
    cohort's ``duration_h`` must equal it."""
    base, _, m = name.partition("+")
    return build_protocol(base, regimen=regimen, manipulations=(m,) if m else ()).duration_h


@dataclass(frozen=True, eq=False)
class CircuitInputs:
    """The engine inputs of a circuit chunk of ``S`` subjects (what :func:`run_groups` takes).

    Attributes
    ----------
    cohort : list of CircuitParams, length S
        Each subject's circuit phenotype.
    pk_values : list of dict, length S
        Each subject's PK engine parameters by name (NaN for subjects that are not valid).
    weights_kg : ndarray, shape (S,)
        Body weights, kg (mg/kg doses scale with them).
    """

    cohort: list
    pk_values: list
    weights_kg: np.ndarray


@dataclass(frozen=True, eq=False)
class CircuitTestResults:
    """Per-subject results at the protocol's tests, rows of the solved subjects (``ChunkSolution.results``).

    Attributes
    ----------
    labels : tuple of str
        Test labels (:attr:`circuits.protocols.Protocol.tests`).
    r_rel, failure, latency_s : ndarray, shape (V, n_tests)
        Post-shock DA peak relative to naive, failure probability, mean escape latency (s).
    drug_time_h : float
        The protocol's drug time, h.
    first_dose_h : float or None
        Time of the first dose, h (None for saline).
    """

    labels: tuple
    r_rel: np.ndarray
    failure: np.ndarray
    latency_s: np.ndarray
    drug_time_h: float
    first_dose_h: float | None


class CircuitProtocol(CohortProtocol):
    """``slh`` / ``wlh`` with the cohort's regimen at the protocol's drug time (see module docstring), optionally
    under one manipulation of :data:`circuits.protocols.MANIPULATIONS` (named ``"slh+mtor_block"`` etc.)."""

    default_readouts = ("circuit_tests", "circuit_peaks", "circuit_exposure")
    allows_saline = True  # an empty regimen is the protocol's saline group
    default_bands = ("occupancy_mpfc_pyramidal", "r_e", "w")
    dose_time_origin = "the protocol's drug time"

    def __init__(self, base: str, manipulation: str = "none"):
        self.base = base
        self.manipulation = manipulation

    @property
    def name(self) -> str:
        return self.base if self.manipulation == "none" else f"{self.base}+{self.manipulation}"

    def __repr__(self) -> str:
        return f"CircuitProtocol({self.base!r}, {self.manipulation!r})"

    def protocol(self, spec):
        """The timed :class:`circuits.protocols.Protocol` of ``spec``'s regimen."""
        return build_protocol(self.base, regimen=spec.regimen,
                              manipulations=() if self.manipulation == "none" else (self.manipulation,))

    def default_population(self, species: str, pk_model: str):
        return circuit_population(species, pk_model)

    def default_duration_h(self, regimen) -> float:
        """The protocol's own length with this regimen (a spec must match it)."""
        return protocol_duration_h(self.name, regimen)

    def check(self, spec) -> None:
        from pkpd.pk_models import get_pk_model

        if spec.species != "mouse":
            raise ValueError(f"species: the circuit protocol {self.base!r} is a mouse model; got {spec.species!r}")
        if spec.pk_model != get_pk_model(None, "mouse").name:
            raise ValueError(f"pk-model: the circuit model is calibrated with the default mouse PK; got "
                             f"{spec.pk_model!r}")
        pr = self.protocol(spec)
        if abs(spec.duration_h - pr.duration_h) > 1e-9:
            raise ValueError(f"duration: the {self.base} protocol with this regimen lasts {pr.duration_h:.6g} h; "
                             f"got {spec.duration_h:g} h (dose times are relative to the drug time "
                             f"{pr.drug_time_h:g} h)")
        param_bounds(get_pk_model(spec.pk_model, spec.species), spec.population.variability.names)
        cv = spec.population.circuit_variation or {}
        vary(CircuitParams(), dict.fromkeys(cv, 0.0))  # ValueError for an unknown circuit parameter

    def param_space(self, spec):
        """Names a spec's ``params`` may override: the circuit's (:func:`circuits.overrides.circuit_space`)."""
        from .overrides import circuit_space

        return circuit_space()

    def grid(self, spec):
        pr = self.protocol(spec)
        reg = pr.regimen
        if not len(reg):  # saline: the grid of a dose at the drug time, so that it reads out like a drug group
            from pkpd.dosing import Regimen

            reg = Regimen.single("1mg/kg", "ip", time_h=pr.drug_time_h)
        extra, _ = cohort_time_grid(reg, pr.duration_h)
        T, _ = output_times([pr], extra)
        return T

    def observable_names(self, spec) -> tuple[str, ...]:
        return BAND_OBSERVABLES

    def series_label(self, name: str) -> str:
        return label_with_unit(BAND_LABELS.get(name, name), BAND_UNITS.get(name))

    def unit(self, name: str) -> str:
        return BAND_UNITS.get(name, "")

    def readouts(self):
        return {"circuit_tests": circuit_tests_readout, "circuit_peaks": circuit_peaks_readout,
                "circuit_exposure": circuit_exposure_readout}

    def per_subject_bytes(self, spec) -> int:
        """An upper bound, ``T × (n_states + 3 × len(BAND_OBSERVABLES)) × 8 + 64 KiB`` for ``T`` output times:
        run_groups keeps 16 time courses on the output grid and holds one segment's states and observables and a
        trial batch at a time, the runner copies the band observables. Measured 2026-11-30 (sLH with 10 mg/kg,
        904 output times, chunks of 2000): 430 KiB per subject at the chunk's peak, against 629 KiB from this."""
        T = self.grid(spec).size
        n_states = circuit_system().n_states
        return int(T * (n_states + 3 * len(BAND_OBSERVABLES)) * 8 + 64 * 1024)

    def prepare(self, spec, sample) -> ChunkInputs:
        """Each subject's PK parameters (:func:`pkpd.cohort.pk_parameters`, with the circuit's interneuron potency
        ratio) and circuit phenotype (:func:`vary` of its ``eta_<name>`` columns); the protocol's grid."""
        from pkpd.pk import ketamine_system
        from pkpd.pk_models import get_pk_model
        from pkpd.receptor import NmdaParams

        from pkpd.overrides import apply_pk

        from .overrides import circuit_space

        pk_sys = ketamine_system(False)
        space = circuit_space()
        params = dict(spec.params)
        base = CircuitParams().replace(**{n: v for n, v in params.items() if space.specs[n].target == "circuit"})
        model, nmda = apply_pk(get_pk_model(spec.pk_model, spec.species),
                               NmdaParams(interneuron_potency_ratio=base.interneuron_potency_ratio),
                               {n: v for n, v in params.items() if space.specs[n].target != "circuit"})
        P, valid, reasons = pk_parameters(pk_sys, model, sample, spec.population.variability.names,
                                          species=spec.species, drug=spec.drug, nmda=nmda)
        S = len(sample["id"])
        cohort = phenotypes(sample, spec.population.circuit_variation or {}, base)
        pk_values = [dict(zip(pk_sys.param_names, P[i])) for i in range(S)]
        T = self.grid(spec)
        # band grid: every 30 min, and every 5 min within 4 h after each dose (as the PK protocol's)
        band_t = np.unique(np.concatenate([np.arange(0.0, spec.duration_h + 1e-9, 0.5),
                                           *[self.protocol(spec).drug_time_h + d.time_h + np.arange(0, 240, 5) / 60
                                             for d in spec.regimen]]))
        band_idx = np.searchsorted(T, band_t)
        keep = (band_idx < T.size) & np.isclose(T[np.minimum(band_idx, T.size - 1)], band_t, rtol=0, atol=1e-9)
        return ChunkInputs(T, band_idx[keep], valid, reasons,
                           engine=CircuitInputs(cohort, pk_values, np.asarray(sample["weight_kg"], float)))

    def solve(self, spec, inputs: ChunkInputs, rows: np.ndarray, threads: int | None = None) -> ChunkSolution:
        """Run the subjects ``rows`` through the protocol with :func:`run_groups` (the path of ``ketamine
        experiment`` and ``simulate``): the band observables and the test results; steps are not counted (0)."""
        pr = self.protocol(spec)
        e = inputs.engine
        g = run_groups([e.cohort[i] for i in rows], [pr], extra_t_h=inputs.t_eval,
                       pk_values=[e.pk_values[i] for i in rows], weights_kg=e.weights_kg[rows],
                       on_failure="mask", rtol=spec.rtol)[0]
        if g.t_h.size != inputs.t_eval.size or not np.array_equal(g.t_h, inputs.t_eval):
            raise RuntimeError("circuit cohort: run_groups' output grid differs from the protocol grid")
        failures = [(j, g.reasons[j]) for j in np.flatnonzero(g.status != 0)]
        tests = CircuitTestResults(g.labels, g.r_rel, g.failure, g.latency_s, pr.drug_time_h,
                                   min(d.time_h for d in pr.regimen) if len(pr.regimen) else None)
        return ChunkSolution(g.status, np.zeros(rows.size, np.int64), {k: g.long[k] for k in BAND_OBSERVABLES},
                             failures, tests)


def circuit_tests_readout(ctx: ReadoutContext) -> dict[str, np.ndarray]:
    """At each test: DA post-shock peak relative to the same subject naive (``da_response_rel_<test>``), failure
    probability of an escape trial (``failure_prob_<test>``) and mean escape latency (``latency_s_<test>``, s)."""
    res = ctx.results
    if res is None:  # no subject solved in this chunk: the labels still come from the protocol
        labels = [lbl for lbl, _ in ctx.spec.protocol.protocol(ctx.spec).tests]
        return {f"{p}_{lbl}": np.full(ctx.ok.size, np.nan) for lbl in labels
                for p in ("da_response_rel", "failure_prob", "latency_s")}
    out = {}
    for j, lbl in enumerate(res.labels):
        out[f"da_response_rel_{lbl}"] = ctx.scatter(res.r_rel[:, j])
        out[f"failure_prob_{lbl}"] = ctx.scatter(res.failure[:, j])
        out[f"latency_s_{lbl}"] = ctx.scatter(res.latency_s[:, j])
    return out


def circuit_peaks_readout(ctx: ReadoutContext) -> dict[str, np.ndarray]:
    """Peak NMDA occupancy at mPFC (interneuron, pyramidal) over the run, and the peak mPFC response: the
    maximum of r_E within 4 h after the first dose relative to r_E at the dose, and the time average of r_E over the
    first hour after the dose relative to r_E at the dose (saline, an empty regimen: after the protocol's drug time,
    on the coarser saline grid)."""
    t, obs = ctx.t, ctx.observables
    out = {"nmda_occupancy_interneuron_peak": np.max(obs["occupancy_mpfc_interneuron"], axis=1),
           "nmda_occupancy_pyramidal_peak": np.max(obs["occupancy_mpfc_pyramidal"], axis=1)}
    S = ctx.ok.size
    res = ctx.results
    t_dose = None if res is None else (res.drug_time_h if res.first_dose_h is None else res.first_dose_h)
    if t_dose is None:
        out["mpfc_response_peak_rel"] = np.full(S, np.nan)
        out["mpfc_response_mean_1h_rel"] = np.full(S, np.nan)
    else:
        i0 = int(np.searchsorted(t, t_dose))
        # half-open: the sLH 4-h test starts at the window's end, and its first grid point carries the test's
        # stress (r_E jumps ~9 % there even in saline)
        win = (t > t_dose) & (t < t_dose + _MPFC_WINDOW_H - 1e-9)
        re = obs["r_e"]
        out["mpfc_response_peak_rel"] = np.max(re[:, win], axis=1) / re[:, i0]
        # time-averaged r_E over the first hour (trapezoids on the grid) / r_E at the dose: the acute response
        # whose dose-response is the inverted U of Moghaddam 1997 (the wu2021 "mPFC response, mean of 1st h")
        # (sampled_metrics sums each row left to right: unlike np.trapezoid, its rounding does not depend on how
        # many subjects the chunk holds)
        h1 = (t >= t_dose - 1e-9) & (t <= t_dose + 1.0 + 1e-9)
        area = sampled_metrics(t[h1], re[:, h1], log_down=False)[2]
        out["mpfc_response_mean_1h_rel"] = area / (t[h1][-1] - t[h1][0]) / re[:, i0]
    return out


def circuit_exposure_readout(ctx: ReadoutContext) -> dict[str, np.ndarray]:
    """Cmax (µM), Tmax (h, from the start of the protocol) and AUC over the whole protocol (µM·h, linear-up/
    log-down, :func:`pkpd.exposure.sampled_metrics`) of plasma ketamine and free brain ketamine, on the circuit
    cohort's output grid (every minute for 30 min after each dose, 5 min to 4 h; the columns of the PK protocol's
    ``exposure`` readout, same names). Zero for saline."""
    out = {}
    for name in ("plasma_ketamine", "brain_free_ketamine"):
        cmax, tmax, area = sampled_metrics(ctx.t, ctx.observables[f"{name}_uM"])
        out[f"{name}_cmax_uM"] = cmax
        out[f"{name}_tmax_h"] = tmax
        out[f"{name}_auc_uM_h"] = area
    return out
