"""`ketamine cohort` and `ketamine cohort summarize`: options reach the library exactly; bad input is a one-line
error with exit code 2."""

import json

import pytest
from typer.testing import CliRunner

import cli
from pkpd.cohort import CohortRun

runner = CliRunner()


def test_options_reach_run_cohort_exactly(tmp_path, monkeypatch):
    seen = {}

    def fake_run(spec, out, **kw):
        seen.update(spec=spec, out=out, **kw)
        kw["progress"](spec.n, spec.n)
        return CohortRun(out, {}, {"n": spec.n, "n_ok": spec.n, "n_failed": 0, "failures": {}}, 2, 0, 0.5)

    monkeypatch.setattr("pkpd.cohort.run_cohort", fake_run)
    res = runner.invoke(cli.app, ["cohort", "--n", "1000", "--species", "mouse", "--dose", "10mg/kg", "--route",
                                  "ip", "--out", str(tmp_path / "c1"), "--seed", "7", "--chunk-size", "400",
                                  "--scheduler", "local", "--workers", "2", "--resume", "--trajectories",
                                  "--duration", "7d"])
    assert res.exit_code == 0, res.output
    spec = seen["spec"]
    assert (spec.n, spec.species, spec.seed, spec.duration_h, spec.trajectories) == (1000, "mouse", 7, 168.0, True)
    d = spec.regimen.doses[0]
    assert (d.time_h, d.amount.value, d.amount.unit, d.route) == (0.0, 10.0, "mg/kg", "ip")
    assert seen["out"] == tmp_path / "c1"
    assert (seen["chunk_size"], seen["scheduler"], seen["resume"], seen["n_workers"]) == (400, "local", True, 2)
    assert json.loads(res.stdout)["n_ok"] == 1000
    assert "memory estimate" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--n", "0", "--dose", "10mg/kg"], "n: expected a positive number of subjects"),
    (["--n", "10"], "dose: expected --dose"),
    (["--n", "10", "--dose", "10mg/kg", "--protocol", "xyz"], "protocol: unknown 'xyz'"),
    (["--n", "10", "--dose", "10mg/kg", "--protocol", "slh", "--duration", "24h"], "duration: the slh protocol"),
    (["--n", "10", "--dose", "10mg/kg", "--protocol", "wlh", "--species", "human"], "species: the circuit protocol"),
    (["--n", "10", "--dose", "10mg/kg", "--chunk-size", "0"], "chunk-size: expected a positive"),
    (["--n", "10", "--dose", "10mg/kg", "--species", "rat"], "species: unknown species"),
    (["--n", "100000000", "--dose", "10mg/kg", "--chunk-size", "100000000"], "GiB"),
    (["--n", "10", "--dose", "10mg/kg", "--manipulation", "mtor_block"], "manipulation: only the circuit protocols"),
    (["--n", "10", "--dose", "10mg/kg", "--protocol", "slh", "--manipulation", "xyz"],
     "manipulation: unknown 'xyz'; expected one of none, da_silencing"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    res = runner.invoke(cli.app, ["cohort", *args, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.output


def test_a_manipulation_selects_the_manipulated_circuit_protocol(tmp_path, monkeypatch):
    seen = {}

    def fake_run(spec, out, **kw):
        seen.update(spec=spec)
        return CohortRun(out, {}, {"n": spec.n, "n_ok": spec.n, "n_failed": 0, "failures": {}}, 1, 0, 0.1)

    monkeypatch.setattr("pkpd.cohort.run_cohort", fake_run)
    res = runner.invoke(cli.app, ["cohort", "--n", "10", "--dose", "10mg/kg", "--protocol", "slh",
                                  "--manipulation", "spine_block", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    from circuits.cohort import protocol_duration_h

    spec = seen["spec"]
    assert spec.protocol.name == "slh+spine_block"
    assert spec.duration_h == protocol_duration_h("slh+spine_block", spec.regimen)
    assert spec.protocol.protocol(spec).overrides == {"spine_block": 1.0}


@pytest.mark.slow
def test_summarize_prints_and_draws(tmp_path):
    from pkpd.cohort import CohortSpec, run_cohort
    from pkpd.dosing import Regimen

    run_cohort(CohortSpec(n=12, regimen=Regimen.single("10mg/kg", "ip"), duration_h=2.0), tmp_path / "r",
               chunk_size=6)
    res = runner.invoke(cli.app, ["cohort", "summarize", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "solved: 12   failed: 0" in res.stdout and "plasma_ketamine_cmax_uM" in res.stdout
    assert "10 mg/kg ip at 0 h, 2 h" in res.stdout  # a PK cohort's dose times are absolute
    assert (tmp_path / "r" / "bands.png").stat().st_size > 1000
    res = runner.invoke(cli.app, ["cohort", "summarize", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "holds no cohort manifest" in res.stderr


COHORT_DATA = """ID,TIME(h),AMT(mg/kg),EVID,ROUTE,DV,WT(g)
1,0,10,1,ip,.,20
1,0.5,.,0,.,3.1,20
1,2,.,0,.,1.2,20
2,0,30,1,ip,.,.
2,1,.,0,.,5.0,.
"""


def test_cohort_data_runs_the_datasets_subjects(tmp_path):
    """The run is the library's run of the dataset's design (same bits), subject by subject with its ID."""
    from pkpd.cohort import CohortSpec, read_subjects, run_cohort
    from pkpd.cohort.design import SubjectDesign
    from pkpd.dataset import read_dataset
    from pkpd.dosing import Regimen

    from tests.pkpd.cohort.common import bitwise_equal_tables

    src = tmp_path / "d.csv"
    src.write_text(COHORT_DATA)
    res = runner.invoke(cli.app, ["cohort", "--data", str(src), "--out", str(tmp_path / "run"), "--seed", "4",
                                  "--no-iiv"])
    assert res.exit_code == 0, res.output
    design = SubjectDesign.from_dataset(read_dataset(src))
    from pkpd.cohort import PkProtocol

    pop = PkProtocol().default_population("mouse", "mouse").without_iiv()
    ref = run_cohort(CohortSpec(n=2, regimen=Regimen(), duration_h=2.0, seed=4, design=design, population=pop),
                     tmp_path / "ref")
    bitwise_equal_tables(read_subjects(tmp_path / "run"), read_subjects(ref.path))
    tab = read_subjects(tmp_path / "run").to_pydict()
    assert tab["ID"] == ["1", "2"] and tab["weight_kg"][0] == 0.02
    assert tab["eta_cl_L_per_h"] == [0.0, 0.0]


@pytest.mark.parametrize("edit, args, message", [
    (lambda s: s.replace("2,1,.,0", "2,-1,.,0"), [], "d.csv row 5, column 'TIME'"),
    (lambda s: s.replace("1,0.5,.,0,.,3.1", "1,0.5,.,7,.,3.1"), [], "d.csv row 2, column 'EVID'"),
    (lambda s: s, ["--dose", "10mg/kg"], "dose: --data gives the doses"),
    (lambda s: s, ["--n", "3"], "n: d.csv holds 2 subjects, not 3"),
    (lambda s: s, ["--protocol", "slh"], "protocol: --data runs the pk protocol only"),
])
def test_cohort_bad_data_exits_2_naming_row_and_column_nothing_written(tmp_path, edit, args, message):
    src, out = tmp_path / "d.csv", tmp_path / "run"
    src.write_text(edit(COHORT_DATA))
    res = runner.invoke(cli.app, ["cohort", "--data", str(src), "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and res.stderr.count("\n") == 1
    assert not out.exists()
