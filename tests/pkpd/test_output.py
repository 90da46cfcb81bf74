"""Writing PK tables: exactly the columns in every format, metadata in JSON, a clear error without pyarrow,
and the figure."""

import csv
import json
import sys

import numpy as np
import pytest

from pkpd.dosing import Regimen
from pkpd import __version__
from pkpd.figures import read_png_metadata
from pkpd.output import pk_figure, plot_pk, table_format, write_pk_table

COLS = {"time_h": np.array([0.0, 0.5]), "x_uM": np.array([1.0, 0.1 + 0.2])}


def test_csv_holds_exactly_the_columns_and_round_trips(tmp_path):
    write_pk_table(tmp_path / "t.csv", COLS)
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time_h", "x_uM"]
    assert float(rows[2][1]) == 0.1 + 0.2  # repr floats: exact round trip


def test_json_holds_columns_units_and_metadata(tmp_path):
    write_pk_table(tmp_path / "t.json", COLS, units={"time_h": "h", "x_uM": "uM"}, metadata={"salt": "hcl"})
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["columns"] == ["time_h", "x_uM"] and doc["data"]["x_uM"] == [1.0, 0.1 + 0.2]
    assert doc["units"]["x_uM"] == "uM" and doc["metadata"]["salt"] == "hcl"


def test_parquet_without_pyarrow_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` raise ImportError
    with pytest.raises(ValueError, match="needs the pyarrow package"):
        table_format(tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()


def test_parquet_with_pyarrow(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    write_pk_table(tmp_path / "t.parquet", COLS)
    assert pq.read_table(tmp_path / "t.parquet").column_names == ["time_h", "x_uM"]


def test_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="out: unknown file type '.xlsx'"):
        write_pk_table(tmp_path / "t.xlsx", COLS)


def test_plot(tmp_path):
    from pkpd.pk import simulate_pk

    r = simulate_pk(Regimen.single("10mg/kg", "ip"), 1.0)
    path = plot_pk(r, tmp_path / "pk.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the PNG and its SVG twin, no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pk.png", "pk.svg"]
    meta = read_png_metadata(path)
    assert meta["Software"] == f"ketamine-qsp {__version__}"
    assert json.loads(meta["Description"])["species"] == "mouse"
    with pytest.raises(ValueError, match=r"plot: '.*pk\.gif' must end in one of \.png, \.svg, \.pdf"):
        plot_pk(r, tmp_path / "pk.gif")


def test_pk_figure_axes_carry_units():
    """Three panels; every y axis names its quantity and unit, the shared x axis is time in h."""
    from pkpd.figures import pyplot
    from pkpd.pk import simulate_pk

    fig = pk_figure(simulate_pk(Regimen.single("10mg/kg", "ip"), 1.0))
    try:
        ax = fig.axes
        assert [a.get_ylabel() for a in ax] == ["plasma concentration (µM)", "brain concentration (µM)",
                                                "NMDA occupancy (fraction)"]
        assert ax[2].get_xlabel() == "time (h)"
        assert [len(a.get_lines()) for a in ax] == [2, 3, 2]
    finally:
        pyplot().close(fig)
