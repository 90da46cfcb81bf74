"""The PK protocol of the cohort runner: ketamine PK and NMDA occupancy (system ``ketamine_pk``), its engine
inputs (per-subject parameters, dose schedules, tolerances, time grid) and its ``exposure`` readout.

:func:`pk_parameters` and :func:`cohort_time_grid` are also what a protocol built on the PK (the circuit model)
uses for its subjects' PK and its output grid.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..dosing import Regimen
from ..exposure import sampled_metrics
from .contract import ChunkInputs, ChunkSolution, CohortProtocol, ReadoutContext, label_with_unit

__all__ = ["PkProtocol", "PkEngineInputs", "pk_parameters", "param_bounds", "cohort_time_grid",
           "exposure_readout"]


class _AnyArray(np.ndarray):
    """An ndarray whose truth value is ``any()``: lets the scalar parameter code (``if vc <= 0 or …: raise``)
    run on whole arrays, raising when any subject would (those subjects are then found one by one)."""

    def __bool__(self):
        return bool(np.any(np.asarray(self)))


def _vector_model(model, values: Mapping[str, np.ndarray]):
    m = copy.copy(model)  # no __post_init__: bounds are checked by pk_parameters, vectorised
    for k, v in values.items():
        object.__setattr__(m, k, np.asarray(v, float).view(_AnyArray))
    return m


def param_bounds(model, names) -> dict:
    """``{name: ((lo, hi), unit)}`` of the varied PK parameters ``names`` of ``model``; ``ValueError`` naming
    ``population`` for a name that is not a bounded parameter of the model."""
    fields = {f.name: f for f in dataclasses.fields(model)}
    out = {}
    for n in names:
        if n not in fields or "bounds" not in fields[n].metadata:
            raise ValueError(f"population: {n!r} is not a parameter of the {model.name} PK model; expected one of "
                             f"{', '.join(f for f in fields if 'bounds' in fields[f].metadata)}")
        out[n] = (fields[n].metadata["bounds"], fields[n].metadata["unit"])
    return out


def pk_parameters(system, model, sample: Mapping[str, np.ndarray], names, *, species: str, drug: str, nmda=None):
    """Engine parameter matrix (S, n_params) for a sample, vectorised over subjects.

    The single source of the formulas is :func:`pkpd.pk.parameter_values` (called once per sex with arrays);
    a subject whose varied parameters fall outside the declared bounds, or whose parameters the model rejects,
    gets ``valid = False`` and a reason. Returns ``(P, valid, reasons)``.
    """
    from ..pk import parameter_values
    from ..receptor import NmdaParams

    nmda = nmda or NmdaParams()
    S = len(sample["id"])
    P = np.full((S, system.n_params), np.nan)
    valid = np.ones(S, bool)
    reasons = [""] * S
    for n, ((lo, hi), unit) in param_bounds(model, names).items():
        v = sample[n]
        for i in np.flatnonzero(~((v >= lo) & (v <= hi))):
            if valid[i]:
                valid[i] = False
                reasons[i] = f"invalid-parameters: {n} = {v[i]:.4g} {unit} outside [{lo:g}, {hi:g}]"
    for female in (False, True):
        sel = np.flatnonzero((sample["female"] == female) & valid)
        while sel.size:
            m = _vector_model(model, {n: sample[n][sel] for n in names})
            subj = SimpleNamespace(species=species, weight_kg=np.asarray(sample["weight_kg"][sel]).view(_AnyArray),
                                   sex="female" if female else "male")
            try:
                vals = parameter_values(m, subj, drug=drug, nmda=nmda)
            except ValueError:
                # find the subjects the model rejects, one at a time, then redo the rest vectorised (so that a
                # subject's values never depend on which others share its chunk)
                keep = []
                for i in sel:
                    try:
                        parameter_values(_vector_model(model, {n: sample[n][i:i + 1] for n in names}),
                                         SimpleNamespace(species=species,
                                                         weight_kg=sample["weight_kg"][i:i + 1].view(_AnyArray),
                                                         sex=subj.sex), drug=drug, nmda=nmda)
                        keep.append(i)
                    except ValueError as err:
                        valid[i] = False
                        reasons[i] = f"invalid-parameters: {err}"
                sel = np.asarray(keep, dtype=np.int64)
                continue
            for j, pname in enumerate(system.param_names):
                if pname in vals:
                    P[sel, j] = np.broadcast_to(np.asarray(vals[pname], float), sel.shape)
                elif pname.startswith("k_"):
                    P[sel, j] = 0.0
                else:
                    raise ValueError(f"parameter {pname!r} has no value")
            break
    return P, valid, reasons


def cohort_time_grid(regimen: Regimen, duration_h: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve grid and the indices of its band sub-grid.

    Solve grid: every 1 min for 30 min after each dose, every 5 min to 4 h after it, every 15 min otherwise
    (Cmax of an i.p. mouse dose, ~8 min, is resolved to a minute). Band grid: the points on multiples of 5 min
    within 4 h after a dose and of 30 min otherwise.
    """
    pts = [np.arange(0.0, duration_h + 1e-9, 0.25)]
    band = [np.arange(0.0, duration_h + 1e-9, 0.5)]
    for d in regimen:
        t0 = d.time_h
        pts += [t0 + np.arange(0, 30) / 60.0, t0 + np.arange(30, 240, 5) / 60.0]
        band.append(t0 + np.arange(0, 240, 5) / 60.0)
    t = np.unique(np.round(np.concatenate(pts + [[duration_h]]), 9))
    t = t[t <= duration_h]
    b = np.unique(np.round(np.concatenate(band), 9))
    b = b[b <= duration_h]
    idx = np.searchsorted(t, b)
    return t, idx[np.isclose(t[np.minimum(idx, t.size - 1)], b, rtol=0, atol=1e-9)]


