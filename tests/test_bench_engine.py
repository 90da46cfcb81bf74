"""The libRoadRunner peer of the engine benchmark simulates each subject with its own parameters and initial state:
two subjects of the ketamine PK cohort agree with the engine's solution (no speed is asserted)."""

import numpy as np
import pytest

pytest.importorskip("roadrunner")
pytest.importorskip("libsbml")

from benchmarks.bench_engine import CASES, _RoadRunnerPool, case_system, max_error, population  # noqa: E402


def test_roadrunner_peer_sets_each_subjects_parameters_and_doses():
    from pkpd.ode import solve

    case = CASES["ketamine_pk"]
    system = case_system(case)
    P, Y0, t = population(case, 2, seed=5)
    assert not np.array_equal(P[0], P[1]) and not np.array_equal(Y0[0], Y0[1])  # the subjects differ
    pool = _RoadRunnerPool(system, P, Y0, 1)
    y, ok = pool.run(P, Y0, t, 1e-10, case.floor * 1e-10)
    ours = solve(system, Y0, t, P, method="rosenbrock", rtol=1e-10, atol=case.floor * 1e-10).y
    assert ok.all()
    # two solvers at rtol 1e-10: agreement to 1e-6 in the benchmark's mixed measure
    assert max_error(y, ours, case.floor) < 1e-6
    # and a subject run with the other's parameters would not agree: the parameters reached the model
    assert max_error(y[::-1], ours, case.floor) > 1e-2
