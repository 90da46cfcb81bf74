"""Circuit readouts of a parameter matrix, for global sensitivity (:mod:`pkpd.sensitivity`).

The parameters are the circuit's named parameters (:func:`circuits.overrides.circuit_space`).
:class:`CircuitReadouts` evaluates a block of samples as one virtual cohort, one subject per sample, through
:func:`circuits.experiments.run_groups` (all samples and protocols integrated together in batched engine
solves). Its readouts are dotted keys ``<group>.<metric>.<test>`` of a per-subject summary built from the groups'
results, e.g. ``slh.failure_rate.4h`` (sLH with 10 mg/kg i.p. ketamine at the protocol's drug time, failure
probability of an escape trial at the 4-h test) or ``wlh.da_response.test5``; ``--list`` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .overrides import apply_circuit, circuit_space

__all__ = ["CircuitReadouts", "GROUPS", "METRICS", "sensitivity_problem", "parameter_groups"]

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


def sensitivity_problem(readouts: Sequence[str], params: str = "calibrated", *, ranges: Mapping | None = None,
                        fixed: Mapping | None = None, species: str = "mouse", pk_model: str | None = None,
                        regimen=None, duration_h: float = 4.0):
    """Everything ``ketamine sensitivity`` needs, checked before any sample is evaluated.

    PK readouts (keys of the PK summary of one subject of ``species`` on ``regimen`` for ``duration_h``) and
    circuit readouts (:class:`CircuitReadouts`, mouse only) may be mixed. With the mouse PK set the factors are
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
    circ_keys = CircuitReadouts.keys() if pk.subject.species == "mouse" else []
    readouts = check_readouts(readouts, list(pk.available()) + circ_keys)
    want_circuit = [r for r in readouts if r not in pk_keys]
    if want_circuit and (pk.model.name != "mouse"):
        raise ValueError(f"readout: {want_circuit[0]!r} is a circuit readout, computed with the mouse PK set; "
                         f"pk-model is {pk.model.name!r}")
    # the mouse default set: the circuit's names (a circuit parameter cannot affect a PK readout: ST = 0)
    space = circuit_space() if pk.model.name == "mouse" else pk.space
    fixed = space.resolve(fixed)
    pk.fixed = {k: v for k, v in fixed.items() if k in pk.space.specs}
    circuit = CircuitReadouts(fixed) if want_circuit else None
    fixed_names = set(fixed)
    names = space.select(params)
    both = sorted(fixed_names & set(names))
    if both:
        raise ValueError(f"param: {both[0]!r} is both held fixed (--param) and varied (--params); drop one")
    ranges = {space.canonical(k): v for k, v in (ranges or {}).items()}
    for k in ranges:
        if k not in names:
            raise ValueError(f"ranges: {k!r} is not among the parameters varied ({params})")
    factors = []
    for n in names:
        s = space[n]
        lo, hi = ranges.get(n, s.bounds)
        if not (s.bounds[0] <= lo < hi <= s.bounds[1]):
            raise ValueError(f"ranges: {n}: expected {s.bounds[0]:g} <= lo < hi <= {s.bounds[1]:g} {s.unit} (its "
                             f"declared bounds), got [{lo:g}, {hi:g}]")
        factors.append(factor(n, lo, hi, s.unit))
    pk_ro = [r for r in readouts if r in pk_keys]
    parts = []
    if pk_ro:
        cols = [j for j, f in enumerate(factors) if f.name in pk.space.specs]
        parts.append((pk.model_function([factors[j].name for j in cols], pk_ro), cols, pk_ro))
    if want_circuit:
        parts.append((circuit.model_function([f.name for f in factors], want_circuit), list(range(len(factors))),
                      want_circuit))
    order = [r for _, _, ro in parts for r in ro]

    def model(X: np.ndarray) -> np.ndarray:
        out = np.column_stack([f(X[:, cols]) for f, cols, _ in parts])
        return out[:, [order.index(r) for r in readouts]]

    info = {"pk": pk.info() if pk_ro else None, "circuit": circuit.info() if circuit else None,
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
