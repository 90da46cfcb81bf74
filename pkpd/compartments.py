"""Compartments and flows: a PK model as a graph from which the ODEs are derived (after pharmpy's
``CompartmentalSystem``).

A :class:`CompartmentGraph` holds named compartments (each one state: an amount) and first-order flows between
them. A flow ``Flow(source, target, rate)`` moves ``rate × A_source`` per unit time from ``source`` to ``target``;
``rate`` is a sympy expression in the parameters (a rate constant, 1/time). The ODE of every compartment is the sum
of what flows in minus what flows out::

    dA_j/dt = Σ_{flows i→j} rate_ij · A_i  −  Σ_{flows j→k} rate_jk · A_j

Elimination is a flow into a ``sink`` compartment (which has no outflow), so the sum of all amounts is conserved
except for external input (doses): a mass-balance invariant that the tests check. Extra, non-compartmental states
(for example receptor trapping) can be attached with their own right-hand sides.

The graph is immutable; :meth:`CompartmentGraph.add_compartment`, :meth:`~CompartmentGraph.add_flow` and
:meth:`~CompartmentGraph.add_state` return new graphs. :meth:`CompartmentGraph.to_ode_system` produces the
:class:`~pkpd.ode.OdeSystem` — the single symbolic source the engine compiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from .ode import OdeSystem

__all__ = ["Compartment", "Flow", "CompartmentGraph", "COMPARTMENT_KINDS"]

COMPARTMENT_KINDS = ("depot", "central", "peripheral", "tissue", "sink")


@dataclass(frozen=True)
class Compartment:
    """A well-mixed amount.

    Attributes
    ----------
    name : str
        State name (a Python identifier).
    kind : str
        One of :data:`COMPARTMENT_KINDS`; a ``sink`` may have no outflow.
    description : str
    """

    name: str
    kind: str
    description: str = ""

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"compartment name must be an identifier, got {self.name!r}")
        if self.kind not in COMPARTMENT_KINDS:
            raise ValueError(f"compartment {self.name!r}: kind must be one of {COMPARTMENT_KINDS}, got {self.kind!r}")

    @property
    def symbol(self) -> sympy.Symbol:
        return sympy.Symbol(self.name)


@dataclass(frozen=True)
class Flow:
    """A first-order transfer ``source → target`` with rate constant ``rate`` (1/time; flux = rate × A_source)."""

    source: str
    target: str
    rate: sympy.Expr
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "rate", sympy.sympify(self.rate))
        if self.source == self.target:
            raise ValueError(f"flow {self.source!r} -> {self.target!r}: source and target must differ")


@dataclass(frozen=True)
class CompartmentGraph:
    """Compartments, flows, extra states and observables; immutable."""

    compartments: tuple[Compartment, ...] = ()
    flows: tuple[Flow, ...] = ()
    extra_states: tuple[tuple[sympy.Symbol, sympy.Expr], ...] = ()
    observables: tuple[tuple[str, sympy.Expr], ...] = field(default=())

    def __post_init__(self):
        names = [c.name for c in self.compartments] + [str(s) for s, _ in self.extra_states]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"state names must be unique; repeated: {sorted(dup)}")
        known = {c.name: c for c in self.compartments}
        for f in self.flows:
            for end in (f.source, f.target):
                if end not in known:
                    raise ValueError(f"flow {f.source!r} -> {f.target!r} refers to unknown compartment {end!r}")
            if known[f.source].kind == "sink":
                raise ValueError(f"flow out of sink compartment {f.source!r} is not allowed")

    # ---- building ----------------------------------------------------------------------------------------
    def add_compartment(self, name: str, kind: str, description: str = "") -> "CompartmentGraph":
        return CompartmentGraph(self.compartments + (Compartment(name, kind, description),), self.flows,
                                self.extra_states, self.observables)

    def add_flow(self, source: str, target: str, rate, description: str = "") -> "CompartmentGraph":
        return CompartmentGraph(self.compartments, self.flows + (Flow(source, target, rate, description),),
                                self.extra_states, self.observables)

    def add_state(self, symbol, rhs) -> "CompartmentGraph":
        """Attach a non-compartmental state with its own right-hand side (not part of mass balance)."""
        sym = sympy.Symbol(symbol) if isinstance(symbol, str) else symbol
        return CompartmentGraph(self.compartments, self.flows, self.extra_states + ((sym, sympy.sympify(rhs)),),
                                self.observables)

    def add_observable(self, name: str, expr) -> "CompartmentGraph":
        return CompartmentGraph(self.compartments, self.flows, self.extra_states,
                                self.observables + ((name, sympy.sympify(expr)),))

    # ---- queries -----------------------------------------------------------------------------------------
    @property
    def compartment_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.compartments)

    def compartment(self, name: str) -> Compartment:
        for c in self.compartments:
            if c.name == name:
                return c
        raise ValueError(f"unknown compartment {name!r}; expected one of {list(self.compartment_names)}")

    def outflows(self, name: str) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.source == name)

    def inflows(self, name: str) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.target == name)

    def amount_rhs(self) -> dict[str, sympy.Expr]:
        """The derived right-hand side of every compartment: inflows − outflows."""
        out = {}
        for c in self.compartments:
            e = sympy.Integer(0)
            for f in self.inflows(c.name):
                e += f.rate * sympy.Symbol(f.source)
            for f in self.outflows(c.name):
                e -= f.rate * c.symbol
            out[c.name] = e
        return out

    def parameters(self) -> tuple[sympy.Symbol, ...]:
        """Every free symbol that is not a state or time, in order of first appearance."""
        states = {c.symbol for c in self.compartments} | {s for s, _ in self.extra_states}
        seen: dict[str, sympy.Symbol] = {}
        exprs = [f.rate for f in self.flows] + [r for _, r in self.extra_states] + [e for _, e in self.observables]
        for e in exprs:
            for s in sorted(e.free_symbols, key=str):
                if s not in states and str(s) != "t" and str(s) not in seen:
                    seen[str(s)] = s
        return tuple(seen.values())

    def to_ode_system(self, name: str, params=None) -> OdeSystem:
        """The :class:`~pkpd.ode.OdeSystem` of this graph; its compartments (amounts) are declared non-negative.

        Parameters
        ----------
        name : str
            System name (used in generated file names).
        params : sequence of sympy.Symbol, optional
            Parameter order; default :meth:`parameters`. Must contain every free symbol.
        """
        rhs = self.amount_rhs()
        states = [c.symbol for c in self.compartments] + [s for s, _ in self.extra_states]
        exprs = [rhs[c.name] for c in self.compartments] + [r for _, r in self.extra_states]
        return OdeSystem(states, exprs, tuple(params) if params is not None else self.parameters(),
                         observables=dict(self.observables), name=name,
                         nonnegative=[c.symbol for c in self.compartments])

    def describe(self) -> list[str]:
        """One line per flow: ``source -> target  [rate]``."""
        return [f"{f.source} -> {f.target}  [{sympy.sstr(f.rate)}]" + (f"  ({f.description})" if f.description
                                                                       else "") for f in self.flows]
