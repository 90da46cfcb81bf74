"""circuits.studies: the dose-response study against its oracles.

Oracles: the per-subject tables of the per-dose cohort runs (read back from the work directory: the study's
statistics are their mean/SEM/percentiles); a direct :func:`pkpd.cohort.run_cohort` with the same spec (bit for
bit); the PK-only cohort of the same subjects (Cmax, AUC of the circuit protocol's exposure readout); linear PK (Cmax
and AUC proportional to dose); no drug, no exposure (dose 0). Cohorts of 4 subjects, 2–3 doses; the compiled circuit
and PK systems come from numba's disk cache.
"""

import numpy as np
import pytest

from circuits import studies
from circuits.cohort import protocol_duration_h
from circuits.registry import get_protocol
from circuits.studies import READOUTS, DoseResponseResult, dose_response, plot_dose_response
from pkpd.cohort import CohortSpec, read_subjects, run_cohort
from pkpd.dosing import Regimen
from pkpd.emax import analyse_dose_response, hill

N, SEED = 4, 3
MOUSE_READOUTS = ["failure_4h", "failure_lh", "da_response_4h", "mpfc_peak", "mpfc_1h", "occupancy_peak", "cmax",
                  "auc"]


@pytest.fixture(scope="module")
def mouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("dr") / "runs"
    seen = []
    res = dose_response([0, 10], species="mouse", route="ip", n=N, seed=SEED, readouts=MOUSE_READOUTS,
                        work_dir=work, chunk_size=3, progress=lambda d, t: seen.append((d, t)))
    return res, work, seen


def test_statistics_are_those_of_the_per_subject_tables(mouse):
    """Mean, SEM (ddof 1), 5/50/95th percentiles (NumPy linear) of each run's subject column, exactly."""
    res, work, _ = mouse
    for i, d in enumerate([0, 10]):
        tab = read_subjects(work / f"dose_{d:g}").to_pydict()
        for r in MOUSE_READOUTS:
            x = np.asarray(tab[READOUTS[r].column], float)
            st = res.stats[r]
            assert st["n_solved"][i] == N
            assert st["mean"][i] == np.mean(x)
            assert st["sem"][i] == np.std(x, ddof=1) / np.sqrt(N)
            np.testing.assert_array_equal([st["p5"][i], st["p50"][i], st["p95"][i]], np.percentile(x, [5, 50, 95]))
    assert res.runs == (str(work / "dose_0"), str(work / "dose_10"))


def test_dose_equals_a_direct_cohort_run_bit_for_bit(mouse, tmp_path):
    """The 10 mg/kg cohort is the cohort `ketamine cohort --protocol slh` would run with the same seed, bit for bit,
    although chunked differently (a subject's results do not depend on its chunk)."""
    res, _, _ = mouse
    reg = Regimen.single("10mg/kg", "ip")
    spec = CohortSpec(n=N, regimen=reg, duration_h=protocol_duration_h("slh", reg), protocol=get_protocol("slh"),
                      seed=SEED)
    run_cohort(spec, tmp_path / "direct", chunk_size=2)
    x = np.asarray(read_subjects(tmp_path / "direct").to_pydict()["failure_prob_4h"])
    np.testing.assert_array_equal(read_subjects(res.runs[1]).to_pydict()["failure_prob_4h"], x)
    assert res.stats["failure_4h"]["mean"][1] == np.mean(x)
    assert res.stats["failure_4h"]["p50"][1] == np.percentile(x, 50)  # NumPy linear (np.median rounds (a+b)/2)


