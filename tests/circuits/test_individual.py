"""Individual differences with the paper's signature (Wu 2021: the baseline distance between escape and failure mean
DA traces): the escape latency of the hazard model, the distance on hand-computed traces, per-row shock durations
of the dynamic mode, and the escape / failure trials of the typical naive mouse."""

import numpy as np
import pytest
from scipy import integrate

from circuits.behavior import BehaviorParams, dff, escape_failure_distance, escape_latency_s, failure_probability
from circuits.experiments import baseline_signature
from circuits.model import CircuitParams, initial_state, parameter_values, parameter_vector, run_trials
from circuits.protocols import ProtocolParams

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_escape_latency_matches_the_numerical_integral_and_monte_carlo_of_the_constant_hazard():
    T = BehaviorParams().trial_s
    rng = np.random.default_rng(0)
    for p in (0.022, 0.2, 0.5, 0.9):
        lam = -np.log(p) / T
        # numerical integral of t·λe^(−λt) over [0, T], divided by P(escape) = 1 − e^(−λT) = 1 − p
        num = integrate.quad(lambda t: t * lam * np.exp(-lam * t), 0.0, T, epsabs=1e-13, epsrel=1e-12)[0] / (1 - p)
        assert float(escape_latency_s(p)) == pytest.approx(num, rel=1e-9)
        # Monte Carlo: exponential latencies, escapes are those below the 10-s cap; 4e5 draws, SE < 0.01 s
        lat = rng.exponential(1.0 / lam, 400_000)
        esc = lat[lat < T]
        assert abs(float(escape_latency_s(p)) - esc.mean()) < 5 * esc.std() / np.sqrt(esc.size)
    # limits: 1/λ for rare failures, T/2 when almost every trial fails; vectorised
    assert float(escape_latency_s(1e-9)) == pytest.approx(T / -np.log(1e-9), rel=1e-6)
    assert float(escape_latency_s(1 - 1e-7)) == pytest.approx(T / 2, rel=1e-4)
    assert escape_latency_s([0.022, 0.5]).shape == (2,)
    # the calibrated naive mouse (P_fail = logit⁻¹ b0 = 2.2 %): mean escape latency 2.40 s
    assert float(escape_latency_s(failure_probability(1.0))) == pytest.approx(2.395, abs=0.002)


def test_escape_failure_distance_against_a_hand_computed_value():
    t = np.arange(0.0, 21.0, 1.0)            # onset 5 s: baseline samples t = 0..4, window t = 5..13 (9 samples)
    onset = 5.0
    esc = np.full(t.size, 2.0)               # baseline 2 -> ΔF/F +0.5 over the whole window
    esc[t >= onset] = 3.0
    fail = np.full(t.size, 4.0)              # baseline 4 -> ΔF/F −0.5 at t = 5..8, +0.25 at t = 9..13
    fail[(t >= 5) & (t <= 8)] = 2.0
    fail[t >= 9] = 5.0
    fail[t >= 14] = 400.0                    # outside the 8-s window: must not count
    # differences: 1.0 (4 samples), 0.25 (5 samples) -> sqrt((4·1 + 5·0.0625)/9)
    expected = np.sqrt((4 * 1.0 + 5 * 0.0625) / 9)
    assert float(escape_failure_distance(esc, fail, t, onset)) == pytest.approx(expected, rel=1e-12)
    assert float(escape_failure_distance(fail, esc, t, onset)) == pytest.approx(expected, rel=1e-12)  # symmetric
    assert float(escape_failure_distance(esc, esc, t, onset)) == 0.0
    batch = escape_failure_distance(np.stack([esc, esc]), np.stack([fail, esc]), t, onset)
    assert batch.shape == (2,) and batch[0] == pytest.approx(expected) and batch[1] == 0.0
    np.testing.assert_allclose(dff(esc, t, onset)[t >= onset], 0.5)


@pytest.fixture(scope="module")
def typical():
    cp = CircuitParams()
    return baseline_signature([cp]), initial_state(cp), parameter_vector(parameter_values(cp))


