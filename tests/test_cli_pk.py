"""`ketamine pk` and `ketamine params`: options reach the library exactly, files hold exactly the documented columns,
and every bad input is a one-line error with exit code 2 and no traceback."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from pkpd.dosing import Dose, Regimen
from pkpd.units import DoseAmount

runner = CliRunner()

COLUMNS = ["time_h", "plasma_ketamine_uM", "brain_ketamine_uM", "plasma_norketamine_uM", "brain_norketamine_uM",
           "plasma_ketamine_ng_per_ml", "nmda_occupancy_interneuron", "nmda_occupancy_pyramidal"]
MOUSE = ["pk", "--species", "mouse", "--route", "ip", "--dose", "10mg/kg", "--duration", "4h"]


def test_pk_csv_has_exactly_the_columns(tmp_path):
    out = tmp_path / "pk.csv"
    res = runner.invoke(cli.app, [*MOUSE, "--out", str(out)])
    assert res.exit_code == 0, res.output
    with open(out) as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == COLUMNS
    assert len(rows) == 1 + 481  # 4 h at the default 30-s step
    assert float(rows[-1][0]) == 4.0
    # the salt applied is stated: 10 mg/kg HCl for a 25 g mouse = 0.2168 mg base
    assert "hcl" in res.stderr and "0.2168 mg base" in res.stderr


def test_pk_json_has_exactly_the_columns_and_the_salt(tmp_path):
    out = tmp_path / "pk.json"
    res = runner.invoke(cli.app, [*MOUSE, "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["columns"] == COLUMNS and list(doc["data"]) == COLUMNS
    assert doc["metadata"]["doses"][0]["salt"] == "hcl" and doc["units"]["plasma_ketamine_ng_per_ml"] == "ng/mL"


def test_pk_parquet_has_exactly_the_columns(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "pk.parquet"
    res = runner.invoke(cli.app, [*MOUSE, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).column_names == COLUMNS


def test_pk_without_out_prints_the_csv():
    res = runner.invoke(cli.app, [*MOUSE, "--step", "1h"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split(",") == COLUMNS and len(lines) == 1 + 5


def test_pk_summary_is_a_table_of_the_json_values():
    # the default --summary is for reading: every concentration's Cmax, Tmax and AUCs and each occupancy's peak, to
    # 4 significant digits, the same numbers --json prints
    table = runner.invoke(cli.app, [*MOUSE, "--summary"])
    s = json.loads(runner.invoke(cli.app, [*MOUSE, "--summary", "--json"]).stdout)
    assert table.exit_code == 0 and not table.stdout.lstrip().startswith("{")
    for name in ("plasma_ketamine", "brain_free_norketamine"):
        for k in ("cmax_uM", "tmax_h", "auc_0_t_uM_h", "half_life_h"):
            assert f"{s[name][k]:.4g}" in table.stdout, (name, k)
    assert f"{s['nmda_occupancy_pyramidal']['peak']:.4g}" in table.stdout
    assert f"brain:plasma AUC ratio of ketamine: {s['brain_to_plasma_auc_ratio']:.4g}" in table.stdout


def test_pk_summary_is_json_with_exposure_metrics():
    res = runner.invoke(cli.app, [*MOUSE, "--summary", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["doses"][0]["salt"] == "hcl"
    # calibrated mouse: brain/plasma AUC ratio 6.5 (NCA over 4 h; see tests/pkpd/test_pk_models.py)
    assert s["brain_to_plasma_auc_ratio"] == pytest.approx(6.5, rel=2e-3)
    assert set(s["plasma_ketamine"]) >= {"cmax_uM", "tmax_h", "auc_0_t_uM_h", "auc_0_inf_uM_h", "half_life_h",
                                         "cmax_ng_per_ml"}
    assert 0 < s["nmda_occupancy_pyramidal"]["peak"] < s["nmda_occupancy_interneuron"]["peak"] < 1


def test_pk_plot(tmp_path, monkeypatch):
    import sys

    from pkpd.figures import read_png_metadata

    args = [*MOUSE, "--plot", str(tmp_path / "pk.png"), "--out", str(tmp_path / "pk.csv")]
    monkeypatch.setattr(sys, "argv", ["ketamine", *args])  # the command line the figure records
    res = runner.invoke(cli.app, args)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pk.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "pk.svg").read_text().lstrip().startswith("<?xml")  # the SVG twin
    meta = json.loads(read_png_metadata(tmp_path / "pk.png")["Description"])
    assert meta["command"] == "ketamine " + " ".join(args)
    assert (meta["species"], meta["doses"][0]["amount"], meta["doses"][0]["route"]) == ("mouse", 10.0, "ip")


def test_pk_options_reach_the_library_exactly(monkeypatch):
    import pkpd.pk as pk

    calls = []
    real = pk.simulate_pk

    def spy(regimen, duration_h, **kw):
        calls.append((regimen, duration_h, kw))
        return real(regimen, duration_h, **kw)

    monkeypatch.setattr(pk, "simulate_pk", spy)
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--route", "iv-infusion", "--dose", "0.5mg/kg",
                                  "--infusion-time", "40min", "--duration", "1d", "--weight", "80kg", "--sex",
                                  "female", "--pk-model", "fanta2015", "--salt", "hcl", "--summary",
                                  "--json"])
    assert res.exit_code == 0, res.output
    (regimen, duration_h, kw), = calls
    assert regimen == Regimen((Dose(0.0, DoseAmount(0.5, "mg/kg"), "iv-infusion", 40 / 60, "hcl"),))
    assert duration_h == 24.0
    assert kw == {"species": "human", "pk_model": "fanta2015", "weight_kg": 80.0, "sex": "female", "salt": "hcl",
                  "drug": None, "trapping": False, "t_eval": None, "backend": "auto", "params": {}}


def test_pk_regimen_file(tmp_path):
    reg = tmp_path / "course.csv"
    reg.write_text("time,amount,unit,route,duration,repeat,interval\n0h,0.5,mg/kg,iv-infusion,40min,3,48h\n")
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--regimen", str(reg), "--duration", "6d",
                                  "--summary", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert [d["time_h"] for d in s["doses"]] == [0.0, 48.0, 96.0]


@pytest.mark.parametrize("args,message", [
    (["--dose", "-1mg/kg", "--route", "ip"], "dose: expected a positive amount"),
    (["--dose", "0mg/kg", "--route", "ip"], "dose: expected a positive amount"),
    (["--dose", "10mg/lb", "--route", "ip"], "dose: unknown unit 'mg/lb'"),
    (["--dose", "10mg/kg", "--route", "ipp"], "route: unknown route 'ipp'"),
    (["--dose", "1mg/kg", "--route", "iv-infusion"], "duration: an iv-infusion needs a duration"),
    (["--dose", "1mg/kg", "--route", "ip", "--weight", "0"], "weight: 0 kg is outside the plausible range"),
    (["--species", "human", "--dose", "1mg/kg", "--route", "iv", "--weight", "5000kg"],
     "weight: 5000 kg is outside the plausible range 20–250 kg"),
    (["--species", "human", "--dose", "1mg/kg", "--route", "ip"], "route: 'ip' is not available in the domino1982"),
    (["--dose", "1mg/kg", "--route", "ip", "--pk-model", "kamp2020"], "pk-model: 'kamp2020' is a human model"),
    (["--dose", "1mg/kg", "--route", "ip", "--duration", "4"], "duration: '4' has no unit"),
    (["--dose", "1mg/kg", "--route", "ip", "--out", "pk.xlsx"], "out: unknown file type '.xlsx'"),
    (["--route", "ip"], "dose: expected --dose"),
])
def test_bad_input_is_exit_code_2_without_traceback(args, message):
    res = runner.invoke(cli.app, ["pk", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_dose_after_the_end_of_the_simulation(tmp_path):
    reg = tmp_path / "late.toml"
    reg.write_text('[[dose]]\ntime = "48h"\namount = 10\nunit = "mg/kg"\nroute = "ip"\n')
    res = runner.invoke(cli.app, ["pk", "--regimen", str(reg), "--duration", "4h"])
    assert res.exit_code == 2 and "starts after the end of the simulation" in res.output


def test_malformed_event_table_names_row_and_column(tmp_path):
    reg = tmp_path / "bad.csv"
    reg.write_text("time,amount,unit,route\n0h,10,mg/kg,ip\n1h,10,mg/kg,ipp\n")
    res = runner.invoke(cli.app, ["pk", "--regimen", str(reg)])
    assert res.exit_code == 2
    assert "bad.csv row 2, column 'route': unknown route 'ipp'" in res.output and "Traceback" not in res.output


def test_parquet_without_pyarrow_is_a_clear_error(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    res = runner.invoke(cli.app, [*MOUSE, "--out", str(tmp_path / "pk.parquet")])
    assert res.exit_code == 2 and "needs the pyarrow package" in res.output


def test_params_lists_every_parameter_with_unit_and_source():
    res = runner.invoke(cli.app, ["params", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    from pkpd.pk_models import parameter_table

    assert len(rows) == len(parameter_table())
    kamp = {r["name"]: r for r in rows if r["group"] == "kamp2020"}
    assert kamp["cl_L_per_h"]["value"] == 79.0 and kamp["cl_L_per_h"]["unit"] == "L/h"
    assert "Kamp et al. 2020" in kamp["cl_L_per_h"]["source"]
    table = runner.invoke(cli.app, ["params", "--species", "mouse"])
    assert table.exit_code == 0 and "calibrated" in table.stdout and "[mouse]" in table.stdout
    assert "[kamp2020]" not in table.stdout
    bad = runner.invoke(cli.app, ["params", "--pk-model", "nope"])
    assert bad.exit_code == 2 and "pk-model: unknown PK model 'nope'" in bad.output


def test_human_antidepressant_infusion_end_to_end(tmp_path):
    # 0.5 mg/kg over 40 min, kamp2020: Cmax at the end of the infusion; the one-compartment peak is
    # R/CL (1 - e^{-k T}) with the brain inside V (exact to < 1 %: the brain lags by minutes)
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--route", "iv-infusion", "--dose", "0.5mg/kg",
                                  "--infusion-time", "40min", "--duration", "24h", "--summary",
                                  "--json",
                                  "--pk-model", "kamp2020"])
    s = json.loads(res.stdout)
    k = 79 / 252
    expected = (35 / 237.73 * 1e3) / (40 / 60) / 79 * (1 - np.exp(-k * 40 / 60))
    assert s["plasma_ketamine"]["tmax_h"] == pytest.approx(40 / 60, abs=1 / 60)
    assert s["plasma_ketamine"]["cmax_uM"] == pytest.approx(expected, rel=0.01)


def test_duplicate_regimen_rows_are_refused_unless_allowed(tmp_path):
    reg = tmp_path / "twice.csv"
    reg.write_text("time,amount,unit,route\n0h,5,mg/kg,ip\n0h,5,mg/kg,ip\n")
    res = runner.invoke(cli.app, ["pk", "--regimen", str(reg), "--summary", "--json"])
    assert res.exit_code == 2 and "twice.csv rows 1 and 2: two ip doses at 0 h" in res.stderr
    res = runner.invoke(cli.app, ["pk", "--regimen", str(reg), "--allow-duplicates", "--summary",
                                  "--json"])
    assert res.exit_code == 0, res.output
    one = runner.invoke(cli.app, ["pk", "--dose", "10mg/kg", "--route", "ip", "--summary", "--json"])
    # two 5-mg/kg doses at once are one 10-mg/kg dose (linear PK)
    assert json.loads(res.stdout)["plasma_ketamine"]["auc_0_t_uM_h"] == pytest.approx(
        json.loads(one.stdout)["plasma_ketamine"]["auc_0_t_uM_h"], rel=1e-12)