@dataclass(frozen=True, eq=False)
class PkEngineInputs:
    """The engine inputs of a PK chunk of ``S`` subjects (:func:`pkpd.ode.solve`'s arguments).

    Attributes
    ----------
    system : OdeSystem
    params : ndarray, shape (S, n_params)
        NaN rows for subjects that are not valid.
    y0 : ndarray, shape (n_states,)
    schedules : list of Schedule, length S
    atol : ndarray, shape (n_states,)
        Absolute tolerances, µmol (fixed per spec).
    """

    system: object
    params: np.ndarray
    y0: np.ndarray
    schedules: list
    atol: np.ndarray


class PkProtocol(CohortProtocol):
    """Ketamine PK and NMDA occupancy only (no circuit): system ``ketamine_pk``, readout ``exposure``."""

    name = "pk"
    default_readouts = ("exposure",)
    default_bands = ("plasma_ketamine_uM", "brain_free_ketamine_uM", "nmda_occupancy_pyramidal")
    allows_saline = False  # PK of no dose is no result
    dose_time_origin = ""  # dose times count from the start of the run

    def default_population(self, species: str, pk_model: str):
        from ..population import default_population

        return default_population(species, pk_model)

    def default_duration_h(self, regimen: Regimen) -> float:
        """24 h (a day of PK after the doses of a typical single-day regimen)."""
        return 24.0

    def check(self, spec) -> None:
        from ..pk_models import get_pk_model

        param_bounds(get_pk_model(spec.pk_model, spec.species), spec.population.variability.names)

    def param_space(self, spec):
        """The PK set's parameters (:func:`pkpd.overrides.pk_space`)."""
        from ..overrides import pk_space
        from ..pk_models import get_pk_model

        return pk_space(get_pk_model(spec.pk_model, spec.species))

    def system(self, spec):
        from ..pk import ketamine_system

        return ketamine_system(False)

    def observable_names(self, spec) -> tuple[str, ...]:
        return ("plasma_ketamine_uM", "brain_ketamine_uM", "plasma_norketamine_uM", "brain_norketamine_uM",
                "brain_free_ketamine_uM", "brain_free_norketamine_uM", "nmda_occupancy_interneuron",
                "nmda_occupancy_pyramidal")

    def series_label(self, name: str) -> str:
        """The name without its unit suffix, with its unit from :data:`pkpd.pk.COLUMN_UNITS`."""
        from ..pk import COLUMN_UNITS

        label = name.removesuffix("_uM").removesuffix("_ng_per_ml").replace("_", " ").replace("nmda", "NMDA")
        return label_with_unit(label, COLUMN_UNITS.get(name))

    def unit(self, name: str) -> str:
        from ..pk import COLUMN_UNITS

        return COLUMN_UNITS.get(name, "")

    def readouts(self):
        return {"exposure": exposure_readout}

    def grid(self, spec):
        """:func:`cohort_time_grid`, or the spec's output times (with 0, where the doses start) and every one of
        them a band time."""
        if spec.times_h is None:
            return cohort_time_grid(spec.regimen, spec.duration_h)
        want = np.asarray(spec.times_h, float)
        t = np.unique(np.concatenate([[0.0], want]))
        return t, np.searchsorted(t, want)

    def per_subject_bytes(self, spec) -> int:
        """Peak bytes per subject in a chunk: solution states and observables, readout temporaries, schedule
        objects, band and trajectory copies."""
        t, b = self.grid(spec)
        n_obs, n_states = len(self.observable_names(spec)), 16
        solution = t.size * (n_states + n_obs) * 8
        temporaries = 2 * t.size * n_obs * 8
        traj = 2 * t.size * n_obs * 8 if spec.trajectories else 0
        return int(solution + temporaries + traj + b.size * len(spec.bands) * 8 + 4096)

    def reference_dose_umol(self, spec) -> float:
        """The regimen's total dose for the population's median weight, µmol (scales the tolerances); with a
        dataset, the median over its distinct regimens (1 µmol if none doses)."""
        from ..species import get_species
        from ..units import dose_to_umol

        sp = get_species(spec.species)
        w = spec.population.covariates.weight.median_kg

        def total(reg):
            return float(sum(dose_to_umol(d.amount, weight_kg=w, salt=d.salt or sp.default_salt) for d in reg))

        if spec.design is None:
            return total(spec.regimen)
        # a dataset: the median of the subjects' totals (a spec-wide constant, as for one regimen)
        return float(np.median([total(r) for r in spec.design.distinct_regimens])) or 1.0

    def prepare(self, spec, sample) -> ChunkInputs:
        """Per-subject engine parameters (:func:`pk_parameters`), dose schedules scaled by each subject's weight,
        the solve and band grids (:meth:`grid`) and tolerances fixed per spec."""
        from ..ode import Schedule
        from ..overrides import apply_pk
        from ..pk_models import PkModel, get_pk_model
        from ..species import get_species
        from ..receptor import NmdaParams

        system = self.system(spec)
        model, nmda = apply_pk(get_pk_model(spec.pk_model, spec.species), NmdaParams(), dict(spec.params))
        P, valid, reasons = pk_parameters(system, model, sample, spec.population.variability.names,
                                          species=spec.species, drug=spec.drug, nmda=nmda)
        sp = get_species(spec.species)
        S = len(sample["id"])
        w = sample["weight_kg"]
        events = [[] for _ in range(S)]
        dose_umol = np.zeros(S)
        # dose parts depend on the amount only where a model overrides PkModel.dose_parts (Perez-Ruixo's
        # device-count rule); otherwise one call per dose serves every subject
        amount_free = type(model).dose_parts is PkModel.dose_parts
        state_idx: dict = {}  # events by state index: the engine then skips a name lookup per event
        groups = [(spec.regimen, np.arange(S))] if spec.design is None else spec.design.groups(sample["id"])
        for regimen, rows in groups:  # a dataset: subjects grouped by regimen, each group as one regimen
            self._dose_events(regimen, rows, w[rows] if spec.design is not None else w, sp, model, amount_free,
                              system, state_idx, events, dose_umol)
        schedules = [Schedule(e) for e in events]
        t, band_idx = self.grid(spec)
        # tolerances fixed per spec (from the median subject's dose), never per chunk (determinism)
        atol = np.full(system.n_states, 1e-10 * self.reference_dose_umol(spec))
        return ChunkInputs(t, band_idx, valid, reasons, {"dose_umol": dose_umol},
                           PkEngineInputs(system, P, np.zeros(system.n_states), schedules, atol))

    @staticmethod
    def _dose_events(regimen, rows, w, sp, model, amount_free, system, state_idx, events, dose_umol) -> None:
        """Append the dose events of ``regimen`` for the subjects ``rows`` (weights ``w``) and add their doses
        (µmol) to ``dose_umol``."""
        from ..ode import Event
        from ..units import dose_to_umol, umol_to_mg

        S = rows.size
        for d in regimen:
            umol = np.broadcast_to(dose_to_umol(d.amount, weight_kg=w, salt=d.salt or sp.default_salt), (S,))
            dose_umol[rows] += umol
            mg = umol_to_mg(umol)
            parts_cache: dict = {}
            for i in range(S):
                key = 0.0 if amount_free else float(mg[i])
                parts = parts_cache.get(key)
                if parts is None:
                    parts = model.dose_parts(d.route, float(mg[i]), d.duration_h)
                    if len(parts_cache) < 4096:
                        parts_cache[key] = parts
                for part in parts:
                    amount = float(umol[i]) * part.fraction
                    if amount <= 0:
                        continue
                    k = state_idx.get(part.state)
                    if k is None:
                        k = state_idx[part.state] = system.state_index(part.state)
                    if part.zero_order_h > 0:
                        events[rows[i]].append(Event("infusion", d.time_h, k, amount / part.zero_order_h,
                                                     d.time_h + part.zero_order_h))
                    else:
                        events[rows[i]].append(Event("bolus", d.time_h, k, amount))

    def solve(self, spec, inputs: ChunkInputs, rows: np.ndarray, threads: int | None = None) -> ChunkSolution:
        """One batched :func:`pkpd.ode.solve` of the subjects ``rows`` (method ``auto``, the spec's rtol)."""
        from ..ode import solve

        e = inputs.engine
        sol = solve(e.system, e.y0, inputs.t_eval, e.params[rows], method="auto", rtol=spec.rtol, atol=e.atol,
                    schedule=[e.schedules[i] for i in rows], threads=threads)
        return ChunkSolution(sol.status, sol.n_accepted + sol.n_rejected, sol.observables, sol.failures)


