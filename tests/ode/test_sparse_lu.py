"""The generated straight-line sparse LU against a dense solve, including fill-in and the pivot fallback.

The generated functions run as plain Python here (its decorator made the identity), except in one test that
compiles them with numba: compiling a 20-state LU takes 10-20 s and these files are not cached, while every model
the engine tests solve compiles the same generated code through numba anyway (their Rosenbrock steps factor with
it). The arithmetic is IEEE double either way (numba does not contract or reorder without fastmath).
"""

import importlib.util
import sys

import numpy as np
import pytest

from pkpd.ode.sparse_lu import lu_source, plan_lu


def _load(plan, tmp_path, name, jit=False):
    # the generated functions are written to a real file and imported, exactly as codegen does; without jit, the
    # decorator is the identity (see the module docstring)
    path = tmp_path / f"{name}.py"
    header = "import numba as nb\n" if jit else \
        "import types\nnb = types.SimpleNamespace(njit=lambda *a, **k: (lambda f: f))\n"
    path.write_text("import math\n" + header + lu_source(plan))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _arrow_pattern(n):
    # an "arrow" matrix: dense first row and column plus the diagonal; eliminating node 0 first fills everything,
    # so the ordering matters
    return [(0, j) for j in range(n)] + [(i, 0) for i in range(n)] + [(i, i + 1) for i in range(1, n - 1)]


def test_minimum_degree_ordering_avoids_fill_in():
    plan = plan_lu(_arrow_pattern(12), 12)
    assert plan.order[-1] == 0 or plan.order.index(0) > 8  # the hub is eliminated late
    assert plan.ops < 0.2 * plan.dense_ops and plan.worthwhile


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_solve_matches_dense_solve(seed, tmp_path):
    rng = np.random.default_rng(seed)
    n = 15
    pattern = {(i, j) for i in range(n) for j in range(n) if rng.random() < 0.15} | set(_arrow_pattern(n))
    plan = plan_lu(pattern, n)
    mod = _load(plan, tmp_path, f"lu_{seed}")
    A = np.zeros((n, n))
    for i, j in pattern:
        A[i, j] = rng.normal()
    A += np.diag(5.0 + rng.random(n))  # diagonally dominant enough for the threshold test to pass
    b = rng.normal(size=n)
    LU = A.copy()
    assert mod.lu_sparse(LU) == 0
    x = b.copy()
    mod.lu_sparse_solve(LU, x)
    # a backward-stable factorisation of a well-conditioned matrix: residual at rounding level
    np.testing.assert_allclose(A @ x, b, rtol=0, atol=1e-12 * np.abs(A).sum())
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10)


def test_w_formed_at_the_pattern_and_fill_in_factors_like_the_dense_w(tmp_path):
    # form_w_sparse writes W = I/(hγ) - J only where the factorisation reads (the pattern, zeroed fill-in): a W
    # full of NaN and a J with garbage off its pattern still solve like the dense I/(hγ) - J
    rng = np.random.default_rng(7)
    n = 15
    pattern = {(i, j) for i in range(n) for j in range(n) if rng.random() < 0.15} | set(_arrow_pattern(n))
    plan = plan_lu(pattern, n)
    mod = _load(plan, tmp_path, "lu_form_w")
    J = np.full((n, n), 1e300)  # off-pattern entries must never be read
    J_dense = np.zeros((n, n))
    for i, j in pattern | {(i, i) for i in range(n)}:
        J[i, j] = J_dense[i, j] = rng.normal()
    inv_hg = 6.0
    W = np.full((n, n), np.nan)
    mod.form_w_sparse(J, inv_hg, W)
    assert mod.lu_sparse(W) == 0
    b = rng.normal(size=n)
    x = b.copy()
    mod.lu_sparse_solve(W, x)
    np.testing.assert_allclose(x, np.linalg.solve(inv_hg * np.eye(n) - J_dense, b), rtol=1e-10)


def test_a_small_pivot_is_refused_so_the_dense_pivoting_lu_takes_over(tmp_path):
    plan = plan_lu([(0, 1), (1, 0)], 2)
    mod = _load(plan, tmp_path, "lu_pivot", jit=True)  # under numba's error model, as the engine runs it
    A = np.array([[1e-12, 1.0], [1.0, 1.0]])  # needs a row interchange
    assert mod.lu_sparse(A.copy()) == 1
    assert mod.lu_sparse(np.array([[0.0, 0.0], [0.0, 1.0]])) == 1  # singular


def test_dense_patterns_use_the_dense_lu(tmp_path):
    n = 10
    plan = plan_lu([(i, j) for i in range(n) for j in range(n)], n)
    assert not plan.worthwhile
    mod = _load(None, tmp_path, "lu_dense")
    assert mod.SPARSE_LU is False and mod.lu_sparse(np.eye(2)) == 1


def test_a_small_pivot_that_updates_nothing_is_accepted_and_solves_exactly(tmp_path):
    # state 0 (an input switch, a drug level) drives fast states 1..3 strongly but depends on nothing itself: its
    # pivot is tiny beside its column, yet eliminating it first changes no other entry
    n = 4
    pattern = [(i, 0) for i in range(1, n)] + [(1, 2), (2, 3), (3, 1)]
    plan = plan_lu(pattern, n)
    mod = _load(plan, tmp_path, "lu_input")
    A = np.diag([4.0, 3e6, 2e6, 5e6])
    A[1:, 0] = [8e5, -4e6, 1e6]
    A[1, 2], A[2, 3], A[3, 1] = 1e5, -2e5, 3e4
    b = np.array([1.0, 2.0, 3.0, 4.0])
    LU = A.copy()
    assert mod.lu_sparse(LU) == 0
    x = b.copy()
    mod.lu_sparse_solve(LU, x)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_multiscale_matrices_factor_stably_without_the_dense_fallback(seed, tmp_path):
    # W = I/(h*gamma) - J at a large step, J with rates from 1e-3 to 1e7 (a circuit model in hours): the growth
    # rule accepts pivots the column threshold refuses, and the residual stays at rounding level of max |W|
    rng = np.random.default_rng(seed)
    n = 20
    pattern = {(i, j) for i in range(n) for j in range(n) if i != j and rng.random() < 0.12}
    plan = plan_lu(pattern, n)
    mod = _load(plan, tmp_path, f"lu_ms_{seed}")
    scale = 10.0 ** rng.uniform(-3, 7, n)
    J = np.zeros((n, n))
    for i, j in pattern:
        J[i, j] = rng.normal() * scale[i] * 0.1
    J -= np.diag(scale)  # every state decays at its own rate
    A = np.eye(n) / (1.0 * 0.25) - J
    b = rng.normal(size=n)
    LU = A.copy()
    assert mod.lu_sparse(LU) == 0
    x = b.copy()
    mod.lu_sparse_solve(LU, x)
    assert np.abs(A @ x - b).max() <= 1e-13 * np.abs(A).max() * np.abs(x).max() * n
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-9, atol=1e-14 * np.abs(x).max())
    # and the column threshold alone would have refused a pivot (these matrices need the growth rule)
    assert any(rows and cols and abs(A[v, v]) < 0.1 * max(abs(A[i, v]) for i in rows)
               for v, rows, cols in zip(plan.order, plan.lower, plan.upper))
