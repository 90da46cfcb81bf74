"""The README's replication table generator: it writes between the markers and nothing else, and says which
validation targets are missed (from a hand-made summary: no simulation)."""

import json

import pytest

from circuits.replication import PAPER, summary_keys
from circuits.report_table import END, START, main, write_into


def _summary(miss_key="cno_alone_hm4di_lh"):
    s = {}
    for k in summary_keys():
        d = s
        *parents, leaf = k.split(".")
        for p in parents:
            d = d.setdefault(p, {})
        d[leaf] = 0.5
    s["slh"]["failure_rate"].update(baseline=0.02, lh=0.74, ket_4h=0.3, saline_4h=0.74)
    s["controls"][miss_key] = 0.2  # the paper: = LH; 0.2 is a miss
    s["literature"]["dose_response"] = {"dose_mg_per_kg": [10.0, 30.0, 100.0, 200.0], "mpfc_peak_rel": [1.3, 1.2, 0.5,
                                                                                                          0.3],
                                        "failure_4h": [0.3, 0.3, 0.8, 0.8]}
    for q in ("r2_n11_median", "r2_n11_p05", "r2_n11_p95"):
        s["individual"][q] = {"distance_vs_wlh_failures": 0.5, "distance_vs_ket_failures": 0.5}
    s["paper"] = PAPER
    return s


def test_table_goes_between_the_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{START}\nold table\n{END}\nafter\n")
    (tmp_path / "summary.json").write_text(json.dumps(_summary()))
    assert main([str(tmp_path / "summary.json"), "--readme", str(readme), "--note", "made by X"]) == 0
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n" + START + "\nmade by X\n\n**Calibration targets**")
    assert text.endswith(END + "\nafter\n") and "old table" not in text
    line = [ln for ln in text.splitlines() if ln.startswith("| `controls.cno_alone_hm4di_lh` |")]
    assert line == ["| `controls.cno_alone_hm4di_lh` | 0.2 | = LH (p = 0.9947) | Fig 3f (n = 5-6) | **missed** |"]
    assert "`controls.cno_alone_hm4di_lh`" in text.split("missed (")[1].split(")")[0]


def test_markers_must_be_there_once(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="readme: expected one <!-- replication-table:start -->"):
        write_into(readme, "x")


def test_regimen_table_is_the_csv_of_ketamine_regimens(tmp_path):
    from circuits.report_table import REGIMEN_END, REGIMEN_START

    csv = tmp_path / "regimens.csv"
    csv.write_text("regimen,n_doses,onset_h,duration_h,half_life_h,rescue_24h,rescue_7d,"
                   "cmax_plasma_ketamine_ng_per_ml,auc_plasma_ketamine_uM_h,peak_occupancy_interneuron\n"
                   "human_single,1,4.674,41.3,45.5,0.7198,0.06965,252.99,1.2693,0.7617\n"
                   "never,1,nan,nan,,0.1,0.0,10,0.1,0.1\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{REGIMEN_START}\nold\n{REGIMEN_END}\nb\n{START}\nkept\n{END}\n")
    assert main(["--regimens", str(csv), "--readme", str(readme)]) == 0
    rows = readme.read_text().splitlines()
    # hours to days for the durations (41.3 h = 1.72 d), 3 significant digits, empty cells where undefined
    assert rows[4] == "| `human_single` | 1 | 4.67 | 1.72 | 1.9 | 0.72 | 0.0697 | 253 | 1.27 | 0.76 |"
    assert rows[5] == "| `never` | 1 |  |  |  | 0.1 | 0 | 10 | 0.1 | 0.1 |"
    assert "old" not in rows and "kept" in rows  # only the regimen block changes


def test_regimen_table_shows_the_posterior_interval_where_the_csv_has_one(tmp_path):
    # `ketamine regimens` with the posterior: median [5th, 95th percentile over the draws], durations in days
    from circuits.report_table import regimen_table

    csv = tmp_path / "regimens.csv"
    csv.write_text("regimen,n_doses,onset_h,duration_h,duration_h_ci90_lo,duration_h_ci90_hi,cmax_plasma_ketamine_"
                   "ng_per_ml\nhuman_single,1,1.95,63.6,46.3,105,253\n")
    row = regimen_table(csv).splitlines()[2].split(" | ")
    assert row[2:4] == ["1.95", "2.65 [1.93, 4.38]"] and row[7] == "253"
