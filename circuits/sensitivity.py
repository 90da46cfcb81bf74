"""Named circuit parameters and circuit readouts of a parameter matrix, for overrides and global sensitivity.

The circuit's parameter space (:func:`circuit_space`) is the mouse PK set's (:func:`pkpd.overrides.pk_space`:
its fields, routes and the NMDA block) plus every circuit field (mPFC, VTA, plasticity, behaviour) by its field
name, and the circuit's calibrated interneuron potency ratio, which replaces the receptor's placeholder.
Manipulation switches and protocol timing are not parameters here: protocols set them.

:class:`CircuitReadouts` evaluates a block of samples as one virtual cohort, one subject per sample, through
:func:`circuits.experiments.run_groups` (all samples and protocols integrated together in batched engine
solves). Its readouts are dotted keys ``<group>.<metric>.<test>`` of a per-subject summary built from the groups'
results, e.g. ``slh.failure_rate.4h`` (sLH with 10 mg/kg i.p. ketamine at the protocol's drug time, failure
probability of an escape trial at the 4-h test) or ``wlh.da_response.test5``; ``--list`` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["circuit_space", "apply_circuit", "CircuitReadouts", "GROUPS", "METRICS"]

#: Readout groups: name -> (protocol, dose of ketamine i.p. in mg/kg or None for saline).
GROUPS = {"slh": ("slh", 10.0), "wlh": ("wlh", 10.0), "slh_saline": ("slh", None)}
#: Per-subject metrics of a group at each test (attribute of :class:`circuits.experiments.GroupResult`).
METRICS = {"failure_rate": "failure", "da_response": "r_rel", "latency_s": "latency_s"}


def circuit_space():
    """The named parameters of the circuit model (see the module docstring)."""
    from pkpd.overrides import ParameterSpace, ParamSpec, pk_space
    from pkpd.pk_models import get_pk_model

    from .model import parameter_rows

    specs = list(pk_space(get_pk_model(None, "mouse")).specs.values())
    for r in parameter_rows():
        group = r["group"]
        if group in ("circuit.manipulations", "circuit.protocol"):
            continue
        specs.append(ParamSpec(r["name"], group, "circuit", r["name"], r["unit"], tuple(r["bounds"]), r["kind"],
                               r["source"], float(r["value"])))
    return ParameterSpace(specs)


def apply_circuit(values: Mapping[str, float], space=None, base=None):
    """``(CircuitParams, pk_values)`` with the overrides ``values`` (canonical names of :func:`circuit_space`)
    applied; ``pk_values`` is ``None`` without PK or receptor overrides, else every engine PK parameter of the
    typical mouse (``run_groups(pk_values=...)``)."""
    from pkpd.overrides import apply_pk
    from pkpd.pk import parameter_values
    from pkpd.pk_models import get_pk_model
    from pkpd.receptor import NmdaParams
    from pkpd.species import Subject

    from .model import CircuitParams

    space = space or circuit_space()
    base = base or CircuitParams()
    circ = {n: v for n, v in values.items() if space.specs[n].target == "circuit"}
    pk = {n: v for n, v in values.items() if space.specs[n].target != "circuit"}
    cp = base.replace(**circ) if circ else base
    if not pk:
        return cp, None
    model, nmda = apply_pk(get_pk_model(None, "mouse"), NmdaParams(interneuron_potency_ratio=cp.interneuron_potency_ratio),
                           pk)
    return cp, parameter_values(model, Subject("mouse", None, "male"), nmda=nmda)


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
