"""Exposure metrics against curves whose metrics are known in closed form."""

import math

import numpy as np
import pytest

from pkpd import exposure as ex

T = np.linspace(0, 10, 201)
K = 0.5
C = 4.0 * np.exp(-K * T)


def test_cmax_tmax():
    assert ex.cmax_tmax(T, C) == (4.0, 0.0)


def test_log_down_auc_is_exact_for_an_exponential():
    # log-trapezoid integrates a mono-exponential exactly: AUC(0-10) = 4/k (1 - e^-5) (rounding only)
    assert ex.auc(T, C) == pytest.approx(4 / K * (1 - math.exp(-5)), rel=1e-12)
    assert ex.auc_inf(T, C) == pytest.approx(4 / K, rel=1e-12)


def test_terminal_half_life():
    ph = ex.terminal_phase(T, C)
    assert ph["half_life_h"] == pytest.approx(math.log(2) / K, rel=1e-10)
    # bi-exponential: the fit must find the slow phase (0.1/h), not the fast one (3/h). The tie rule (fits
    # within 1e-4 of the best adjusted R² count as equal; the most points win, as in WinNonlin) admits early
    # points where the fast phase still adds ~1 %, which biases λz by < 1 %
    c2 = 5 * np.exp(-3 * T) + 0.5 * np.exp(-0.1 * T)
    assert ex.terminal_phase(T, c2)["lambda_z_per_h"] == pytest.approx(0.1, rel=1e-2)


def test_terminal_phase_needs_three_declining_points():
    assert ex.terminal_phase(np.array([0, 1, 2.0]), np.array([0, 1, 0.5])) is None


def test_auc_linear_up():
    # a rising line is integrated exactly by the linear trapezoid
    assert ex.auc(T, 2 * T) == pytest.approx(100.0, rel=1e-13)


def test_time_above_threshold():
    # 4 e^{-0.5 t} > 1 until t = 2 ln 4 = 2.7726 h; linear interpolation over a 0.05-h grid errs < 1e-3 h
    assert ex.time_above(T, C, 1.0) == pytest.approx(2 * math.log(4), abs=1e-3)
    tri = np.array([0.0, 1.0, 0.0])
    assert ex.time_above(np.array([0, 1, 2.0]), tri, 0.5) == pytest.approx(1.0, rel=1e-14)


def test_sampled_metrics_row_by_row():
    """The batch form: each row's maximum, its first time and its area equal the single-curve functions (the same
    operations, so to rounding), and a row's bits do not depend on the rows beside it (a NaN row included): the
    cohort runner's determinism across chunk sizes rests on it."""
    rng = np.random.default_rng(0)
    t = np.sort(rng.random(60)) * 10
    c = np.abs(rng.standard_normal((12, 60)))
    c[3] = 0.0
    c[4, 10:] = 0.0  # falls to zero: linear, not log
    c[5] = np.nan
    peak, tpeak, area = ex.sampled_metrics(t, c)
    for i in (0, 3, 4, 7):
        assert (peak[i], tpeak[i]) == ex.cmax_tmax(t, c[i])
        assert area[i] == pytest.approx(ex.auc(t, c[i]), rel=1e-13)
        alone = ex.sampled_metrics(t, c[i:i + 1])
        assert (alone[0][0], alone[1][0], alone[2][0]) == (peak[i], tpeak[i], area[i])  # bitwise
    # trapezoids: exact for a line
    assert ex.sampled_metrics(T, (2 * T)[None], log_down=False)[2][0] == pytest.approx(100.0, rel=1e-13)
    with pytest.raises(ValueError, match=r"\(S, T\)"):
        ex.sampled_metrics(t, c[0])


def test_shape_errors():
    with pytest.raises(ValueError, match="same length"):
        ex.auc(T, C[:-1])


# ---- metrics of a continuous solution -------------------------------------------------------------------------
DURATIONS_H = (1.0, 4.0, 24.0, 7 * 24.0, 60 * 24.0)