def test_exposure_readouts_match_the_pk_cohort_of_the_same_subjects(mouse, tmp_path):
    """Cmax and AUC of the circuit protocol's plasma ketamine equal those of the PK-only cohort (same seed, so the same
    weights and PK draws; dose at 0 instead of 96 h, same relative output grid). Tolerance 1e-5 relative: two
    solvers (Rodas4 on the 34-state circuit system vs the PK system's own) at rtol 1e-6 (observed: at most 6e-7,
    AUC); AUC over the whole protocol (zero before the drug) vs the PK run to the same end."""
    res, work, _ = mouse
    tab = read_subjects(work / "dose_10").to_pydict()
    reg = Regimen.single("10mg/kg", "ip")
    spec = CohortSpec(n=N, regimen=reg, duration_h=protocol_duration_h("slh", reg) - 96.0, seed=SEED)
    run_cohort(spec, tmp_path / "pk", chunk_size=N)
    pk = read_subjects(tmp_path / "pk").to_pydict()
    np.testing.assert_array_equal(tab["weight_kg"], pk["weight_kg"])
    for col in ("plasma_ketamine_cmax_uM", "plasma_ketamine_auc_uM_h", "brain_free_ketamine_cmax_uM"):
        np.testing.assert_allclose(tab[col], pk[col], rtol=1e-5)
    np.testing.assert_allclose(tab["plasma_ketamine_tmax_h"], np.asarray(pk["plasma_ketamine_tmax_h"]) + 96.0,
                               atol=1e-9)
    np.testing.assert_allclose(tab["nmda_occupancy_pyramidal_peak"], pk["nmda_occupancy_pyramidal_peak"], rtol=1e-5)


def test_saline_is_no_drug_and_ketamine_rescues(mouse):
    """Dose 0 runs the protocol's saline group: no exposure (below 1e-12 µM: solver noise on zero), the mPFC
    response flat (peak / pre-dose 1 within 1 %), failures at 4 h higher than at 10 mg/kg (the rescue; margin
    0.05: the model's sLH rescue at 4 h is ~10 points, a recorded miss of its size, test_experiments.py)."""
    res, _, seen = mouse
    assert abs(res.stats["cmax"]["mean"][0]) < 1e-12 and abs(res.stats["auc"]["mean"][0]) < 1e-12
    assert res.stats["mpfc_peak"]["mean"][0] == pytest.approx(1.0, abs=0.01)
    assert res.stats["failure_4h"]["mean"][0] > res.stats["failure_4h"]["mean"][1] + 0.05
    assert seen[-1] == (2 * N, 2 * N) and all(t == 2 * N for _, t in seen)  # progress over all doses


def test_table_and_json(mouse):
    res, _, _ = mouse
    rows = res.table()
    assert len(rows) == 2 * len(MOUSE_READOUTS)
    assert set(rows[0]) == {"dose_mg_per_kg", "readout", "column", "unit", *studies.STATISTICS}
    rec = res.to_json("ketamine dose-response --doses 0,10")
    assert rec["kind"] == "dose_response" and rec["command"] == "ketamine dose-response --doses 0,10"
    assert rec["inputs"]["doses_mg_per_kg"] == [0.0, 10.0] and rec["inputs"]["protocol"] == "slh"
    # the record holds pkpd.emax's verdict on the study's own means and SEMs (the shape of 4 mice at 2 doses is
    # the analysis' call: monotonic or, within 2 SEM, flat), and 2 doses give no Hill fit
    st = res.stats["failure_4h"]
    want = analyse_dose_response(np.array([0.0, 10.0]), np.asarray(st["mean"]), np.asarray(st["sem"]), unit="mg/kg")
    got = rec["results"]["failure_4h"]["analysis"]
    assert got["shape"] == want["shape"] and got["statement"] == want["statement"]
    assert got.get("fit") is None


def test_resume_reuses_the_runs(mouse, monkeypatch):
    """A resumed study skips every finished dose (no chunk is run) and gives the same statistics."""
    res, work, _ = mouse
    import pkpd.cohort as pc

    monkeypatch.setattr(pc, "run_chunk", lambda *a, **k: pytest.fail("a finished chunk was recomputed"))
    again = dose_response([0, 10], species="mouse", n=N, seed=SEED, readouts=MOUSE_READOUTS, work_dir=work,
                          chunk_size=3, resume=True)
    for r in MOUSE_READOUTS:
        np.testing.assert_array_equal(again.stats[r]["mean"], res.stats[r]["mean"])


