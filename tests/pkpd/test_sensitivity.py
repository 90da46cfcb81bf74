"""Global sensitivity through the code path `ketamine sensitivity` uses (pkpd.sensitivity.run_sensitivity on a
model evaluated by the engine): the Ishigami function's analytic Sobol indices, Morris ranks, the convergence
check, resumable chunks, bad input before computing, and ST = 0 for parameters that cannot affect a readout."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from pkpd.ode.examples import ishigami, ishigami_indices
from pkpd.sensitivity import Factor, check_request, engine_model, factor, read_ranges, run_sensitivity

runner = CliRunner()
X3 = ("x1", "x2", "x3")


@pytest.fixture(scope="module")
def ishigami_model():
    """The Ishigami function (a = 7, b = 0.1) as an OdeSystem whose state at t = 1 is the function value."""
    return engine_model(ishigami(), X3, ["y"], base_params={"a": 7.0, "b": 0.1})


def _factors():
    return [Factor(n, -np.pi, np.pi) for n in X3]


def test_ishigami_sobol_indices_within_their_bootstrap_cis(ishigami_model, tmp_path):
    """Each estimate's 95 % bootstrap interval contains the analytic index (seeded, so the draw is fixed)."""
    res = run_sensitivity(ishigami_model, _factors(), ["y"], method="sobol", n=1024, seed=1, out=tmp_path / "s")
    exact = ishigami_indices(7.0, 0.1)
    ix = res.indices["y"]
    for k in ("S1", "ST"):
        assert np.all(np.abs(ix[k] - exact[k]) <= ix[f"{k}_conf"]), (k, ix[k], ix[f"{k}_conf"], exact[k])
    # the interval is informative: narrower than the spread of the exact indices
    assert np.all(ix["ST_conf"] < 0.1)
    with open(tmp_path / "s" / "indices.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["readout", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert [r["parameter"] for r in rows] == list(X3)
    assert float(rows[2]["ST"]) == pytest.approx(ix["ST"][2], rel=1e-12)
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["ranking"]["y"] == ["x1", "x2", "x3"]
    assert (tmp_path / "s" / "indices.png").stat().st_size > 0


def test_convergence_check_is_the_run_at_half_n(ishigami_model):
    """The indices reported 'at N/2' are exactly those of a run with N/2 (the Sobol' sample's first half is the
    sample of size N/2), and the change from N/2 to N is what the summary says."""
    full = run_sensitivity(ishigami_model, _factors(), ["y"], method="sobol", n=256, seed=3)
    half = run_sensitivity(ishigami_model, _factors(), ["y"], method="sobol", n=128, seed=3)
    conv = full.summary["convergence"]["y"]
    assert [conv["half"]["ST"][n] for n in X3] == pytest.approx(list(half.indices["y"]["ST"]), rel=1e-12)
    assert conv["max_abs_change"]["ST"] == pytest.approx(
        np.max(np.abs(full.indices["y"]["ST"] - half.indices["y"]["ST"])), rel=1e-12)


def test_ishigami_morris_ranks_x1_x2_above_x3(ishigami_model, tmp_path):
    res = run_sensitivity(ishigami_model, _factors(), ["y"], method="morris", n=64, seed=1, out=tmp_path / "m")
    mu = res.indices["y"]["mu_star"]
    assert min(mu[0], mu[1]) > mu[2]
    with open(tmp_path / "m" / "indices.csv") as fh:
        assert next(csv.reader(fh)) == ["readout", "parameter", "mu_star", "mu_star_conf", "sigma"]


def test_chunks_resume_without_evaluating_again(ishigami_model, tmp_path):
    calls = []

    def counted(X):
        calls.append(len(X))
        return ishigami_model(X)

    out = tmp_path / "r"
    first = run_sensitivity(counted, _factors(), ["y"], method="sobol", n=16, seed=0, out=out, chunk_size=25)
    assert sum(calls) == 16 * 5 and len(list((out / "chunks").glob("chunk_*.npy"))) == 4  # 80 runs in 25s
    (out / "chunks" / "chunk_00002.npy").unlink()  # as if interrupted during the third chunk
    calls.clear()
    again = run_sensitivity(counted, _factors(), ["y"], method="sobol", n=16, seed=0, out=out, chunk_size=25,
                            resume=True)
    assert calls == [25]
    assert np.array_equal(first.indices["y"]["ST"], again.indices["y"]["ST"])
    with pytest.raises(ValueError, match="resume: the run in .* differs in seed"):
        run_sensitivity(counted, _factors(), ["y"], method="sobol", n=16, seed=1, out=out, chunk_size=25,
                        resume=True)
    with pytest.raises(ValueError, match="is not empty; use --resume"):
        run_sensitivity(counted, _factors(), ["y"], method="sobol", n=16, seed=0, out=out, chunk_size=25)


@pytest.mark.slow
def test_dask_scheduler_gives_the_in_process_result(tmp_path):
    """Chunks evaluated on a Dask LocalCluster come back to the same outputs and indices as in-process ones."""
    def model(X):  # the Ishigami function in closed form (a = 7, b = 0.1), sent to the workers by value
        import numpy as np
        return (np.sin(X[:, 0]) + 7 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0]))[:, None]

    here = run_sensitivity(model, _factors(), ["y"], method="sobol", n=64, seed=0, chunk_size=50)
    dask = run_sensitivity(model, _factors(), ["y"], method="sobol", n=64, seed=0, chunk_size=50,
                           out=tmp_path / "d", scheduler="local")
    assert np.array_equal(here.indices["y"]["ST"], dask.indices["y"]["ST"])
    assert len(list((tmp_path / "d" / "chunks").glob("chunk_*.npy"))) == 7  # 320 runs in 50s
    with pytest.raises(ValueError, match="scheduler: expected none"):
        run_sensitivity(model, _factors(), ["y"], method="sobol", n=8, seed=0, scheduler="nowhere")