def test_per_row_shock_durations_match_single_duration_runs(typical):
    _, y0, p = typical
    both = run_trials(np.stack([y0, y0]), np.stack([p, p]), shock_s=[2.0, 10.0], total_s=20.0)
    for row, d in enumerate((2.0, 10.0)):
        one = run_trials(y0[None], p[None], shock_s=d, total_s=20.0)
        # exact: the engine integrates each row on its own (own steps, own events), whatever its batch holds
        np.testing.assert_array_equal(both.gcamp[row], one.gcamp[0])
    np.testing.assert_array_equal(both.shock_s, [2.0, 10.0])
    with pytest.raises(ValueError, match="shock_s"):
        run_trials(np.stack([y0, y0]), np.stack([p, p]), shock_s=[2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="shock_s"):
        run_trials(y0[None], p[None], shock_s=-1.0)


def test_failure_trial_is_biphasic_dip_during_the_shock_rise_after_it(typical):
    sig, _, _ = typical
    t, onset = sig["t_s"] - sig["onset_s"], 0.0
    f = dff(sig["failure"], sig["t_s"], sig["onset_s"])[0]
    T = ProtocolParams().test_trial_s
    assert sig["failure_shock_s"] == T == 10.0
    during, after = (t > onset) & (t <= T), (t > T) & (t <= T + 5.0)
    # shape, not calibration: thresholds far from the model's values (−0.89 by 0.5 s, then between −1.00 and −0.91
    # for the rest of the shock; +0.41 after it), so that only a change of shape fails
    deep = (t > onset + 0.5) & (t <= T)
    assert f[during].min() < -0.5                      # a deep dip during the shock
    assert f[deep].max() < -0.5                        # that lasts the whole 10-s shock (Wu 2021 failure trials)
    assert f[after].max() > 0.2                        # a rise after the shock ends
    assert f[after].max() > f[deep].max() + 0.5        # far above the dip


def test_escape_trial_ends_its_shock_at_the_escape_latency_and_rises_earlier_than_failure(typical):
    sig, _, _ = typical
    t = sig["t_s"] - sig["onset_s"]
    e = dff(sig["escape"], sig["t_s"], sig["onset_s"])[0]
    f = dff(sig["failure"], sig["t_s"], sig["onset_s"])[0]
    lat = float(sig["escape_latency_s"][0])
    assert lat == pytest.approx(float(escape_latency_s(sig["naive_failure"][0])), rel=1e-12)  # its own naive P_fail
    assert lat == pytest.approx(float(escape_latency_s(failure_probability(1.0))), rel=1e-3)  # R̂ ≈ 1: 2.4 s
    win = (t >= 0) & (t <= 8.0)
    assert t[win][e[win].argmax()] > lat                         # the rise follows the escape (shock offset)
    # the model: escape peak +0.47 within 8 s, failure 0 (its pre-shock level, at onset; silenced after it)
    assert e[win].max() > 0.3 and e[win].max() > f[win].max() + 0.3
    # no dip once escaped: from 1 s after the escape (5 GCaMP time constants of 0.2 s) to the window's end the
    # trace stays above −2 % ΔF/F (the model's slow undershoot from the adapting burst reference is −0.4 %)
    after = (t > lat + 1.0) & (t <= 8.0)
    assert e[after].min() > -0.02
    assert sig["signature"][0] == pytest.approx(
        float(escape_failure_distance(sig["escape"][0], sig["failure"][0], sig["t_s"], sig["onset_s"])))
    assert 0.3 < sig["signature"][0] < 2.0                      # the typical mouse: 0.99 (RMS ΔF/F)


@pytest.mark.xfail(strict=True, reason="known limitation: the shock drives VTA/RMTg GABA at once (τ_G 20 ms), so "
                   "an escape trial dips (to −100 % ΔF/F: silenced) until the escape at 2.4 s; Wu 2021 report a "
                   "monophasic rise on escape trials")
def test_escape_trial_is_monophasic(typical):
    sig, _, _ = typical
    t = sig["t_s"] - sig["onset_s"]
    e = dff(sig["escape"], sig["t_s"], sig["onset_s"])[0]
    assert e[(t >= 0) & (t <= 8.0)].min() > -0.05


def test_behavioural_reference_is_the_typical_naive_response(typical):
    # R̂ = 1 for the typical naive mouse: peak_ref_Hz is its naive readout peak (a derived parameter; recompute it
    # when the mPFC or VTA parameters change)
    from circuits.experiments import naive_reference

    cp = CircuitParams()
    peak = float(naive_reference([cp])[0]["peak"][0])
    assert cp.behavior.peak_ref_Hz == pytest.approx(peak, rel=1e-4)
    sig, _, _ = typical
    assert float(sig["naive_failure"][0]) == pytest.approx(float(failure_probability(1.0)), rel=1e-3)


def test_the_signature_measures_the_mpfc_to_vta_drive_which_sets_baseline_escape():
    # the mechanism behind experiment 8: a stronger mPFC→DA burst drive gives a larger post-escape rise against an
    # unchanged silenced failure trace (a larger signature) and a larger absolute DA response (fewer failures)
    from circuits.experiments import vary

    cohort = [vary(CircuitParams(), {"j_pd_pA_per_Hz": x}) for x in (-0.2, -0.1, 0.0, 0.1, 0.2)]
    s = baseline_signature(cohort)
    assert np.all(np.diff(s["signature"]) > 0.01)
    assert np.all(np.diff(s["naive_failure"]) < 0)
    assert s["naive_failure"][0] > 0.05 > 0.022 > s["naive_failure"][-1] / 2


def test_exp8_baseline_signature_predicts_helplessness_and_the_failure_rate_after_ketamine():
    # Wu 2021: the baseline escape–failure distance predicts later helplessness (R² 0.63) and the ketamine response
    # (R² 0.72; their measure is not in our sources). The model on 100 mice (seed 0; R² are predictions: only the
    # spread of baseline failures was calibrated): r = −0.55 against the failure rate after induction, −0.35 against
    # the failure rate 4 h after ketamine (at n = 300: −0.60 and −0.46); asserted with margins of about two
    # sampling SEs ((1 − r²)/√n ≈ 0.07–0.09)
    from circuits.experiments import _ket, run_groups, virtual_cohort
    from circuits.protocols import build_protocol

    cohort = virtual_cohort(100, 0)
    g = run_groups(cohort, [build_protocol("slh", regimen=_ket(10.0), post_drug_tests_h=(4,))])[0]
    sig = baseline_signature(cohort)["signature"]
    helpless, after = g.failure[:, g.labels.index("lh")], g.failure[:, g.labels.index("4h")]
    assert np.corrcoef(sig, helpless)[0, 1] < -0.4
    assert np.corrcoef(sig, after)[0, 1] < -0.2
