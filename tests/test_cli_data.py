"""`ketamine pk --data` (NONMEM-style datasets) and `ketamine pk --steady-state`: the table is the library's, bad
datasets are one-line errors naming row and column with exit code 2 and no output, steady state is periodic."""

import csv

import numpy as np
from typer.testing import CliRunner

import cli
from pkpd.dataset import read_dataset, simulate_dataset

runner = CliRunner()
DATA = """ID,TIME(h),AMT(mg),EVID,CMT,ADDL,II,DV,WT
1,0,50,1,1,2,12,.,70
1,1,.,0,.,.,.,0.2,70
1,13,.,0,.,.,.,0.3,70
2,0,30,1,2,.,.,.,80
2,0.5,.,0,.,.,.,.,80
"""


def read(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return rows


def test_pk_data_writes_every_id_at_its_observation_rows(tmp_path):
    src, out = tmp_path / "d.csv", tmp_path / "out.csv"
    src.write_text(DATA)
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--data", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = read(out)
    ref = simulate_dataset(read_dataset(src), species="human")
    assert [r["ID"] for r in rows] == ["1", "1", "2"] and [int(r["row"]) for r in rows] == [2, 3, 5]
    np.testing.assert_array_equal([float(r["plasma_ketamine_uM"]) for r in rows], ref["plasma_ketamine_uM"])


def test_pk_data_bad_row_is_one_line_exit_2_no_output(tmp_path):
    src, out = tmp_path / "d.csv", tmp_path / "out.csv"
    src.write_text(DATA.replace("1,13,.,0", "1,0.5,.,0"))
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--data", str(src), "--out", str(out)])
    assert res.exit_code == 2
    assert "d.csv row 3, column 'TIME'" in res.output and res.output.count("\n") == 1
    assert not out.exists()
    res = runner.invoke(cli.app, ["pk", "--data", str(src), "--dose", "1mg"])
    assert res.exit_code == 2 and "--dose cannot be combined" in res.output


def test_pk_steady_state_is_periodic(tmp_path):
    out = tmp_path / "ss.csv"
    res = runner.invoke(cli.app, ["pk", "--species", "human", "--dose", "28mg", "--route", "intranasal",
                                  "--steady-state", "12h", "--duration", "24h", "--step", "1h", "--out", str(out)])
    assert res.exit_code == 0, res.output
    c = np.array([float(r["plasma_ketamine_uM"]) for r in read(out)])
    np.testing.assert_allclose(c[12:24], c[:12], rtol=1e-12)  # one interval is the next, to rounding
    assert c[0] > 0  # the trough left by the previous doses


def test_pk_times_list_range_and_file_give_the_library_rows(tmp_path):
    from pkpd.dosing import Regimen
    from pkpd.pk import simulate_pk

    ref = simulate_pk(Regimen.single("10mg/kg", "ip"), 4.0, t_eval=[0.0, 0.5, 1.0, 1.5, 2.0, 4.0])
    want = ref.columns["plasma_ketamine_uM"][1:5]
    f = tmp_path / "times.txt"
    f.write_text("# output times\n0.5\n1h\n90min\n2\n")
    for spec in ("0.5,1,90min,2h", "30min:2h:30min", str(f)):
        out = tmp_path / "t.csv"
        res = runner.invoke(cli.app, ["pk", "--dose", "10mg/kg", "--route", "ip", "--times", spec, "--out", str(out)])
        assert res.exit_code == 0, res.output
        rows = read(out)
        np.testing.assert_array_equal([float(r["time_h"]) for r in rows], [0.5, 1.0, 1.5, 2.0])
        # the same grid as the library call: the same numbers (CSV keeps 17 significant digits)
        np.testing.assert_array_equal([float(r["plasma_ketamine_uM"]) for r in rows], want)


def test_pk_times_bad_input(tmp_path):
    for spec, message in (("1,1h", "given twice"), ("0:2h", "start:stop:step"), ("5h", "after the end"),
                          ("1,x", "cannot read 'x'")):
        res = runner.invoke(cli.app, ["pk", "--dose", "10mg/kg", "--route", "ip", "--times", spec])
        assert res.exit_code == 2 and message in res.output, (spec, res.output)
    res = runner.invoke(cli.app, ["pk", "--dose", "10mg/kg", "--route", "ip", "--times", "1h", "--step", "1min"])
    assert res.exit_code == 2 and "not both" in res.output


def test_long_and_wide_hold_the_same_numbers_and_units_survive_parquet(tmp_path):
    import json

    import pyarrow.parquet as pq

    base = ["pk", "--dose", "10mg/kg", "--route", "ip", "--times", "0.5,1,2"]
    wide, long_ = tmp_path / "w.parquet", tmp_path / "l.parquet"
    assert runner.invoke(cli.app, [*base, "--out", str(wide)]).exit_code == 0
    assert runner.invoke(cli.app, [*base, "--long", "--out", str(long_)]).exit_code == 0
    w, lg = pq.read_table(wide), pq.read_table(long_)
    units = json.loads(w.schema.metadata[b"units"])
    assert units["plasma_ketamine_uM"] == "uM" and units["time_h"] == "h"
    assert json.loads(w.schema.metadata[b"metadata"])["species"] == "mouse"
    names, values = lg.column("NAME").to_pylist(), lg.column("VALUE").to_pylist()
    got = {(t, n): v for t, n, v in zip(lg.column("TIME").to_pylist(), names, values)}
    for n in w.column_names[1:]:
        for t, v in zip(w.column("time_h").to_pylist(), w.column(n).to_pylist()):
            assert got[(t, n)] == v  # the same float, bit for bit
    assert set(zip(names, lg.column("UNIT").to_pylist())) == {(n, units[n]) for n in w.column_names[1:]}


def test_csv_gets_a_json_sidecar_with_units(tmp_path):
    import json

    out = tmp_path / "pk.csv"
    res = runner.invoke(cli.app, ["pk", "--dose", "10mg/kg", "--route", "ip", "--times", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "pk.csv.json").read_text())
    assert side["columns"] == list(read(out)[0]) and side["units"]["plasma_ketamine_ng_per_ml"] == "ng/mL"
