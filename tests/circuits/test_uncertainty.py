"""Identifiability (profile likelihood, SVD) and the MCMC on synthetic problems with known answers; the posterior
file's version check; the posterior summary's intervals."""

import json

import numpy as np
import pytest

from circuits.identifiability import DCHI2_95, Problem, local_svd, name_combination, profile_likelihood
from circuits.posterior import run_mcmc, with_intervals


def _linear(A, y, se, lo, hi, names=("a", "b", "c")):
    A, y, se = (np.asarray(v, float) for v in (A, y, se))

    def residuals(X):
        return (np.atleast_2d(X) @ A.T - y) / se

    x_hat = np.linalg.lstsq(A / se[:, None], y / se, rcond=None)[0]
    return Problem(tuple(names[:A.shape[1]]), x_hat, np.asarray(lo, float), np.asarray(hi, float), residuals)


def test_profile_of_a_flat_direction_is_flat_and_svd_names_it():
    # y1 = x0 + x1 (only the sum is measured), y2 = x2: x0 − x1 is the known null combination
    pb = _linear([[1, 1, 0], [0, 0, 1]], [1.0, 0.5], [0.1, 0.2], [-2, -5, -3], [2, 5, 3])
    pr = profile_likelihood(pb, 0, n_grid=11)
    assert np.max(pr["dchi2"]) < 1e-8  # x1 compensates everywhere on x0's range
    assert pr["bounded"] == (False, False)
    loc = local_svd(pb)
    assert len(loc["undetermined"]) == 1
    v = np.asarray(loc["undetermined"][0]["vector"])
    assert abs(v @ np.array([1, -1, 0]) / np.sqrt(2)) == pytest.approx(1.0, abs=1e-9)
    assert loc["undetermined"][0]["combination"] == "ln a − ln b"
    assert loc["undetermined"][0]["sigma"] < 1e-9


def test_profile_of_a_well_posed_problem_is_the_closed_form_parabola():
    # linear Gaussian least squares: the profile of x_i is exactly (x_i − x̂_i)² / Var(x̂_i), Var from (JᵀJ)⁻¹
    A, y, se = np.array([[1.0, 0.5], [0.2, 1.0], [1.0, -1.0]]), np.array([0.3, -0.2, 0.4]), np.array([0.1, 0.2, 0.3])
    J = A / se[:, None]
    var = np.linalg.inv(J.T @ J)
    for i in range(2):
        # the profiled parameter on [-3, 3]; the other free on a box wide enough never to bind
        lo, hi = np.full(2, -100.0), np.full(2, 100.0)
        lo[i], hi[i] = -3.0, 3.0
        pb = _linear(A, y, se, lo, hi)
        pr = profile_likelihood(pb, i, n_grid=15)
        expect = (pr["x"] - pb.x_hat[i]) ** 2 / var[i, i]
        np.testing.assert_allclose(pr["dchi2"], expect, atol=1e-6 * max(1.0, expect.max()))
        assert pr["x_opt"][i] == pytest.approx(pb.x_hat[i], abs=1e-6)
        sd = np.sqrt(var[i, i] * DCHI2_95)
        lo, hi = np.log(pr["ci95"])
        # the crossing is interpolated linearly between grid points of a parabola: within the grid's curvature error
        step = np.max(np.diff(pr["x"]))
        assert lo == pytest.approx(pb.x_hat[i] - sd, abs=step ** 2 / var[i, i])
        assert hi == pytest.approx(pb.x_hat[i] + sd, abs=step ** 2 / var[i, i])
    loc = local_svd(pb)
    assert loc["undetermined"] == []
    np.testing.assert_allclose(loc["singular_values"], np.linalg.svd(J, compute_uv=False), rtol=1e-6)


def test_name_combination():
    assert name_combination([0.7, 0.7 * -0.98, 0.01], ["g_h", "b1", "k"]) == "ln g_h − 0.98 ln b1"


