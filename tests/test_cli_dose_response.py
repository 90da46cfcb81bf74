"""`ketamine dose-response`: options reach circuits.studies.dose_response exactly; the table, the study record
(read by `ketamine report`) and the figure are written; bad input is a one-line error with exit code 2."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from circuits.studies import DoseResponseResult
from pkpd import __version__
from pkpd.emax import analyse_dose_response, hill

runner = CliRunner()


def _fake_result(doses, readouts):
    d = np.asarray(doses, float)
    stats, analysis = {}, {}
    for r in readouts:
        m = hill(d, 0.9, -0.8, 3.0, 1.2)
        stats[r] = {"mean": m, "sem": np.full(d.size, 0.01), "p5": m - 0.1, "p50": m, "p95": m + 0.1,
                    "n_solved": np.full(d.size, 7, np.int64)}
        analysis[r] = analyse_dose_response(d, m, stats[r]["sem"], unit="mg/kg")
    return DoseResponseResult(d, tuple(readouts), stats, analysis,
                              {"species": "mouse", "route": "ip", "n": 7, "seed": 5, "protocol": "slh",
                               "doses_mg_per_kg": d.tolist()}, (), 0.1)


@pytest.fixture
def fake(monkeypatch):
    seen = {}

    def fake_dose_response(doses, **kw):
        seen.update(doses=doses, **kw)
        kw["progress"](1, 2)
        return _fake_result(doses, kw["readouts"] or ["failure_4h"])

    monkeypatch.setattr("circuits.studies.dose_response", fake_dose_response)
    return seen


def test_options_reach_the_library_exactly(tmp_path, fake, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(cli.app, ["dose-response", "--species", "mouse", "--route", "ip", "--doses",
                                  "0,0.3,1,3,10,30,100", "--n", "7", "--seed", "5", "--readout", "failure_4h,mpfc_1h",
                                  "--readout", "cmax", "--out", "dr.csv", "--plot", "fig/dr.png", "--work-dir", "w",
                                  "--resume", "--chunk-size", "3", "--infusion-time", "40min", "--duration", "2d",
                                  "--no-posterior"])
    assert res.exit_code == 0, res.output
    progress = fake.pop("progress")
    assert callable(progress)
    assert fake == {"doses": [0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0], "species": "mouse", "route": "ip", "n": 7,
                    "seed": 5, "readouts": ["failure_4h", "mpfc_1h", "cmax"], "work_dir": Path("w"), "chunk_size": 3,
                    "resume": True, "infusion_time_h": 40 / 60,
                    "duration_h": 48.0, "params": {}}
    rows = list(csv.DictReader(open(tmp_path / "dr.csv")))
    assert len(rows) == 7 * 3 and rows[0]["readout"] == "failure_4h" and float(rows[0]["dose_mg_per_kg"]) == 0.0
    rec = json.loads((tmp_path / "dr.study.json").read_text())
    assert rec["kind"] == "dose_response" and rec["version"] == __version__
    assert rec["command"].startswith("ketamine ")
    assert set(rec) >= {"kind", "command", "version", "inputs", "results", "figures"}
    assert rec["figures"] == ["fig/dr.png", "fig/dr.svg"] and (tmp_path / "fig" / "dr.png").exists()
    assert rec["results"]["failure_4h"]["analysis"]["fit"]["ed50"] == pytest.approx(3.0, rel=1e-6)
    assert "Hill fit: ED50 = 3 mg/kg" in res.stdout


def test_defaults_and_work_dir_beside_out(tmp_path, fake):
    out = tmp_path / "sub" / "study.csv"
    res = runner.invoke(cli.app, ["dose-response", "--doses", "1,10,100", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert fake["work_dir"] == tmp_path / "sub" / "study_runs"
    assert (fake["species"], fake["route"], fake["n"], fake["seed"], fake["readouts"], fake["resume"],
            fake["chunk_size"], fake["infusion_time_h"], fake["duration_h"]) == \
        ("mouse", "ip", 1000, 0, None, False, 1000, None, None)
    assert json.loads((tmp_path / "sub" / "study.study.json").read_text())["figures"] == []
    # the stored posterior matches this model (tests/circuits/test_uncertainty.py): on by default, K = 20
    assert fake["posterior_draws"] == 20 and fake["posterior"]["sets"].shape[0] >= 200


def test_no_out_no_files(tmp_path, fake, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(cli.app, ["dose-response", "--doses", "1,10,100", "--species", "human", "--route", "iv"])
    assert res.exit_code == 0, res.output
    assert fake["work_dir"] is None and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--doses", "1,0.3,3"], "doses: expected a strictly increasing dose grid"),
    (["--doses", "-1,3"], "doses: expected doses >= 0"),
    (["--doses", "1,a"], "doses: expected comma-separated numbers"),
    (["--doses", "1,3", "--readout", "bogus"], "readouts: unknown readout 'bogus'; expected one of failure_baseline"),
    (["--doses", "1,3", "--species", "human", "--route", "iv", "--readout", "failure_4h"],
     "readouts: 'failure_4h' needs the circuit model"),
    (["--doses", "1,3", "--n", "0"], "n: expected a positive number"),
    (["--doses", "1,3", "--route", "xyz"], "route: unknown route 'xyz'"),
    (["--doses", "1,3", "--out", "dr.txt"], "out: 'dr.txt' must end in one of .csv"),
    (["--doses", "1,3", "--plot", "dr.gif"], "plot: 'dr.gif' must end in one of .png"),
    (["--doses", "1,3", "--resume"], "resume: expected --work-dir or --out"),
    (["--doses", "1,3", "--infusion-time", "soon"], "infusion-time"),
    (["--doses", "1,3", "--species", "human", "--route", "iv", "--posterior"],
     "posterior: the posterior is of the circuit's parameters; the human study is PK only"),
])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path, monkeypatch):
    """Through the real library (its validation runs before any simulation)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("pkpd.cohort.run_cohort", lambda *a, **k: pytest.fail("simulated despite bad input"))
    res = runner.invoke(cli.app, ["dose-response", *args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.output


def _stale(tmp_path):
    bad = tmp_path / "stale.json"
    bad.write_text(json.dumps({"format": 1, "model_version": "0000000000000000", "names": [], "sets": []}))
    return bad


def test_posterior_stale_file_explicit_exits_2_default_falls_back(tmp_path, fake, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("pkpd.cohort.run_cohort", lambda *a, **k: pytest.fail("simulated despite bad input"))
    bad = _stale(tmp_path)
    res = runner.invoke(cli.app, ["dose-response", "--doses", "1,10", "--out", "dr.csv", "--posterior",
                                  "--posterior-file", str(bad)])
    assert res.exit_code == 2 and "model version 0000000000000000" in res.stderr
    assert len(res.output.strip().splitlines()) == 1 and fake == {} and not (tmp_path / "dr.csv").exists()
    res = runner.invoke(cli.app, ["dose-response", "--doses", "1,10", "--posterior-file", str(bad)])
    assert res.exit_code == 0 and "note: point estimate only (posterior:" in res.stderr
    assert "posterior" not in fake and "posterior_draws" not in fake


def test_posterior_is_off_for_the_human_pk_study(tmp_path, fake):
    res = runner.invoke(cli.app, ["dose-response", "--doses", "1,10", "--species", "human", "--route", "iv"])
    assert res.exit_code == 0 and "posterior" not in fake and "note:" not in res.stderr


def test_posterior_draws_are_at_most_n(tmp_path, fake):
    res = runner.invoke(cli.app, ["dose-response", "--doses", "1,10", "--n", "3"])
    assert res.exit_code == 0 and fake["posterior_draws"] == 3
    res = runner.invoke(cli.app, ["dose-response", "--doses", "1,10", "--posterior-draws", "100000"])
    assert res.exit_code == 2 and "posterior_draws: expected 1 to" in res.stderr


def test_real_run_no_posterior_is_the_point_study_and_posterior_adds_intervals(tmp_path):
    """Through the real library (n = 4, 2 doses): --no-posterior writes exactly the table of the study without a
    posterior; --posterior (K = 2) writes the library's posterior study, medians with 90 % intervals."""
    from circuits.posterior import load_posterior
    from circuits.studies import dose_response

    base = ["dose-response", "--doses", "0,10", "--n", "4", "--seed", "3", "--readout", "failure_4h,cmax"]
    res = runner.invoke(cli.app, [*base, "--no-posterior", "--out", str(tmp_path / "a.csv")])
    assert res.exit_code == 0, res.output
    point = dose_response([0, 10], n=4, seed=3, readouts=["failure_4h", "cmax"])
    assert [{k: (float(v) if k not in ("readout", "column", "unit") else v) for k, v in row.items()}
            for row in csv.DictReader(open(tmp_path / "a.csv"))] == point.table()
    assert "posterior" not in res.stdout and "posterior" not in json.loads((tmp_path / "a.study.json").read_text())
    res = runner.invoke(cli.app, [*base, "--posterior", "--posterior-draws", "2", "--out", str(tmp_path / "b.csv")])
    assert res.exit_code == 0, res.output
    post = dose_response([0, 10], n=4, seed=3, readouts=["failure_4h", "cmax"], posterior=load_posterior(),
                         posterior_draws=2)
    rows = list(csv.DictReader(open(tmp_path / "b.csv")))
    assert [float(r["mean_ci90_hi"]) for r in rows] == [r["mean_ci90_hi"] for r in post.table()]
    assert [float(r["mean"]) for r in rows] == [r["mean"] for r in post.table()]
    assert "# medians over 2 posterior parameter sets (2 subjects each)" in res.stdout
    rec = json.loads((tmp_path / "b.study.json").read_text())
    assert rec["posterior"]["draws"] == 2 and rec["posterior"]["model_version"] == load_posterior()["model_version"]
