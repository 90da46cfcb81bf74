"""Example systems for the engine: a pharmacokinetic demo and classic test problems with published references.

Each entry of :data:`SYSTEMS` is a zero-argument factory returning an :class:`~pkpd.ode.system.OdeSystem`.
"""

from __future__ import annotations

import sympy

from .system import OdeSystem

__all__ = ["SYSTEMS", "two_compartment"]


def two_compartment() -> OdeSystem:
    """Linear two-compartment PK with first-order absorption from a depot (amounts; rates in 1/time).

    States: ``depot``, ``central``, ``peripheral`` (amounts). Params: ``ka``, ``k10``, ``k12``, ``k21`` (1/time),
    ``V`` (volume). Observable ``conc = central / V``.
    """
    depot, central, peripheral = sympy.symbols("depot central peripheral")
    ka, k10, k12, k21, V = sympy.symbols("ka k10 k12 k21 V")
    rhs = [-ka * depot,
           ka * depot - (k10 + k12) * central + k21 * peripheral,
           k12 * central - k21 * peripheral]
    return OdeSystem([depot, central, peripheral], rhs, [ka, k10, k12, k21, V],
                     observables={"conc": central / V}, name="two_compartment")


SYSTEMS = {"two_compartment": two_compartment}