def test_mcmc_recovers_a_linear_gaussian_posterior():
    # y = A x + noise, flat prior on a wide box: the posterior is N((JᵀJ)⁻¹Jᵀy/se, (JᵀJ)⁻¹) in closed form
    rng = np.random.default_rng(3)
    A = np.array([[1.0, 0.3], [0.4, 1.0], [1.0, 1.0], [0.2, -0.5]])
    se = np.full(4, 0.2)
    x_true = np.array([0.8, -0.4])
    y = A @ x_true + se * rng.standard_normal(4)
    J = A / se[:, None]
    cov = np.linalg.inv(J.T @ J)
    mu = cov @ J.T @ (y / se)

    def log_prob(X):
        X = np.atleast_2d(X)
        r = (X @ A.T - y) / se
        inside = np.all(np.abs(X) < 10, axis=1)
        return np.where(inside, -0.5 * np.sum(r * r, axis=1), -np.inf)

    res = run_mcmc(log_prob, np.zeros(2), np.full(2, 0.1), n_walkers=32, n_steps=1500, burn=300, seed=1)
    flat = res["chain"].reshape(-1, 2)
    tau = np.nanmax(res["tau"])
    assert np.isfinite(tau) and 0.2 < res["acceptance"] < 0.9
    n_eff = flat.shape[0] / tau
    sd = np.sqrt(np.diag(cov))
    # Monte Carlo errors: of a mean sd/√n_eff, of an SD about sd/√(2 n_eff); 4 of them
    np.testing.assert_array_less(np.abs(flat.mean(axis=0) - mu), 4 * sd / np.sqrt(n_eff))
    np.testing.assert_array_less(np.abs(flat.std(axis=0) / sd - 1), 4 / np.sqrt(2 * n_eff))
    # and the truth lies within the 99.9 % region of the recovered posterior
    assert np.all(np.abs(flat.mean(axis=0) - x_true) < 3.3 * sd)


def test_run_mcmc_rejects_too_few_walkers():
    with pytest.raises(ValueError, match="n_walkers"):
        run_mcmc(lambda X: np.zeros(len(X)), np.zeros(3), np.ones(3), n_walkers=4, n_steps=10, burn=0)


def test_with_intervals_takes_median_and_percentiles():
    draws = [{"a": {"b": float(v)}, "lst": [1.0, float(v)], "grid": [1.0, 2.0], "split": {"x": 1}}
             for v in range(101)]
    s = with_intervals(draws)
    assert s["a"]["b"] == 50.0 and s["a"]["b_ci90"] == [5.0, 95.0]
    assert s["lst"] == [1.0, 50.0] and s["lst_ci90"] == [[1.0, 1.0], [5.0, 95.0]]
    assert "grid_ci90" not in s and s["split"] == {"x": 1}


def test_stale_posterior_file_is_refused(tmp_path):
    from circuits.posterior import POSTERIOR_FORMAT, load_posterior

    bad = tmp_path / "posterior.json"
    bad.write_text(json.dumps({"format": POSTERIOR_FORMAT, "model_version": "0000000000000000", "names": ["g_h"],
                               "sets": [[1.0]]}))
    with pytest.raises(ValueError, match="model version 0000000000000000, this model is"):
        load_posterior(bad)
    assert load_posterior(tmp_path / "missing.json") is None
    with pytest.raises(ValueError, match="no posterior file"):
        load_posterior(tmp_path / "missing.json", required=True)


def test_experiment_posterior_with_a_stale_file_exits_2(tmp_path):
    from typer.testing import CliRunner

    from cli import app

    bad = tmp_path / "posterior.json"
    bad.write_text(json.dumps({"format": 1, "model_version": "0000000000000000", "names": [], "sets": []}))
    r = CliRunner().invoke(app, ["experiment", "wu2021", "--out", str(tmp_path / "o"), "--posterior",
                                 "--posterior-file", str(bad)])
    assert r.exit_code == 2
    assert "model version 0000000000000000" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_the_stored_posterior_matches_this_model():
    """The package's posterior was generated on this model version (regenerate: python -m circuits.posterior)."""
    from circuits.calibration import FITTED
    from circuits.posterior import load_posterior

    rec = load_posterior(required=True)
    assert rec["sets"].shape[0] >= 200 and rec["names"] == list(FITTED)
    assert np.all(rec["sets"] > 0)


