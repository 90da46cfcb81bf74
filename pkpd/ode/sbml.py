"""SBML in and out of the engine: :func:`export` writes an :class:`OdeSystem` with its initial state, parameters and
event :class:`Schedule` as SBML Level 3 Version 2; :func:`load` reads an SBML model into the same four objects, so
that any model within the supported subset runs on the batched solver (and in cohorts).

Export
------
Non-negative states (amounts) become species with ``hasOnlySubstanceUnits`` in one unit compartment; the other
states become parameters; every state's derivative is a rate rule. Parameters are constant SBML parameters with
their values, units and provenance (notes). Observables are assignment rules whose ids are the observable names.
The schedule becomes time-triggered events, one per distinct event time (``time >= t``), each assignment being the
composition of that time's boluses and resets on one variable; a zero-order infusion into state ``X`` is an input
parameter ``input_X`` added to ``X``'s rate rule and raised (lowered) by the events at the infusion's start (end).
libsbml writes numbers with 15 significant digits, so values come back from a file to ~1e-15, not bit for bit.

Import
------
Supported: compartments, species (amounts and concentrations, ``hasOnlySubstanceUnits``, boundary and constant
species, conversion factors), reactions with kinetic laws (local parameters become global ones named
``<reaction>_<parameter>``), rate rules, assignment rules (substituted into every expression and kept as
observables), initial assignments (evaluated at the start), function definitions (expanded), and events triggered
by time alone (``time >= c``, or ``time > c``, which differs only at the instant ``c``, where the engine reports the
state after the event) whose assignments add a constant to a variable (a bolus) or set it to
a constant (a reset). A non-constant parameter changed only by events becomes a state with zero derivative.
Refused by name, with a one-line ``ValueError``: delays, algebraic rules, fast reactions, ``rateOf``, events that
depend on the state or have delays, rules on compartments, variable stoichiometry and required SBML packages.
MathML is converted by walking libsbml's AST; no text is evaluated.

The SBML specification: Hucka et al. 2019, "The Systems Biology Markup Language (SBML): Language Specification for
Level 3 Version 2 Core", J Integr Bioinform 16:20190021.
"""

from __future__ import annotations

import keyword
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
import sympy

from .schedule import Event, Schedule
from .system import OdeSystem

__all__ = ["export", "load", "SbmlModel", "OPEN_END"]

#: End time of an infusion that an imported model never stops (beyond any simulation).
OPEN_END = sys.float_info.max
_TIME_URL = "http://www.sbml.org/sbml/symbols/time"
_L3V2_NS = "http://www.sbml.org/sbml/level3/version2/core"


def _libsbml():
    try:
        import libsbml
    except ImportError:  # pragma: no cover - a declared dependency
        raise ValueError("SBML needs the python-libsbml package: pip install python-libsbml") from None
    return libsbml


# ==================================================================================================================
# sympy -> MathML
# ==================================================================================================================
def _cn(x) -> str:
    if isinstance(x, sympy.Integer) or (isinstance(x, int) and not isinstance(x, bool)):
        return f'<cn type="integer">{int(x)}</cn>'
    v = float(x)
    if not math.isfinite(v):
        return {math.inf: "<infinity/>", -math.inf: "<apply><minus/><infinity/></apply>"}.get(v, "<notanumber/>")
    return f"<cn>{v!r}</cn>"


_MATHML_FUNCS = {sympy.exp: "exp", sympy.log: "ln", sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan",
                 sympy.sinh: "sinh", sympy.cosh: "cosh", sympy.tanh: "tanh", sympy.asin: "arcsin",
                 sympy.acos: "arccos", sympy.atan: "arctan", sympy.Abs: "abs", sympy.floor: "floor",
                 sympy.ceiling: "ceiling"}
_MATHML_REL = {sympy.StrictLessThan: "lt", sympy.LessThan: "leq", sympy.StrictGreaterThan: "gt",
               sympy.GreaterThan: "geq", sympy.Equality: "eq", sympy.Unequality: "neq"}


