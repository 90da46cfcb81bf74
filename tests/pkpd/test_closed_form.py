"""Closed forms against each other: the textbook formulas and the matrix-exponential solution of the ketamine
graph must agree, since they are two independent derivations of the same linear ODEs.

Tolerance: both are exact up to floating-point rounding (a few matrix products and exponentials), so they must
agree to 1e-11 relative to the peak; a transcription error in either gives errors of order 1.
"""

import numpy as np
import pytest

from pkpd import closed_form as cf
from pkpd.ode import Schedule
from pkpd.pk import ketamine_system, parameter_vector

from tests.pkpd.graph_values import K10, K12, K13, K21, K31, KA, V, base_values

RTOL = 1e-11

T = np.linspace(0.0, 12.0, 241)


ONE = base_values(k_central_eliminated=K10, k_depot_ip_central=KA)
TWO = base_values(k_central_eliminated=K10, k_central_peripheral1=K12, k_peripheral1_central=K21,
                  k_depot_ip_central=KA)

THREE = base_values(k_central_eliminated=K10, k_central_peripheral1=K12, k_peripheral1_central=K21,
                    k_central_peripheral2=K13, k_peripheral2_central=K31)


def central_conc(values, sched):
    sys_ = ketamine_system()
    y = cf.solve_linear(sys_, np.zeros(sys_.n_states), T, parameter_vector(sys_, values), sched)
    return y[:, sys_.state_index("central")] / V


def assert_close(a, b):
    np.testing.assert_allclose(a, b, rtol=0, atol=RTOL * np.max(np.abs(b)))


def test_one_compartment_bolus():
    assert_close(central_conc(ONE, Schedule().bolus(0.0, "central", 5.0)), cf.one_compartment_bolus(T, 5.0, V, K10))


def test_one_compartment_infusion_during_and_after():
    sched = Schedule().infusion(0.0, "central", rate=4.0, duration=2.5)
    assert_close(central_conc(ONE, sched), cf.one_compartment_infusion(T, 4.0, 2.5, V, K10))


def test_one_compartment_first_order_absorption():
    assert_close(central_conc(ONE, Schedule().bolus(0.0, "depot_ip", 5.0)),
          cf.one_compartment_absorption(T, 5.0, 1.0, KA, V, K10))


def test_one_compartment_absorption_equal_rates_limit():
    # ka = k is the removable singularity of the Bateman function; the limit formula must be continuous with it
    a = cf.one_compartment_absorption(T, 5.0, 0.8, K10, V, K10)
    b = cf.one_compartment_absorption(T, 5.0, 0.8, K10 * (1 + 1e-7), V, K10)
    np.testing.assert_allclose(a, b, rtol=1e-6)  # first-order perturbation of size 1e-7 in ka


def test_two_compartment_bolus():
    assert_close(central_conc(TWO, Schedule().bolus(0.0, "central", 5.0)),
          cf.two_compartment_bolus(T, 5.0, V, K10, K12, K21))


def test_two_compartment_infusion():
    sched = Schedule().infusion(0.0, "central", rate=4.0, duration=2.5)
    assert_close(central_conc(TWO, sched), cf.two_compartment_infusion(T, 4.0, 2.5, V, K10, K12, K21))


def test_two_compartment_absorption():
    assert_close(central_conc(TWO, Schedule().bolus(0.0, "depot_ip", 5.0)),
          cf.two_compartment_absorption(T, 5.0, 1.0, KA, V, K10, K12, K21))


def test_three_compartment_bolus():
    assert_close(central_conc(THREE, Schedule().bolus(0.0, "central", 5.0)),
                 cf.three_compartment_bolus(T, 5.0, V, K10, K12, K21, K13, K31))


def test_three_compartment_infusion_during_and_after():
    sched = Schedule().infusion(0.0, "central", rate=4.0, duration=2.5)
    assert_close(central_conc(THREE, sched), cf.three_compartment_infusion(T, 4.0, 2.5, V, K10, K12, K21, K13, K31))


def test_three_compartment_macro_constants_satisfy_vieta():
    lam = cf.three_compartment_macro(K10, K12, K21, K13, K31)
    # sum, pairwise products and product of the roots are the cubic's coefficients (rounding only)
    assert lam.sum() == pytest.approx(K10 + K12 + K13 + K21 + K31, rel=1e-13)
    assert lam[0] * lam[1] + lam[0] * lam[2] + lam[1] * lam[2] == pytest.approx(
        K10 * K21 + K10 * K31 + K12 * K31 + K13 * K21 + K21 * K31, rel=1e-13)
    assert lam.prod() == pytest.approx(K10 * K21 * K31, rel=1e-13)


def test_superposition_of_repeated_doses():
    times, amounts = [0.0, 3.0, 6.5], [5.0, 2.0, 4.0]
    sched = Schedule()
    for tk, ak in zip(times, amounts):
        sched = sched.bolus(tk, "depot_ip", ak)
    single = lambda t, a: cf.two_compartment_absorption(t, a, 1.0, KA, V, K10, K12, K21)  # noqa: E731
    assert_close(central_conc(TWO, sched), cf.superpose(single, T, times, amounts))


def test_macro_constants_satisfy_the_characteristic_polynomial():
    a, b = cf.two_compartment_macro(K10, K12, K21)
    # alpha + beta = k10 + k12 + k21 and alpha * beta = k10 * k21 (Vieta); rounding only
    assert a + b == pytest.approx(K10 + K12 + K21, rel=1e-14)
    assert a * b == pytest.approx(K10 * K21, rel=1e-14)


def test_auc_inf_linear_matches_dose_over_clearance():
    sys_ = ketamine_system()
    p = parameter_vector(sys_, TWO)
    y0 = np.zeros(sys_.n_states)
    y0[sys_.state_index("central")] = 5.0
    auc = cf.auc_inf_linear(sys_, p, y0, exclude=("eliminated", "nor_eliminated"))
    # AUC of the central amount = dose / k10 exactly, for any peripheral exchange (a linear-algebra identity)
    assert auc[sys_.state_index("central")] == pytest.approx(5.0 / K10, rel=1e-12)


def test_linear_matrix_rejects_a_nonlinear_system():
    with pytest.raises(ValueError, match="not linear"):
        cf.linear_matrix(ketamine_system(trapping=True), np.ones(ketamine_system(trapping=True).n_params))