@pytest.mark.slow
def test_posterior_draws_are_their_subcohorts_own_replications():
    """One batched run split by posterior draw gives, per draw, the replication of that draw's mice alone (the
    engine solves each row independently); the reported value is the median over the draws."""
    from circuits.calibration import FITTED
    from circuits.model import CircuitParams
    from circuits.posterior import posterior_cohort, wu2021_posterior
    from circuits.replication import wu2021

    cp = CircuitParams()
    sets = np.array([[cp.value(k) for k in FITTED], [cp.value(k) * 1.3 for k in FITTED]])
    record = {"names": list(FITTED), "sets": sets, "model_version": "test"}
    summary, details = wu2021_posterior(4, 0, record, draws=2)
    cohort, rows = posterior_cohort(4, 0, [dict(zip(FITTED, s)) for s in sets])
    keys = [("slh", "failure_rate", "lh"), ("wlh", "failure_rate", "ket_day5"), ("controls", "drd1_hm3dq_cno_4h")]
    alone = [wu2021(cohort=[cohort[i] for i in ix])[0] for ix in rows]
    for path in keys:
        def get(s):
            for p in path:
                s = s[p]
            return s
        per = [get(s) for s in details["posterior_summaries"]]
        np.testing.assert_allclose(per, [get(s) for s in alone], rtol=1e-9)
        assert get(summary) == pytest.approx(np.median(per))
        leaf = path[-1] + "_ci90"
        node = summary
        for p in path[:-1]:
            node = node[p]
        assert node[leaf] == pytest.approx([np.percentile(per, 5), np.percentile(per, 95)])
    assert summary["posterior"]["mice_per_draw"] == 2
    assert set(summary["posterior"]["met_fraction"].values()) <= {0.0, 0.5, 1.0, None}  # None: undefined at 2 mice


@pytest.mark.parametrize("args, message", [(["--with", "nonsense"], "unknown circuit parameter 'nonsense'"),
                                           (["--with", "g_h"], "already a calibrated parameter"),
                                           (["--grid", "3"], "grid: expected at least 5")])
def test_identifiability_bad_input_is_one_line_exit_2(tmp_path, args, message):
    from typer.testing import CliRunner

    from cli import app

    r = CliRunner().invoke(app, ["identifiability", "--out", str(tmp_path / "o"), *args])
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_experiment_posterior_default_follows_the_file(tmp_path, monkeypatch):
    """Default: a stale file gives a note and the point estimate; a matching one is used, with K ≤ n draws."""
    from typer.testing import CliRunner

    import cli
    from circuits.posterior import POSTERIOR_PATH

    seen = {}

    def spy(out, n, seed, progress, params, **post):
        seen.clear()
        seen.update(post)
        return {"ok": 1}

    monkeypatch.setattr("circuits.figures.write_wu2021", spy)
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({"format": 1, "model_version": "0000000000000000", "names": [], "sets": []}))
    base = ["experiment", "wu2021", "--n", "4", "--json"]
    r = CliRunner().invoke(cli.app, [*base, "--out", str(tmp_path / "a"), "--posterior-file", str(stale)])
    assert r.exit_code == 0 and "note: point estimate only (posterior:" in r.output and seen == {}
    r = CliRunner().invoke(cli.app, [*base, "--out", str(tmp_path / "b"), "--posterior-file", str(POSTERIOR_PATH)])
    assert r.exit_code == 0, r.output
    assert seen["draws"] == 4 and seen["posterior"]["sets"].shape[0] >= 200
    rec = json.loads((tmp_path / "b" / "command.json").read_text())
    assert rec["inputs"]["posterior"]["draws"] == 4


