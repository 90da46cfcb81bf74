"""pkpd.emax: the Hill fit against synthetic curves of known parameters, the shape rule, bad input.

Oracles: data generated from :func:`pkpd.emax.hill` itself with known (E0, Emax, ED50, n) — noise-free (recovered to
the optimiser's precision) and with Gaussian noise of known SD under a fixed seed (the truth inside the delta-method
intervals, and the intervals' coverage over many seeds near their nominal level); inverted U and U built as the
difference of two Hill curves, whose maximum on the grid is known.
"""

import math

import numpy as np
import pytest

from pkpd.emax import analyse_dose_response, classify_shape, fit_hill, hill

DOSES = np.array([0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0])


@pytest.mark.parametrize("e0, emax, ed50, n", [(2.0, -1.5, 5.0, 1.3), (0.1, 0.8, 12.0, 2.5), (-3.0, 10.0, 0.7, 0.8)])
def test_noise_free_data_recovered_to_1e6(e0, emax, ed50, n):
    """Exact data: the least-squares optimum is the truth; tolerances 1e-6 relative (ftol/xtol 1e-15 leave the
    optimiser far closer; 1e-6 allows for the conditioning of n vs ED50)."""
    f = fit_hill(DOSES, hill(DOSES, e0, emax, ed50, n))
    assert f.success, f.message
    np.testing.assert_allclose([f.e0, f.emax, f.ed50, f.hill], [e0, emax, ed50, n], rtol=1e-6, atol=1e-9)
    assert f.residual_sd < 1e-9
    # without noise the interval collapses onto the truth (to rounding: an end may lie an ulp inside it, so
    # "ci[0] <= ed50 <= ci[1]" failed on 0.7000000000000001 > 0.7); both ends within the estimate's 1e-6
    np.testing.assert_allclose(f.ed50_ci, [ed50, ed50], rtol=1e-6)


def test_dose_zero_gives_e0_exactly():
    assert hill(0.0, 1.5, 3.0, 2.0, 1.0) == 1.5
    assert hill(2.0, 1.5, 3.0, 2.0, 1.0) == pytest.approx(3.0)  # half-maximal at ED50


def _noisy(seed, sd=0.05, reps=4):
    rng = np.random.default_rng(seed)
    d = np.repeat(DOSES, reps)
    return d, hill(d, 2.0, -1.5, 5.0, 1.3) + rng.normal(0.0, sd, d.size)


def test_noisy_data_truth_inside_the_intervals():
    """SD 0.05 on an effect range of 1.5, 4 replicates × 8 doses, seed 7: estimates within 10 % (ED50, n) and 0.05
    (E0, Emax) of the truth — about 2 standard errors at this noise — and every true value inside its 95 % CI."""
    d, y = _noisy(7)
    f = fit_hill(d, y)
    assert f.success, f.message
    assert f.n == d.size
    assert abs(f.ed50 / 5.0 - 1) < 0.10 and abs(f.hill / 1.3 - 1) < 0.10
    assert abs(f.e0 - 2.0) < 0.05 and abs(f.emax + 1.5) < 0.05
    for (lo, hi), truth in ((f.e0_ci, 2.0), (f.emax_ci, -1.5), (f.ed50_ci, 5.0), (f.hill_ci, 1.3)):
        assert lo < truth < hi
    assert f.ed50_ci[0] < f.ed50 < f.ed50_ci[1]
    assert math.log(f.ed50 / f.ed50_ci[0]) == pytest.approx(math.log(f.ed50_ci[1] / f.ed50), rel=1e-9)  # log scale
    assert f.residual_sd == pytest.approx(0.05, rel=0.3)


@pytest.mark.slow
def test_ed50_interval_coverage_near_nominal():
    """Over 200 seeds the 95 % delta-method interval of ED50 contains the truth 90–99 % of the time (binomial SD of
    the observed rate at 95 %: 1.5 points; the delta method is approximate in a nonlinear model)."""
    hits = 0
    for seed in range(200):
        d, y = _noisy(seed, sd=0.08)
        f = fit_hill(d, y)
        hits += f.ed50_ci[0] < 5.0 < f.ed50_ci[1]
    assert 0.90 <= hits / 200 <= 0.99


def test_sign_constraint_and_weights():
    """increasing=False forces Emax <= 0; weights that are all equal give the unweighted fit."""
    d, y = _noisy(3)
    f1 = fit_hill(d, y, increasing=False)
    f2 = fit_hill(d, y, weights=np.full(d.size, 4.0))
    f0 = fit_hill(d, y)
    assert f1.emax < 0
    np.testing.assert_allclose([f2.e0, f2.emax, f2.ed50, f2.hill], [f0.e0, f0.emax, f0.ed50, f0.hill], rtol=1e-6)
    np.testing.assert_allclose(f2.ed50_ci, f0.ed50_ci, rtol=1e-6)  # relative weights: rescaling changes nothing