def _mathml(e, time: sympy.Symbol) -> str:
    """Content MathML (without the ``<math>`` wrapper) of a sympy expression."""
    def m(x):
        return _mathml(x, time)

    def apply(op, args):
        return f"<apply><{op}/>{''.join(m(a) for a in args)}</apply>"

    if e is sympy.true:
        return "<true/>"
    if e is sympy.false:
        return "<false/>"
    if e == time:
        return f'<csymbol encoding="text" definitionURL="{_TIME_URL}">time</csymbol>'
    if isinstance(e, sympy.Symbol):
        return f"<ci>{e.name}</ci>"
    if e is sympy.pi:
        return "<pi/>"
    if e is sympy.E:
        return "<exponentiale/>"
    if isinstance(e, sympy.Rational) and not isinstance(e, sympy.Integer):
        return f"<apply><divide/>{_cn(e.p)}{_cn(e.q)}</apply>"
    if isinstance(e, sympy.Number):
        return _cn(e)
    if isinstance(e, sympy.Add):
        return apply("plus", e.as_ordered_terms())
    if isinstance(e, sympy.Mul):
        num, den = e.as_numer_denom()
        if den != 1:
            return f"<apply><divide/>{m(num)}{m(den)}</apply>"
        coeff, rest = e.as_coeff_Mul()
        if coeff == -1:
            return f"<apply><minus/>{m(rest)}</apply>"
        return apply("times", e.args)
    if isinstance(e, sympy.Pow):
        base, ex = e.args
        if ex == sympy.Rational(1, 2):
            return f"<apply><root/>{m(base)}</apply>"
        if ex.is_number and ex < 0:
            return f"<apply><divide/>{_cn(1)}{m(base ** -ex)}</apply>"
        return apply("power", (base, ex))
    if type(e) in _MATHML_FUNCS:
        return apply(_MATHML_FUNCS[type(e)], e.args)
    if isinstance(e, (sympy.Max, sympy.Min)):
        return apply("max" if isinstance(e, sympy.Max) else "min", e.args)
    if type(e) in _MATHML_REL:
        return apply(_MATHML_REL[type(e)], e.args)
    if isinstance(e, (sympy.And, sympy.Or, sympy.Not, sympy.Xor)):
        return apply(type(e).__name__.lower(), e.args)
    if isinstance(e, sympy.Heaviside):
        return m(e.rewrite(sympy.Piecewise))
    if isinstance(e, sympy.Piecewise):
        parts = []
        for val, cond in e.args:
            if cond is sympy.true:
                parts.append(f"<otherwise>{m(val)}</otherwise>")
                break
            parts.append(f"<piece>{m(val)}{m(cond)}</piece>")
        return f"<piecewise>{''.join(parts)}</piecewise>"
    raise ValueError(f"export: cannot write {type(e).__name__} ({sympy.sstr(e)}) as SBML MathML")


def _math(libsbml, e, time):
    node = libsbml.readMathMLFromString(
        f'<math xmlns="http://www.w3.org/1998/Math/MathML">{_mathml(sympy.sympify(e), time)}</math>')
    if node is None:  # pragma: no cover - our own MathML
        raise ValueError(f"export: libsbml could not read the MathML of {sympy.sstr(e)}")
    return node


# ==================================================================================================================
# units
# ==================================================================================================================
# unit token -> (SBML base kind, exponent, scale, multiplier)
_UNIT_TOKENS = {
    "s": ("second", 1, 0, 1.0), "min": ("second", 1, 0, 60.0), "h": ("second", 1, 0, 3600.0),
    "d": ("second", 1, 0, 86400.0), "day": ("second", 1, 0, 86400.0),
    "L": ("litre", 1, 0, 1.0), "mL": ("litre", 1, -3, 1.0), "uL": ("litre", 1, -6, 1.0),
    "mol": ("mole", 1, 0, 1.0), "mmol": ("mole", 1, -3, 1.0), "umol": ("mole", 1, -6, 1.0),
    "nmol": ("mole", 1, -9, 1.0), "g": ("gram", 1, 0, 1.0), "kg": ("gram", 1, 3, 1.0), "mg": ("gram", 1, -3, 1.0),
    "ug": ("gram", 1, -6, 1.0), "ng": ("gram", 1, -9, 1.0),
}
_CONC = {"M": 0, "mM": -3, "uM": -6, "nM": -9}


def _unit_parts(text: str):
    """``[(kind, exponent, scale, multiplier), ...]`` of a unit such as ``1/h``, ``L/h``, ``uM``, ``umol``;
    ``[]`` for dimensionless; None when it is not understood (the unit is then only written in notes)."""
    t = str(text).strip().replace("µ", "u").replace("μ", "u").replace(" ", "")
    if t in ("", "1", "dimensionless", "-", "fraction"):
        return []
    num, _, den = t.partition("/")
    parts = []
    for group, sign in ((num, 1), (den, -1)):
        if not group or group == "1":
            continue
        for tok in group.split("*"):
            base, _, power = tok.partition("^")
            try:
                p = int(power) if power else 1
            except ValueError:
                return None
            if base in _CONC:
                parts += [("mole", sign * p, _CONC[base], 1.0), ("litre", -sign * p, 0, 1.0)]
            elif base in _UNIT_TOKENS:
                kind, _, scale, mult = _UNIT_TOKENS[base]
                parts.append((kind, sign * p, scale, mult))
            else:
                return None
    return parts


class _Units:
    """Unit definitions written on demand, one per distinct unit text."""

    def __init__(self, model):
        self.model = model
        self.ids: dict[str, str | None] = {}

    def __call__(self, text) -> str | None:
        if text is None:
            return None
        text = str(text)
        if text in self.ids:
            return self.ids[text]
        parts = _unit_parts(text)
        if parts is None:
            self.ids[text] = None
            return None
        if not parts:
            self.ids[text] = "dimensionless"
            return "dimensionless"
        uid = "u_" + re.sub(r"\W", "_", text.replace("/", "_per_").replace("*", "_").replace("^", ""))
        while any(uid == v for v in self.ids.values()):
            uid += "_"
        ud = self.model.createUnitDefinition()
        ud.setId(uid)
        ud.setName(text)
        for kind, ex, scale, mult in parts:
            u = ud.createUnit()
            u.setKind(getattr(_libsbml(), f"UNIT_KIND_{kind.upper()}"))
            u.setExponent(ex)
            u.setScale(scale)
            u.setMultiplier(mult)
        self.ids[text] = uid
        return uid