def test_human_pk_study_is_dose_proportional():
    """Human, 40-min infusion, PK only: dose 0 is exactly 0; linear PK makes Cmax and AUC proportional to dose
    (rtol 1e-5: the engine's rtol 1e-6, absolute tolerances scaled by each run's own dose)."""
    res = dose_response([0, 0.5, 1.0], species="human", route="iv-infusion", infusion_time_h=40 / 60, n=N,
                        seed=SEED, readouts=["cmax", "auc", "occupancy_peak"])
    for r in ("cmax", "auc", "occupancy_peak"):
        assert res.stats[r]["mean"][0] == 0 and res.stats[r]["p95"][0] == 0
    for r in ("cmax", "auc"):
        for s in ("mean", "p5", "p50", "p95"):
            assert res.stats[r][s][2] == pytest.approx(2 * res.stats[r][s][1], rel=1e-5)
    occ = res.stats["occupancy_peak"]["mean"]
    assert 0 < occ[1] < occ[2] < 2 * occ[1]  # saturating
    assert res.runs == (None, None, None) and res.inputs["duration_h"] == 24.0


def _two_sets():
    """A posterior record of two parameter sets: the calibrated values and all three ×1.3 (K = 2 draws of two
    sets take both, in order)."""
    from circuits.calibration import FITTED
    from circuits.model import CircuitParams

    cp = CircuitParams()
    sets = np.array([[cp.value(k) for k in FITTED], [cp.value(k) * 1.3 for k in FITTED]])
    return {"names": list(FITTED), "sets": sets, "model_version": "test"}


POST_READOUTS = ["failure_4h", "cmax"]


@pytest.fixture(scope="module")
def mouse_posterior(tmp_path_factory):
    work = tmp_path_factory.mktemp("drp") / "runs"
    res = dose_response([0, 10], species="mouse", n=N, seed=SEED, readouts=POST_READOUTS, work_dir=work,
                        chunk_size=3, posterior=_two_sets(), posterior_draws=2)
    return res, work


def test_posterior_is_the_median_and_interval_of_subcohorts_run_alone(mouse_posterior, tmp_path):
    """Oracle: each posterior set's sub-cohort (n/K = 2 mice, ids 0-1 of the seed) run directly by run_cohort
    with that set as overrides; the study's statistics are the medians over the two and its interval their
    5th/95th percentiles (NumPy linear), exactly."""
    res, work = mouse_posterior
    rec = _two_sets()
    m = N // 2
    per = {r: {s: np.zeros((2, 2)) for s in ("mean", "p95")} for r in POST_READOUTS}
    for i, dose in enumerate([0, 10]):
        reg = Regimen() if dose == 0 else Regimen.single(f"{dose}mg/kg", "ip")
        for j in range(2):
            spec = CohortSpec(n=m, regimen=reg, duration_h=protocol_duration_h("slh", reg),
                              protocol=get_protocol("slh"), seed=SEED,
                              params=tuple(zip(rec["names"], rec["sets"][j].tolist())))
            out = tmp_path / f"d{dose}_{j}"
            run_cohort(spec, out, chunk_size=m)
            tab = read_subjects(out).to_pydict()
            for r in POST_READOUTS:
                x = np.asarray(tab[READOUTS[r].column], float)
                per[r]["mean"][j, i], per[r]["p95"][j, i] = np.mean(x), np.percentile(x, 95)
    for r in POST_READOUTS:
        for s in ("mean", "p95"):
            np.testing.assert_array_equal(res.posterior["per_draw"][r][s], per[r][s])
            np.testing.assert_array_equal(res.stats[r][s], np.median(per[r][s], axis=0))
            lo, hi = res.posterior["ci90"][r][s]
            np.testing.assert_array_equal(lo, np.percentile(per[r][s], 5, axis=0))
            np.testing.assert_array_equal(hi, np.percentile(per[r][s], 95, axis=0))
        np.testing.assert_array_equal(res.stats[r]["n_solved"], [N, N])
    # the calibrated set rescues less than the ×1.3 one or more: the interval has width (parameter uncertainty)
    lo, hi = res.posterior["ci90"]["failure_4h"]["mean"]
    assert (hi - lo > 1e-3).all()
    assert res.runs[1] == (str(work / "dose_10_draw_0"), str(work / "dose_10_draw_1"))
    rows = res.table()
    assert rows[0]["mean_ci90_lo"] == lo[0] and rows[0]["mean_ci90_hi"] == hi[0]
    rj = res.to_json()
    assert rj["posterior"]["draws"] == 2 and rj["posterior"]["mice_per_draw"] == m
    assert rj["results"]["failure_4h"]["mean_ci90"] == [[float(a), float(b)] for a, b in zip(lo, hi)]


