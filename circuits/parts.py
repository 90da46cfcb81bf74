"""The shape every circuit module returns: a small frozen :class:`Part` of sympy states, right-hand sides,
parameters and observables, built from *input expressions* (occupancy, dopamine, efficacy…) so that the composed
model (:mod:`circuits.model`) reads as the data flows.

Time. The composed system runs in **hours** (the PK unit). Neural equations are written in seconds, as published,
and converted once by :func:`per_s` (1/s → 1/h).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import sympy

__all__ = ["Part", "S_PER_H", "per_s", "symbols_of", "values_of", "softplus"]

#: seconds per hour: the one conversion between neural (s) and system (h) time.
S_PER_H = 3600.0


def per_s(rate_per_s):
    """A rate written per second, expressed per hour (the composed system's time unit)."""
    return S_PER_H * rate_per_s


def softplus(x, sharpness):
    """Smooth threshold-linear ramp ``(x + sqrt(x² + ε²))/2`` with ``ε = 1/sharpness`` (→ ``[x]₊`` as ε → 0).

    Algebraic rather than ``log(1 + exp(k x))``: it cannot overflow for large inputs (strong bursts, silencing
    currents) and keeps the Jacobian smooth.
    """
    eps = 1 / sharpness
    return (x + sympy.sqrt(x ** 2 + eps ** 2)) / 2


@dataclass(frozen=True)
class Part:
    """One circuit module as equations.

    Attributes
    ----------
    name : str
    states : tuple of sympy.Symbol
    rhs : tuple of sympy.Expr
        ``d state / dt`` in 1/h (same order as ``states``).
    params : tuple of sympy.Symbol
        The part's own parameters (named after the fields of its parameter dataclass).
    observables : tuple of (str, sympy.Expr)
        Named algebraic outputs (rates, gates…) that other parts take as inputs.
    """

    name: str
    states: tuple
    rhs: tuple
    params: tuple
    observables: tuple = ()

    def __post_init__(self):
        if len(self.states) != len(self.rhs):
            raise ValueError(f"{self.name}: {len(self.states)} states but {len(self.rhs)} right-hand sides")

    def out(self, name: str) -> sympy.Expr:
        """The expression of observable ``name``."""
        for k, e in self.observables:
            if k == name:
                return e
        raise ValueError(f"{self.name}: unknown observable {name!r}; expected one of "
                         f"{[k for k, _ in self.observables]}")

    def state(self, name: str) -> sympy.Symbol:
        for s in self.states:
            if s.name == name:
                return s
        raise ValueError(f"{self.name}: unknown state {name!r}")


def symbols_of(params_cls) -> dict[str, sympy.Symbol]:
    """One sympy symbol per :func:`pkpd.parameters.param` field of a parameter dataclass."""
    return {f.name: sympy.Symbol(f.name) for f in dataclasses.fields(params_cls) if "unit" in f.metadata}


def values_of(obj) -> dict[str, float]:
    """``{field name: value}`` of a parameter dataclass instance."""
    return {name: float(getattr(obj, name)) for name in _param_names(type(obj))}


@functools.lru_cache(maxsize=None)
def _param_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if "unit" in f.metadata)
