"""Named parameters of the circuit model and how overrides apply (:mod:`pkpd.overrides` for the PK side).

The circuit's parameter space (:func:`circuit_space`) is the mouse PK set's (:func:`pkpd.overrides.pk_space`:
its fields, routes and the NMDA block) plus every circuit field (mPFC, VTA, plasticity, behaviour) by its field
name, and the circuit's calibrated interneuron potency ratio, which replaces the receptor's placeholder.
Manipulation switches and protocol timing are not parameters here: protocols set them.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["circuit_space", "apply_circuit", "resolve_circuit"]


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


def resolve_circuit(params: Mapping | None):
    """``(CircuitParams, pk_values, record)`` for raw overrides (names and values checked first: ``ValueError``
    before any computation); ``record`` lists them for a run's outputs (empty without overrides)."""
    from .model import CircuitParams

    if not params:
        return CircuitParams(), None, []
    space = circuit_space()
    values = space.resolve(params)
    cp, pkv = apply_circuit(values, space)
    return cp, pkv, space.record(values, params)
