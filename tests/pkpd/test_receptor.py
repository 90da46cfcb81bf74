"""NMDA occupancy: the competitive form, the enantiomer mix, cell-type potency, and the trapping rate."""

import numpy as np
import pytest
import sympy

from pkpd.receptor import NmdaParams, competitive_occupancy, nmda_occupancy, occupancy_drive, trapping_rate

P = NmdaParams()


def test_single_ligand_is_c_over_c_plus_k():
    # esketamine only, no norketamine: O = C / (C + Ki) with Ki = 0.30 µM (Ebert 1997); exact arithmetic
    c = np.array([0.0, 0.1, 0.3, 3.0])
    np.testing.assert_allclose(nmda_occupancy(c, 0.0, 1.0, P), c / (c + 0.30), rtol=1e-15)


def test_half_occupancy_at_the_racemic_effective_ki():
    # racemic: 1/K_eff = 0.5/0.3 + 0.5/1.4 -> K_eff = 0.4941 µM gives O = 0.5
    k_eff = 1 / (0.5 / 0.3 + 0.5 / 1.4)
    assert nmda_occupancy(k_eff, 0.0, 0.5, P) == pytest.approx(0.5, rel=1e-14)


def test_competitive_sum_of_ligands():
    x = occupancy_drive(0.3, 1.7, 1.0, *P.ki())  # S-ketamine at Ki + S-norketamine at Ki -> x = 2, O = 2/3
    assert competitive_occupancy(x) == pytest.approx(2 / 3, rel=1e-14)


def test_interneurons_are_more_sensitive_by_the_potency_ratio():
    c = 0.2
    oi = nmda_occupancy(c, 0.0, 1.0, P, "interneuron")
    assert oi == pytest.approx(c / (c + 0.30 / P.interneuron_potency_ratio), rel=1e-14)
    assert oi > nmda_occupancy(c, 0.0, 1.0, P, "pyramidal")
    with pytest.raises(ValueError, match="cell: unknown cell type 'glia'"):
        P.ki("glia")


def test_works_symbolically():
    c = sympy.Symbol("c", positive=True)
    expr = nmda_occupancy(c, 0, 1, P)
    assert sympy.simplify(expr - c / (c + 0.3)) == 0


def test_trapping_rate_has_the_competitive_equilibrium():
    # dB/dt = 0 at B = x / (x + k_off/k_on); with k_on = k_off this is x / (1 + x)
    x, kon, koff = 1.7, 5.0, 5.0
    b_eq = competitive_occupancy(x)
    assert trapping_rate(b_eq, x, kon, koff) == pytest.approx(0.0, abs=1e-14)


def test_parameter_bounds():
    with pytest.raises(ValueError, match=r"NmdaParams.interneuron_potency_ratio: expected a value in \[1, 100\]"):
        NmdaParams(interneuron_potency_ratio=0.5)
