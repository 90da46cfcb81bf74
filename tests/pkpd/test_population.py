"""Populations: sampled moments and correlations against Ω, determinism by (seed, id), covariates, bad Ω.

Tolerances on sampled statistics are 4 standard errors of the statistic at the sample size used (a false failure
has probability ~6e-5 per check); the draws are deterministic, so a test that passes once passes always.
"""

import math

import numpy as np
import pytest

from pkpd.population import (DEFAULT_VARIABILITY, Covariates, Population, Variability, WeightDistribution,
                             check_omega, default_population, normals, uniforms)

N = 200_000
NAMES = ("cl_L_per_h", "v_L", "kp_brain")
OMEGA = np.array([[0.09, 0.03, -0.012],
                  [0.03, 0.04, 0.0],
                  [-0.012, 0.0, 0.0625]])


def _pop(omega=OMEGA, female=0.3):
    var = Variability(NAMES, omega)
    return Population({"cl_L_per_h": 0.3, "v_L": 0.09, "kp_brain": 6.5}, var,
                      Covariates(WeightDistribution(0.025, 0.12, 0.010, 0.080), female))


def test_eta_means_variances_and_correlations_match_omega():
    s = _pop().sample(3, np.arange(N))
    eta = np.column_stack([s[f"eta_{n}"] for n in NAMES])
    sd = np.sqrt(np.diag(OMEGA))
    # mean: SE = ω/√N
    assert np.all(np.abs(eta.mean(0)) < 4 * sd / math.sqrt(N))
    # variance: SE of a normal sample variance = ω² √(2/(N−1))
    assert np.all(np.abs(eta.var(0, ddof=1) - sd ** 2) < 4 * sd ** 2 * math.sqrt(2 / (N - 1)))
    # correlation: SE ≈ (1 − ρ²)/√N
    rho = OMEGA / np.outer(sd, sd)
    r = np.corrcoef(eta.T)
    assert np.all(np.abs(r - rho) < 4 * (1 - rho ** 2) / math.sqrt(N) + 1e-12)


def test_parameters_are_typical_times_exp_eta():
    s = _pop().sample(3, np.arange(1000))
    for n, tv in {"cl_L_per_h": 0.3, "v_L": 0.09, "kp_brain": 6.5}.items():
        # the same two floating-point operations: equal to the last bit
        assert np.array_equal(s[n], tv * np.exp(s[f"eta_{n}"]))


def test_a_subject_is_a_pure_function_of_seed_and_id():
    pop = _pop()
    ids = np.arange(1000)
    whole = pop.sample(11, ids)
    for cut in ([7, 500, 993], [1], [333, 666]):
        pieces = [pop.sample(11, part) for part in np.split(ids, cut)]
        for k in whole:
            assert np.array_equal(whole[k], np.concatenate([p[k] for p in pieces])), k
    perm = np.random.default_rng(0).permutation(ids)
    shuffled = pop.sample(11, perm)
    for k in whole:
        assert np.array_equal(whole[k][perm], shuffled[k]), k
    other = pop.sample(12, ids)
    assert not np.any(other["eta_cl_L_per_h"] == whole["eta_cl_L_per_h"])  # a new seed changes every subject


def test_uniforms_are_uniform_and_streams_independent():
    u = uniforms(5, "eta", np.arange(N), 2)
    assert 0 < u.min() and u.max() < 1
    # mean 1/2 (SE √(1/12N)), variance 1/12 (SE √(1/180N))
    assert np.all(np.abs(u.mean(0) - 0.5) < 4 * math.sqrt(1 / (12 * N)))
    assert np.all(np.abs(u.var(0) - 1 / 12) < 4 * math.sqrt(1 / (180 * N)))
    w = uniforms(5, "weight", np.arange(N), 1)[:, 0]
    # independent streams and draw indices: correlations within 4/√N of 0
    assert abs(np.corrcoef(u[:, 0], w)[0, 1]) < 4 / math.sqrt(N)
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 4 / math.sqrt(N)
    z = normals(5, "eta", np.arange(N), 1)[:, 0]
    # 4th moment of a standard normal is 3 (SE √(96/N))
    assert abs(np.mean(z ** 4) - 3) < 4 * math.sqrt(96 / N)


