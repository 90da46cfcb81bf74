"""The circuit model (PK, mPFC, VTA, plasticity; :func:`circuits.model.circuit_system`) of one mouse as SBML.

The document holds the composed system as the engine integrates it (time in h), its parameters with units and
provenance (the circuit's from :func:`circuits.model.parameter_rows`, the PK's derived from the mouse PK set), the
drug-free, stress-free fixed point as the initial state, and a regimen's doses as time-triggered events. The
inputs (shock, stress, silence) and the CNO states stay at 0: a protocol's sessions are not written.
"""

from __future__ import annotations

from pkpd.dosing import Regimen

__all__ = ["circuit_sbml"]


def circuit_sbml(regimen: Regimen | None = None, *, params=None, weight_kg: float | None = None,
                 salt: str | None = None) -> str:
    """One mouse's circuit model (and its regimen, as events) as an SBML Level 3 Version 2 document.

    Parameters
    ----------
    regimen : Regimen, optional
        Doses (times in h from the start); None: no events.
    params : CircuitParams, optional
        Default: the calibrated parameters.
    weight_kg : float, optional
        Body weight, kg (default: the mouse default, 25 g).
    salt : str, optional
        Form mass doses were weighed in (default: HCl, the mouse default).
    """
    from pkpd import __version__
    from pkpd.ode import Schedule
    from pkpd.ode.sbml import export
    from pkpd.pk import COLUMN_UNITS, dose_schedule
    from pkpd.pk_models import get_pk_model
    from pkpd.species import Subject

    from .cohort import BAND_UNITS
    from .model import CircuitParams, circuit_system, initial_state, parameter_rows, parameter_values, \
        parameter_vector

    params = CircuitParams() if params is None else params
    system = circuit_system()
    subject = Subject("mouse", weight_kg, "male")
    values = parameter_values(params, weight_kg=weight_kg)
    p = parameter_vector(values)
    y0 = initial_state(params)
    model = get_pk_model(None, "mouse")
    sched, records = (dose_schedule(model, subject, regimen, salt=salt) if regimen is not None and len(regimen)
                      else (Schedule(), []))
    units, notes = {}, {}
    for r in parameter_rows(params):
        if r["name"] in system.param_names:
            units[r["name"]] = r["unit"]
            notes[r["name"]] = f"{r['kind']}: {r['source']}"
    derived = f"derived from the {model.name} PK parameter set for a mouse of {subject.weight_kg:g} kg"
    for n in system.param_names:
        if n.startswith("k_"):
            units.setdefault(n, "1/h")
        elif n.startswith("v_"):
            units.setdefault(n, "L")
        notes.setdefault(n, derived if n.startswith(("k_", "v_", "fu_")) else "")
    pk_states = {"depot_ip", "depot_sc", "depot_im", "depot_nasal", "gut", "gut_swallowed", "central",
                 "peripheral1", "peripheral2", "liver", "brain", "nor_central", "nor_peripheral", "nor_brain",
                 "eliminated", "nor_eliminated"}
    units |= {s: "umol" for s in system.state_names if s in pk_states}
    units |= {k: v for k, v in {**COLUMN_UNITS, **BAND_UNITS}.items()
              if k in system.observable_names or k in system.state_names}
    text = [f"ketamine-qsp {__version__}: the circuit model (mPFC, VTA, plasticity) on the ketamine PK of one mouse, "
            "after Wu et al. 2021 eLife 10:e64041; amounts in umol of free base, time in h; the initial state is "
            "the drug-free, stress-free fixed point; the shock, stress and silencing inputs stay at 0",
            *(f"dose: {r['amount']:g} {r['unit']} {r['route']} at {r['time_h']:g} h = {r['base_umol']:.6g} umol"
              for r in records)]
    return export(system, y0, p, sched, units=units, annotations=notes, time_unit="h", notes=text)
