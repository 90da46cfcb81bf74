"""Straight-line sparse LU for the Rosenbrock matrix ``W = I/(hγ) - J``, generated from the Jacobian's pattern.

The sparsity of ``J`` is known symbolically, so the elimination can be planned once, at code generation: a
minimum-degree ordering (on the symmetrised pattern) limits fill-in, the fill-in is computed symbolically, and the
factorisation and the triangular solves are printed as straight-line code touching only structural non-zeros.

There is no row interchange. A pivot ``d`` of column ``v`` is accepted when it is non-zero and finite and

* it passes the threshold test ``|d| >= PIVOT_THRESHOLD * max |column below|`` (threshold partial pivoting, as in
  MA28 with u = 0.1), or
* its elimination cannot make any entry large: the update it makes is ``l_i * u_j`` with ``|l_i| <= m/|d|`` (``m``
  the largest entry below it) and ``|u_j| <=`` the largest entry right of it in its row, and ``m/|d| * max |u_j| <=
  GROWTH_LIMIT * max |W|``. A pivot whose row has nothing right of it updates nothing and is always accepted.

Both rules bound the entries of ``|L||U|`` by a small multiple of ``max |W|``, which is what the normwise backward
error of the solve depends on (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Thm 9.3), so the
factorisation is as stable as partial pivoting with modest growth. The second rule matters for models that mix time
scales: at the large steps of a slow phase ``W ≈ -J``, and a state with a small own rate that drives fast states
(an input switch, a drug level feeding a 10-ms neural population) has a tiny pivot beside huge column entries yet
is harmless to eliminate. A pivot that fails both rules makes the generated ``lu_sparse`` return 1, and the solver
falls back to the dense LU with partial pivoting for that step.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LuPlan", "plan_lu", "lu_source", "PIVOT_THRESHOLD", "GROWTH_LIMIT"]

#: The decorator of every generated function: numba's ``error_model="numpy"`` (1/0 gives inf, caught as a
#: non-finite status) and no reference counting (they never allocate; see pkpd/ode/_kernels.py, note 7).
KERNEL_DECORATOR = '@nb.njit(cache=True, error_model="numpy", _nrt=False)'
PIVOT_THRESHOLD = 0.1
#: Largest accepted ``max |l| * max |u|`` of one pivot's update, relative to ``max |W|`` (see the module docstring).
GROWTH_LIMIT = 10.0
#: Use the sparse path only if it does at most this fraction of the dense multiply-adds ...
MAX_OP_FRACTION = 0.6
#: ... and at most this many generated lines (compile time grows with the straight-line code).
MAX_OPS = 4000


@dataclass(frozen=True)
class LuPlan:
    """Elimination order and the factor's pattern (with fill-in) for a structurally known matrix.

    Attributes
    ----------
    order : tuple of int
        Pivot ``k`` is the diagonal element ``(order[k], order[k])``.
    lower : tuple of tuple of int
        ``lower[k]``: rows eliminated by pivot ``k`` (later in the order, structurally non-zero in its column).
    upper : tuple of tuple of int
        ``upper[k]``: columns of pivot ``k``'s row later in the order.
    entries : tuple of (int, int)
        The matrix's structural non-zeros (diagonal included), before fill-in.
    ops : int
        Multiply-adds of the factorisation.
    dense_ops : int
        The same for a dense LU of that size.
    """

    order: tuple
    lower: tuple
    upper: tuple
    entries: tuple
    ops: int
    dense_ops: int

    @property
    def worthwhile(self) -> bool:
        return self.ops <= MAX_OP_FRACTION * self.dense_ops and self.ops <= MAX_OPS


def plan_lu(pattern, n: int) -> LuPlan:
    """Plan the elimination for a matrix whose non-zeros are ``pattern`` (pairs ``(i, j)``); the diagonal is
    always included.
    """
    nz = {(i, j) for i, j in pattern} | {(i, i) for i in range(n)}
    adj = {i: set() for i in range(n)}
    for i, j in nz:
        if i != j:
            adj[i].add(j)
            adj[j].add(i)
    order, left = [], set(range(n))
    while left:
        v = min(left, key=lambda q: (len(adj[q] & left), q))  # minimum degree, ties by index (deterministic)
        nbrs = (adj[v] & left) - {v}
        for a in nbrs:
            adj[a] |= nbrs - {a}
        order.append(v)
        left.remove(v)
    filled = set(nz)
    lower, upper, ops = [], [], 0
    for k, v in enumerate(order):
        later = order[k + 1:]
        rows = tuple(i for i in later if (i, v) in filled)
        cols = tuple(j for j in later if (v, j) in filled)
        for i in rows:
            for j in cols:
                filled.add((i, j))
        lower.append(rows)
        upper.append(cols)
        ops += len(rows) * (len(cols) + 1)
    dense_ops = sum(r * (r + 1) for r in range(n))
    return LuPlan(tuple(order), tuple(lower), tuple(upper), tuple(sorted(nz)), ops, dense_ops)


def lu_source(plan: LuPlan | None) -> str:
    """numba source of ``form_w_sparse(J, inv_hg, W)``, ``lu_sparse(A) -> 0 | 1`` and ``lu_sparse_solve(A, b)``
    for ``plan``.

    ``form_w_sparse`` writes ``W = I/(hγ) - J`` at the structural non-zeros and zeroes the fill-in positions, the
    only entries the factorisation reads (the rest of ``W`` is left as it is). ``lu_sparse`` factorises in place
    (unit lower factor below the diagonal, reciprocal pivots on the diagonal, upper factor above) and returns 1
    when a pivot fails the threshold test. With ``plan=None`` (dense problems) they are stubs and ``lu_sparse``
    always returns 1, so the dense LU is used.
    """
    head = KERNEL_DECORATOR
    if plan is None:
        return "\n".join([f"SPARSE_LU = False", "", head, "def form_w_sparse(J, inv_hg, W):", "    return", "",
                          head, "def lu_sparse(A):", "    return 1", "", head, "def lu_sparse_solve(A, b):",
                          "    return", ""])
    fill = set()
    for v, rows, cols in zip(plan.order, plan.lower, plan.upper):
        fill |= {(i, j) for i in rows for j in cols}
    w = ["", head, "def form_w_sparse(J, inv_hg, W):"]
    w += [f"    W[{i}, {j}] = {'inv_hg ' if i == j else ''}- J[{i}, {j}]" for i, j in plan.entries]
    w += [f"    W[{i}, {j}] = 0.0" for i, j in sorted(fill - set(plan.entries))]
    w.append("    return")
    f = ["SPARSE_LU = True", *w, "", head, "def lu_sparse(A):", "    amax = 0.0"]
    f += [f"    amax = max(amax, abs(A[{i}, {j}]))" for i, j in plan.entries]
    f.append(f"    lim = {GROWTH_LIMIT!r} * amax")
    for v, rows, cols in zip(plan.order, plan.lower, plan.upper):
        f.append(f"    d = A[{v}, {v}]")
        f.append("    if not (abs(d) > 0.0) or not math.isfinite(d):")
        f.append("        return 1")
        if rows and cols:
            f.append(f"    m = max({', '.join(f'abs(A[{i}, {v}])' for i in rows)}{', 0.0' if len(rows) == 1 else ''})")
            f.append(f"    if not (abs(d) >= {PIVOT_THRESHOLD!r} * m):")
            f.append(f"        u = max({', '.join(f'abs(A[{v}, {j}])' for j in cols)}{', 0.0' if len(cols) == 1 else ''})")
            f.append("        if not (m * u <= lim * abs(d)):")
            f.append("            return 1")
        f.append("    d = 1.0 / d")
        f.append(f"    A[{v}, {v}] = d")
        for i in rows:
            f.append(f"    l = A[{i}, {v}] * d")
            f.append(f"    A[{i}, {v}] = l")
            for j in cols:
                f.append(f"    A[{i}, {j}] -= l * A[{v}, {j}]")
    f.append("    return 0")
    s = ["", head, "def lu_sparse_solve(A, b):"]
    for v, rows in zip(plan.order, plan.lower):
        for i in rows:
            s.append(f"    b[{i}] -= A[{i}, {v}] * b[{v}]")
    for v, cols in zip(reversed(plan.order), reversed(plan.upper)):
        terms = "".join(f" - A[{v}, {j}] * b[{j}]" for j in cols)
        s.append(f"    b[{v}] = (b[{v}]{terms}) * A[{v}, {v}]")
    s.append("    return")
    return "\n".join(f + s) + "\n"
