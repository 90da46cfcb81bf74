"""The potentiation rule of :mod:`circuits.plasticity`, symbolically: it closes the efficacy deficit below the naive
efficacy and leaves an intact circuit alone."""

import pytest
import sympy

from circuits.plasticity import plasticity_part

A, RHO, M, D1 = sympy.symbols("A rho M d1")
VALUES = {sympy.Symbol("k_a_per_h"): 3.0, sympy.Symbol("sharp_w"): 20.0, sympy.Symbol("tau_a_h"): 16.0, M: 0.2,
          D1: 0.7}


def _dw_dt_from_potentiation():
    pl = plasticity_part(sympy.Symbol("r_d1"), D1, sympy.Symbol("shock"))
    da_dt = dict(zip(pl.states, pl.rhs))[A]
    drive = da_dt + (A - 1) / sympy.Symbol("tau_a_h")  # without the decay toward A = 1
    return (RHO * drive).subs(VALUES)


def _ramp(x, sharp=20.0):
    return (x + (x * x + 1 / sharp ** 2) ** 0.5) / 2


@pytest.mark.parametrize("rho, w", [(0.3, 0.4), (0.7, 0.4), (1.2, 0.4), (0.5, 0.9), (0.6, 0.36)])
def test_potentiation_closes_the_same_fraction_of_the_deficit_at_any_spine_density(rho, w):
    # rho dA/dt = k_A M d1 [1 - w]+: the rate depends on the deficit in w only, not on how it splits between
    # spines and potentiation, so one surge restores the same fraction of what stress removed
    dw = float(_dw_dt_from_potentiation().subs({RHO: rho, A: w / rho}))
    assert dw == pytest.approx(3.0 * 0.2 * 0.7 * _ramp(1 - w), rel=1e-12)


def test_potentiation_leaves_an_intact_circuit_alone():
    # at the naive efficacy the drive is the smooth ramp's half-width (1/(2 sharp_w)); above it only its residue,
    # < 1 % of the drive at the sLH deficit (w = 0.36)
    f = _dw_dt_from_potentiation()
    deep = float(f.subs({RHO: 0.36, A: 1.0}))
    assert float(f.subs({RHO: 1.0, A: 1.0})) == pytest.approx(3.0 * 0.2 * 0.7 / 40.0, rel=1e-12)
    for rho, a in ((1.2, 1.0), (1.0, 1.3), (1.5, 1.0)):
        assert 0 < float(f.subs({RHO: rho, A: a})) < 0.01 * deep