def _notes(element, lines) -> None:
    body = "".join(f"<p>{escape(str(ln))}</p>" for ln in lines if ln)
    if body:
        element.setNotes(f'<body xmlns="http://www.w3.org/1999/xhtml">{body}</body>')


# ==================================================================================================================
# export
# ==================================================================================================================
def _check_id(name: str, what: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"export: {what} {name!r} is not a valid SBML identifier (letters, digits, underscores)")


def export(system: OdeSystem, y0, params=None, schedule: Schedule | None = None, *,
           units: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None,
           time_unit: str | None = None, model_id: str | None = None, notes=()) -> str:
    """The system, its initial state, parameters and schedule as an SBML Level 3 Version 2 document.

    Parameters
    ----------
    system : OdeSystem
    y0 : array_like, shape (n_states,)
        Initial state (at time 0), in each state's unit.
    params : array_like, shape (n_params,), optional
        Parameter values in the order of ``system.params`` (required when the system has any).
    schedule : Schedule, optional
        Boluses, infusions and resets, written as time-triggered events.
    units : mapping of str to str, optional
        Unit text (``"1/h"``, ``"L"``, ``"umol"``, ``"uM"``, ``"1"``) of states, parameters and observables, by
        name. Understood units become SBML unit definitions; every unit is also written in the element's notes.
    annotations : mapping of str to str, optional
        Provenance (source, kind) of states, parameters and observables, by name, written as notes.
    time_unit : str, optional
        The model's time unit (``"h"``).
    model_id : str, optional
        The SBML model id (default: the system's name).
    notes : sequence of str
        Paragraphs of the model's notes (what it is, where it comes from).

    Returns
    -------
    str
        The SBML document (XML).

    Raises
    ------
    ValueError
        If the shapes do not match the system, a name is not an SBML identifier, or an expression has no MathML.
    """
    libsbml = _libsbml()
    if not isinstance(system, OdeSystem):
        raise ValueError(f"system must be an OdeSystem, got {type(system).__name__}")
    y0 = np.asarray(y0, float).reshape(-1)
    if y0.shape != (system.n_states,):
        raise ValueError(f"y0 must have shape ({system.n_states},), got {y0.shape}")
    p = np.zeros(0) if params is None else np.asarray(params, float).reshape(-1)
    if p.shape != (system.n_params,):
        raise ValueError(f"params must have shape ({system.n_params},), got {p.shape}")
    if not (np.isfinite(y0).all() and np.isfinite(p).all()):
        raise ValueError("y0 and params must be finite")
    schedule = Schedule() if schedule is None else schedule
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    units, annotations = dict(units or {}), dict(annotations or {})
    t = system.time
    names = [*system.state_names, *system.param_names, *system.observable_names]
    for n in names:
        _check_id(n, "name")
    infused = sorted({system.state_index(e.state) for e in schedule if e.kind == "infusion"})
    inputs = {i: sympy.Symbol(f"input_{system.state_names[i]}") for i in infused}
    taken = set(names) | {"time", "compartment"}
    for s in inputs.values():
        if s.name in taken:
            raise ValueError(f"export: the infusion input {s.name!r} clashes with a name of the system")

    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    mid = model_id or system.name
    _check_id(mid, "model id")
    model.setId(mid)
    model.setName(system.name)
    _notes(model, notes)
    unit = _Units(model)
    if time_unit is not None and unit(time_unit):
        model.setTimeUnits(unit(time_unit))

    def described(element, name, extra=()):
        u = units.get(name)
        if u is not None and unit(u):
            element.setUnits(unit(u))
        _notes(element, [*extra, f"unit: {u}" if u is not None else None, annotations.get(name)])

    comp = model.createCompartment()
    comp.setId("compartment")
    comp.setConstant(True)
    comp.setSize(1.0)
    comp.setSpatialDimensions(3)
    comp.setUnits("dimensionless")
    _notes(comp, ["a unit container: every species is an amount (hasOnlySubstanceUnits)"])
    nonneg = set(system.nonnegative)
    for i, name in enumerate(system.state_names):
        if name in nonneg:
            sp = model.createSpecies()
            sp.setId(name)
            sp.setCompartment("compartment")
            sp.setHasOnlySubstanceUnits(True)
            sp.setBoundaryCondition(False)
            sp.setConstant(False)
            sp.setInitialAmount(float(y0[i]))
            u = units.get(name)
            if u is not None and unit(u):
                sp.setSubstanceUnits(unit(u))
            _notes(sp, [f"unit: {u}" if u is not None else None, annotations.get(name)])
        else:
            par = model.createParameter()
            par.setId(name)
            par.setConstant(False)
            par.setValue(float(y0[i]))
            described(par, name, ["a state of the model (rate rule)"])
    for name, v in zip(system.param_names, p):
        par = model.createParameter()
        par.setId(name)
        par.setConstant(True)
        par.setValue(float(v))
        described(par, name)
    for i, s in inputs.items():
        par = model.createParameter()
        par.setId(s.name)
        par.setConstant(False)
        par.setValue(0.0)
        su = units.get(system.state_names[i])
        _notes(par, [f"zero-order input into {system.state_names[i]} (infusions); unit: "
                     f"{su or 'state unit'} per {time_unit or 'time unit'}"])
    for i, (s, e) in enumerate(zip(system.states, system.rhs)):
        rr = model.createRateRule()
        rr.setVariable(s.name)
        rr.setMath(_math(libsbml, e + inputs[i] if i in inputs else e, t))
    for name, e in system.observables.items():
        par = model.createParameter()
        par.setId(name)
        par.setConstant(False)
        described(par, name, ["an observable (assignment rule)"])
        ar = model.createAssignmentRule()
        ar.setVariable(name)
        ar.setMath(_math(libsbml, e, t))

    # one event per distinct time; per variable the composition of that time's jumps, in schedule order
    times: dict[float, list] = {}
    for e in schedule:
        times.setdefault(e.time, []).append(("jump", e))
        if e.kind == "infusion":
            times.setdefault(e.end, []).append(("end", e))
    for k, tk in enumerate(sorted(times)):
        new: dict[sympy.Symbol, sympy.Expr] = {}
        for what, e in times[tk]:
            i = system.state_index(e.state)
            if e.kind == "infusion":
                s = inputs[i]
                sign = 1 if what == "jump" else -1
                new[s] = new.get(s, s) + sign * sympy.Float(e.value)
            else:
                s = system.states[i]
                new[s] = new.get(s, s) + sympy.Float(e.value) if e.kind == "bolus" else sympy.Float(e.value)
        ev = model.createEvent()
        ev.setId(f"event_{k}")
        ev.setUseValuesFromTriggerTime(True)
        trig = ev.createTrigger()
        trig.setInitialValue(False)  # an event at time 0 fires at the start
        trig.setPersistent(True)
        trig.setMath(_math(libsbml, sympy.GreaterThan(t, sympy.Float(tk)), t))
        _notes(ev, [f"{e.kind} into {e.state}: {e.value:g}" + (f" until {e.end:g}" if e.kind == "infusion" else "")
                    if w == "jump" else f"end of the infusion into {e.state}" for w, e in times[tk]])
        for s, expr in new.items():
            ea = ev.createEventAssignment()
            ea.setVariable(s.name)
            ea.setMath(_math(libsbml, expr, t))
    return libsbml.writeSBMLToString(doc)