def test_posterior_study_resumes_without_recomputing(mouse_posterior, monkeypatch):
    res, work = mouse_posterior
    import pkpd.cohort as pc

    monkeypatch.setattr(pc, "run_chunk", lambda *a, **k: pytest.fail("a finished chunk was recomputed"))
    again = dose_response([0, 10], species="mouse", n=N, seed=SEED, readouts=POST_READOUTS, work_dir=work,
                          chunk_size=3, resume=True, posterior=_two_sets(), posterior_draws=2)
    for r in POST_READOUTS:
        np.testing.assert_array_equal(again.posterior["per_draw"][r]["mean"], res.posterior["per_draw"][r]["mean"])


def test_posterior_plot_draws_the_interval_band(mouse_posterior):
    from pkpd.figures import pyplot

    res, _ = mouse_posterior
    fig, _ = plot_dose_response(res, readout="failure_4h")
    try:
        (ax,) = fig.axes
        [band] = [c for c in ax.collections if c.get_label().startswith("mean: 90 % interval over 2")]
        y = band.get_paths()[0].vertices[:, 1]
        lo, hi = res.posterior["ci90"]["failure_4h"]["mean"]
        assert y.min() == pytest.approx(lo[1]) and y.max() == pytest.approx(hi[1])  # the one dose > 0
    finally:
        pyplot().close(fig)


@pytest.mark.parametrize("kw, message", [
    (dict(species="human", route="iv", readouts="cmax", posterior={}), r"^posterior: the posterior is of the "),
    (dict(posterior_draws=3), r"^posterior_draws: expected 1 to n \(2\)"),
    (dict(posterior_draws=0), r"^posterior_draws: expected 1 to n"),
])
def test_bad_posterior_input_is_refused_before_any_simulation(kw, message, monkeypatch):
    import pkpd.cohort as pc

    monkeypatch.setattr(pc, "run_cohort", lambda *a, **k: pytest.fail("simulated despite bad input"))
    args = dict(n=2, posterior=_two_sets())
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        dose_response([1, 10], **args)


@pytest.mark.parametrize("kw, message", [
    (dict(doses=[1, 0.3, 3]), r"^doses: expected a strictly increasing"),
    (dict(doses=[1, 1, 3]), r"^doses: expected a strictly increasing"),
    (dict(doses=[-1, 1]), r"^doses: expected doses >= 0"),
    (dict(doses=[]), r"^doses: expected at least one dose"),
    (dict(doses=[1, float("nan")]), r"^doses: expected finite"),
    (dict(doses=["a"]), r"^doses: expected numbers"),
    (dict(readouts=["failure_5h"]), r"^readouts: unknown readout 'failure_5h'; expected one of failure_baseline, "),
    (dict(species="human", route="iv", readouts="failure_4h"), r"^readouts: 'failure_4h' needs the circuit model"),
    (dict(n=0), r"^n: expected a positive number"),
    (dict(route="xyz"), r"^route: unknown route 'xyz'"),
    (dict(species="human", route="ip", readouts="cmax"), r"^route: 'ip' is not available"),
    (dict(species="rat"), r"^species"),
    (dict(duration_h=24.0), r"^duration: "),
    (dict(chunk_size=0), r"^chunk_size: "),
])
def test_bad_input_is_refused_before_any_simulation(kw, message, monkeypatch):
    import pkpd.cohort as pc

    monkeypatch.setattr(pc, "run_cohort", lambda *a, **k: pytest.fail("simulated despite bad input"))
    args = dict(doses=[1, 10], n=2)
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        dose_response(args.pop("doses"), **args)


