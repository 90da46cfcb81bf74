"""Every cohort protocol by name: the PK protocol (:mod:`pkpd.cohort`) and the circuit protocols
(:mod:`circuits.cohort`), for whoever picks one by name (the CLI, the studies, the benchmarks).

It sits above both packages — the cohort runner in ``pkpd`` knows protocols only through
:class:`pkpd.cohort.CohortProtocol` and never imports the circuit model — and lives in ``circuits`` because that is
the package that already depends on both (the layout's top level is fixed).
"""

from __future__ import annotations

from types import MappingProxyType

from pkpd.cohort import CohortProtocol, PkProtocol

from .cohort import CircuitProtocol
from .protocols import MANIPULATIONS, PROTOCOLS as CIRCUIT_PROTOCOLS

__all__ = ["PROTOCOLS", "get_protocol", "cohort_protocol"]


def _all() -> dict[str, CohortProtocol]:
    out: dict[str, CohortProtocol] = {"pk": PkProtocol()}
    for base in CIRCUIT_PROTOCOLS:
        for m in MANIPULATIONS:
            proto = CircuitProtocol(base, m)
            out[proto.name] = proto
    return out


#: protocol name -> protocol: ``pk``, ``slh``, ``wlh`` and ``slh+<manipulation>``, ``wlh+<manipulation>``
PROTOCOLS = MappingProxyType(_all())


def get_protocol(name: str) -> CohortProtocol:
    """The protocol named ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in PROTOCOLS:
        raise ValueError(f"protocol: unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def cohort_protocol(protocol: str, manipulation: str | None = None) -> CohortProtocol:
    """The protocol of ``ketamine cohort --protocol P [--manipulation M]``: ``pk`` (or ``none``), ``slh``, ``wlh``,
    the circuit ones optionally under one manipulation of :data:`circuits.protocols.MANIPULATIONS`."""
    base = "pk" if protocol == "none" else protocol
    if base not in ("pk", *CIRCUIT_PROTOCOLS):
        raise ValueError(f"protocol: unknown {protocol!r}; expected one of none, pk, {', '.join(CIRCUIT_PROTOCOLS)}")
    if manipulation is None or (manipulation == "none" and base != "pk"):
        return get_protocol(base)
    if base == "pk":
        raise ValueError(f"manipulation: only the circuit protocols {' and '.join(CIRCUIT_PROTOCOLS)} take a "
                         f"manipulation; protocol is {protocol!r}")
    if manipulation not in MANIPULATIONS:
        raise ValueError(f"manipulation: unknown {manipulation!r}; expected one of {', '.join(MANIPULATIONS)}")
    return get_protocol(f"{base}+{manipulation}")
