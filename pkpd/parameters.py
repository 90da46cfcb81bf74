"""Declaring parameters with their unit, provenance and plausible range, in one place.

Every model parameter is a field of a frozen dataclass, declared with :func:`param`::

    cl_L_per_h: float = param(79.0, "L/h", "Kamp et al. 2020 Anesthesiology 133:1192, meta-analysis",
                              bounds=(1.0, 1000.0), kind="published")

``kind`` says what the number is:

``published``   a value reported in the cited paper (table or abstract)
``calibrated``  chosen by us so that the model reproduces a cited observation (the source names it)
``assumed``     our assumption; the source explains why this value
``derived``     computed from other parameters (the source says how)

:func:`check_bounds` raises ``ValueError`` naming the field, its unit and the expected range; :func:`describe`
lists the fields for ``ketamine params``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers

__all__ = ["param", "check_bounds", "describe", "is_finite_real", "is_integer", "KINDS"]

KINDS = ("published", "calibrated", "assumed", "derived")


def is_finite_real(x) -> bool:
    """Whether ``x`` is a finite real number: an int or float (NumPy scalars included), not a bool, NaN or ±inf.

    The one test of user-given numbers; callers raise their own ``ValueError`` naming the field."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def is_integer(x) -> bool:
    """Whether ``x`` is an integer (Python or NumPy), not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def param(default: float, unit: str, source: str, *, bounds: tuple[float, float], kind: str):
    """A dataclass field carrying ``unit``, ``source``, ``bounds`` and ``kind`` in its metadata."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    lo, hi = bounds
    if not lo <= default <= hi:
        raise ValueError(f"default {default} outside bounds {bounds}")
    return dataclasses.field(default=default, metadata={"unit": unit, "source": source, "bounds": (lo, hi),
                                                        "kind": kind})


def check_bounds(obj) -> None:
    """Validate every :func:`param` field of a dataclass instance against its bounds.

    Raises
    ------
    ValueError
        ``"<Class>.<field>: expected a value in [lo, hi] <unit>, got x"``.
    """
    for name, lo, hi, unit in _bounded_fields(type(obj)):
        v = getattr(obj, name)
        if not is_finite_real(v) or not lo <= v <= hi:
            raise ValueError(f"{type(obj).__name__}.{name}: expected a value in [{lo:g}, {hi:g}] {unit}, got {v!r}")


@functools.lru_cache(maxsize=None)
def _bounded_fields(cls) -> tuple:
    """``(name, lo, hi, unit)`` of each bounded field of a dataclass (read once per class: a cohort builds
    thousands of parameter objects, and ``dataclasses.fields`` was most of the check's cost)."""
    return tuple((f.name, *f.metadata["bounds"], f.metadata["unit"]) for f in dataclasses.fields(cls)
                 if "bounds" in f.metadata)


def describe(obj, group: str | None = None) -> list[dict]:
    """One row per :func:`param` field: group, name, value, unit, kind, source, bounds."""
    rows = []
    for f in dataclasses.fields(obj):
        if "unit" not in f.metadata:
            continue
        rows.append({"group": group or type(obj).__name__, "name": f.name, "value": getattr(obj, f.name),
                     "unit": f.metadata["unit"], "kind": f.metadata["kind"], "source": f.metadata["source"],
                     "bounds": list(f.metadata["bounds"])})
    return rows
