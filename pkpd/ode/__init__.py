"""A model-agnostic ODE engine: one sympy model, generated numba code, batched adaptive solvers with events.

This package knows nothing about ketamine. The flow is::

    OdeSystem (sympy)  ->  codegen (real .py files, numba cache)  ->  solve(...) -> Solution (solution.py)

Public names: :class:`OdeSystem`, :class:`Schedule`, :func:`solve`, :class:`Solution`, :func:`solve_reference`.
"""

from .schedule import Event, Schedule
from .solution import METHODS, STATUS, Solution
from .solve import solve
from .system import OdeSystem


def solve_reference(*args, **kwargs):
    """The independent scipy reference (see :func:`pkpd.ode.reference.solve_reference`)."""
    from .reference import solve_reference as _ref

    return _ref(*args, **kwargs)


__all__ = ["OdeSystem", "Schedule", "Event", "solve", "Solution", "METHODS", "STATUS", "solve_reference"]