def test_singular_psd_omega_gives_perfectly_correlated_etas():
    om = np.array([[0.04, 0.06], [0.06, 0.09]])  # ρ = 1: PSD but not positive definite (no Cholesky factor)
    var = Variability(("a", "b"), om)
    eta = var.etas(1, np.arange(1000))
    # η_b = 1.5 η_a exactly in exact arithmetic; the factor's rounding is a few ulp of ω
    np.testing.assert_allclose(eta[:, 1], 1.5 * eta[:, 0], rtol=0, atol=1e-12)


def test_covariates_weight_and_sex():
    s = _pop(female=0.3).sample(9, np.arange(N))
    w = s["weight_kg"]
    assert w.min() >= 0.010 and w.max() <= 0.080
    # truncation is > 7 σ away: log-weight is N(ln 0.025, s²) within 4 SE (SE mean s/√N; SE sd s/√(2N))
    sl = math.sqrt(math.log1p(0.12 ** 2))
    assert abs(np.log(w).mean() - math.log(0.025)) < 4 * sl / math.sqrt(N)
    assert abs(np.log(w).std() - sl) < 4 * sl / math.sqrt(2 * N)
    # female fraction: binomial SE √(p(1−p)/N)
    assert abs(s["female"].mean() - 0.3) < 4 * math.sqrt(0.3 * 0.7 / N)


def test_tight_truncation_keeps_every_weight_inside():
    wd = WeightDistribution(0.025, 0.5, 0.02, 0.03)
    w = wd.quantile(uniforms(1, "weight", np.arange(10_000), 1)[:, 0])
    assert w.min() >= 0.02 and w.max() <= 0.03 and w.min() < 0.0201 and w.max() > 0.0299


def test_from_cv_converts_to_log_variance():
    var = Variability.from_cv({"a": 0.13, "b": 0.3}, {("a", "b"): 0.5})
    w = np.sqrt(np.log1p(np.array([0.13, 0.3]) ** 2))
    # exact formula, rounding only
    np.testing.assert_allclose(var.omega, [[w[0] ** 2, 0.5 * w[0] * w[1]], [0.5 * w[0] * w[1], w[1] ** 2]],
                               rtol=1e-14)


@pytest.mark.parametrize("omega, match", [
    ([[0.1, 0.05], [0.0, 0.1]], "symmetric"),
    ([[0.1, 0.2], [0.2, 0.1]], "positive semi-definite"),
    ([[0.1, float("nan")], [float("nan"), 0.1]], "finite"),
    ([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]], "2 x 2"),
    ([[-0.1, 0.0], [0.0, 0.1]], "positive semi-definite"),
])
def test_bad_omega_is_refused_naming_it(omega, match):
    with pytest.raises(ValueError, match="omega") as err:
        Variability(("a", "b"), omega)
    assert match in str(err.value)


def test_inconsistent_correlations_are_refused():
    # each pair alone is fine; together (0.9, 0.9, −0.9) no covariance matrix has them
    with pytest.raises(ValueError, match="omega: expected a positive semi-definite"):
        Variability.from_cv({"a": 0.2, "b": 0.2, "c": 0.2}, {("a", "b"): 0.9, ("a", "c"): 0.9, ("b", "c"): -0.9})
    assert check_omega(np.zeros((2, 2)), ("a", "b")).shape == (2, 2)  # no variability at all is allowed


def test_bad_population_inputs():
    with pytest.raises(ValueError, match="typical"):
        Population({"a": 1.0}, Variability(("a", "b"), np.eye(2) * 0.1),
                    Covariates(WeightDistribution(0.025, 0.1, 0.01, 0.08)))
    with pytest.raises(ValueError, match="female_fraction"):
        Covariates(WeightDistribution(0.025, 0.1, 0.01, 0.08), 1.5)
    with pytest.raises(ValueError, match="seed"):
        _pop().sample(-1, np.arange(3))


@pytest.mark.parametrize("species, model", [("mouse", None), ("human", None), ("human", "kamp2020"),
                                                ("human", "fanta2015")])
def test_default_populations_carry_provenance(species, model):
    pop = default_population(species, model)
    var = pop.variability
    assert all(s and ("assumed" in s or "et al." in s) for s in var.sources)
    cv = DEFAULT_VARIABILITY[pop.notes.split(" / ")[1]][0]
    # diagonal = ln(1 + CV²), exactly as documented
    np.testing.assert_allclose(np.diag(var.omega), [math.log1p(cv[n] ** 2) for n in var.names], rtol=1e-14)
    if model == "fanta2015":
        assert "13 %" in var.sources[var.names.index("cl_L_per_h")]