def test_linear_curve_is_not_trusted():
    """A straight line never turns: ED50 runs to the edge of its search range and the fit says so."""
    f = fit_hill(DOSES, 3.0 * DOSES)
    assert not f.success and "edge" in f.message


def _bell(d):
    return hill(d, 0.0, 1.0, 3.0, 2.0) - hill(d, 0.0, 1.5, 40.0, 2.0)


def test_inverted_u_detected_with_its_peak_dose():
    """Rise (ED50 3) minus a larger fall (ED50 40): the grid maximum is at 10 mg/kg, beyond both ends."""
    y = _bell(DOSES)
    assert DOSES[np.argmax(y)] == 10.0
    s = classify_shape(DOSES, y)
    assert (s.kind, s.dose_of_max_effect, s.index) == ("inverted_u", 10.0, 4)
    a = analyse_dose_response(DOSES, y, np.full(DOSES.size, 0.02))
    assert a["shape"] == "inverted_u" and a["dose_of_max_effect"] == 10.0 and a["fit"] is None
    assert a["statement"].startswith("non-monotonic") and "10" in a["statement"]


def test_u_shape_detected():
    s = classify_shape(DOSES, -_bell(DOSES))
    assert (s.kind, s.dose_of_max_effect) == ("u", 10.0)


def test_monotone_curves_not_flagged():
    """Noisy monotone data (SD 0.05, SEM 0.025 with 4 replicates) and a noise-free plateau: no inverted U."""
    d, y = _noisy(11)
    mean = y.reshape(-1, 4).mean(axis=1)
    sem = y.reshape(-1, 4).std(axis=1, ddof=1) / 2
    a = analyse_dose_response(DOSES, mean, sem)
    assert a["shape"] == "monotonic" and a["direction"] == "decreasing"
    assert a["fit"]["ed50_ci"][0] < 5.0 < a["fit"]["ed50_ci"][1]
    plateau = hill(DOSES, 0.0, 1.0, 1.0, 3.0)
    plateau[-2] += 0.02  # a bump far below 10 % of the range
    assert classify_shape(DOSES, plateau).kind == "increasing"
    assert analyse_dose_response(DOSES, plateau)["fit"]["ed50"] == pytest.approx(1.0, rel=0.05)


def test_bump_within_two_sem_is_not_an_inverted_u():
    """An interior maximum 0.3 above both ends is an inverted U with SEM 0.05, not with SEM 0.2 (2·√2·0.2 > 0.3)."""
    y = np.array([0.0, 0.5, 1.0, 0.7, 0.7])
    d = np.array([0.0, 1.0, 3.0, 10.0, 30.0])
    assert classify_shape(d, y, np.full(5, 0.05)).kind == "inverted_u"
    assert classify_shape(d, y, np.full(5, 0.2)).kind == "increasing"


def test_flat():
    assert classify_shape(DOSES, np.ones(DOSES.size)).kind == "flat"
    assert analyse_dose_response(DOSES, 1 + 0.01 * np.sin(DOSES), np.full(DOSES.size, 0.1))["shape"] == "flat"


def test_too_few_doses_for_a_fit_is_said():
    a = analyse_dose_response([0.0, 1.0, 10.0], [0.0, 0.5, 0.9])
    assert a["shape"] == "monotonic" and a["fit"] is None and "too few" in a["statement"]


@pytest.mark.parametrize("call, name", [
    (lambda: fit_hill([0, 3, 1, 10, 30], [1, 2, 3, 4, 5]), "dose"),
    (lambda: fit_hill([-1, 1, 3, 10, 30], [1, 2, 3, 4, 5]), "dose"),
    (lambda: fit_hill([0, 1, 3, 10, 30], [1, 2, 3, 4]), "effect"),
    (lambda: fit_hill([0, 1, 3], [1, 2, 3]), "dose"),
    (lambda: fit_hill([0, 1, 3, 10, 30], [1, 2, 3, 4, 5], weights=[1, 1, 0, 1, 1]), "weights"),
    (lambda: fit_hill([0, 1, 3, 10, 30], [1, 2, np.nan, 4, 5]), "effect"),
    (lambda: fit_hill([0, 1, 3, 10, 30], [1, 2, 3, 4, 5], ci=1.5), "ci"),
    (lambda: classify_shape([0, 1, 1, 3], [1, 2, 3, 4]), "dose"),
    (lambda: classify_shape([0, 1, 3], [1, 2, 3], [0.1, -0.1, 0.1]), "sem"),
    (lambda: analyse_dose_response([1, 3, 10], [1, 2]), "mean"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()