# ==================================================================================================================
# import
# ==================================================================================================================
@dataclass(frozen=True, eq=False)
class SbmlModel:
    """An SBML model read by :func:`load`.

    Attributes
    ----------
    system : OdeSystem
        States are species amounts (substance units, whatever ``hasOnlySubstanceUnits`` says), parameters and
        compartments with rate rules, and parameters changed by events; observables are the assignment rules.
    y0 : ndarray, shape (n_states,)
        Initial state from the file (initial amounts, concentrations × volume, initial assignments).
    params : ndarray, shape (n_params,)
        The file's values, in the order of ``system.params``.
    schedule : Schedule
        The file's time-triggered events as boluses and resets (amounts for species).
    model_id : str
    units : dict of str to str
        SBML unit ids of states, parameters and ``time``, where the file declares them.
    """

    system: OdeSystem
    y0: np.ndarray
    params: np.ndarray
    schedule: Schedule
    model_id: str = ""
    units: Mapping = field(default_factory=dict)

    def events_within(self, t_end: float) -> Schedule:
        """The schedule without the events after ``t_end`` (what a simulation of that length sees)."""
        return Schedule(e for e in self.schedule if e.time <= t_end)


class _Refused(ValueError):
    pass


def _refuse(what: str) -> None:
    raise _Refused(f"SBML: {what} is not supported")


def _safe_name(sid: str, taken: set) -> str:
    """An SBML id as a symbol name that neither is a Python keyword nor clashes with a taken name."""
    name = sid + "_" if keyword.iskeyword(sid) else sid
    while name in taken:
        name += "_"
    return name