def test_replication_table_with_a_posterior_says_where_the_paper_lies():
    from circuits.replication import assess, replication_table
    from tests.circuits.test_report_table import _summary

    s = _summary()
    s["slh"]["failure_rate"]["lh_ci90"] = [0.70, 0.78]
    s["wlh"]["failure_rate"]["day3_4_ci90"] = [0.1, 0.2]  # the paper's 0.4891 lies outside
    checks = assess(s)
    s["posterior"] = {"draws": 20, "mice_per_draw": 10, "met_fraction": {k: 0.25 for k in checks},
                      "paper_inside_ci90": {"slh.failure_rate.lh": True, "wlh.failure_rate.day3_4": False}}
    lines = replication_table(s).splitlines()
    [lh] = [ln for ln in lines if ln.startswith("| `slh.failure_rate.lh` |")]
    assert lh == ("| `slh.failure_rate.lh` | 0.74 [0.7, 0.78] | 0.74 | FS6-3a (n = 107) | calibration ✓ | paper inside; "
                  "met in 25 % of draws |")
    [d34] = [ln for ln in lines if ln.startswith("| `wlh.failure_rate.day3_4` |")]
    assert "paper **outside**" in d34
    assert lines[0].startswith("Posterior: 20 parameter sets")


@pytest.mark.slow
def test_batched_targets_are_the_calibrations_own():
    """targets_batch (the posterior's and the profiles' model) gives, row by row, what the calibration's _run
    gives for the same log-parameters (the engine solves each row on its own)."""
    from circuits.calibration import FIT_TARGETS, _run, fitted_values, targets_batch

    x0 = fitted_values()
    X = np.array([x0, x0 + 0.1 * np.arange(1, x0.size + 1) * (-1.0) ** np.arange(x0.size)])
    got = targets_batch(X)
    for row, x in zip(got, X):
        ref = _run(x)
        np.testing.assert_allclose(row, [ref[k] for k in FIT_TARGETS], rtol=1e-10)


def test_regimens_posterior_reports_median_and_interval_over_the_draws(monkeypatch, tmp_path):
    """Each draw's comparison gets the draw's parameters (user overrides win); the table's numeric columns are
    the medians over the draws, with the 5th and 95th percentiles beside them; columns equal in every draw (the
    exposure) keep the point value."""
    from circuits.posterior import regimens_posterior
    from tests.circuits.test_regimens import fake_comparison

    calls = []

    class Draw:  # a draw's comparison: the fake table with every regimen's onset set to the draw's g_h
        def __init__(self, g):
            self.g = g

        def table(self):
            t = fake_comparison().table()
            return {**t, "onset_h": [self.g] * len(t["regimen"])}

    def fake(items, params=None, **kw):
        calls.append(dict(params or {}))
        return fake_comparison() if len(calls) == 1 else Draw(float(params["g_h"]))

    monkeypatch.setattr("circuits.regimens.compare_regimens", fake)
    sets = np.array([[float(v), 4.0, 1.5] for v in range(1, 21)])
    record = {"names": ["g_h", "b1", "k_a_per_h"], "sets": sets, "model_version": "test"}
    res = regimens_posterior(["human_single"], record, draws=20, params={"b1": "5"})
    assert calls[0] == {"b1": "5"} and all(c["b1"] == "5" for c in calls[1:])  # the override wins
    assert sorted(c["g_h"] for c in calls[1:]) == list(range(1, 21))
    t = res.table()
    assert t["onset_h"][0] == pytest.approx(np.median(np.arange(1, 21)))
    assert [t["onset_h_ci90_lo"][0], t["onset_h_ci90_hi"][0]] == pytest.approx(
        [np.percentile(np.arange(1, 21), 5), np.percentile(np.arange(1, 21), 95)])
    assert "cmax_plasma_ketamine_ng_per_ml_ci90_lo" not in t
    rec = res.write(tmp_path / "r")
    assert rec["inputs"]["posterior"] == {"draws": 20, "model_version": "test"}
