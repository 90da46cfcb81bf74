"""The cohort percentile-band figure: one panel per band series, each y axis its quantity with its unit, the
median line and the 5–95 % band drawn; saved as PNG + SVG with the version and the run's spec in the metadata."""

import json

import numpy as np
import pytest

from pkpd import __version__
from pkpd.cohort import CohortSpec, PkProtocol, bands_figure, plot_bands, read_percentiles, run_cohort
from pkpd.dosing import Regimen
from pkpd.figures import pyplot, read_png_metadata


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bands") / "r"
    run_cohort(CohortSpec(n=16, regimen=Regimen.single("10mg/kg", "ip"), duration_h=2.0, seed=5), out,
               chunk_size=8)
    return out


def test_band_panels_have_units_median_and_band(run):
    fig = bands_figure(run)
    try:
        ax = fig.axes
        assert [a.get_ylabel() for a in ax] == ["plasma ketamine (µM)", "brain free ketamine (µM)",
                                                "NMDA occupancy pyramidal (fraction)"]
        assert ax[-1].get_xlabel() == "time (h)"
        p = read_percentiles(run)
        s = np.asarray(p["series"], dtype=object)
        for a, name in zip(ax, ("plasma_ketamine_uM", "brain_free_ketamine_uM", "nmda_occupancy_pyramidal")):
            (line,) = a.get_lines()  # the median, exactly the percentile table's p50
            np.testing.assert_array_equal(line.get_ydata(), np.asarray(p["p50"])[s == name])
            assert len(a.collections) == 1  # the 5-95 % band
    finally:
        pyplot().close(fig)


def test_plot_bands_writes_png_and_svg_with_provenance(run, tmp_path):
    path = plot_bands(run, tmp_path / "b.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.png", "b.svg"]
    meta = read_png_metadata(path)
    assert meta["Software"] == f"ketamine-qsp {__version__}"
    params = json.loads(meta["Description"])
    assert (params["n"], params["seed"], params["protocol"]) == (16, 5, "pk")
    assert "cohort percentile bands" in meta["Title"]
    svg = (tmp_path / "b.svg").read_text()
    assert "cohort percentile bands" in svg and f"ketamine-qsp {__version__}" in svg  # SVG Dublin-Core metadata
    with pytest.raises(ValueError, match=r"plot: '.*b\.gif' must end in one of \.png, \.svg, \.pdf"):
        plot_bands(run, tmp_path / "b.gif")


@pytest.mark.parametrize("name, label", [
    ("plasma_ketamine_uM", "plasma ketamine (µM)"),
    ("nmda_occupancy_interneuron", "NMDA occupancy interneuron (fraction)"),
    ("plasma_ketamine_ng_per_ml", "plasma ketamine (ng/mL)"),
])
def test_pk_series_labels_name_the_unit(name, label):
    assert PkProtocol().series_label(name) == label


def test_the_figure_reads_the_labels_from_the_manifest(run):
    """The run carries its band labels (the protocol's), so a reader needs no protocol object."""
    m = json.loads((run / "manifest.json").read_text())
    assert m["spec"]["band_labels"] == {"plasma_ketamine_uM": "plasma ketamine (µM)",
                                        "brain_free_ketamine_uM": "brain free ketamine (µM)",
                                        "nmda_occupancy_pyramidal": "NMDA occupancy pyramidal (fraction)"}
