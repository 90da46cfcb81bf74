"""Method coefficients: the order conditions and structural invariants each tableau must satisfy."""

from fractions import Fraction

import numpy as np
import pytest

from pkpd.ode.tableaus import DOPRI5, RODAS4, RODAS5P, ExplicitTableau


def _rk_conditions(a, b, c):
    """Butcher order conditions up to order 5 as (order, lhs, rhs)."""
    out = [(1, b.sum(), 1.0), (2, b @ c, 1 / 2), (3, b @ c**2, 1 / 3), (3, b @ a @ c, 1 / 6),
           (4, b @ c**3, 1 / 4), (4, b @ (c * (a @ c)), 1 / 8), (4, b @ a @ c**2, 1 / 12), (4, b @ a @ a @ c, 1 / 24),
           (5, b @ c**4, 1 / 5), (5, b @ (c**2 * (a @ c)), 1 / 10), (5, b @ ((a @ c) ** 2), 1 / 20),
           (5, b @ (c * (a @ c**2)), 1 / 15), (5, b @ a @ c**3, 1 / 20), (5, b @ (c * (a @ a @ c)), 1 / 30),
           (5, b @ a @ (c * (a @ c)), 1 / 40), (5, b @ a @ a @ c**2, 1 / 60), (5, b @ a @ a @ a @ c, 1 / 120)]
    return out


def test_dopri5_satisfies_order_5_and_embedded_order_4():
    t = DOPRI5
    # the embedded weights b_hat = b - e (with the FSAL stage, whose row of a is b)
    a7 = np.zeros((7, 7))
    a7[:6, :6] = t.a
    a7[6, :6] = t.b
    c7 = np.append(t.c, 1.0)
    b7 = np.append(t.b, 0.0)
    bhat = b7 - t.e
    for order, lhs, rhs in _rk_conditions(a7, b7, c7):
        assert lhs == pytest.approx(rhs, abs=1e-14), f"order-{order} condition"
    for order, lhs, rhs in _rk_conditions(a7, bhat, c7):
        if order <= 4:
            assert lhs == pytest.approx(rhs, abs=1e-14), f"embedded order-{order} condition"
    # the embedded pair is genuinely of order 4 only: at least one order-5 condition fails
    assert max(abs(lhs - rhs) for o, lhs, rhs in _rk_conditions(a7, bhat, c7) if o == 5) > 1e-5


def test_dopri5_dense_output_has_order_4_at_interior_points():
    # Continuous RK order conditions at θ: Σ_j b_j(θ) c_j^(q-1) = θ^q / q for q = 1..4 (the bushy trees);
    # b_j(θ) = Σ_m p[j, m] θ^(m+1).
    c7 = np.append(DOPRI5.c, 1.0)
    for th in (0.1, 0.37, 0.5, 0.9):
        bt = DOPRI5.p @ np.array([th, th**2, th**3, th**4])
        for q in range(1, 5):
            assert bt @ c7 ** (q - 1) == pytest.approx(th**q / q, abs=1e-14)


def test_explicit_tableau_rejects_inconsistent_coefficients():
    with pytest.raises(ValueError, match="row sums of a must equal c"):
        ExplicitTableau("bad", c=[0, 0.6], a=[[0, 0], [0.5, 0]], b=[0.5, 0.5], e=[0, 0, 0],
                        p=[[1], [0], [0]], order=2, error_order=1)


@pytest.mark.parametrize("r", [RODAS4, RODAS5P], ids=lambda r: r.name)
def test_rodas_structure(r):
    # d_i = Σ_j γ_ij and c_i = Σ_j α_ij are checked on construction; here the stiffly accurate structure: the
    # last two stages (Rodas4: 5 and 6; Rodas5P also 6, 7 and 8) are evaluated at t + h, and each of them starts
    # from the previous one's solution: its row of a repeats the previous row with 1 added in the previous column.
    s = r.c.size
    last = 4 if r is RODAS4 else 5                  # the first stage at t + h whose row is not a repeat
    assert np.all(r.c[last:] == 1.0)
    for i in range(last + 1, s):
        np.testing.assert_array_equal(r.a[i, :i - 1], r.a[i - 1, :i - 1])
        assert r.a[i, i - 1] == 1.0
    assert np.allclose(np.diag(r.Gamma), r.gamma, atol=1e-12)
    assert r.h.shape == (2 if r is RODAS4 else 3, s)


@pytest.mark.parametrize("r", [RODAS4, RODAS5P], ids=lambda r: r.name)
def test_rodas_is_L_stable_and_of_its_order(r):
    # Stability function of a Rosenbrock method on y' = λy, z = hλ: R(z) = 1 + z bᵀ(I - zB)^-1 1 with
    # B = α + Γ (Hairer & Wanner II, §IV.7). Stiffly accurate: b is the last row of B, and R(∞) must be 0.
    s = r.c.size
    B = r.alpha + r.Gamma
    b = np.append(r.alpha[s - 1, :s - 1], 0.0) + r.Gamma[s - 1]
    ones = np.ones(s)

    def R(z):
        return 1 + z * b @ np.linalg.solve(np.eye(s) - z * B, ones)

    assert abs(R(-1e12)) < 1e-9
    # A-stable on the imaginary axis and in the left half-plane (sampled)
    for z in [-1e-3, -1, -10, -1e3, 1j, 10j, 1e3j, -5 + 5j, -0.1 + 30j]:
        assert abs(R(z)) <= 1 + 1e-12
    # and R(z) matches exp(z) to O(z^(p+1)) for a method of order p (4 for Rodas4, 5 for Rodas5P)
    for z in (1e-2, -1e-2):
        assert abs(R(z) - np.exp(z)) < 10 * abs(z) ** (r.order + 1)


def test_dopri5_coefficients_are_the_published_fractions():
    # spot check against Dormand & Prince (1980) exact rationals
    assert Fraction(DOPRI5.b[2]).limit_denominator(10**6) == Fraction(500, 1113)
    assert Fraction(DOPRI5.a[4, 3]).limit_denominator(10**6) == Fraction(-212, 729)


def test_dop853_quadrature_and_low_order_conditions():
    from pkpd.ode.tableaus import DOP853

    b, c, a = DOP853.b, DOP853.c[:12], DOP853.a[:12, :12]
    # an order-8 method integrates polynomials of degree 7 exactly: b·c^q = 1/(q+1) for q = 0..7
    for q in range(8):
        assert b @ c**q == pytest.approx(1 / (q + 1), abs=1e-14)
    for order, lhs, rhs in _rk_conditions(a, b, c):
        assert lhs == pytest.approx(rhs, abs=1e-13), f"order-{order} condition"