def test_bad_requests_fail_before_computing(tmp_path):
    f = _factors()
    with pytest.raises(ValueError, match="n: sobol needs N a power of 2 and at least 8"):
        check_request("sobol", 100, f)
    with pytest.raises(ValueError, match="n: sobol needs"):
        check_request("sobol", 4, f)
    with pytest.raises(ValueError, match="n: morris needs at least 4"):
        check_request("morris", 2, f)
    with pytest.raises(ValueError, match="method: expected one of sobol, morris"):
        check_request("fast", 64, f)
    r = tmp_path / "r.toml"
    r.write_text("cl_L_per_h = [2.0, 1.0]\n")
    with pytest.raises(ValueError, match=r"ranges: cl_L_per_h: expected lo < hi .* got \[2, 1\]"):
        read_ranges(r)
    c = tmp_path / "r.csv"
    c.write_text("name,lo,hi\nkp_brain,1,10\nv_L,0.1\n")
    with pytest.raises(ValueError, match="ranges: v_L: expected two numbers"):
        read_ranges(c)
    c.write_text("name,lo,hi\nkp_brain,1,10\n")
    assert read_ranges(c) == {"kp_brain": (1.0, 10.0)}


def test_log_uniform_where_bounds_span_more_than_a_decade():
    assert factor("k", 1e-3, 1e3).log and not factor("f", 0.0, 1.0).log and not factor("v", 1.0, 10.0).log
    z = np.array([-3.0, 0.0, 3.0 + 1e-15])
    assert list(factor("k", 1e-3, 1e3).to_value(z)) == pytest.approx([1e-3, 1.0, 1e3], rel=1e-12)
    assert factor("k", 1e-3, 1e3).to_value(z).max() <= 1e3  # never past the bound by rounding


def _sens(tmp_path, *extra):
    return runner.invoke(cli.app, ["sensitivity", "--out", str(tmp_path / "cli"), *extra])


