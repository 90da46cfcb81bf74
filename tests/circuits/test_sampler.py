"""One population sampler for every command: the same seed gives the same mice in ``simulate``, ``experiment`` and
``cohort --protocol slh``.

Oracle: the cohort runner's own subjects (the circuit protocol's prepared inputs, from
:meth:`pkpd.population.Population.sample`) against the mice that ``simulate_protocol`` and ``wu2021`` hand to
:func:`circuits.experiments.run_groups` (captured there, before any simulation), and against the draws the circuit
model was calibrated on (``np.random.default_rng([seed, k])``, written out here). Equality is exact (tolerance 0):
the same (seed, id) must give the same bits, whatever the path or the cohort size.
"""

import numpy as np
import pytest

import circuits.experiments as ex
import circuits.replication as rep
from circuits.experiments import COHORT_VARIATION, simulate_protocol, virtual_cohort
from circuits.replication import wu2021
from circuits.model import CircuitParams
from circuits.registry import get_protocol
from pkpd.cohort import CohortSpec
from pkpd.dosing import Regimen

SEED, N = 11, 4


class _Captured(Exception):
    pass


def _mice_given_to_run_groups(monkeypatch, call):
    seen = []

    def capture(cohort, *args, **kwargs):
        seen.append(list(cohort))
        raise _Captured

    monkeypatch.setattr(ex, "run_groups", capture)
    monkeypatch.setattr(rep, "run_groups", capture)  # the replication calls it through its own import
    with pytest.raises(_Captured):
        call()
    return seen[0]


def _phenotype(mice):
    return np.array([[m.value(name) for name in COHORT_VARIATION] for m in mice])


def test_simulate_experiment_and_cohort_draw_the_same_mice(monkeypatch):
    reg = Regimen.single("10mg/kg", "ip")
    proto = get_protocol("slh")
    spec = CohortSpec(n=N, regimen=reg, duration_h=proto.default_duration_h(reg), protocol=proto, seed=SEED)
    cohort = spec.protocol.prepare(spec, spec.population.sample(spec.seed, np.arange(N))).engine.cohort
    simulated = _mice_given_to_run_groups(monkeypatch, lambda: simulate_protocol("slh", n=N, seed=SEED))
    experiment = _mice_given_to_run_groups(monkeypatch, lambda: wu2021(n=N, seed=SEED))
    want = _phenotype(cohort)
    assert np.array_equal(_phenotype(simulated), want) and np.array_equal(_phenotype(experiment), want)
    assert simulated == cohort == experiment  # every circuit parameter, not only the varied ones
    # the draws are real: mice differ from each other and from another seed's
    assert np.all(np.ptp(want, axis=0) > 0)
    assert not np.any(_phenotype(virtual_cohort(N, SEED + 1)) == want)


def test_the_mice_are_those_the_circuit_model_was_calibrated_on():
    """η = log(value / typical) of every varied parameter is SD × the generator's normal; atol 1e-12: exp then log
    round-trip a few ulp."""
    z = np.array([np.random.default_rng([SEED, k]).standard_normal(len(COHORT_VARIATION)) for k in range(N)])
    eta = np.log(_phenotype(virtual_cohort(N, SEED)) / _phenotype([CircuitParams()]))
    np.testing.assert_allclose(eta, z * np.array(list(COHORT_VARIATION.values())), rtol=0, atol=1e-12)


def test_a_mouse_does_not_depend_on_the_cohort_size():
    assert np.array_equal(_phenotype(virtual_cohort(2, SEED)), _phenotype(virtual_cohort(7, SEED))[:2])
