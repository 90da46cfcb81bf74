"""A run's trajectories and bands as flat tables: long and wide hold the numbers of the run's own parts, and the
units survive a Parquet round trip and a CSV's sidecar."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import cli
from pkpd.cohort import PkProtocol, read_percentiles, run_cohort
from pkpd.cohort.tables import band_table, trajectory_table
from pkpd.output import write_pk_table
from pkpd.pk import COLUMN_UNITS

from .common import make_spec

UNITS = {n: PkProtocol().unit(n) for n in PkProtocol().observable_names(None)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables") / "run"
    run_cohort(make_spec(n=5, trajectories=True, times_h=(0.5, 1.0, 2.0, 6.0)), out, chunk_size=3)
    return out


def test_trajectories_long_and_wide_hold_the_parts_values(run):
    parts = [pq.read_table(p) for p in sorted((run / "trajectories").glob("*.parquet"))]
    t = json.loads(pq.read_schema(sorted((run / "trajectories").glob("*.parquet"))[0]).metadata[b"time_h"])
    wide, wu = trajectory_table(run, UNITS)
    long, lu = trajectory_table(run, UNITS, long=True)
    assert t == [0.0, 0.5, 1.0, 2.0, 6.0] and len(wide["ID"]) == 5 * len(t)
    names = [n for n in wide if n not in ("ID", "time_h")]
    assert len(long["VALUE"]) == len(wide["ID"]) * len(names)
    for name in names:
        direct = np.concatenate([np.asarray(p.column(name).to_pylist()).reshape(-1) for p in parts])
        np.testing.assert_array_equal(wide[name], direct)
        sel = long["NAME"] == name
        np.testing.assert_array_equal(long["VALUE"][sel], direct)
        np.testing.assert_array_equal(long["TIME"][sel], wide["time_h"])
        np.testing.assert_array_equal(long["ID"][sel], wide["ID"])
        assert set(long["UNIT"][sel]) == {COLUMN_UNITS[name]}
    assert wu["plasma_ketamine_uM"] == "uM" and lu["TIME"] == "h"


def test_bands_long_and_wide_hold_the_percentiles(run):
    p = read_percentiles(run)
    wide, _ = band_table(run, UNITS)
    long, _ = band_table(run, UNITS, long=True)
    np.testing.assert_array_equal(wide["p50"], p["p50"])
    for q in (5, 50, 95):
        sel = long["PERCENTILE"] == q
        np.testing.assert_array_equal(long["VALUE"][sel], p[f"p{q}"])
        np.testing.assert_array_equal(long["TIME"][sel], p["time_h"])
        np.testing.assert_array_equal(long["NAME"][sel], p["series"])
    assert list(wide["UNIT"]) == [COLUMN_UNITS[s] for s in p["series"]]


def test_units_survive_a_parquet_round_trip_and_the_csv_sidecar(run, tmp_path):
    cols, units = trajectory_table(run, UNITS, long=True)
    write_pk_table(tmp_path / "t.parquet", cols, units=units, metadata={"run": "x"})
    back = pq.read_table(tmp_path / "t.parquet")
    assert json.loads(back.schema.metadata[b"units"]) == units
    np.testing.assert_array_equal(back.column("VALUE").to_numpy(), cols["VALUE"])
    assert back.column("UNIT").to_pylist() == list(cols["UNIT"])
    res = CliRunner().invoke(cli.app, ["cohort", "table", str(run), "--what", "bands", "--long", "--out",
                                       str(tmp_path / "b.csv")])
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "b.csv.json").read_text())
    assert side["columns"] == ["NAME", "PERCENTILE", "TIME", "VALUE", "UNIT"] and side["units"]["TIME"] == "h"


def test_a_run_without_trajectories_is_refused(tmp_path, run):
    res = CliRunner().invoke(cli.app, ["cohort", "table", str(run), "--what", "everything", "--out",
                                       str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "what: expected trajectories or bands" in res.stderr
    with pytest.raises(ValueError, match="run the cohort with --trajectories"):
        trajectory_table(tmp_path, UNITS)