class _Reader:
    """Walk libsbml's AST into sympy; ``names`` maps SBML ids to sympy expressions."""

    def __init__(self, libsbml, names: dict, time: sympy.Symbol, functions: dict):
        self.L = libsbml
        self.names = names
        self.time = time
        self.functions = functions
        L = libsbml
        self.unary = {L.AST_FUNCTION_EXP: sympy.exp, L.AST_FUNCTION_LN: sympy.log, L.AST_FUNCTION_ABS: sympy.Abs,
                      L.AST_FUNCTION_SIN: sympy.sin, L.AST_FUNCTION_COS: sympy.cos, L.AST_FUNCTION_TAN: sympy.tan,
                      L.AST_FUNCTION_SINH: sympy.sinh, L.AST_FUNCTION_COSH: sympy.cosh,
                      L.AST_FUNCTION_TANH: sympy.tanh, L.AST_FUNCTION_ARCSIN: sympy.asin,
                      L.AST_FUNCTION_ARCCOS: sympy.acos, L.AST_FUNCTION_ARCTAN: sympy.atan,
                      L.AST_FUNCTION_FLOOR: sympy.floor, L.AST_FUNCTION_CEILING: sympy.ceiling,
                      L.AST_LOGICAL_NOT: sympy.Not}
        self.rel = {L.AST_RELATIONAL_LT: sympy.Lt, L.AST_RELATIONAL_LEQ: sympy.Le, L.AST_RELATIONAL_GT: sympy.Gt,
                    L.AST_RELATIONAL_GEQ: sympy.Ge, L.AST_RELATIONAL_EQ: sympy.Eq, L.AST_RELATIONAL_NEQ: sympy.Ne}
        self.refused = {L.AST_FUNCTION_DELAY: "delay (csymbol delay)", L.AST_FUNCTION_RATE_OF: "rateOf"}

    def __call__(self, node, where: str, local: Mapping | None = None):
        if node is None:
            raise ValueError(f"SBML: {where} has no math")
        return self.walk(node, where, local or {})

    def walk(self, n, where, local):
        L = self.L
        ty = n.getType()
        kids = [n.getChild(i) for i in range(n.getNumChildren())]

        def args():
            return [self.walk(k, where, local) for k in kids]

        if ty in self.refused:
            _refuse(f"{self.refused[ty]} in {where}")
        if ty == L.AST_INTEGER:
            return sympy.Integer(n.getInteger())
        if ty in (L.AST_REAL, L.AST_REAL_E):
            v = n.getReal()
            if math.isinf(v):
                return sympy.oo if v > 0 else -sympy.oo
            return sympy.Float(v)
        if ty == L.AST_RATIONAL:
            return sympy.Rational(n.getNumerator(), n.getDenominator())
        if ty == L.AST_NAME_TIME:
            return self.time
        if ty == L.AST_NAME_AVOGADRO:
            return sympy.Float(6.02214076e23)
        if ty == L.AST_CONSTANT_PI:
            return sympy.pi
        if ty == L.AST_CONSTANT_E:
            return sympy.E
        if ty == L.AST_CONSTANT_TRUE:
            return sympy.true
        if ty == L.AST_CONSTANT_FALSE:
            return sympy.false
        if ty == L.AST_NAME:
            name = n.getName()
            if name in local:
                return local[name]
            if name in self.names:
                return self.names[name]
            raise ValueError(f"SBML: {where} refers to {name!r}, which the model does not define")
        if ty == L.AST_PLUS:
            return sympy.Add(*args()) if kids else sympy.Integer(0)
        if ty == L.AST_TIMES:
            return sympy.Mul(*args()) if kids else sympy.Integer(1)
        if ty == L.AST_MINUS:
            a = args()
            return -a[0] if len(a) == 1 else a[0] - a[1]
        if ty == L.AST_DIVIDE:
            a, b = args()
            return a / b
        if ty in (L.AST_POWER, L.AST_FUNCTION_POWER):
            a, b = args()
            return a ** b
        if ty == L.AST_FUNCTION_ROOT:
            a = args()
            return a[-1] ** (1 / a[0]) if len(a) == 2 else sympy.sqrt(a[0])
        if ty == L.AST_FUNCTION_LOG:
            a = args()
            return sympy.log(a[-1]) / sympy.log(a[0] if len(a) == 2 else 10)
        if ty in self.unary:
            (a,) = args()
            return self.unary[ty](a)
        if ty in (L.AST_FUNCTION_MAX, L.AST_FUNCTION_MIN):
            return (sympy.Max if ty == L.AST_FUNCTION_MAX else sympy.Min)(*args())
        if ty in self.rel:
            a = args()
            return sympy.And(*(self.rel[ty](x, y) for x, y in zip(a, a[1:])))
        if ty in (L.AST_LOGICAL_AND, L.AST_LOGICAL_OR, L.AST_LOGICAL_XOR):
            f = {L.AST_LOGICAL_AND: sympy.And, L.AST_LOGICAL_OR: sympy.Or, L.AST_LOGICAL_XOR: sympy.Xor}[ty]
            return f(*args())
        if ty == L.AST_FUNCTION_PIECEWISE:
            a = args()
            pieces = [(a[i], a[i + 1]) for i in range(0, len(a) - 1, 2)]
            if len(a) % 2:
                pieces.append((a[-1], sympy.true))
            return sympy.Piecewise(*pieces)
        if ty == L.AST_FUNCTION:
            name = n.getName()
            if name not in self.functions:
                raise ValueError(f"SBML: {where} calls {name!r}, which is not a function definition of the model")
            params, body = self.functions[name]
            a = args()
            if len(a) != len(params):
                raise ValueError(f"SBML: {where} calls {name!r} with {len(a)} arguments; it takes {len(params)}")
            return self.walk(body, f"function {name!r} (called in {where})", dict(zip(params, a)))
        _refuse(f"the MathML construct {n.getName() or ty!r} in {where}")


