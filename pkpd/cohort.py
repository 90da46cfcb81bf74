"""Virtual cohorts: N subjects through a regimen, in chunks, to a resumable run directory of Parquet parts.

The flow::

    CohortSpec ──► chunks of subject ids ──► run_chunk(spec, index, start, stop)      (pure; any process)
                                                 │ sample (pkpd.population) ─► protocol.inputs ─► solve
                                                 │ ─► readouts (registry) + band series
                                                 ▼
                  run directory ◄── written atomically by the driver, one part per chunk

Run directory (``DIR``)::

    manifest.json                 the spec (population, Ω, regimen, protocol, seed), chunking, package version
    subjects/part-00000.parquet   one row per subject: id, covariates, η and parameters, status, reason, readouts
    bands/part-00000.parquet      the band series of each subject on the coarse band grid (float32; one column
                                  per series and band time, ``name[k]``; times in the schema metadata)
    trajectories/part-00000.parquet   (only with ``trajectories=True``) every observable on the solve grid
    percentiles.parquet           5/50/95th percentiles of each band series at each band time (after the last chunk)
    summary.json                  counts, failure reasons, percentiles of every readout

A chunk is finished when its ``subjects`` part exists (it is written last), so ``resume=True`` skips exactly the
finished chunks; parts are named by chunk index and written atomically, so a chunk computed twice (a resumed run,
a Dask retry after a worker died) replaces its part with the same values: nothing is lost or duplicated.

Percentile bands are **exact**: the band series of every subject are kept (on the coarse grid, float32, in the
``bands`` parts), and the percentiles are computed at the end from all subjects, through a time-major scratch file
a block of band times at a time (block chosen to stay under :data:`BAND_BLOCK_BYTES`, 256 MiB), never from all data
at once (:func:`compute_percentiles`).

Determinism: a subject's parameters depend only on (seed, id) (:mod:`pkpd.population`); the engine's result for a
subject does not depend on the other subjects in its batch nor on the thread count; tolerances and time grids are
fixed per spec (not per chunk). So the parts, the bands and the summary are bitwise identical for any chunk size,
thread count and scheduler (in-process, ``LocalCluster``, remote cluster) — on one machine type, since NumPy's and
LAPACK's elementwise results could differ between CPU builds.

Extending: a *protocol* (:data:`PROTOCOLS`) turns a spec and a sample into engine inputs (system, parameters,
schedules, tolerances, time grid); *readouts* (:data:`READOUTS`) reduce a chunk's solution to per-subject columns.
The circuit model registers its protocol (``slh``…) and readouts (DA response, failure probability at test times)
with :func:`register_protocol` and :func:`register_readout` in a module listed in :data:`PLUGIN_MODULES`
(``circuits/cohort.py``), imported on first use of an unknown name in every process, Dask workers included.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import __version__
from .dosing import Regimen
from .population import Population, default_population

__all__ = ["CohortSpec", "CohortRun", "run_cohort", "run_chunk", "chunk_bounds", "estimate_memory",
           "summarize_run", "read_subjects", "read_percentiles", "read_bands", "compute_percentiles",
           "format_summary", "series_label", "bands_figure", "plot_bands", "get_protocol",
           "get_readout", "PLUGIN_MODULES", "PROTOCOLS", "READOUTS", "register_protocol",
           "register_readout", "BAND_PERCENTILES", "MANIFEST_FORMAT"]

MANIFEST_FORMAT = "ketamine-qsp cohort run 1"
BAND_PERCENTILES = (5.0, 50.0, 95.0)
#: memory budget of the end-of-run reductions (percentile bands, readout percentiles), read a block at a time
BAND_BLOCK_BYTES = 256 * 2 ** 20
#: interpreter + NumPy + numba + the compiled model, before any chunk (measured ~250 MB; rounded up)
BASE_MEMORY_BYTES = 400 * 2 ** 20
#: test hooks (environment variables): stop the driver after k chunks (simulates a killed process); kill the worker
#: process that runs chunk 1, once, the marker file recording that it happened (simulates a dying Dask worker)
ENV_STOP_AFTER = "KETAMINE_QSP_COHORT_STOP_AFTER"
ENV_KILL_WORKER = "KETAMINE_QSP_COHORT_KILL_WORKER"

_NUMBA_LOCK = threading.Lock()  # one numba parallel region per process at a time (the workqueue layer is not
#                                 thread safe; parallelism comes from numba threads inside a chunk)


# ---- the spec ---------------------------------------------------------------------------------------------------
def _regimen_manifest(regimen: Regimen) -> list[dict]:
    return [{"time_h": d.time_h, "amount": d.amount.value, "unit": d.amount.unit, "route": d.route,
             "duration_h": d.duration_h, "salt": d.salt} for d in regimen]


@dataclass(frozen=True, eq=False)
class CohortSpec:
    """Everything that determines a cohort's results (and nothing that does not, such as chunking or scheduler).

    Attributes
    ----------
    n : int
        Number of subjects (ids 0 … n−1), > 0.
    regimen : Regimen
    duration_h : float
        Simulated time, h.
    species : {"mouse", "human"}
    pk_model : str, optional
        PK parameter set (default: the species default).
    population : Population, optional
        Variability and covariates (default :func:`pkpd.population.default_population`).
    seed : int
    protocol : str
        A key of :data:`PROTOCOLS` (``"pk"``; the circuit model adds its own).
    readouts : tuple of str
        Keys of :data:`READOUTS` reduced to per-subject columns (default: the protocol's).
    bands : tuple of str
        Observables kept on the band grid for percentile bands (default: the protocol's).
    trajectories : bool
        Also write every observable on the solve grid, chunk by chunk.
    drug : str, optional
        Enantiomeric composition (default: the PK model's own).
    rtol : float
        Relative tolerance of the engine.
    params : mapping, optional
        Parameter overrides by name (:mod:`pkpd.overrides`; the protocol's ``param_space``), checked here and
        kept as sorted ``(canonical name, value)`` pairs; the population varies around the overridden values.
    """

    n: int
    regimen: Regimen
    duration_h: float
    species: str = "mouse"
    pk_model: str | None = None
    population: Population | None = None
    seed: int = 0
    protocol: str = "pk"
    readouts: tuple[str, ...] | None = None
    bands: tuple[str, ...] | None = None
    trajectories: bool = False
    drug: str | None = None
    rtol: float = 1e-6
    params: tuple = ()

    def __post_init__(self):
        from .pk_models import get_pk_model
        from .species import get_species

        n = self.n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"n: expected a positive number of subjects, got {n!r}")
        object.__setattr__(self, "n", int(n))
        if not isinstance(self.regimen, Regimen):
            raise ValueError("regimen: expected at least one dose")
        if len(self.regimen) == 0 and not getattr(get_protocol(self.protocol), "allows_saline", False):
            # protocols with a saline group (the circuit protocols) accept an empty regimen; PK alone does not
            raise ValueError("regimen: expected at least one dose")
        d = self.duration_h
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
            raise ValueError(f"duration: expected a positive simulated time in hours, got {d!r}")
        object.__setattr__(self, "duration_h", float(d))
        self.regimen.check_within(self.duration_h)
        sp = get_species(self.species)
        object.__setattr__(self, "species", sp.name)
        model = get_pk_model(self.pk_model, sp.name)
        object.__setattr__(self, "pk_model", model.name)
        object.__setattr__(self, "drug", model.check_enantiomer(self.drug))
        proto = get_protocol(self.protocol)
        params = proto.param_space(self).resolve(dict(self.params)) if self.params else {}
        object.__setattr__(self, "params", tuple(sorted(params.items())))
        if self.population is None:  # a protocol may bring its own default (the circuit phenotype)
            make = getattr(proto, "default_population", None) or default_population
            object.__setattr__(self, "population", make(sp.name, model.name))
        if params:
            from .overrides import with_typical

            object.__setattr__(self, "population", with_typical(self.population, params))
        from .population import _check_seed

        object.__setattr__(self, "seed", _check_seed(self.seed))
        proto.check(self)
        readouts = tuple(proto.default_readouts if self.readouts is None else self.readouts)
        for r in readouts:
            get_readout(r)
        object.__setattr__(self, "readouts", readouts)
        bands = tuple(proto.default_bands if self.bands is None else self.bands)
        known = proto.observable_names(self)
        for b in bands:
            if b not in known:
                raise ValueError(f"bands: unknown time course {b!r}; expected observables of {self.protocol!r}: "
                                 f"{', '.join(known)}")
        object.__setattr__(self, "bands", bands)
        if not (isinstance(self.rtol, float) and 1e-12 <= self.rtol <= 1e-2):
            raise ValueError(f"rtol: expected a relative tolerance in [1e-12, 1e-2], got {self.rtol!r}")

    def manifest(self) -> dict:
        """A JSON-able description of the spec (what a resumed run must match)."""
        return {"n": self.n, "species": self.species, "pk_model": self.pk_model, "drug": self.drug,
                "regimen": _regimen_manifest(self.regimen), "duration_h": self.duration_h, "seed": self.seed,
                "protocol": self.protocol, "readouts": list(self.readouts), "bands": list(self.bands),
                "trajectories": bool(self.trajectories), "rtol": self.rtol,
                "population": self.population.manifest(),
                **({"params": dict(self.params)} if self.params else {})}


# ---- protocols and readouts (registries) ------------------------------------------------------------------------
@dataclass(frozen=True)
class SimInputs:
    """Engine inputs for one chunk; ``valid`` marks subjects that can be solved, ``reasons`` why others cannot."""

    system: object
    params: np.ndarray
    y0: np.ndarray
    schedules: list
    atol: np.ndarray
    t_eval: np.ndarray
    band_index: np.ndarray
    valid: np.ndarray
    reasons: list
    extra: dict = field(default_factory=dict)  # per-subject input columns, shape (S,), copied to the rows
    context: dict = field(default_factory=dict)  # protocol-private data for its own ``solve`` (not written)


@dataclass(frozen=True)
class ReadoutContext:
    """What a readout sees: the spec, the chunk's sample, the engine solution (valid subjects only, or None) and
    the mask of solved subjects (``ok``, shape (S,))."""

    spec: CohortSpec
    sample: Mapping[str, np.ndarray]
    inputs: SimInputs
    t: np.ndarray
    observables: Mapping[str, np.ndarray]  # name -> (S, T), NaN for unsolved subjects
    ok: np.ndarray
    results: Mapping = field(default_factory=dict)  # a protocol's own ``solve`` results (valid subjects' rows)


#: readout name -> function(ReadoutContext) -> {column: ndarray (S,)}
READOUTS: dict[str, Callable[[ReadoutContext], dict[str, np.ndarray]]] = {}
#: protocol name -> object with check(spec), observable_names(spec), inputs(spec, sample), default_readouts,
#: default_bands, per_subject_bytes(spec)
PROTOCOLS: dict[str, object] = {}


def register_readout(name: str):
    """Decorator: register ``fn(ctx) -> {column: (S,) array}`` as readout ``name``."""
    def deco(fn):
        READOUTS[name] = fn
        return fn
    return deco


def register_protocol(name: str, protocol) -> None:
    """Register a protocol object (see :class:`PkProtocol` for the interface)."""
    PROTOCOLS[name] = protocol


#: modules imported on first use of an unknown protocol or readout, so that they can register theirs (in every
#: process: a Dask worker resolves the protocol by name too). The circuit model is expected to provide
#: ``circuits/cohort.py`` calling :func:`register_protocol` (``slh``, ``wlh``) and :func:`register_readout`.
PLUGIN_MODULES = ("circuits.cohort",)


def _load_plugins() -> None:
    import importlib

    for mod in PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if err.name not in (mod, mod.rsplit(".", 1)[0]):
                raise


def get_protocol(name: str):
    """The protocol registered as ``name`` (loading :data:`PLUGIN_MODULES` if needed); ``ValueError`` otherwise."""
    if name not in PROTOCOLS:
        _load_plugins()
    if name not in PROTOCOLS:
        raise ValueError(f"protocol: unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def get_readout(name: str):
    """The readout registered as ``name`` (loading :data:`PLUGIN_MODULES` if needed); ``ValueError`` otherwise."""
    if name not in READOUTS:
        _load_plugins()
    if name not in READOUTS:
        raise ValueError(f"readouts: unknown readout {name!r}; expected one of {', '.join(READOUTS)}")
    return READOUTS[name]


class _AnyArray(np.ndarray):
    """An ndarray whose truth value is ``any()``: lets the scalar parameter code (``if vc <= 0 or …: raise``)
    run on whole arrays, raising when any subject would (those subjects are then found one by one)."""

    def __bool__(self):
        return bool(np.any(np.asarray(self)))


def _vector_model(model, values: Mapping[str, np.ndarray]):
    m = copy.copy(model)  # no __post_init__: bounds are checked by _check_bounds, vectorised
    for k, v in values.items():
        object.__setattr__(m, k, np.asarray(v, float).view(_AnyArray))
    return m


def _param_bounds(model, names) -> dict:
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
    from .pk import parameter_values
    from .receptor import NmdaParams

    nmda = nmda or NmdaParams()
    S = len(sample["id"])
    P = np.full((S, system.n_params), np.nan)
    valid = np.ones(S, bool)
    reasons = [""] * S
    for n, ((lo, hi), unit) in _param_bounds(model, names).items():
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


class PkProtocol:
    """Ketamine PK and NMDA occupancy only (no circuit): system ``ketamine_pk``."""

    default_readouts = ("exposure",)
    default_bands = ("plasma_ketamine_uM", "brain_free_ketamine_uM", "nmda_occupancy_pyramidal")

    @property
    def units(self) -> dict[str, str]:
        """Unit of every observable (:data:`pkpd.pk.COLUMN_UNITS`): axis labels of the band figure."""
        from .pk import COLUMN_UNITS

        return COLUMN_UNITS

    def check(self, spec: CohortSpec) -> None:
        from .pk_models import get_pk_model

        _param_bounds(get_pk_model(spec.pk_model, spec.species), spec.population.variability.names)

    def param_space(self, spec):
        """Names a spec's ``params`` may override: the PK set's (:func:`pkpd.overrides.pk_space`)."""
        from .overrides import pk_space
        from .pk_models import get_pk_model

        return pk_space(get_pk_model(spec.pk_model, spec.species))

    def system(self, spec):
        from .pk import ketamine_system

        return ketamine_system(False)

    def observable_names(self, spec) -> tuple[str, ...]:
        return ("plasma_ketamine_uM", "brain_ketamine_uM", "plasma_norketamine_uM", "brain_norketamine_uM",
                "brain_free_ketamine_uM", "brain_free_norketamine_uM", "nmda_occupancy_interneuron",
                "nmda_occupancy_pyramidal")

    def grid(self, spec):
        return cohort_time_grid(spec.regimen, spec.duration_h)

    def per_subject_bytes(self, spec) -> int:
        """Peak bytes per subject in a chunk: solution states and observables, readout temporaries, schedule
        objects, band and trajectory copies (see :func:`estimate_memory`)."""
        t, b = self.grid(spec)
        n_obs, n_states = len(self.observable_names(spec)), 16
        solution = t.size * (n_states + n_obs) * 8
        temporaries = 2 * t.size * n_obs * 8
        traj = 2 * t.size * n_obs * 8 if spec.trajectories else 0
        return int(solution + temporaries + traj + b.size * len(spec.bands) * 8 + 4096)

    def reference_dose_umol(self, spec) -> float:
        from .species import get_species
        from .units import dose_to_umol

        sp = get_species(spec.species)
        w = spec.population.covariates.weight.median_kg
        return float(sum(dose_to_umol(d.amount, weight_kg=w, salt=d.salt or sp.default_salt)
                         for d in spec.regimen))

    def inputs(self, spec: CohortSpec, sample) -> SimInputs:
        from .ode import Event, Schedule
        from .pk_models import get_pk_model
        from .species import get_species
        from .units import dose_to_umol, umol_to_mg

        from .overrides import apply_pk
        from .receptor import NmdaParams

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
        from .pk_models import PkModel

        amount_free = type(model).dose_parts is PkModel.dose_parts
        state_idx: dict = {}  # events by state index: the engine then skips a name lookup per event
        for d in spec.regimen:
            umol = np.broadcast_to(dose_to_umol(d.amount, weight_kg=w, salt=d.salt or sp.default_salt), (S,))
            dose_umol += umol
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
                        events[i].append(Event("infusion", d.time_h, k, amount / part.zero_order_h,
                                               d.time_h + part.zero_order_h))
                    else:
                        events[i].append(Event("bolus", d.time_h, k, amount))
        schedules = [Schedule(e) for e in events]
        t, band_idx = self.grid(spec)
        # tolerances fixed per spec (from the median subject's dose), never per chunk: see module docstring
        atol = np.full(system.n_states, 1e-10 * self.reference_dose_umol(spec))
        return SimInputs(system, P, np.zeros(system.n_states), schedules, atol, t, band_idx, valid, reasons,
                         {"dose_umol": dose_umol})


register_protocol("pk", PkProtocol())


@functools.lru_cache(maxsize=None)
def _curve_kernel():
    """A one-pass numba kernel: per row, max, first index of the max and area (log-down or trapezoid).

    Serial (no prange): it is cheap next to the solve, and needs no lock against concurrent parallel regions.
    Compiled once and cached on disk beside this module.
    """
    import numba

    @numba.njit(cache=True, error_model="numpy")
    def curve_metrics(t, c, log_down, out):
        S, T = c.shape
        for i in range(S):
            cmax = c[i, 0]
            imax = 0
            area = 0.0
            for k in range(1, T):
                c0 = c[i, k - 1]
                c1 = c[i, k]
                dt = t[k] - t[k - 1]
                if c1 > cmax:
                    cmax = c1
                    imax = k
                if log_down and c1 < c0 and c1 > 0 and c0 > 0:
                    area += (c0 - c1) * dt / np.log(c0 / c1)
                else:
                    area += 0.5 * (c0 + c1) * dt
            out[i, 0] = cmax
            out[i, 1] = t[imax]
            out[i, 2] = area

    return curve_metrics


def curve_metrics(t: np.ndarray, c: np.ndarray, log_down: bool = True) -> tuple[np.ndarray, ...]:
    """Per row of ``c`` (S, T) over ``t`` (T,): maximum, its first time, and the area — linear-up/log-down as
    :func:`pkpd.exposure.auc` (same operations per interval, summed left to right) or plain trapezoids.

    Rows holding NaN (failed subjects) give meaningless values; the caller masks them.
    """
    c = np.ascontiguousarray(c, dtype=np.float64)
    out = np.empty((c.shape[0], 3))
    _curve_kernel()(np.ascontiguousarray(t, dtype=np.float64), c, bool(log_down), out)
    return out[:, 0], out[:, 1], out[:, 2]


def auc_linear_up_log_down(t: np.ndarray, c: np.ndarray) -> np.ndarray:
    """AUC of each row of ``c`` (S, T) over ``t`` (T,), linear-up/log-down (see :func:`curve_metrics`)."""
    return curve_metrics(t, c)[2]


@register_readout("exposure")
def exposure_readout(ctx: ReadoutContext) -> dict[str, np.ndarray]:
    """Cmax (µM), Tmax (h) and AUC(0–t) (µM·h) of plasma ketamine, free brain ketamine and plasma norketamine;
    peak NMDA occupancy (interneuron, pyramidal), its time (h) and area under the occupancy curve (h, trapezoid)."""
    t, obs = ctx.t, ctx.observables
    out = {}
    for name in ("plasma_ketamine", "brain_free_ketamine", "plasma_norketamine"):
        cmax, tmax, area = curve_metrics(t, obs[f"{name}_uM"])
        out[f"{name}_cmax_uM"] = cmax
        out[f"{name}_tmax_h"] = tmax
        out[f"{name}_auc_uM_h"] = area
    for cell in ("interneuron", "pyramidal"):
        peak, tpeak, area = curve_metrics(t, obs[f"nmda_occupancy_{cell}"], log_down=False)
        out[f"nmda_occupancy_{cell}_peak"] = peak
        out[f"nmda_occupancy_{cell}_t_peak_h"] = tpeak
        out[f"nmda_occupancy_{cell}_area_h"] = area
    return out


# ---- one chunk --------------------------------------------------------------------------------------------------
def chunk_bounds(n: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` of the chunks of ``n`` subjects."""
    return [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]


def _numba_threads() -> int | None:
    env = os.environ.get("NUMBA_NUM_THREADS")
    return int(env) if env else None


def run_chunk(spec: CohortSpec, index: int, start: int, stop: int, threads: int | None = None) -> dict:
    """Simulate subjects ``start … stop−1`` of ``spec``; a pure function of its arguments (any process).

    Returns ``{"index", "start", "stop", "subjects": {col: (S,)}, "bands": {name: (S, Tb) float32},
    "band_t": (Tb,), "trajectories": {name: (S, T)} or None, "t": (T,), "seconds", "solve_seconds"}``
    (``solve_seconds``: the time inside the engine's ``solve``, for overhead accounting).
    """
    kill = os.environ.get(ENV_KILL_WORKER)
    if kill and index == 1 and not os.path.exists(kill):
        Path(kill).write_text(str(os.getpid()))
        os._exit(1)  # test hook: a worker process dies while holding this chunk
    from .ode import solve

    t0 = time.perf_counter()
    proto = get_protocol(spec.protocol)
    ids = np.arange(start, stop, dtype=np.int64)
    sample = spec.population.sample(spec.seed, ids)
    inp = proto.inputs(spec, sample)
    S, T = ids.size, inp.t_eval.size
    status = np.full(S, -1, np.int64)  # -1: not solved (invalid parameters)
    reasons = list(inp.reasons)
    n_steps = np.zeros(S, np.int64)
    names = proto.observable_names(spec)
    v = np.flatnonzero(inp.valid)
    obs = {k: np.full((S, T), np.nan) for k in names} if v.size < S else {}
    t_solve = 0.0
    if v.size:
        with _NUMBA_LOCK:
            t1 = time.perf_counter()
            if hasattr(proto, "solve"):  # a protocol that runs its own solves (the circuit protocols)
                sol = proto.solve(spec, inp, v, threads=threads or _numba_threads())
            else:
                sol = solve(inp.system, inp.y0, inp.t_eval, inp.params[v], method="auto", rtol=spec.rtol,
                            atol=inp.atol, schedule=[inp.schedules[i] for i in v],
                            threads=threads or _numba_threads())
            t_solve = time.perf_counter() - t1
        status[v] = sol.status
        n_steps[v] = sol.n_accepted + sol.n_rejected
        for k in names:
            if v.size == S:
                obs[k] = np.asarray(sol.observables[k])  # every subject solved: no copy
            else:
                obs[k][v] = sol.observables[k]
        for j, reason in sol.failures:
            reasons[v[j]] = reason
            for k in names:
                obs[k][v[j]] = np.nan  # a failed subject's partial trajectory is not a result
        results = getattr(sol, "results", {})
        del sol
    else:
        results = {}
    ok = status == 0
    ctx = ReadoutContext(spec, sample, inp, inp.t_eval, obs, ok, results)
    cols = dict(sample)
    cols["status"] = status
    cols["reason"] = np.array(reasons, dtype=object)
    cols["n_steps"] = n_steps
    cols.update(inp.extra)  # per-subject inputs the protocol reports (the PK protocol: dose_umol)
    for r in spec.readouts:
        for k, val in get_readout(r)(ctx).items():
            val = np.asarray(val)
            cols[k] = np.where(ok, val, np.nan) if val.dtype.kind == "f" else val  # no readout of a failure
    bands = {b: obs[b][:, inp.band_index].astype(np.float32) for b in spec.bands}
    traj = {k: obs[k] for k in names} if spec.trajectories else None
    return {"index": index, "start": start, "stop": stop, "subjects": cols, "bands": bands,
            "band_t": inp.t_eval[inp.band_index], "trajectories": traj, "t": inp.t_eval,
            "seconds": time.perf_counter() - t0, "solve_seconds": t_solve, "version": __version__}


# ---- memory -----------------------------------------------------------------------------------------------------
def available_memory_bytes() -> int:
    """``MemAvailable`` from /proc/meminfo (psutil elsewhere)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_memory(spec: CohortSpec, chunk_size: int, concurrent_chunks: int = 1) -> dict:
    """Estimated peak memory of a run: ``base + concurrent × chunk × per-subject bytes`` (plus the result being
    written by the driver). Returns ``{"per_subject_bytes", "per_chunk_bytes", "total_bytes"}``."""
    per = get_protocol(spec.protocol).per_subject_bytes(spec)
    c = min(chunk_size, spec.n)
    per_chunk = c * per
    total = BASE_MEMORY_BYTES * concurrent_chunks + per_chunk * (concurrent_chunks + 1)
    return {"per_subject_bytes": per, "per_chunk_bytes": per_chunk, "total_bytes": total}


# ---- writing parts ----------------------------------------------------------------------------------------------
def _part(run_dir: Path, kind: str, index: int) -> Path:
    return run_dir / kind / f"part-{index:05d}.parquet"


def _write_parquet(cols: Mapping[str, np.ndarray], path: Path, metadata: dict | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .io import atomic_path

    arrays, names, strings = [], [], []
    for k, v in cols.items():
        v = np.asarray(v)
        if v.ndim == 2:  # a time course per subject: a fixed-size list column
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(v).ravel()), v.shape[1]))
        elif v.dtype == object:
            arrays.append(pa.array(v.tolist(), pa.string()))
            strings.append(k)
        else:
            arrays.append(pa.array(v))
        names.append(k)
    table = pa.table(arrays, names=names)
    if metadata:
        table = table.replace_schema_metadata({k: json.dumps(v) for k, v in metadata.items()})
    with atomic_path(path) as tmp:
        # dictionary encoding only for text (reasons, series names): on floats it costs 4x the write time and
        # makes the files larger
        pq.write_table(table, tmp, write_statistics=False, compression="zstd", use_dictionary=strings)


def _band_column(series: str, k: int) -> str:
    return f"{series}[{k}]"


def _write_chunk(run_dir: Path, res: dict) -> None:
    i = res["index"]
    wide = {"id": res["subjects"]["id"]}
    for name, v in res["bands"].items():  # one column per (series, band time): a block of times reads alone
        for k in range(v.shape[1]):
            wide[_band_column(name, k)] = v[:, k]
    _write_parquet(wide, _part(run_dir, "bands", i),
                   {"time_h": res["band_t"].tolist(), "series": list(res["bands"])})
    if res["trajectories"] is not None:
        _write_parquet({"id": res["subjects"]["id"], **res["trajectories"]}, _part(run_dir, "trajectories", i),
                       {"time_h": res["t"].tolist()})
    _write_parquet(res["subjects"], _part(run_dir, "subjects", i))  # last: marks the chunk finished


# ---- the run ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CohortRun:
    """What :func:`run_cohort` returns: the run directory and a summary (also in ``summary.json``)."""

    path: Path
    manifest: dict
    summary: dict
    chunks_run: int
    chunks_skipped: int
    seconds: float
    timing: dict = field(default_factory=dict)  # summed chunk and engine-solve seconds of the chunks run


def _manifest(spec: CohortSpec, chunk_size: int) -> dict:
    n_chunks = len(chunk_bounds(spec.n, chunk_size))
    return {"format": MANIFEST_FORMAT, "version": __version__, "spec": spec.manifest(),
            "chunking": {"chunk_size": chunk_size, "n_chunks": n_chunks},
            "percentiles": list(BAND_PERCENTILES)}


def _diff(a, b, prefix="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def _check_dir(run_dir: Path, manifest: dict, resume: bool) -> bool:
    """Refuse a directory holding another run; True if the manifest must be written (a new run)."""
    mpath = run_dir / "manifest.json"
    if mpath.exists():
        old = json.loads(mpath.read_text())
        new = json.loads(json.dumps(manifest))
        if not resume:
            raise ValueError(f"out: {str(run_dir)!r} already holds a cohort run; pass resume to continue it (the "
                             f"manifest must match) or choose another directory")
        diff = _diff(old, new)
        if diff:
            raise ValueError(f"out: {str(run_dir)!r} holds a different run (manifest differs in "
                             f"{', '.join(diff[:6])}{' …' if len(diff) > 6 else ''}); refusing to resume into it")
        return False
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ValueError(f"out: {str(run_dir)!r} is not empty and holds no cohort manifest; expected a new or "
                         f"empty directory")
    return True


def _connect(scheduler: str, n_workers: int | None, timeout_s: float):
    """A Dask client (and the cluster it started, if any) for ``"local"`` or ``"tcp://HOST:PORT"``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("scheduler: Dask is needed for a scheduler: pip install 'dask[distributed]'") from None
    if scheduler == "local":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        n = n_workers or cores
        # each worker process runs one chunk at a time, with numba threads = its share of the cores
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               env={"NUMBA_NUM_THREADS": str(max(1, cores // n))})
        return Client(cluster), cluster
    if not (isinstance(scheduler, str) and scheduler.startswith(("tcp://", "tls://", "ws://", "wss://"))):
        raise ValueError(f"scheduler: expected none (in-process), 'local' or an address such as "
                         f"'tcp://host:8786', got {scheduler!r}")
    try:
        return Client(scheduler, timeout=timeout_s), None
    except (OSError, TimeoutError) as err:
        raise ValueError(f"scheduler: cannot reach the Dask scheduler at {scheduler} within {timeout_s:g} s "
                         f"({type(err).__name__}); is it running and reachable?") from None


def run_cohort(spec: CohortSpec, out, *, chunk_size: int = 5000, scheduler: str | None = None,
               resume: bool = False, threads: int | None = None, n_workers: int | None = None,
               memory_limit_bytes: int | None = None, connect_timeout_s: float = 5.0,
               progress: Callable[[int, int], None] | None = None) -> CohortRun:
    """Run a cohort into the directory ``out`` (see the module docstring for its layout).

    Parameters
    ----------
    spec : CohortSpec
    out : path
        A new or empty directory, or (``resume=True``) one holding the same run.
    chunk_size : int
        Subjects per chunk (> 0): the unit of work, of output files and of memory.
    scheduler : None, "local" or "tcp://HOST:PORT"
        None: in this process, numba threads on all cores. ``"local"``: a Dask ``LocalCluster`` of ``n_workers``
        processes (default: one per core). An address: an existing Dask cluster. Results come back to this
        process, which writes every part, so workers need no access to ``out``.
    resume : bool
        Continue the run in ``out`` (its manifest must match), skipping finished chunks.
    threads : int, optional
        numba threads in this process (in-process runs; default all cores).
    memory_limit_bytes : int, optional
        Refuse a chunk size whose estimate exceeds this (default: the memory available now).
    progress : callable(done_subjects, total_subjects), optional
        Called after each chunk (finished chunks of a resumed run count at the start).

    Raises
    ------
    ValueError
        For a bad chunk size (naming the memory estimate), an output directory that holds another run, an
        unreachable scheduler (within ``connect_timeout_s``), …
    """
    if not isinstance(spec, CohortSpec):
        raise ValueError(f"spec: expected a CohortSpec, got {type(spec).__name__}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size <= 0:
        raise ValueError(f"chunk-size: expected a positive number of subjects per chunk, got {chunk_size!r}")
    chunk_size = int(min(chunk_size, spec.n))
    concurrent = 1
    if scheduler == "local":
        concurrent = n_workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    est = estimate_memory(spec, chunk_size, concurrent)
    limit = available_memory_bytes() if memory_limit_bytes is None else int(memory_limit_bytes)
    if est["total_bytes"] > limit:
        per = est["per_subject_bytes"]
        fit = max(0, int((limit - BASE_MEMORY_BYTES * concurrent) // (per * (concurrent + 1))))
        raise ValueError(f"chunk-size: {chunk_size} subjects per chunk need an estimated "
                         f"{est['total_bytes'] / 2 ** 30:.2f} GiB ({per / 1024:.1f} KiB per subject, "
                         f"{concurrent} chunk(s) at a time), more than the {limit / 2 ** 30:.2f} GiB available; "
                         f"expected a chunk size of at most {fit}")
    run_dir = Path(out)
    manifest = _manifest(spec, chunk_size)
    new_run = _check_dir(run_dir, manifest, resume)  # before connecting: a refused directory costs nothing
    client = cluster = None
    if scheduler is not None:
        client, cluster = _connect(scheduler, n_workers, connect_timeout_s)
    t_start = time.perf_counter()
    try:
        if new_run:  # only once the run can start: an unreachable scheduler leaves no half-made directory
            from .io import write_json

            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(manifest, run_dir / "manifest.json")
        bounds = chunk_bounds(spec.n, chunk_size)
        todo = [(i, s, e) for i, (s, e) in enumerate(bounds) if not _part(run_dir, "subjects", i).exists()]
        done = spec.n - sum(e - s for _, s, e in todo)
        if progress:
            progress(done, spec.n)
        stop_after = int(os.environ.get(ENV_STOP_AFTER, "0") or 0)
        written = 0
        timing = {"chunk_s": 0.0, "solve_s": 0.0, "write_s": 0.0}

        def finish(res):
            nonlocal done, written
            if res.get("version") != __version__:  # a remote worker running other code: its results would differ
                raise ValueError(f"scheduler: a worker runs ketamine-qsp {res.get('version')}, this process "
                                 f"{__version__}; install the same version on every worker")
            t_w = time.perf_counter()
            _write_chunk(run_dir, res)
            timing["write_s"] += time.perf_counter() - t_w
            timing["chunk_s"] += res["seconds"]
            timing["solve_s"] += res["solve_seconds"]
            done += res["stop"] - res["start"]
            written += 1
            if progress:
                progress(done, spec.n)
            if stop_after and written >= stop_after:
                os._exit(137)  # test hook: the process is killed after k chunks

        if client is None:
            for i, s, e in todo:
                finish(run_chunk(spec, i, s, e, threads))
        else:
            from distributed import as_completed

            futures = [client.submit(run_chunk, spec, i, s, e, key=f"cohort-chunk-{i}-{os.getpid()}-{id(spec)}",
                                     retries=3, pure=False) for i, s, e in todo]
            for fut in as_completed(futures):
                finish(fut.result())
                fut.release()
        t_s = time.perf_counter()
        summary = summarize_run(run_dir)
        timing["summary_s"] = time.perf_counter() - t_s
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return CohortRun(run_dir, manifest, summary, len(todo), len(bounds) - len(todo), time.perf_counter() - t_start,
                     timing)


# ---- reading and summarising ------------------------------------------------------------------------------------
def _parts(run_dir: Path, kind: str) -> list[Path]:
    return sorted((Path(run_dir) / kind).glob("part-*.parquet"))


def read_subjects(run_dir, columns=None):
    """All subject rows of a run as a pyarrow Table (in id order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = _parts(Path(run_dir), "subjects")
    if not parts:
        raise ValueError(f"run: no subject parts in {str(run_dir)!r}")
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


def read_bands(run_dir, series: str, times: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """Band times (h) and the band series of every subject, shape (N, n_times) float32, in id order."""
    import pyarrow.parquet as pq

    parts = _parts(Path(run_dir), "bands")
    if not parts:
        raise ValueError(f"run: no band parts in {str(run_dir)!r}")
    meta = pq.read_schema(parts[0]).metadata
    t = np.asarray(json.loads(meta[b"time_h"]))
    ks = range(t.size)[times]
    cols = [_band_column(series, k) for k in ks]
    blocks = []
    for p in parts:
        tab = pq.read_table(p, columns=cols)
        blocks.append(np.column_stack([tab.column(c).to_numpy() for c in cols]) if cols else
                      np.empty((tab.num_rows, 0), np.float32))
    return t[times], np.concatenate(blocks)


def compute_percentiles(run_dir: Path, block_bytes: int = BAND_BLOCK_BYTES) -> dict:
    """Exact 5/50/95th percentiles of every band series at every band time, over all solved subjects.

    Band parts hold one column per (series, band time), a chunk of subjects each. One pass reads every part once
    and writes its columns into a time-major scratch file in the run directory (float32; each band time's values
    over all subjects contiguous; removed at the end, in groups of band times if the disk has less than twice its
    size free). The percentiles are then computed a block of band times at a time from that file, the block chosen
    so that ``N × block × 20 bytes`` (the float32 read, its float64 copy and the partition's copy) stays under
    ``block_bytes``. Memory does not grow with N beyond one band time (``N × 20`` bytes). (Reading each block from
    every part instead needed every part's footer at hand — about 2 MB each for a circuit cohort's ~1100 band
    columns, 1 GB at 10⁶ subjects — or parsed again for every block.)
    """
    import os
    import shutil
    import tempfile

    import pyarrow.parquet as pq

    parts = _parts(run_dir, "bands")
    if not parts:
        raise ValueError(f"run: no band parts in {str(run_dir)!r}")
    meta = pq.read_schema(parts[0]).metadata
    t = np.asarray(json.loads(meta[b"time_h"]))
    names = json.loads(meta[b"series"])
    rows = [pq.read_metadata(p).num_rows for p in parts]  # one footer at a time, not kept
    n_total = sum(rows)
    cols = [(name, k) for name in names for k in range(t.size)]  # the scratch file's rows, in this order
    q = {name: np.full((len(BAND_PERCENTILES), t.size), np.nan) for name in names}
    n_used = {name: np.zeros(t.size, np.int64) for name in names}
    per_col = 4 * max(1, n_total)
    group = int(max(1, min(len(cols), shutil.disk_usage(run_dir).free // 2 // per_col)))
    block = int(max(1, min(group, block_bytes // (5 * per_col))))
    fd, scratch = tempfile.mkstemp(prefix=".bands-by-time-", suffix=".tmp", dir=run_dir)
    try:
        with os.fdopen(fd, "wb+") as f:
            for g0 in range(0, len(cols), group):
                gcols = [_band_column(name, k) for name, k in cols[g0:g0 + group]]
                r0 = 0
                for p, n in zip(parts, rows):
                    tab = pq.read_table(p, columns=gcols)
                    for j, c in enumerate(gcols):
                        f.seek(4 * (j * n_total + r0))
                        f.write(np.ascontiguousarray(tab.column(c).to_numpy(), np.float32).data)
                    r0 += n
                    del tab
                for b0 in range(0, len(gcols), block):
                    b1 = min(len(gcols), b0 + block)
                    f.seek(4 * b0 * n_total)
                    v = np.fromfile(f, np.float32, (b1 - b0) * n_total).reshape(b1 - b0, n_total).astype(float)
                    p_block, used = _row_percentiles(v)
                    del v
                    for j, (name, k) in enumerate(cols[g0 + b0:g0 + b1]):
                        q[name][:, k] = p_block[:, j]
                        n_used[name][k] = used[j]
    finally:
        Path(scratch).unlink(missing_ok=True)
    return {"time_h": t, **{name: {"p": q[name], "n": n_used[name]} for name in names}}


def _row_percentiles(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:data:`BAND_PERCENTILES` of each row of ``v`` over its non-NaN values (NaN for an all-NaN row), shape
    (len(BAND_PERCENTILES), rows), and the count of non-NaN values per row."""
    nan = np.isnan(v)
    used = v.shape[1] - nan.sum(axis=1)
    if not nan.any():  # the common case; nanpercentile loops over rows in Python
        return np.percentile(v, BAND_PERCENTILES, axis=1), used
    if not (~nan).any():
        return np.full((len(BAND_PERCENTILES), v.shape[0]), np.nan), used
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN band time gives NaN
        return np.nanpercentile(v, BAND_PERCENTILES, axis=1), used


def read_percentiles(run_dir):
    """The percentile table of a finished run (``percentiles.parquet``) as a dict of columns."""
    import pyarrow.parquet as pq

    return pq.read_table(Path(run_dir) / "percentiles.parquet").to_pydict()


def summarize_run(run_dir) -> dict:
    """Write ``percentiles.parquet`` and ``summary.json`` for a finished run and return the summary.

    The summary holds the counts (subjects, solved, failed by reason) and the 5/50/95th percentiles of every
    numeric readout column over solved subjects.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .io import write_json

    numeric = {pa.float64(), pa.float32(), pa.int64(), pa.int32()}
    run_dir = Path(run_dir)
    mpath = run_dir / "manifest.json"
    if not mpath.exists():
        raise ValueError(f"run: {str(run_dir)!r} holds no cohort manifest.json")
    manifest = json.loads(mpath.read_text())
    n_chunks = manifest["chunking"]["n_chunks"]
    missing = [i for i in range(n_chunks) if not _part(run_dir, "subjects", i).exists()]
    if missing:
        raise ValueError(f"run: {len(missing)} of {n_chunks} chunks are not finished (first: {missing[0]}); "
                         f"resume the run first")
    # one column at a time over all parts: memory O(N) per column, never the whole table
    schema = pq.read_schema(_part(run_dir, "subjects", 0))
    status = read_subjects(run_dir, ["status"]).column(0).to_numpy()
    fails: dict[str, int] = {}
    bad = np.flatnonzero(status != 0)
    if bad.size:
        reasons = read_subjects(run_dir, ["reason"]).column(0).take(bad).to_pylist()
        for i, r in zip(bad, reasons):
            key = r.split(":")[0] if r else f"status {status[i]}"
            fails[key] = fails.get(key, 0) + 1
    ok = status == 0
    skip = {"id", "status", "n_steps"}
    wanted = [f.name for f in schema
              if not (f.name in skip or f.name.startswith("eta_") or f.type not in numeric)]
    # N × group × 8 bytes × 3 (Arrow column, float64 copy, percentile's partition copy) at a time
    per_group = max(1, BAND_BLOCK_BYTES // max(1, 24 * status.size))
    readouts = {}
    for g0 in range(0, len(wanted), per_group):
        tab = read_subjects(run_dir, wanted[g0:g0 + per_group])
        for name in tab.column_names:
            v = tab.column(name).to_numpy().astype(float)[ok]
            v = v[~np.isnan(v)]
            if v.size:
                p = np.percentile(v, BAND_PERCENTILES)
                readouts[name] = {"p5": float(p[0]), "p50": float(p[1]), "p95": float(p[2]),
                                  "mean": float(v.mean())}
        del tab
    bands = compute_percentiles(run_dir)
    rows = {"series": [], "time_h": [], "n": [], **{f"p{int(q)}": [] for q in BAND_PERCENTILES}}
    for name, d in bands.items():
        if name == "time_h":
            continue
        for k, tk in enumerate(bands["time_h"]):
            rows["series"].append(name)
            rows["time_h"].append(float(tk))
            rows["n"].append(int(d["n"][k]))
            for j, q in enumerate(BAND_PERCENTILES):
                rows[f"p{int(q)}"].append(float(d["p"][j, k]))
    _write_parquet({k: np.array(v, dtype=object if k == "series" else None) for k, v in rows.items()},
                   run_dir / "percentiles.parquet")
    summary = {"n": int(status.size), "n_ok": int(ok.sum()), "n_failed": int((~ok).sum()), "failures": fails,
               "readouts": readouts, "spec": manifest["spec"], "version": manifest["version"]}
    write_json(summary, run_dir / "summary.json")
    return summary


def format_summary(summary: Mapping) -> str:
    """A plain-text population summary: counts, failures and the 5/50/95th percentiles of every readout."""
    spec = summary["spec"]
    when = "h" if spec["protocol"] == "pk" else "h after the protocol's drug time"  # circuit protocols: relative
    doses = "; ".join(f"{d['amount']:g} {d['unit']} {d['route']} at {d['time_h']:g} {when}" for d in spec["regimen"])
    lines = [f"cohort: {summary['n']} {spec['species']} subjects ({spec['pk_model']}, {spec['drug']}), {doses}, "
             f"{spec['duration_h']:g} h, seed {spec['seed']}, protocol {spec['protocol']}",
             f"solved: {summary['n_ok']}   failed: {summary['n_failed']}"
             + "".join(f"   {k}: {v}" for k, v in summary["failures"].items()), "",
             f"{'readout':<40}{'p5':>14}{'p50':>14}{'p95':>14}"]
    for name, r in summary["readouts"].items():
        lines.append(f"{name:<40}{r['p5']:>14.5g}{r['p50']:>14.5g}{r['p95']:>14.5g}")
    return "\n".join(lines)


def series_label(protocol: str, name: str) -> str:
    """Axis label of band series ``name`` of ``protocol``: its readable name (the protocol's ``labels``, else the
    name without its unit suffix) and its unit from the protocol's ``units`` (``"plasma ketamine (µM)"``,
    ``"VTA DA rate r_DA (Hz)"``, ``"efficacy w (dimensionless)"``)."""
    proto = get_protocol(protocol)
    unit = dict(getattr(proto, "units", {}) or {}).get(name)
    unit = {"uM": "µM", "1": "fraction" if "occupancy" in name else "dimensionless"}.get(unit, unit)
    label = dict(getattr(proto, "labels", {}) or {}).get(name)
    if label is None:
        label = name.removesuffix("_uM").removesuffix("_ng_per_ml").replace("_", " ").replace("nmda", "NMDA")
    return f"{label} ({unit})" if unit else label


def bands_figure(run_dir):
    """The percentile-band figure of a finished run (a matplotlib ``Figure``, not saved): per band series, the
    median and the 5–95 % band against time in h, one panel per series, each y axis with its unit."""
    from .figures import pyplot

    plt = pyplot()
    run_dir = Path(run_dir)
    protocol = json.loads((run_dir / "manifest.json").read_text())["spec"]["protocol"]
    p = read_percentiles(run_dir)
    series = list(dict.fromkeys(p["series"]))
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.4 * len(series)), sharex=True, squeeze=False)
    s_arr = np.asarray(p["series"], dtype=object)
    lo, hi = f"p{int(BAND_PERCENTILES[0])}", f"p{int(BAND_PERCENTILES[-1])}"
    for ax, name in zip(axes[:, 0], series):
        m = s_arr == name
        t = np.asarray(p["time_h"])[m]
        ax.fill_between(t, np.asarray(p[lo])[m], np.asarray(p[hi])[m], alpha=0.3,
                        label=f"{lo[1:]}–{hi[1:]} %")
        ax.plot(t, np.asarray(p["p50"])[m], lw=1.5, label="median")
        ax.set_ylabel(series_label(protocol, name), fontsize=8)
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("time (h)")
    fig.tight_layout()
    return fig


def plot_bands(run_dir, path, *, svg: bool = True) -> Path:
    """Draw :func:`bands_figure` to ``path`` (.png, .pdf or .svg; a PNG gets an SVG twin unless ``svg`` is false),
    atomically, with the version and the run's spec in the file's metadata."""
    from .figures import check_figure_path, save_figure

    path = check_figure_path(path)
    spec = json.loads((Path(run_dir) / "manifest.json").read_text())["spec"]
    save_figure(bands_figure(run_dir), path, title=f"cohort percentile bands: {spec['n']} {spec['species']} "
                f"subjects, protocol {spec['protocol']}", parameters=spec, svg=svg)
    return path
