"""Everything picked by name above both packages: the cohort protocols (the PK protocol of :mod:`pkpd.cohort` and
the circuit protocols of :mod:`circuits.cohort`) and the replications, for whoever picks one by name (the CLI, the
studies, the benchmarks).

It sits above both packages — the cohort runner in ``pkpd`` knows protocols only through
:class:`pkpd.cohort.CohortProtocol` and never imports the circuit model — and lives in ``circuits`` because that is
the package that already depends on both (the layout's top level is fixed).

The names (:data:`COHORT_PROTOCOL_NAMES`, :data:`EXPERIMENTS`) cost nothing to import, so the command line offers
them in its help and shell completion; the protocol objects (:data:`PROTOCOLS`, which imports the engine and the
circuit model) are built on first use.
"""

from __future__ import annotations

import functools
from types import MappingProxyType

from .protocols import MANIPULATIONS, PROTOCOLS as CIRCUIT_PROTOCOLS

__all__ = ["PROTOCOLS", "COHORT_PROTOCOL_NAMES", "EXPERIMENTS", "get_protocol", "cohort_protocol", "run_experiment"]

#: ``--protocol`` names of a cohort: ``pk`` (or its alias ``none``: no circuit) and the circuit protocols
COHORT_PROTOCOL_NAMES = ("pk", "none", *CIRCUIT_PROTOCOLS)

#: the replications ``ketamine experiment NAME`` runs: name -> what it replicates
EXPERIMENTS = MappingProxyType({
    "wu2021": "Wu et al. 2021 eLife 10:e64041, on the paper's protocols; literature experiments labelled",
})


@functools.lru_cache(maxsize=None)
def _all():
    from pkpd.cohort import PkProtocol

    from .cohort import CircuitProtocol

    out = {"pk": PkProtocol()}
    for base in CIRCUIT_PROTOCOLS:
        for m in MANIPULATIONS:
            proto = CircuitProtocol(base, m)
            out[proto.name] = proto
    return MappingProxyType(out)


def __getattr__(name: str):
    #: PROTOCOLS: protocol name -> protocol: ``pk``, ``slh``, ``wlh`` and ``slh+<manipulation>``,
    #: ``wlh+<manipulation>`` (built on first use)
    if name == "PROTOCOLS":
        return _all()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_protocol(name: str):
    """The :class:`pkpd.cohort.CohortProtocol` named ``name``; ``ValueError`` naming the known ones otherwise."""
    protocols = _all()
    if name not in protocols:
        raise ValueError(f"protocol: unknown protocol {name!r}; expected one of {', '.join(protocols)}")
    return protocols[name]


def cohort_protocol(protocol: str, manipulation: str | None = None):
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


def check_experiment(name: str) -> None:
    """``ValueError`` naming the known replications if ``name`` is not one of :data:`EXPERIMENTS`."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)}")


def run_experiment(name: str, out, *, n: int = 100, seed: int = 0, progress=None, params=None, posterior=None,
                   draws: int = 20) -> dict:
    """Run the replication ``name`` of :data:`EXPERIMENTS` on ``n`` virtual mice of ``seed`` and write its
    ``summary.json`` and figures into the directory ``out``; return the summary
    (:func:`circuits.figures.write_wu2021`; with a ``posterior`` record, medians and 90 % intervals over ``draws``
    of its parameter sets)."""
    check_experiment(name)
    from .figures import write_wu2021

    post = {} if posterior is None else {"posterior": posterior, "draws": draws}
    return write_wu2021(out, n=n, seed=seed, progress=progress, params=params, **post)
