"""The contract between the cohort runner and what it runs: :class:`CohortProtocol` and the records it exchanges.

One chunk flows once, downwards and back::

    runner: sample = spec.sample(ids)   (the population's draws; a dataset's covariates where it has them)
        ─► protocol.prepare(spec, sample)          -> ChunkInputs   (per-subject validity, grid, engine inputs)
        ─► protocol.solve(spec, inputs, rows, …)   -> ChunkSolution (status, steps, observables of the solved rows)
        ─► protocol.readouts()[name](ReadoutContext) -> {column: (S,)}  for every name in spec.readouts

The runner knows nothing else about a protocol; a protocol knows nothing about chunks, files or schedulers. The
PK protocol (:class:`pkpd.cohort.pk_protocol.PkProtocol`) implements it here; models built on top of the PK
(the circuit model) implement it in their own package, and whoever sits above both hands the chosen protocol
object to :class:`~pkpd.cohort.spec.CohortSpec`. Protocol objects are pickled with the spec to Dask workers, so
they hold only what identifies them (names), never results.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: the spec module imports this one
    from ..dosing import Regimen
    from ..population import Population
    from .spec import CohortSpec

__all__ = ["CohortProtocol", "ChunkInputs", "ChunkSolution", "ReadoutContext", "Readout", "label_with_unit"]


@dataclass(frozen=True, eq=False)
class ChunkInputs:
    """What :meth:`CohortProtocol.prepare` gives the runner for a chunk of ``S`` subjects.

    Attributes
    ----------
    t_eval : ndarray, shape (T,)
        Output times of every subject, h (fixed per spec, never per chunk: see the runner's determinism note).
    band_index : ndarray of int, shape (Tb,)
        Indices into ``t_eval`` of the coarse band grid.
    valid : ndarray of bool, shape (S,)
        Subjects that can be solved; the others keep their row with ``status = -1`` and ``reasons[i]``.
    reasons : list of str, length S
        Why a subject is not valid ("" for valid subjects).
    extra : dict of str to ndarray (S,)
        Per-subject inputs reported as columns of the subject rows (the PK protocol: ``dose_umol``).
    engine : object
        The protocol's own inputs for its :meth:`~CohortProtocol.solve` (a typed record of the protocol; the
        runner never reads it).
    """

    t_eval: np.ndarray
    band_index: np.ndarray
    valid: np.ndarray
    reasons: list
    extra: dict = field(default_factory=dict)
    engine: object = None


@dataclass(frozen=True, eq=False)
class ChunkSolution:
    """What :meth:`CohortProtocol.solve` returns for the ``V`` solved rows of a chunk.

    Attributes
    ----------
    status : ndarray of int, shape (V,)
        0 solved, else the engine's status code (:data:`pkpd.ode.STATUS`).
    n_steps : ndarray of int, shape (V,)
        Accepted + rejected steps (0 where the protocol does not count them).
    observables : mapping of str to ndarray, shape (V, T)
        Every name of :meth:`CohortProtocol.observable_names` on ``ChunkInputs.t_eval``.
    failures : list of (int, str)
        ``(row in 0 … V−1, reason)`` of every row with a non-zero status.
    results : object, optional
        Protocol-specific per-subject results its readouts read (``ReadoutContext.results``), rows as
        ``observables``; None if the readouts need only the observables.
    """

    status: np.ndarray
    n_steps: np.ndarray
    observables: Mapping[str, np.ndarray]
    failures: list
    results: object = None


@dataclass(frozen=True, eq=False)
class ReadoutContext:
    """What a readout sees for a chunk of ``S`` subjects.

    Attributes
    ----------
    spec : CohortSpec
    sample : mapping of str to ndarray (S,)
        The population sample (ids, covariates, η, parameters).
    inputs : ChunkInputs
    t : ndarray, shape (T,)
        Output times, h.
    observables : mapping of str to ndarray, shape (S, T)
        NaN for subjects not solved.
    ok : ndarray of bool, shape (S,)
        Solved subjects (their readouts are kept; the runner replaces the others' float readouts by NaN).
    results : object
        ``ChunkSolution.results`` (rows of the valid subjects, ``inputs.valid``), None if no subject was valid.
    """

    spec: "CohortSpec"
    sample: Mapping[str, np.ndarray]
    inputs: ChunkInputs
    t: np.ndarray
    observables: Mapping[str, np.ndarray]
    ok: np.ndarray
    results: object = None

    def scatter(self, a: np.ndarray) -> np.ndarray:
        """Rows of the valid subjects (``inputs.valid``) -> shape (S, …), NaN for the others."""
        out = np.full((self.ok.size,) + np.shape(a)[1:], np.nan)
        out[np.flatnonzero(self.inputs.valid)] = a
        return out


#: a readout reduces a chunk to per-subject columns: ``fn(ctx) -> {column: ndarray (S,)}``
Readout = Callable[[ReadoutContext], "dict[str, np.ndarray]"]


def label_with_unit(label: str, unit: str | None) -> str:
    """``"plasma ketamine (µM)"`` from a readable name and a unit symbol (``uM`` written µM, ``1`` as
    dimensionless or, for an occupancy, fraction)."""
    unit = {"uM": "µM", "1": "fraction" if "occupancy" in label.lower() else "dimensionless"}.get(unit, unit)
    return f"{label} ({unit})" if unit else label


class CohortProtocol(abc.ABC):
    """A protocol the cohort runner can run: every member is required.

    How to write one:

    1. name it (:attr:`name`: the string written to the manifest; the registry above the packages uses it too);
    2. say what a spec may hold (:meth:`check`, :meth:`default_population`, :meth:`default_duration_h`,
       :attr:`allows_saline`) and what it produces (:meth:`observable_names`, :meth:`readouts`,
       :attr:`default_readouts`, :attr:`default_bands`, :meth:`series_label`);
    3. turn a sample into inputs (:meth:`prepare`) and solve the valid rows (:meth:`solve`); a failing subject
       is a status, never an exception;
    4. bound its memory (:meth:`per_subject_bytes`, used to refuse a chunk size that would not fit).

    Determinism: ``prepare`` and ``solve`` must give a subject the same values whatever other subjects share its
    chunk (no batch-wide reductions, tolerances fixed per spec).
    """

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The protocol's name, as written in the manifest (``"pk"``, ``"slh"``, ``"slh+mtor_block"``)."""

    @property
    @abc.abstractmethod
    def default_readouts(self) -> tuple[str, ...]:
        """Keys of :meth:`readouts` used when the spec names none."""

    @property
    @abc.abstractmethod
    def default_bands(self) -> tuple[str, ...]:
        """Observables kept on the band grid when the spec names none."""

    @property
    @abc.abstractmethod
    def allows_saline(self) -> bool:
        """Whether an empty regimen is a valid spec (a saline group)."""

    @property
    @abc.abstractmethod
    def dose_time_origin(self) -> str:
        """What the regimen's dose times count from, for summaries: ``""`` for time 0 of the run, else a phrase
        (``"the protocol's drug time"``)."""

    @abc.abstractmethod
    def default_population(self, species: str, pk_model: str) -> "Population":
        """The population used when the spec gives none."""

    @abc.abstractmethod
    def default_duration_h(self, regimen: "Regimen") -> float:
        """The simulated time (h) when the user gives none (a protocol of fixed length: its length)."""

    @abc.abstractmethod
    def check(self, spec: "CohortSpec") -> None:
        """Raise ``ValueError`` (naming the field) if the spec cannot run under this protocol."""

    @abc.abstractmethod
    def param_space(self, spec: "CohortSpec"):
        """The parameters a spec's ``params`` may override by name (a :class:`pkpd.overrides.ParameterSpace`)."""

    @abc.abstractmethod
    def observable_names(self, spec: "CohortSpec") -> tuple[str, ...]:
        """Names of the time courses :meth:`solve` returns (the band series must be among them)."""

    @abc.abstractmethod
    def series_label(self, name: str) -> str:
        """Axis label of observable ``name`` with its unit (:func:`label_with_unit`)."""

    def unit(self, name: str) -> str:
        """The unit symbol of observable ``name`` (``"uM"``, ``"Hz"``, ``"1"``; ``""`` if unknown), for tables
        written with their units (:mod:`pkpd.cohort.tables`)."""
        return ""

    @abc.abstractmethod
    def readouts(self) -> Mapping[str, Readout]:
        """Readout name -> function reducing a chunk to per-subject columns (:data:`Readout`)."""

    @abc.abstractmethod
    def per_subject_bytes(self, spec: "CohortSpec") -> int:
        """An upper bound of the peak bytes per subject of a chunk (inputs, solution, readout temporaries)."""

    @abc.abstractmethod
    def prepare(self, spec: "CohortSpec", sample: Mapping[str, np.ndarray]) -> ChunkInputs:
        """Inputs of a chunk: validity and reasons per subject, the output grid, the engine inputs."""

    @abc.abstractmethod
    def solve(self, spec: "CohortSpec", inputs: ChunkInputs, rows: np.ndarray,
              threads: int | None = None) -> ChunkSolution:
        """Solve the subjects ``rows`` (indices of valid subjects in the chunk, shape (V,)) with ``threads``
        numba threads (None: the engine's default)."""