def exposure_readout(ctx: ReadoutContext) -> dict[str, np.ndarray]:
    """Cmax (µM), Tmax (h) and AUC(0–t) (µM·h, linear-up/log-down) of plasma ketamine, free brain ketamine and plasma
    norketamine; peak NMDA occupancy (interneuron, pyramidal), its time (h) and area under the occupancy curve (h,
    trapezoid): :func:`pkpd.exposure.sampled_metrics` on the solve grid (within the tolerances it states of the
    exact metrics of the continuous solution)."""
    t, obs = ctx.t, ctx.observables
    out = {}
    for name in ("plasma_ketamine", "brain_free_ketamine", "plasma_norketamine"):
        cmax, tmax, area = sampled_metrics(t, obs[f"{name}_uM"])
        out[f"{name}_cmax_uM"] = cmax
        out[f"{name}_tmax_h"] = tmax
        out[f"{name}_auc_uM_h"] = area
    for cell in ("interneuron", "pyramidal"):
        peak, tpeak, area = sampled_metrics(t, obs[f"nmda_occupancy_{cell}"], log_down=False)
        out[f"nmda_occupancy_{cell}_peak"] = peak
        out[f"nmda_occupancy_{cell}_t_peak_h"] = tpeak
        out[f"nmda_occupancy_{cell}_area_h"] = area
    return out
