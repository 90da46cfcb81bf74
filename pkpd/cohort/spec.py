"""What determines a cohort's results: :class:`CohortSpec` (and nothing that does not, such as chunking)."""

from __future__ import annotations

from dataclasses import dataclass

from ..dosing import Regimen
from ..population import Population
from .contract import CohortProtocol
from .design import SubjectDesign, regimen_manifest as _regimen_manifest
from .pk_protocol import PkProtocol

__all__ = ["CohortSpec"]


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
        Variability and covariates (default: the protocol's :meth:`~CohortProtocol.default_population`).
    seed : int
    protocol : CohortProtocol, optional
        What each subject goes through (default :class:`~pkpd.cohort.pk_protocol.PkProtocol`: PK and NMDA
        occupancy). Models built on the PK provide their own; the caller hands the object over.
    readouts : tuple of str
        Keys of the protocol's :meth:`~CohortProtocol.readouts` reduced to per-subject columns (default: the
        protocol's).
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
    times_h : tuple of float, optional
        Output times, h (increasing, within the duration), instead of the protocol's grid; the band series are
        kept at every one of them.
    design : SubjectDesign, optional
        Per-subject regimens, covariates and output times from a dataset (:mod:`.design`); ``regimen`` is then
        empty, ``n`` the dataset's number of subjects and ``times_h`` its observation times.
    """

    n: int
    regimen: Regimen
    duration_h: float
    species: str = "mouse"
    pk_model: str | None = None
    population: Population | None = None
    seed: int = 0
    protocol: CohortProtocol | None = None
    readouts: tuple[str, ...] | None = None
    bands: tuple[str, ...] | None = None
    trajectories: bool = False
    drug: str | None = None
    rtol: float = 1e-6
    params: tuple = ()
    times_h: tuple | None = None
    design: SubjectDesign | None = None

    def __post_init__(self):
        from ..parameters import is_finite_real, is_integer
        from ..pk_models import get_pk_model
        from ..population import check_seed
        from ..species import get_species

        n = self.n
        if not is_integer(n) or n <= 0:
            raise ValueError(f"n: expected a positive number of subjects, got {n!r}")
        object.__setattr__(self, "n", int(n))
        proto = PkProtocol() if self.protocol is None else self.protocol
        if not isinstance(proto, CohortProtocol):
            raise ValueError(f"protocol: expected a CohortProtocol object, got {proto!r}")
        object.__setattr__(self, "protocol", proto)
        design = self.design
        if design is not None:
            if not isinstance(design, SubjectDesign):
                raise ValueError(f"design: expected a SubjectDesign, got {design!r}")
            if not isinstance(proto, PkProtocol):
                raise ValueError(f"data: a dataset's regimens run under the pk protocol only, not {proto.name!r}")
            if n != design.n:
                raise ValueError(f"n: the dataset holds {design.n} subjects, not {n}")
            if not isinstance(self.regimen, Regimen) or len(self.regimen):
                raise ValueError("regimen: the dataset gives each subject's doses; expected an empty regimen")
            if self.times_h is not None:
                raise ValueError("times: the dataset's observation rows give the output times")
            object.__setattr__(self, "times_h", tuple(design.times_h.tolist()))
        elif not isinstance(self.regimen, Regimen) or (len(self.regimen) == 0 and not proto.allows_saline):
            raise ValueError("regimen: expected at least one dose")
        d = self.duration_h
        if not is_finite_real(d) or d <= 0:
            raise ValueError(f"duration: expected a positive simulated time in hours, got {d!r}")
        object.__setattr__(self, "duration_h", float(d))
        for reg in (design.regimens if design is not None else (self.regimen,)):
            reg.check_within(self.duration_h)
        if self.times_h is not None:
            import numpy as np

            t = np.asarray(self.times_h, float)
            if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all() or (t < 0).any() or (np.diff(t) <= 0).any():
                raise ValueError("times: expected increasing output times >= 0 h")
            if t[-1] > self.duration_h:
                raise ValueError(f"times: {t[-1]:g} h is after the duration ({self.duration_h:g} h)")
            object.__setattr__(self, "times_h", tuple(t.tolist()))
        sp = get_species(self.species)
        object.__setattr__(self, "species", sp.name)
        model = get_pk_model(self.pk_model, sp.name)
        object.__setattr__(self, "pk_model", model.name)
        object.__setattr__(self, "drug", model.check_enantiomer(self.drug))
        params = proto.param_space(self).resolve(dict(self.params)) if self.params else {}
        object.__setattr__(self, "params", tuple(sorted(params.items())))
        if self.population is None:
            object.__setattr__(self, "population", proto.default_population(sp.name, model.name))
        if params:  # the population varies around the overridden typical values
            from ..overrides import with_typical

            object.__setattr__(self, "population", with_typical(self.population, params))
        object.__setattr__(self, "seed", check_seed(self.seed))
        proto.check(self)
        known = proto.readouts()
        readouts = tuple(proto.default_readouts if self.readouts is None else self.readouts)
        for r in readouts:
            if r not in known:
                raise ValueError(f"readouts: unknown readout {r!r}; expected readouts of {proto.name!r}: "
                                 f"{', '.join(known)}")
        object.__setattr__(self, "readouts", readouts)
        bands = tuple(proto.default_bands if self.bands is None else self.bands)
        observables = proto.observable_names(self)
        for b in bands:
            if b not in observables:
                raise ValueError(f"bands: unknown time course {b!r}; expected observables of {proto.name!r}: "
                                 f"{', '.join(observables)}")
        object.__setattr__(self, "bands", bands)
        if not (isinstance(self.rtol, float) and 1e-12 <= self.rtol <= 1e-2):
            raise ValueError(f"rtol: expected a relative tolerance in [1e-12, 1e-2], got {self.rtol!r}")

    def manifest(self) -> dict:
        """A JSON-able description of the spec (what a resumed run must match), with what a reader of the run
        needs of the protocol: where dose times count from and the band series' labels with units."""
        return {"n": self.n, "species": self.species, "pk_model": self.pk_model, "drug": self.drug,
                "regimen": _regimen_manifest(self.regimen), "duration_h": self.duration_h, "seed": self.seed,
                "protocol": self.protocol.name, "dose_time_origin": self.protocol.dose_time_origin,
                "readouts": list(self.readouts), "bands": list(self.bands),
                "band_labels": {b: self.protocol.series_label(b) for b in self.bands},
                "trajectories": bool(self.trajectories), "rtol": self.rtol,
                "population": self.population.manifest(),
                **({"params": dict(self.params)} if self.params else {}),  # absent when empty: old runs resume
                **({"times_h": list(self.times_h)} if self.times_h is not None and self.design is None else {}),
                **({"data": self.design.manifest()} if self.design is not None else {})}

    def sample(self, ids) -> dict:
        """The population's sample of subjects ``ids`` (:meth:`Population.sample`), with a dataset's covariates
        and ``ID`` where the spec has a design: a pure function of (seed, id, spec)."""
        s = self.population.sample(self.seed, ids)
        return s if self.design is None else self.design.apply(s)