def test_parameters_that_cannot_affect_a_readout_get_st_zero(tmp_path):
    """Mouse PK readouts against the mouse clearance (which drives them), a circuit parameter (g_h: the PK does
    not see the circuit) and the female clearance factor (the subject is male): the last two get ST = 0 and S1 =
    0 exactly (the outputs do not depend on them), through the CLI; clearance, the only input left, has S1 = ST
    = 1 within the bootstrap intervals."""
    r = tmp_path / "r.toml"
    r.write_text("cl_L_per_h = [0.1, 0.6]\ng_h = [40, 160]\nfemale_cl_factor = [0.5, 2]\n")
    res = _sens(tmp_path, "--readout", "plasma_ketamine.auc_0_t_uM_h,nmda_occupancy_interneuron.peak",
                "--params", "cl_L_per_h,g_h,female_cl_factor", "--ranges", str(r), "--n", "64")
    assert res.exit_code == 0, res.output
    with open(tmp_path / "cli" / "indices.csv") as fh:
        rows = {(row["readout"], row["parameter"]): row for row in csv.DictReader(fh)}
    for ro in ("plasma_ketamine.auc_0_t_uM_h", "nmda_occupancy_interneuron.peak"):
        cl = rows[(ro, "cl_L_per_h")]
        for k in ("S1", "ST"):
            assert abs(float(cl[k]) - 1.0) <= float(cl[f"{k}_conf"]), (ro, k, cl)
        for p in ("g_h", "female_cl_factor"):
            assert float(rows[(ro, p)]["ST"]) == 0.0 and float(rows[(ro, p)]["S1"]) == 0.0
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["factors"][0] == {"name": "cl_L_per_h", "lo": 0.1, "hi": 0.6, "unit": "L/h",
                                     "distribution": "uniform"}
    assert json.loads((tmp_path / "cli" / "command.json").read_text())["inputs"]["n"] == 64


def test_pk_block_readouts_equal_the_pk_summary():
    """The batched engine path reads the same numbers as `ketamine pk --summary` for each sample: areas by the same
    quadrature (engine at rtol 1e-8 against the exact matrix exponential: within 1e-8); peaks by a parabola through
    the grid's three highest points where the summary refines on the solution (measured: 5e-6 in the peak, 1.3e-4 h
    in its time; asserted 1e-5 and 2e-4 h)."""
    from pkpd.dosing import Regimen
    from pkpd.pk import simulate_pk
    from pkpd.pk_readouts import PkReadouts

    reg = Regimen.single("10mg/kg", "ip")
    pr = PkReadouts(reg, 4.0)
    keys = ["plasma_ketamine.cmax_uM", "brain_free_ketamine.auc_0_t_uM_h", "plasma_norketamine.tmax_h",
            "plasma_ketamine.cmax_ng_per_ml", "nmda_occupancy_interneuron.area_h", "plasma_ketamine.half_life_h"]
    X = np.array([[0.2, 4.0, 10.0], [0.5, 9.0, 30.0]])
    Y = pr.model_function(["cl_L_per_h", "kp_brain", "route.ip.ka_per_h"], keys)(X)
    for x, y in zip(X, Y):
        s = simulate_pk(reg, 4.0, params={"cl_L_per_h": x[0], "kp_brain": x[1], "route.ip.ka_per_h": x[2]}).summary()
        for k, v in zip(keys, y):
            group, metric = k.split(".")
            if metric.startswith(("tmax", "t_peak")):
                assert v == pytest.approx(s[group][metric], abs=2e-4), k
            elif metric.startswith(("cmax", "peak")):
                assert v == pytest.approx(s[group][metric], rel=1e-5), k
            else:  # areas, and the half-life read from simulate_pk itself
                assert v == pytest.approx(s[group][metric], rel=1e-8, abs=1e-12), k


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    r = tmp_path / "r.toml"
    r.write_text("cl_L_per_h = [0.6, 0.1]\n")
    cases = [
        (["--readout", "plasma_ketamine.cmax_uM", "--n", "100"], "n: sobol needs N a power of 2"),
        (["--readout", "plasma_ketamine.cmax_uM", "--method", "morris", "--n", "2"], "n: morris needs at least 4"),
        (["--readout", "plasma_ketamine.cmax", "--n", "16"], "unknown readout 'plasma_ketamine.cmax'"),
        (["--readout", "plasma_ketamine.cmax_uM", "--ranges", str(r)], "ranges: cl_L_per_h: expected lo < hi"),
        (["--readout", "plasma_ketamine.cmax_uM", "--params", "cl_L_per_h,clearence"], "unknown parameter"),
    ]
    for args, msg in cases:
        res = _sens(tmp_path, *args)
        assert res.exit_code == 2 and msg in res.stderr, res.output
        assert len(res.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "cli" / "chunks").exists()  # nothing was computed
    listing = runner.invoke(cli.app, ["sensitivity", "--list"])
    assert listing.exit_code == 0
    assert "  plasma_ketamine.cmax_uM" in listing.stdout and "  slh.failure_rate.4h" in listing.stdout
    assert "[circuit.plasticity]" in listing.stdout and "g_h" in listing.stdout