@pytest.mark.parametrize("t_end", DURATIONS_H)
def test_quadrature_grid_integrates_exponentials_exactly(t_end):
    # panels graded from each break: ∫ of a fast and a slow exponential started at a break, to rounding
    breaks = [0.0, 0.3 * t_end]
    t, w = ex.quadrature_grid(breaks, t_end)
    s_ = np.maximum(t - breaks[1], 0.0)
    f = np.where(t >= breaks[1], np.exp(-40.0 * s_) + np.exp(-0.05 * s_), 0.0)
    s = t_end - breaks[1]
    exact = (1 - math.exp(-40.0 * s)) / 40.0 + (1 - math.exp(-0.05 * s)) / 0.05
    assert w @ f == pytest.approx(exact, rel=1e-12)
    assert w.sum() == pytest.approx(t_end, rel=1e-14)


def _bateman(ka, k, scale):
    """One-compartment first-order absorption, the closed form of Gibaldi & Perrier, and its exact integral."""
    def c(t):
        t = np.asarray(t, float)
        return scale * (np.exp(-k * t) - np.exp(-ka * t))

    def integral(t):
        return scale * ((1 - math.exp(-k * t)) / k - (1 - math.exp(-ka * t)) / ka)

    return c, integral


@pytest.mark.parametrize("t_end", DURATIONS_H)
def test_solution_metrics_against_the_closed_form(t_end):
    ka, k, scale = 12.0, 3.2, 10.0  # mouse-like i.p. absorption and a 13-min half-life
    c, integral = _bateman(ka, k, scale)
    m = ex.solution_metrics(c, [0.0], t_end)
    tmax = math.log(ka / k) / (ka - k)  # dC/dt = 0
    assert m["tmax_h"] == pytest.approx(tmax, abs=1e-6)  # refinement to ~1e-6 of a panel
    assert m["cmax_uM"] == pytest.approx(float(c(tmax)), rel=1e-12)
    assert m["auc_0_t_uM_h"] == pytest.approx(integral(t_end), rel=1e-10)
    if t_end >= 4:  # the terminal phase is reached: λz = k, and the extrapolated area is the whole area
        assert m["half_life_h"] == pytest.approx(math.log(2) / k, rel=1e-6)
        assert m["auc_0_inf_uM_h"] == pytest.approx(scale * (1 / k - 1 / ka), rel=1e-9)


@pytest.mark.parametrize("t_end", DURATIONS_H)
def test_time_above_against_the_closed_form(t_end):
    # C = 4 e^{-0.5 t} from a bolus at 0 and again at 1 h: above 1 µM from 0 until 2 ln(4 (1 + e^{0.5}))
    def c(t):
        t = np.asarray(t, float)
        return 4 * np.exp(-0.5 * t) + np.where(t >= 1.0, 4 * np.exp(-0.5 * (t - 1.0)), 0.0)

    m = ex.solution_metrics(c, [0.0, 1.0], t_end, threshold=1.0)
    assert m["time_above_threshold_h"] == pytest.approx(min(t_end, 2 * math.log(4 * (1 + math.exp(0.5)))),
                                                         abs=1e-7)
    assert m["cmax_uM"] == pytest.approx(4 + 4 * math.exp(-0.5), rel=1e-14)  # the post-bolus value at 1 h
    assert m["tmax_h"] == 1.0


def test_occupancy_metrics_of_a_solution():
    # O = C/(C + K) of a mono-exponential C = c0 e^{-kt}: ∫O dt = ln((c0 + K)/(c0 e^{-kT} + K))/k
    c0, kd, k, t_end = 9.0, 1.0, 0.7, 24.0
    occ = lambda t: c0 * np.exp(-k * np.asarray(t)) / (c0 * np.exp(-k * np.asarray(t)) + kd)  # noqa: E731
    m = ex.solution_metrics(occ, [0.0], t_end, kind="occupancy")
    assert m["peak"] == pytest.approx(0.9, rel=1e-14) and m["t_peak_h"] == 0.0
    assert m["area_h"] == pytest.approx(math.log((c0 + kd) / (c0 * math.exp(-k * t_end) + kd)) / k, rel=1e-10)
    assert m["time_above_threshold_h"] == pytest.approx(math.log(c0 / kd) / k, abs=1e-7)  # O = 0.5 where C = K


def test_solution_metrics_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        ex.solution_metrics(lambda t: t, [0.0], 1.0, kind="volume")