def _read_document(libsbml, source):
    text = str(source)
    if "<" not in text:
        p = Path(text)
        if not p.is_file():
            raise ValueError(f"SBML: file {text!r} does not exist")
        doc = libsbml.readSBMLFromFile(str(p))
    else:
        doc = libsbml.readSBMLFromString(text)
    errors = [doc.getError(i) for i in range(doc.getNumErrors())]
    errors = [e for e in errors if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if not errors:
        doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)
        doc.setConsistencyChecks(libsbml.LIBSBML_CAT_MODELING_PRACTICE, False)
        doc.checkConsistency()
        errors = [doc.getError(i) for i in range(doc.getNumErrors())]
        errors = [e for e in errors if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:
        e = errors[0]
        msg = " ".join(e.getMessage().split())
        raise ValueError(f"SBML: invalid document (line {e.getLine()}): {msg}")
    if doc.getModel() is None:
        raise ValueError("SBML: the document holds no model")
    ns = doc.getNamespaces()  # the packages the file itself declares (libsbml enables some internally)
    for i in range(ns.getLength() if doc.getLevel() >= 3 else 0):
        uri, prefix = ns.getURI(i), ns.getPrefix(i)
        if prefix and "sbml.org/sbml/level3" in uri and doc.getPackageRequired(uri):
            _refuse(f"the required package {prefix!r}")
    return doc


def _time_trigger(ev, read, values: Mapping) -> float | None:
    """The time at which a time-only trigger fires, None if it never does, or a refusal."""
    trig = ev.getTrigger()
    eid = ev.getId() or "(no id)"
    if trig is None or trig.getMath() is None:
        raise ValueError(f"SBML: event {eid!r} has no trigger")
    cond = read(trig.getMath(), f"the trigger of event {eid!r}")
    t = read.time
    rel = cond
    if isinstance(rel, (sympy.GreaterThan, sympy.StrictGreaterThan)) and rel.lhs == t:
        c = rel.rhs
    elif isinstance(rel, (sympy.LessThan, sympy.StrictLessThan)) and rel.rhs == t:
        c = rel.lhs
    else:
        _refuse(f"event {eid!r}: a trigger other than time >= constant (state-triggered event)")
    c = c.xreplace(values)
    if c.free_symbols:
        _refuse(f"event {eid!r}: a trigger time that depends on the state (state-triggered event)")
    c = float(c)
    if c <= 0 and trig.getInitialValue():
        return None  # already true at the start: the trigger never goes from false to true
    return max(c, 0.0)


def load(source) -> SbmlModel:
    """Read an SBML model (a file path or the XML text) into an :class:`SbmlModel`.

    Raises
    ------
    ValueError
        One line: the document does not validate (first error, with its line), or it uses a construct this
        reader does not support (named: delay, algebraic rule, fast reaction, state-triggered event, …).
    """
    libsbml = _libsbml()
    doc = _read_document(libsbml, source)
    m = doc.getModel()
    L = libsbml

    # constraints are ignored: they check a simulation, they do not change it
    for i in range(m.getNumRules()):
        r = m.getRule(i)
        if r.isAlgebraic():
            _refuse(f"the algebraic rule {i + 1}")
    for i in range(m.getNumReactions()):
        rx = m.getReaction(i)
        if rx.isSetFast() and rx.getFast():
            _refuse(f"the fast reaction {rx.getId()!r}")
    for i in range(m.getNumEvents()):
        ev = m.getEvent(i)
        if ev.isSetDelay():
            _refuse(f"the delay of event {ev.getId() or i + 1!r}")

    rules = {m.getRule(i).getVariable(): m.getRule(i) for i in range(m.getNumRules())}
    event_targets = {m.getEvent(i).getEventAssignment(j).getVariable()
                     for i in range(m.getNumEvents()) for j in range(m.getEvent(i).getNumEventAssignments())}
    all_ids = ({m.getCompartment(i).getId() for i in range(m.getNumCompartments())}
               | {m.getSpecies(i).getId() for i in range(m.getNumSpecies())}
               | {m.getParameter(i).getId() for i in range(m.getNumParameters())}
               | {m.getReaction(i).getId() for i in range(m.getNumReactions())})
    time_name = _safe_name("t", all_ids)
    time = sympy.Symbol(time_name)
    taken = set(all_ids) | {time_name}
    sym: dict[str, sympy.Symbol] = {}

    def symbol(sid):
        if sid not in sym:
            sym[sid] = sympy.Symbol(_safe_name(sid, taken - {sid}))
            taken.add(sym[sid].name)
        return sym[sid]

    states: list[str] = []      # SBML ids, in order
    params: list[str] = []
    values: dict[str, float] = {}  # SBML id -> initial value (amount for species)
    names: dict[str, sympy.Expr] = {}  # SBML id -> its value in math
    volume_of: dict[str, str] = {}  # species id -> compartment id, for concentration species
    init_conc: dict[str, tuple] = {}  # species id -> (initial concentration, compartment id)
    units: dict[str, str] = {}
    if m.isSetTimeUnits():
        units["time"] = m.getTimeUnits()

    for i in range(m.getNumCompartments()):
        c = m.getCompartment(i)
        cid = c.getId()
        if cid in rules or cid in event_targets:
            _refuse(f"a rule or event on compartment {cid!r} (a variable volume)")
        params.append(cid)
        values[cid] = c.getSize() if c.isSetSize() else math.nan
        names[cid] = symbol(cid)
        if c.isSetUnits():
            units[sym[cid].name] = c.getUnits()
    for i in range(m.getNumSpecies()):
        s = m.getSpecies(i)
        sid = s.getId()
        if s.isSetConversionFactor() or m.isSetConversionFactor():
            _refuse(f"the conversion factor of species {sid!r}")
        comp = s.getCompartment()
        conc = not s.getHasOnlySubstanceUnits()
        v = names[comp] if conc else 1
        if s.isSetInitialAmount():
            values[sid] = s.getInitialAmount()
        elif s.isSetInitialConcentration():
            init_conc[sid] = (s.getInitialConcentration(), comp)  # times the size, once the size is known
        else:
            values[sid] = math.nan  # set by an initial assignment (checked below)
        if conc:
            volume_of[sid] = comp
        rule = rules.get(sid)
        if rule is not None and rule.isAssignment():
            continue  # substituted below
        amount = symbol(sid)
        if s.getConstant() and rule is None and sid not in event_targets:
            params.append(sid)
            # a constant species enters the math as its amount or concentration
            names[sid] = amount / v if conc else amount
            continue
        states.append(sid)
        names[sid] = amount / v if conc else amount
        if s.isSetSubstanceUnits() or m.isSetSubstanceUnits():
            units[amount.name] = s.getSubstanceUnits() if s.isSetSubstanceUnits() else m.getSubstanceUnits()
    for i in range(m.getNumParameters()):
        p = m.getParameter(i)
        pid = p.getId()
        values[pid] = p.getValue() if p.isSetValue() else math.nan
        if p.isSetUnits():
            units[symbol(pid).name] = p.getUnits()
        rule = rules.get(pid)
        if rule is not None and rule.isAssignment():
            continue
        names[pid] = symbol(pid)
        if rule is not None or (pid in event_targets):
            if p.getConstant():
                raise ValueError(f"SBML: parameter {pid!r} is constant but has a rule or event")
            states.append(pid)
        else:
            params.append(pid)
    # local parameters of kinetic laws become global parameters <reaction>_<parameter>
    local_of: dict[str, dict] = {}
    for i in range(m.getNumReactions()):
        rx = m.getReaction(i)
        kl = rx.getKineticLaw()
        local_of[rx.getId()] = {}
        if kl is None:
            continue
        for j in range(kl.getNumLocalParameters()):
            lp = kl.getLocalParameter(j)
            gid = f"{rx.getId()}_{lp.getId()}"
            s = symbol(gid) if gid not in all_ids else symbol(gid + "_local")
            params.append(s.name)
            values[s.name] = lp.getValue()
            sym[s.name] = s
            local_of[rx.getId()][lp.getId()] = s
        for j in range(rx.getNumReactants() + rx.getNumProducts()):
            ref = rx.getReactant(j) if j < rx.getNumReactants() else rx.getProduct(j - rx.getNumReactants())
            if hasattr(ref, "isSetStoichiometryMath") and ref.isSetStoichiometryMath():
                _refuse(f"the stoichiometryMath of {ref.getSpecies()!r} in reaction {rx.getId()!r} (variable "
                        "stoichiometry)")
            if ref.isSetId() and doc.getLevel() >= 3 and not ref.getConstant():
                _refuse(f"the variable stoichiometry of {ref.getId()!r} in reaction {rx.getId()!r}")
            if ref.isSetId():
                names[ref.getId()] = sympy.Float(ref.getStoichiometry())

    functions = {}
    for i in range(m.getNumFunctionDefinitions()):
        fd = m.getFunctionDefinition(i)
        functions[fd.getId()] = ([fd.getArgument(j).getName() for j in range(fd.getNumArguments())], fd.getBody())
    read = _Reader(L, names, time, functions)

    # assignment rules, substituted into one another until none is left
    for var, r in rules.items():
        if r.isAssignment():
            names[var] = symbol(var)
    assigned = {var: read(r.getMath(), f"the assignment rule of {var!r}") for var, r in rules.items()
                if r.isAssignment()}
    sub = {sym[v]: e for v, e in assigned.items()}

    def resolve(e):
        for _ in range(len(sub) + 1):
            new = e.xreplace(sub)
            if new == e:
                return e
            e = new
        raise ValueError("SBML: the assignment rules refer to one another in a cycle")

    # initial assignments and initial values of assignment-rule variables, evaluated at the start
    init_exprs = {}
    for i in range(m.getNumInitialAssignments()):
        ia = m.getInitialAssignment(i)
        init_exprs[ia.getSymbol()] = read(ia.getMath(), f"the initial assignment of {ia.getSymbol()!r}")
    start: dict[sympy.Symbol, float] = {time: 0.0}

    def start_value(sid) -> float:
        s = sym.get(sid)
        return start[s] if s in start else math.nan

    for sid, v in values.items():
        if sid in sym and sid not in init_exprs and math.isfinite(v):
            start[sym[sid]] = v
    pending = dict(init_exprs) | {sid: None for sid in init_conc if sid not in init_exprs}
    while pending:  # evaluate what can be evaluated, until nothing more can
        done = []
        for sid, e in pending.items():
            if e is None:
                c, comp = init_conc[sid]
                val = sympy.Float(c) * sym[comp]
            else:
                val = resolve(e)
                if sid in volume_of:  # a concentration: the state holds the amount
                    val = val * sym[volume_of[sid]]
            val = val.xreplace(start)
            if not val.free_symbols:
                start[symbol(sid)] = float(val)
                done.append(sid)
        if not done:
            break
        for sid in done:
            del pending[sid]
    for sid in [*states, *params]:
        s = sym.get(sid)
        if s not in start or not math.isfinite(start[s]):
            raise ValueError(f"SBML: {sid!r} has no initial value (no value, size, amount or initial assignment "
                             "that can be evaluated)")
    file_values = {sym[sid]: start[sym[sid]] for sid in params}

    # right-hand sides (of amounts for species)
    rhs: dict[str, sympy.Expr] = {sid: sympy.Integer(0) for sid in states}
    for i in range(m.getNumReactions()):
        rx = m.getReaction(i)
        rid = rx.getId()
        kl = rx.getKineticLaw()
        if kl is None or kl.getMath() is None:
            raise ValueError(f"SBML: reaction {rid!r} has no kinetic law")
        rate = read(kl.getMath(), f"the kinetic law of reaction {rid!r}", local_of[rid])
        for j in range(rx.getNumReactants() + rx.getNumProducts()):
            reactant = j < rx.getNumReactants()
            ref = rx.getReactant(j) if reactant else rx.getProduct(j - rx.getNumReactants())
            sp = m.getSpecies(ref.getSpecies())
            if sp.getBoundaryCondition() or sp.getConstant() or ref.getSpecies() not in rhs:
                continue
            if not ref.isSetStoichiometry():
                if doc.getLevel() >= 3:
                    _refuse(f"a species reference without stoichiometry ({ref.getSpecies()!r} in reaction {rid!r})")
            st = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
            st = sympy.Integer(int(st)) if float(st).is_integer() else sympy.Float(st)
            rhs[ref.getSpecies()] += -st * rate if reactant else st * rate
    for var, r in rules.items():
        if not r.isRate():
            continue
        e = read(r.getMath(), f"the rate rule of {var!r}")
        sp = m.getSpecies(var)
        if sp is not None and not sp.getHasOnlySubstanceUnits():
            e = e * names[sp.getCompartment()]  # d(amount)/dt = V d(conc)/dt, V constant
        if var not in rhs:
            raise ValueError(f"SBML: the rate rule of {var!r} acts on something that is not a variable")
        rhs[var] = rhs[var] + e

    # events: boluses and resets at fixed times
    sched = []
    for i in range(m.getNumEvents()):
        ev = m.getEvent(i)
        eid = ev.getId() or f"{i + 1}"
        te = _time_trigger(ev, read, file_values)
        if te is None:
            continue
        for j in range(ev.getNumEventAssignments()):
            ea = ev.getEventAssignment(j)
            var = ea.getVariable()
            if var not in states:
                _refuse(f"event {eid!r} assigning {var!r}, which is not a state")
            e = resolve(read(ea.getMath(), f"event {eid!r} assignment to {var!r}")).xreplace(file_values)
            scale = start[sym[volume_of[var]]] if var in volume_of else 1.0
            current = names[var].xreplace(file_values)
            jump = sympy.simplify(e - current)
            if not jump.free_symbols:
                sched.append(Event("bolus", te, sym[var].name, float(jump) * scale))
            elif not e.free_symbols:
                sched.append(Event("reset", te, sym[var].name, float(e) * scale))
            else:
                _refuse(f"event {eid!r}: an assignment to {var!r} that is neither a constant nor the variable plus a "
                        "constant")

    exprs = {sid: resolve(rhs[sid]) for sid in states}
    observables = {sym[v].name: resolve(e) for v, e in assigned.items()}
    try:
        system = OdeSystem([sym[s] for s in states], [exprs[s] for s in states], [sym[p] for p in params],
                           time=time, observables=observables, name=_system_name(m.getId()),
                           nonnegative=[sym[s] for s in states if m.getSpecies(s) is not None])
    except ValueError as e:
        raise ValueError(f"SBML: {e}") from None
    y0 = np.array([start[sym[s]] for s in states])
    pv = np.array([start[sym[p]] for p in params])
    return SbmlModel(system, y0, pv, Schedule(sched), m.getId(), units)


def _system_name(mid: str) -> str:
    name = re.sub(r"\W", "_", mid or "sbml_model")
    return name if name.replace("_", "").isalnum() else "sbml_model"
