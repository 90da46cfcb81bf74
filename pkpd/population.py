"""Virtual populations: inter-individual variability and covariates, sampled as a pure function of (seed, id).

A subject's parameter ``θ_k`` is its typical value times ``exp(η_k)``, with ``η ~ N(0, Ω)`` and a full covariance
``Ω`` (log-scale variances on the diagonal, covariances off it). Covariates are body weight (a log-normal
distribution truncated to the species' plausible range) and sex (a female fraction).

Randomness is *counter based*: every number a subject needs is a hash of ``(seed, stream, subject id, draw index)``
(the SplitMix64 finaliser, Steele et al. 2014 OOPSLA "Fast splittable pseudorandom number generators", applied to
NumPy ``uint64`` arrays), turned into a uniform on (0, 1) and, where needed, into a standard normal by
``scipy.special.ndtri``. Nothing depends on which other subjects are drawn with it, so a subject's parameters are
identical whatever the chunk size, thread count or scheduler. Each quantity has its own named stream (``eta``,
``weight``, ``sex``), so adding a stream later leaves the existing draws unchanged. The circuit phenotype
(:attr:`Population.circuit_variation`) is drawn by :func:`subject_normals` instead, NumPy's PCG64 seeded with
``[seed, id]``: the draws on which the circuit model's cohort variation was calibrated and its replication
reported, kept so that those cohorts are the population's subjects bit for bit.

``η = L z`` with ``L = V diag(√λ)`` from the eigendecomposition ``Ω = V diag(λ) Vᵀ`` (which exists for positive
*semi*-definite ``Ω``, unlike a Cholesky factor); the product is summed in a fixed order with element-wise NumPy
operations (no BLAS, whose blocking could depend on the batch size).

Default variability (:data:`DEFAULT_VARIABILITY`) is given per PK parameter set with the provenance of each number.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from .parameters import is_finite_real, is_integer

__all__ = ["Variability", "WeightDistribution", "Covariates", "Population", "uniforms", "normals",
           "subject_normals", "check_omega", "omega_factor", "DEFAULT_VARIABILITY", "default_population"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MAX_SEED = 2 ** 63


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def check_seed(seed) -> int:
    """``seed`` as an int in [0, 2^63); ``ValueError`` naming ``seed`` otherwise."""
    if not is_integer(seed) or not 0 <= int(seed) < _MAX_SEED:
        raise ValueError(f"seed: expected an integer in [0, 2^63), got {seed!r}")
    return int(seed)


def _check_ids(ids) -> np.ndarray:
    a = np.asarray(ids)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer) or (a.size and a.min() < 0):
        raise ValueError("ids: expected a 1-D array of non-negative integer subject ids")
    return a.astype(np.uint64)


def uniforms(seed: int, stream: str, ids, k: int) -> np.ndarray:
    """``k`` uniforms on the open interval (0, 1) per subject, shape (len(ids), k).

    Entry ``[i, j]`` depends only on ``(seed, stream, ids[i], j)``.
    """
    seed = check_seed(seed)
    ids = _check_ids(ids)
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed], np.uint64) ^ _mix(np.array([zlib.crc32(stream.encode())], np.uint64)))
        h = _mix(key ^ _mix(ids + _GOLDEN))
        out = np.empty((ids.size, k))
        for j in range(k):
            x = _mix(h + np.uint64(j + 1) * _GOLDEN)
            # the top 53 bits, centred in their cell: never exactly 0 or 1
            out[:, j] = ((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53
    return out


def normals(seed: int, stream: str, ids, k: int) -> np.ndarray:
    """``k`` independent standard normals per subject, shape (len(ids), k) (inverse-CDF of :func:`uniforms`)."""
    return ndtri(uniforms(seed, stream, ids, k))


def subject_normals(seed: int, ids, k: int) -> np.ndarray:
    """``k`` standard normals per subject from ``np.random.default_rng([seed, id])``, shape (len(ids), k).

    Row ``i`` depends only on ``(seed, ids[i])`` (a generator per subject: ~20 µs each, negligible beside a
    circuit simulation). The stream of the circuit phenotype (see the module docstring).
    """
    seed = check_seed(seed)
    ids = _check_ids(ids)
    out = np.empty((ids.size, k))
    for i, sid in enumerate(ids.tolist()):
        out[i] = np.random.default_rng([seed, sid]).standard_normal(k)
    return out


def check_omega(omega, names: Sequence[str] = ()) -> np.ndarray:
    """Validate a covariance matrix of η: square, finite, symmetric and positive semi-definite.

    Raises
    ------
    ValueError
        Naming ``omega`` and what is wrong (the most negative eigenvalue for a matrix that is not PSD).
    """
    try:
        om = np.array(omega, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"omega: expected a square matrix of numbers, got {omega!r}") from None
    k = len(names)
    if om.ndim != 2 or om.shape[0] != om.shape[1] or (names and om.shape[0] != k):
        raise ValueError(f"omega: expected a square ({k} x {k}) covariance matrix of eta (log scale) for "
                         f"{list(names)}, got shape {om.shape}")
    if not np.isfinite(om).all():
        raise ValueError("omega: every entry must be finite")
    scale = max(float(np.abs(om).max()), 1e-300) if om.size else 1.0
    if not np.allclose(om, om.T, rtol=0, atol=1e-12 * scale):
        i, j = np.unravel_index(np.argmax(np.abs(om - om.T)), om.shape)
        raise ValueError(f"omega: expected a symmetric matrix, but omega[{i},{j}] = {om[i, j]!r} differs from "
                         f"omega[{j},{i}] = {om[j, i]!r}")
    if om.size:
        lam = np.linalg.eigvalsh(om)
        if lam[0] < -1e-10 * scale:
            raise ValueError(f"omega: expected a positive semi-definite covariance matrix, but its smallest "
                             f"eigenvalue is {lam[0]:.3g} (a correlation outside [-1, 1] or an inconsistent set of "
                             f"correlations)")
    return 0.5 * (om + om.T)


def omega_factor(omega: np.ndarray) -> np.ndarray:
    """``L`` with ``L Lᵀ = Ω`` from the eigendecomposition (works for singular, PSD ``Ω``)."""
    lam, v = np.linalg.eigh(omega)
    # eigenvalues at rounding level (a singular Ω's null space) are exactly zero: no spurious η of size √ε·ω
    lam = np.where(lam > 1e-12 * max(float(lam.max(initial=0.0)), 0.0), lam, 0.0)
    return v * np.sqrt(lam)[None, :]


@dataclass(frozen=True, eq=False)
class Variability:
    """Log-normal inter-individual variability of named parameters.

    Attributes
    ----------
    names : tuple of str
        Parameters varied (fields of the PK parameter set, e.g. ``cl_L_per_h``).
    omega : ndarray, shape (k, k)
        Covariance of η (log scale): ``omega[i, i] = ω_i²``; a CV of c corresponds to ``ω² = ln(1 + c²)``.
    sources : tuple of str
        Provenance of each parameter's variability (and of the correlations), one per name.
    """

    names: tuple[str, ...]
    omega: np.ndarray
    sources: tuple[str, ...] = ()

    def __post_init__(self):
        names = tuple(str(n) for n in self.names)
        if len(set(names)) != len(names):
            raise ValueError(f"variability: parameter names must be unique, got {list(names)}")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "omega", check_omega(self.omega, names))
        srcs = tuple(self.sources) or ("assumed",) * len(names)
        if len(srcs) != len(names):
            raise ValueError(f"variability: expected one source per parameter ({len(names)}), got {len(srcs)}")
        object.__setattr__(self, "sources", srcs)
        object.__setattr__(self, "_factor", omega_factor(self.omega) if names else np.zeros((0, 0)))

    @classmethod
    def from_cv(cls, cv: Mapping[str, float], correlation: Mapping[tuple[str, str], float] | None = None,
                sources: Mapping[str, str] | None = None) -> "Variability":
        """From coefficients of variation (``ω² = ln(1 + CV²)``) and pairwise correlations of η."""
        names = tuple(cv)
        for n, c in cv.items():
            if not is_finite_real(c) or c < 0:
                raise ValueError(f"cv[{n!r}]: expected a coefficient of variation >= 0, got {c!r}")
        w = np.array([math.sqrt(math.log1p(cv[n] ** 2)) for n in names])
        corr = np.eye(len(names))
        for (a, b), r in (correlation or {}).items():
            if a not in names or b not in names:
                raise ValueError(f"correlation: unknown parameter in ({a!r}, {b!r}); expected names from {names}")
            i, j = names.index(a), names.index(b)
            corr[i, j] = corr[j, i] = r
        src = sources or {}
        return cls(names, corr * np.outer(w, w), tuple(src.get(n, "assumed") for n in names))

    def etas(self, seed: int, ids) -> np.ndarray:
        """η for every subject, shape (len(ids), k)."""
        z = normals(seed, "eta", ids, len(self.names))
        L = self._factor
        eta = np.zeros_like(z)
        for i in range(L.shape[0]):  # fixed-order element-wise sums: no BLAS blocking that depends on the batch
            acc = np.zeros(z.shape[0])
            for j in range(L.shape[1]):
                acc += z[:, j] * L[i, j]
            eta[:, i] = acc
        return eta

    def manifest(self) -> dict:
        return {"names": list(self.names), "omega": self.omega.tolist(), "sources": list(self.sources)}


@dataclass(frozen=True)
class WeightDistribution:
    """Body weight: log-normal with ``median_kg`` and coefficient of variation ``cv``, truncated to
    ``[lo_kg, hi_kg]`` (by inverse CDF, so a draw is one uniform and never rejected)."""

    median_kg: float
    cv: float
    lo_kg: float
    hi_kg: float
    source: str = "assumed"

    def __post_init__(self):
        for f in ("median_kg", "cv", "lo_kg", "hi_kg"):
            v = getattr(self, f)
            if not is_finite_real(v) or v < 0:
                raise ValueError(f"weight.{f}: expected a finite number >= 0, got {v!r}")
        if not 0 < self.lo_kg <= self.median_kg <= self.hi_kg:
            raise ValueError(f"weight: expected 0 < lo_kg <= median_kg <= hi_kg, got {self.lo_kg}, "
                             f"{self.median_kg}, {self.hi_kg} kg")

    def quantile(self, u: np.ndarray) -> np.ndarray:
        if self.cv == 0:
            return np.full(u.shape, float(self.median_kg))
        s = math.sqrt(math.log1p(self.cv ** 2))
        mu = math.log(self.median_kg)
        a, b = ndtr((math.log(self.lo_kg) - mu) / s), ndtr((math.log(self.hi_kg) - mu) / s)
        return np.clip(np.exp(mu + s * ndtri(a + u * (b - a))), self.lo_kg, self.hi_kg)


@dataclass(frozen=True)
class Covariates:
    """Covariate distributions of a population: body weight and the fraction of females."""

    weight: WeightDistribution
    female_fraction: float = 0.5

    def __post_init__(self):
        f = self.female_fraction
        if not is_finite_real(f) or not 0 <= f <= 1:
            raise ValueError(f"female_fraction: expected a fraction in [0, 1], got {f!r}")


@dataclass(frozen=True, eq=False)
class Population:
    """Typical values, their variability and the covariates of a virtual population.

    ``sample(seed, ids)`` returns columns (arrays of length ``len(ids)``): ``id``, ``weight_kg``, ``female``
    (bool), ``eta_<name>`` and ``<name>`` = typical × exp(η) for every varied parameter.
    """

    typical: Mapping[str, float]
    variability: Variability
    covariates: Covariates
    notes: str = ""
    #: circuit phenotype (resilient vs helpless): SD of log per circuit parameter, independent normals drawn by
    #: :func:`subject_normals`, reported as ``eta_<name>`` (the circuit model applies typical × exp(η);
    #: ``circuits.experiments.COHORT_VARIATION`` is the default). None: no circuit variability (PK cohorts).
    circuit_variation: Mapping[str, float] | None = None

    def __post_init__(self):
        missing = [n for n in self.variability.names if n not in self.typical]
        if missing:
            raise ValueError(f"typical: no typical value for the varied parameter {missing[0]!r}")
        for n, v in self.typical.items():
            if not is_finite_real(v) or v <= 0:
                raise ValueError(f"typical[{n!r}]: expected a positive finite value, got {v!r}")
        object.__setattr__(self, "typical", {n: float(self.typical[n]) for n in self.variability.names})
        if self.circuit_variation is not None:
            cv = {str(n): v for n, v in dict(self.circuit_variation).items()}
            for n, v in cv.items():
                if not is_finite_real(v) or v < 0:
                    raise ValueError(f"circuit_variation[{n!r}]: expected an SD of log >= 0, got {v!r}")
                if n in self.variability.names:
                    raise ValueError(f"circuit_variation: {n!r} is also a PK parameter varied by omega")
            object.__setattr__(self, "circuit_variation", cv)

    def sample(self, seed: int, ids) -> dict[str, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        out: dict[str, np.ndarray] = {"id": ids}
        out["weight_kg"] = self.covariates.weight.quantile(uniforms(seed, "weight", ids, 1)[:, 0])
        out["female"] = uniforms(seed, "sex", ids, 1)[:, 0] < self.covariates.female_fraction
        eta = self.variability.etas(seed, ids)
        for k, n in enumerate(self.variability.names):
            out[f"eta_{n}"] = eta[:, k]
        for k, n in enumerate(self.variability.names):
            out[n] = self.typical[n] * np.exp(eta[:, k])
        if self.circuit_variation:
            # own generator: adding it leaves the weight, sex and PK draws of every subject unchanged
            z = subject_normals(seed, ids, len(self.circuit_variation))
            for k, (n, sd) in enumerate(self.circuit_variation.items()):
                out[f"eta_{n}"] = sd * z[:, k]
        return out

    def without_iiv(self) -> "Population":
        """This population with no inter-individual variability of its parameters (Ω = 0: every subject has the
        typical values); covariates are drawn as before."""
        v = self.variability
        return dataclasses.replace(self, variability=Variability(v.names, np.zeros_like(v.omega), v.sources),
                                   notes=(self.notes + "; " if self.notes else "") + "no inter-individual variability")

    def manifest(self) -> dict:
        return {"typical": dict(self.typical), "variability": self.variability.manifest(),
                "covariates": {"weight": dataclasses.asdict(self.covariates.weight),
                               "female_fraction": self.covariates.female_fraction},
                "notes": self.notes,
                **({"circuit_variation": dict(self.circuit_variation)} if self.circuit_variation is not None else {})}


# ---- default variability, per PK parameter set -----------------------------------------------------------------
_FANTA = ("Fanta et al. 2015 Eur J Clin Pharmacol 71:441 (abstract): S-ketamine clearance 95 L/h/70 kg with 13 % "
          "inter-individual variability")
_ASSUMED_V = "assumed: 30 % CV, a typical IIV of a volume of distribution in ketamine population models"
_ASSUMED_KP = "assumed: 20 % CV of the brain:plasma partition (no between-subject estimate found)"
_ASSUMED_CORR = "assumed: corr(eta_CL, eta_V) = 0.3 (clearance and volume both scale with body size)"
_MOUSE = ("assumed: no mouse population PK of ketamine found; 25 % CV in clearance, 20 % in volume (inbred strains, "
          "less variable than humans), correlation 0.3")

#: PK model name -> (CVs, correlations, sources). Each source names a published value or says "assumed".
DEFAULT_VARIABILITY: dict[str, tuple[dict, dict, dict]] = {
    "mouse": ({"cl_L_per_h": 0.25, "v_L": 0.20, "kp_brain": 0.20}, {("cl_L_per_h", "v_L"): 0.3},
              {"cl_L_per_h": _MOUSE, "v_L": _MOUSE, "kp_brain": _ASSUMED_KP}),
    "domino1982": ({"k10_per_min": 0.13, "v1_L_per_kg": 0.30, "kp_brain": 0.20}, {},
                   {"k10_per_min": "assumed: the CV of clearance from " + _FANTA + " (Domino et al. 1982 report "
                    "typical values only)",
                    "v1_L_per_kg": _ASSUMED_V + "; it scales every volume and inter-compartmental clearance of "
                    "the set (per-kg micro-constants), so clearance varies with it (CV ~33 % with k10)",
                    "kp_brain": _ASSUMED_KP}),
    "kamp2020": ({"cl_L_per_h": 0.13, "v_L": 0.30, "kp_brain": 0.20}, {("cl_L_per_h", "v_L"): 0.3},
                 {"cl_L_per_h": "assumed from " + _FANTA + " (Kamp et al. 2020 report typical values only)",
                  "v_L": _ASSUMED_V + "; " + _ASSUMED_CORR, "kp_brain": _ASSUMED_KP}),
    "fanta2015": ({"cl_L_per_h": 0.13, "v1_L": 0.30, "kp_brain": 0.20}, {("cl_L_per_h", "v1_L"): 0.3},
                  {"cl_L_per_h": _FANTA, "v1_L": _ASSUMED_V + "; " + _ASSUMED_CORR, "kp_brain": _ASSUMED_KP}),
}

#: species -> body-weight distribution (median, CV, truncation = the species' plausible range).
DEFAULT_WEIGHT = {
    "mouse": dict(median_kg=0.025, cv=0.12, source="assumed: adult laboratory mice 25 g, CV 12 %"),
    "human": dict(median_kg=70.0, cv=0.20, source="assumed: adults 70 kg (the reference weight), CV 20 %"),
}


def default_population(species: str = "mouse", pk_model: str | None = None, *,
                       female_fraction: float = 0.5) -> Population:
    """The default population for a species and PK set: typical values of the set, :data:`DEFAULT_VARIABILITY`,
    :data:`DEFAULT_WEIGHT` truncated to the species' plausible weights."""
    from .pk_models import get_pk_model
    from .species import get_species

    sp = get_species(species)
    model = get_pk_model(pk_model, sp.name)
    if model.name not in DEFAULT_VARIABILITY:
        raise ValueError(f"pk-model: no default variability for {model.name!r}; expected one of "
                         f"{', '.join(DEFAULT_VARIABILITY)} or pass a Population")
    cv, corr, src = DEFAULT_VARIABILITY[model.name]
    var = Variability.from_cv(cv, corr, src)
    lo, hi = sp.weight_bounds_kg
    weight = WeightDistribution(lo_kg=lo, hi_kg=hi, **DEFAULT_WEIGHT[sp.name])
    return Population({n: getattr(model, n) for n in var.names}, var, Covariates(weight, female_fraction),
                      notes=f"default population for {sp.name} / {model.name}")
