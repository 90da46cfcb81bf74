"""`ketamine simulate` and `ketamine experiment`: options reach the library exactly; files are written; bad
input is exit code 2 without a traceback."""

import csv
import json

import pytest
from typer.testing import CliRunner

import cli

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_experiment_options_reach_the_library(monkeypatch, tmp_path):
    seen = {}

    def spy(out, n, seed, progress, params):
        seen.update(out=out, n=n, seed=seed, params=params)
        progress(1.0)
        return {"ok": 1}

    monkeypatch.setattr("circuits.figures.write_wu2021", spy)
    args = ["experiment", "wu2021", "--out", str(tmp_path / "d"), "--n", "7", "--seed", "3", "--param", "g_h=60",
            "--json", "--no-posterior"]
    monkeypatch.setattr("sys.argv", ["ketamine", *args])
    res = runner.invoke(cli.app, args)
    assert res.exit_code == 0, res.output
    assert seen == {"out": tmp_path / "d", "n": 7, "seed": 3, "params": {"g_h": "60"}}
    assert json.loads(res.stdout) == {"ok": 1}
    # the provenance `ketamine report` prints: the exact command and the inputs
    rec = json.loads((tmp_path / "d" / "command.json").read_text())
    assert rec["command"] == "ketamine " + " ".join(args)
    [override] = rec["inputs"].pop("overrides")  # every override, with its unit and default
    assert override["name"] == "g_h" and override["value"] == 60.0 and override["given"] == "60"
    assert rec["inputs"] == {"experiment": "wu2021", "n": 7, "seed": 3}


def test_experiment_prints_the_replication_table_by_default(monkeypatch, tmp_path):
    # without --json the summary is read as the README reads it: calibration and validation rows, misses said
    from tests.circuits.test_report_table import _summary

    monkeypatch.setattr("circuits.figures.write_wu2021", lambda out, n, seed, progress, params, **post: _summary())
    res = runner.invoke(cli.app, ["experiment", "wu2021", "--out", str(tmp_path / "d"), "--n", "3"])
    assert res.exit_code == 0, res.output
    assert "Calibration targets" in res.stdout and "controls.cno_alone_hm4di_lh" in res.stdout
    assert "missed" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["experiment", "wu2020", "--out", "x"], "unknown experiment 'wu2020'; expected one of wu2021"),
    (["experiment", "wu2021", "--out", "x", "--n", "0"], "n: expected a cohort of at least 1 mouse, got 0"),
    (["simulate", "--protocol", "xlh"], "protocol: unknown 'xlh'"),
    (["simulate", "--manipulation", "lobotomy"], "manipulation: unknown 'lobotomy'"),
    (["simulate", "--subjects", "0"], "subjects: expected at least 1 mouse, got 0"),
    (["simulate", "--dose", "10mg/kg", "--step", "-1h"], "step"),
    (["simulate", "--out", "x.txt"], "out: 'x.txt' must end in one of .csv, .json, .parquet"),
    (["simulate", "--route", "ip"], "dose: --route/--infusion-time need --dose"),
])
def test_bad_input_is_exit_code_2_without_traceback(args, message):
    res = runner.invoke(cli.app, args)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_simulate_writes_timecourses_tests_and_plot(tmp_path):
    out, plot = tmp_path / "slh.csv", tmp_path / "slh.png"
    res = runner.invoke(cli.app, ["simulate", "--protocol", "slh", "--dose", "10mg/kg", "--step", "4h",
                                  "--out", str(out), "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln]
    assert lines[0] == "subject,test,time_h,da_response_rel,failure_rate,latency_s"
    rows = {r[1]: r for r in csv.reader(lines[1:])}
    assert set(rows) == {"baseline", "lh", "4h"}       # Wu 2021 Fig 1: one test 4 h after ketamine
    # the typical mouse: helpless after induction, fewer failures 4 h after ketamine (directions; the size of the
    # sLH rescue is a recorded miss, tests/circuits/test_experiments.py)
    assert float(rows["lh"][4]) > float(rows["baseline"][4]) + 0.3
    assert float(rows["4h"][4]) < float(rows["lh"][4]) - 0.02
    with open(out) as fh:
        table = list(csv.DictReader(fh))
    assert {"time_h", "occupancy_mpfc_interneuron", "r_e", "r_d1", "r_da", "rho", "A", "w", "da_response_rel",
            "p_fail"} <= set(table[0])
    assert plot.stat().st_size > 10_000
    assert plot.with_suffix(".svg").exists()  # the SVG twin
    from pkpd.figures import read_png_metadata

    meta = json.loads(read_png_metadata(plot)["Description"])
    assert meta["protocol"]["name"] == "slh" and meta["subjects"] == 1 and meta["command"].startswith("ketamine")


def test_params_circuit_lists_every_circuit_parameter():
    from circuits.model import parameter_rows

    res = runner.invoke(cli.app, ["params", "--circuit", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == len(parameter_rows())
    by = {r["name"]: r for r in rows}
    assert by["tau_e_s"]["value"] == 0.1 and by["tau_e_s"]["unit"] == "s" and by["tau_e_s"]["kind"] == "published"
    assert "Deco et al. 2014" in by["tau_e_s"]["source"]
    assert by["cumhaz_10s"]["kind"] == "calibrated" and "2.19 %" in by["cumhaz_10s"]["source"]
    assert by["cno_half_life_h"]["kind"] == "assumed" and "Jendryka et al. 2019" in by["cno_half_life_h"]["source"]
