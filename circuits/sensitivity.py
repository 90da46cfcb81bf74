"""Circuit readouts of a parameter matrix, for global sensitivity (:mod:`pkpd.sensitivity`).

The parameters are the circuit's named parameters (:func:`circuits.overrides.circuit_space`).
:class:`CircuitReadouts` evaluates a block of samples as one virtual cohort, one subject per sample, through
:func:`circuits.experiments.run_groups` (all samples and protocols integrated together in batched engine
solves). Its readouts are dotted keys ``<group>.<metric>.<test>`` of a per-subject summary built from the groups'
results, e.g. ``slh.failure_rate.4h`` (sLH with 10 mg/kg i.p. ketamine at the protocol's drug time, failure
probability of an escape trial at the 4-h test) or ``wlh.da_response.test5``; ``--list`` prints them.

:class:`ExperimentReadouts` reads any numeric key of a replication's summary (``wu2021.<dotted key>`` of the
``summary.json`` that ``ketamine experiment wu2021`` writes, e.g. ``wu2021.slh.failure_rate.ket_4h``), whatever its
schema: each sample runs the experiment (:func:`circuits.replication.wu2021`, all its groups batched) on a cohort
of ``n`` mice (default 1: subject 0 of the seed) with the sample's overrides. One experiment per sample: slower
than :class:`CircuitReadouts`, which batches the samples themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .overrides import apply_circuit, circuit_space

__all__ = ["CircuitReadouts", "ExperimentReadouts", "EXPERIMENTS", "GROUPS", "METRICS", "sensitivity_problem",
           "parameter_groups"]

#: Readout groups: name -> (protocol, dose of ketamine i.p. in mg/kg or None for saline).
GROUPS = {"slh": ("slh", 10.0), "wlh": ("wlh", 10.0), "slh_saline": ("slh", None)}
#: Per-subject metrics of a group at each test (attribute of :class:`circuits.experiments.GroupResult`).
METRICS = {"failure_rate": "failure", "da_response": "r_rel", "latency_s": "latency_s"}


class CircuitReadouts:
    """The circuit model of one (typical) mouse as a function of named parameters.

    Parameters
    ----------
    params : mapping, optional
        Fixed overrides applied to every sample.
    """

    def __init__(self, params: Mapping | None = None):
        self.space = circuit_space()
        self.fixed = self.space.resolve(params)
        self._protocols = {}

    def protocol(self, group: str):
        from pkpd.dosing import Regimen

        from .protocols import build_protocol

        if group not in self._protocols:
            name, dose = GROUPS[group]
            reg = None if dose is None else Regimen.single(f"{dose:g}mg/kg", "ip")
            self._protocols[group] = build_protocol(name, regimen=reg)
        return self._protocols[group]

    def available(self) -> list[str]:
        """Every readout: ``<group>.<metric>.<test label>``."""
        return self.keys()

    @classmethod
    def keys(cls) -> list[str]:
        """Every readout, without building a parameter space."""
        self = cls.__new__(cls)
        self._protocols = {}
        return [f"{g}.{m}.{label}" for g in GROUPS for m in METRICS for label, _ in self.protocol(g).tests]

    def info(self) -> dict:
        return {"kind": "circuit", "groups": {g: {"protocol": p, "ketamine_ip_mg_per_kg": d}
                                              for g, (p, d) in GROUPS.items()},
                "overrides": self.space.record(self.fixed)}

    def model_function(self, factor_names: Sequence[str], readouts: Sequence[str]):
        """``f(X) -> Y`` for :func:`pkpd.sensitivity.run_sensitivity` (NaN for a run the engine failed on)."""
        from pkpd.sensitivity import check_readouts

        from .experiments import run_groups

        names = [self.space.canonical(n) for n in factor_names]
        readouts = check_readouts(readouts, self.available())
        groups = list(dict.fromkeys(r.split(".")[0] for r in readouts))

        def f(X: np.ndarray) -> np.ndarray:
            subjects = [apply_circuit({**self.fixed, **dict(zip(names, map(float, x)))}, self.space) for x in X]
            cohort = [c for c, _ in subjects]
            pkv = [v for _, v in subjects]
            res = dict(zip(groups, run_groups(cohort, [self.protocol(g) for g in groups], on_failure="mask",
                                              pk_values=None if all(v is None for v in pkv) else
                                              [v or {} for v in pkv])))
            Y = np.empty((len(X), len(readouts)))
            for j, r in enumerate(readouts):
                g, metric, label = r.split(".", 2)
                Y[:, j] = getattr(res[g], METRICS[metric])[:, res[g].labels.index(label)]
            return Y

        return f


def _wu2021(n, seed, params):
    from .replication import wu2021

    return wu2021(n, seed, params=params)[0]


#: Experiments whose summary keys are readouts: name -> ``f(n, seed, params) -> summary dict``.
EXPERIMENTS = {"wu2021": _wu2021}


class ExperimentReadouts:
    """Readouts ``<experiment>.<dotted key>`` of a replication's summary, one experiment per sample.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    n, seed : int
        The cohort of every evaluation (the same mice for every sample: common random numbers).
    params : mapping, optional
        Fixed overrides applied to every sample.
    """

    def __init__(self, name: str = "wu2021", *, n: int = 1, seed: int = 0, params: Mapping | None = None):
        if name not in EXPERIMENTS:
            raise ValueError(f"readout: unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"experiment-n: expected at least 1 mouse, got {n!r}")
        self.name, self.n, self.seed = name, n, seed
        self.space = circuit_space()
        self.fixed = self.space.resolve(params)
        self._keys = None

    def available(self) -> list[str]:
        """Every key that is a finite number in the experiment's summary with the fixed overrides (runs it once;
        cohort statistics undefined for a small ``n``, such as a correlation over one mouse, are left out)."""
        from pkpd.sensitivity import lookup, readout_keys

        if self._keys is None:
            summary = EXPERIMENTS[self.name](self.n, self.seed, self.fixed)
            self._keys = [f"{self.name}.{k}" for k in readout_keys(summary) if np.isfinite(lookup(summary, k))]
        return list(self._keys)

    def info(self) -> dict:
        return {"kind": "experiment", "experiment": self.name, "n": self.n, "seed": self.seed,
                "overrides": self.space.record(self.fixed)}

    def model_function(self, factor_names: Sequence[str], readouts: Sequence[str]):
        """``f(X) -> Y`` for :func:`pkpd.sensitivity.run_sensitivity` (NaN where the experiment fails)."""
        from pkpd.sensitivity import check_readouts, lookup

        names = [self.space.canonical(n) for n in factor_names]
        readouts = check_readouts(readouts, self.available())
        keys = [r.split(".", 1)[1] for r in readouts]

        def f(X: np.ndarray) -> np.ndarray:
            Y = np.full((len(X), len(readouts)), np.nan)
            for i, x in enumerate(X):
                try:
                    s = EXPERIMENTS[self.name](self.n, self.seed, {**self.fixed, **dict(zip(names, map(float, x)))})
                except (ValueError, RuntimeError):
                    continue
                Y[i] = [lookup(s, k) for k in keys]
            return Y

        return f


def sensitivity_problem(readouts: Sequence[str], params: str = "calibrated", *, ranges: Mapping | None = None,
                        fixed: Mapping | None = None, species: str = "mouse", pk_model: str | None = None,
                        regimen=None, duration_h: float = 4.0, experiment_n: int = 1, seed: int = 0):
    """Everything ``ketamine sensitivity`` needs, checked before any sample is evaluated.

    PK readouts (keys of the PK summary of one subject of ``species`` on ``regimen`` for ``duration_h``) and
    circuit readouts (:class:`CircuitReadouts`, mouse only) and experiment readouts (:class:`ExperimentReadouts`,
    ``wu2021.<key>``, on ``experiment_n`` mice of ``seed``) may be mixed. With the mouse PK set the factors are
    drawn from the circuit space (:func:`circuit_space`), else from the PK set's; each model sees only the
    factors it has (the others cannot affect its readouts).

    Parameters
    ----------
    readouts : sequence of str
    params : str
        ``assumed``, ``calibrated``, ``published``, ``all`` or comma-separated names.
    ranges : mapping, optional
        ``{name: (lo, hi)}`` replacing declared bounds (must lie within them).
    fixed : mapping, optional
        Overrides held fixed in every run (not varied).

    Returns
    -------
    model : callable
        ``model(X) -> Y`` for :func:`pkpd.sensitivity.run_sensitivity`.
    factors : list of Factor
    readouts : list of str
    info : dict
        What else determines the outputs (for the run's manifest).
    """
    from pkpd.dosing import Regimen
    from pkpd.pk_readouts import PkReadouts
    from pkpd.sensitivity import check_readouts, factor

    readouts = [r.strip() for r in readouts if r.strip()]
    regimen = regimen if regimen is not None else Regimen.single("10mg/kg", "ip")
    pk = PkReadouts(regimen, duration_h, species=species, pk_model=pk_model)
    pk_keys = set(pk.available())
    mouse = pk.model.name == "mouse"
    # the mouse default set: the circuit's names (a circuit parameter cannot affect a PK readout: ST = 0)
    space = circuit_space() if mouse else pk.space
    fixed = space.resolve(fixed)
    pk.fixed = {k: v for k, v in fixed.items() if k in pk.space.specs}
    # a group keyword (assumed, calibrated, …) selects from the PK set alone when every readout is a PK readout:
    # the circuit's parameters could only add runs with zero indices (named ones are still varied)
    keyword = params.strip() in ("assumed", "calibrated", "published", "all")
    names = (pk.space if keyword and all(r in pk_keys for r in readouts) else space).select(params)
    both = sorted(set(fixed) & set(names))
    if both:
        raise ValueError(f"param: {both[0]!r} is both held fixed (--param) and varied (--params); drop one")
    # a ranges file may hold more parameters than are varied (those are ignored); an unknown name is an error
    ranges = {space.canonical(k): v for k, v in (ranges or {}).items()}
    factors = []
    for n in names:
        s = space[n]
        lo, hi = ranges.get(n, s.bounds)
        if not (s.bounds[0] <= lo < hi <= s.bounds[1]):
            raise ValueError(f"ranges: {n}: expected {s.bounds[0]:g} <= lo < hi <= {s.bounds[1]:g} {s.unit} (its "
                             f"declared bounds), got [{lo:g}, {hi:g}]")
        factors.append(factor(n, lo, hi, s.unit))
    # readouts last: an experiment readout is checked against the summary of one run of that experiment
    exp_names = {r.split(".", 1)[0] for r in readouts if r.split(".", 1)[0] in EXPERIMENTS}
    experiments = {e: ExperimentReadouts(e, n=experiment_n, seed=seed, params=fixed) for e in exp_names} \
        if mouse else {}
    circ_keys = CircuitReadouts.keys() if mouse else []
    readouts = check_readouts(readouts, list(pk.available()) + circ_keys +
                              [k for e in experiments.values() for k in e.available()])
    want_circuit = [r for r in readouts if r in set(circ_keys)]
    if not mouse and any(r not in pk_keys for r in readouts):
        raise ValueError(f"readout: circuit and experiment readouts are computed with the mouse PK set; pk-model is "
                         f"{pk.model.name!r}")
    circuit = CircuitReadouts(fixed) if want_circuit else None
    pk_ro = [r for r in readouts if r in pk_keys]
    parts = []
    if pk_ro:
        cols = [j for j, f in enumerate(factors) if f.name in pk.space.specs]
        parts.append((pk.model_function([factors[j].name for j in cols], pk_ro), cols, pk_ro))
    if want_circuit:
        parts.append((circuit.model_function([f.name for f in factors], want_circuit), list(range(len(factors))),
                      want_circuit))
    for e, ex in experiments.items():
        ro = [r for r in readouts if r.split(".", 1)[0] == e]
        if ro:
            parts.append((ex.model_function([f.name for f in factors], ro), list(range(len(factors))), ro))
    order = [r for _, _, ro in parts for r in ro]

    def model(X: np.ndarray) -> np.ndarray:
        out = np.column_stack([f(X[:, cols]) for f, cols, _ in parts])
        return out[:, [order.index(r) for r in readouts]]

    info = {"pk": pk.info() if pk_ro else None, "circuit": circuit.info() if circuit else None,
            "experiments": {e: ex.info() for e, ex in experiments.items()},
            "groups": {n: space[n].group for n in names}}
    return model, factors, readouts, info


def parameter_groups(species: str = "mouse", pk_model: str | None = None) -> dict[str, list]:
    """``{group: [ParamSpec, ...]}`` of the names ``ketamine sensitivity`` can vary (circuit space for the mouse
    default set, else the PK set's space)."""
    from pkpd.overrides import pk_space
    from pkpd.pk_models import get_pk_model

    model = get_pk_model(pk_model, species)
    space = circuit_space() if model.name == "mouse" else pk_space(model)
    out: dict[str, list] = {}
    for s in space.specs.values():
        out.setdefault(s.group, []).append(s)
    return out