def test_unknown_readout_lists_the_valid_ones_for_the_species():
    with pytest.raises(ValueError) as e:
        dose_response([1, 10], species="human", route="iv", readouts="bogus")
    msg = str(e.value)
    assert "cmax" in msg and "occupancy_peak" in msg and "failure_4h" not in msg


def _synthetic(curve, doses=(0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0), readout="failure_4h", route="ip"):
    """A DoseResponseResult built from a known curve (no simulation): the plot's oracle."""
    d = np.asarray(doses, float)
    m = curve(d)
    sem = np.full(d.size, 0.01)
    st = {"mean": m, "sem": sem, "p5": m - 0.05, "p50": m, "p95": m + 0.05, "n_solved": np.full(d.size, 10)}
    return DoseResponseResult(d, (readout,), {readout: st}, {readout: analyse_dose_response(d, m, sem)},
                              {"species": "mouse", "route": route, "n": 10, "seed": 0, "protocol": "slh"}, (), 0.0)


def test_plot_axes_hill_curve_and_files(tmp_path):
    from pkpd.figures import pyplot, read_png_metadata

    res = _synthetic(lambda d: hill(d, 0.8, -0.7, 3.0, 1.5))
    fig, paths = plot_dose_response(res, tmp_path / "dr.png")
    try:
        (ax,) = fig.axes
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() == "dose (mg/kg, i.p.)"
        assert ax.get_ylabel() == "P(failure), 4 h after the dose (fraction)"
        labels = [line.get_label() for line in ax.get_lines()]
        assert any(lbl.startswith("Hill fit, ED50 3 mg/kg") for lbl in labels)
        assert "0 mg/kg (mean)" in labels  # dose 0 as a horizontal line, not on the log axis
        hill_line = next(line for line in ax.get_lines() if line.get_label().startswith("Hill fit"))
        x, y = hill_line.get_data()
        assert x[0] == pytest.approx(0.3) and x[-1] == pytest.approx(100.0)
        np.testing.assert_allclose(y, hill(x, 0.8, -0.7, 3.0, 1.5), rtol=1e-6)  # the fit recovers the curve
    finally:
        pyplot().close(fig)
    assert [p.name for p in paths] == ["dr.png", "dr.svg"] and all(p.exists() for p in paths)
    assert read_png_metadata(paths[0])["Title"] == "dose-response (failure_4h)"


def test_plot_marks_an_inverted_u(tmp_path):
    from pkpd.figures import pyplot

    res = _synthetic(lambda d: hill(d, 1.0, 1.0, 3.0, 2.0) - hill(d, 0.0, 1.5, 40.0, 2.0), readout="mpfc_1h",
                     route="sc")
    fig, paths = plot_dose_response(res)
    try:
        (ax,) = fig.axes
        assert paths == []
        assert ax.get_xlabel() == "dose (mg/kg, s.c.)" and ax.get_xscale() == "log"
        marker = [line for line in ax.get_lines() if line.get_label().startswith("non-monotonic")]
        assert len(marker) == 1 and marker[0].get_xdata()[0] == 10.0
        assert not any(line.get_label().startswith("Hill fit") for line in ax.get_lines())
    finally:
        pyplot().close(fig)


def test_plot_refuses_a_readout_not_in_the_study():
    with pytest.raises(ValueError, match="^readout: 'cmax' is not in this study"):
        plot_dose_response(_synthetic(lambda d: d), readout="cmax")
