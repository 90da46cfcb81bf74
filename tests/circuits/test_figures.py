"""Figures of the circuit model, checked from the Figure objects (axes, labels with units, lines) and from the
saved files' metadata, not from pixels.

The Wu 2021 figures are drawn from a real 3-mouse replication: every key of the summary must appear beside the
paper's value or direction, and the photometry figure must show the paper's shape (a dip during the shock, a rise
after it)."""

import json

import numpy as np
import pytest

from circuits.figures import (DA_TRACE_TESTS, WU2021_FIGURES, plot_simulation, simulation_figure, traces_figure,
                              wu2021_figures)
from circuits.replication import summary_keys, wu2021
from pkpd import __version__
from pkpd.figures import pyplot, read_png_metadata


@pytest.fixture(scope="module")
def replication():
    return wu2021(n=3, seed=2)


def _close(fig):
    pyplot().close(fig)


def test_slh_photometry_traces_are_biphasic(replication):
    summary, details = replication
    fig = traces_figure(summary, details)
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == "time from shock onset (s)" and ax.get_ylabel() == "DA neuron ΔF/F (%)"
        lines = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
        assert list(lines) == [name for name, _ in DA_TRACE_TESTS.values()]
        t, y = lines["start of induction"].get_data()
        during = (t > 0.0) & (t < 3.0)
        assert y[during].min() < -50.0 and y[during].mean() < -20.0   # falls during the 3-s shock (negative AUC)
        assert y[(t > 3.0) & (t < 8.0)].max() > 20.0                  # and rises after it ends (Wu 2021 Fig 1d)
    finally:
        _close(fig)


def test_every_summary_key_is_drawn_beside_the_paper(replication):
    from circuits import figures

    summary, details = replication
    ticks = []
    for make in figures._WU2021_MAKERS:
        fig = make(summary, details)
        try:
            for ax in fig.axes:
                ticks += [t.get_text() for t in ax.get_xticklabels()]
        finally:
            _close(fig)
    drawn = " ".join(ticks)
    for key in summary_keys():
        if key != "literature.dose_response":  # its own panel (a curve against dose)
            assert f"{key.split('.')[-1]}\npaper: " in drawn, key


@pytest.mark.slow
def test_wu2021_figures_write_png_and_svg_with_units_and_provenance(replication, tmp_path):
    summary, details = replication
    paths = wu2021_figures(summary, details, tmp_path)
    assert [p.name for p in paths] == list(WU2021_FIGURES)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        list(WU2021_FIGURES) + [n.replace(".png", ".svg") for n in WU2021_FIGURES])
    for p in paths:
        meta = read_png_metadata(p)
        assert meta["Software"] == f"ketamine-qsp {__version__}"
        assert json.loads(meta["Description"]) == {"experiment": "wu2021", "n": 3, "seed": 2}
        assert meta["Title"]


def test_every_wu2021_axis_names_its_unit(replication):
    from circuits import figures

    summary, details = replication
    for make in figures._WU2021_MAKERS:
        fig = make(summary, details)
        try:
            for ax in fig.axes:
                for label in (ax.get_ylabel(), ax.get_xlabel()):
                    assert label == "" or "(" in label, (make.__name__, label)
                assert "(" in ax.get_ylabel(), (make.__name__, ax.get_title())
        finally:
            _close(fig)


def _fake_result(n_subjects):
    t = np.linspace(0.0, 10.0, 11)
    cols = {"subject": np.repeat(np.arange(n_subjects), t.size), "time_h": np.tile(t, n_subjects)}
    for k in ("occupancy_mpfc_interneuron", "r_d1", "r_da", "w", "H", "p_fail"):
        cols[k] = np.tile(np.linspace(0.1, 0.5, t.size), n_subjects)
    return {"timecourse": cols, "tests": {}, "protocol": {"name": "slh", "doses": ["10 mg/kg ip"]}}


def test_simulation_figure_panels_units_and_one_line_per_subject(tmp_path):
    fig = simulation_figure(_fake_result(2))
    try:
        ax = fig.axes
        assert [a.get_ylabel() for a in ax] == ["occupancy (fraction)", "firing rate (Hz)", "w, H (dimensionless)",
                                                "failure probability (fraction)"]
        assert [a.get_xlabel() for a in ax[2:]] == ["time (h)", "time (h)"]
        assert [len(a.get_lines()) for a in ax] == [2, 4, 4, 2]  # 2 subjects × (1, 2, 2, 1) series
    finally:
        _close(fig)
    path = plot_simulation(_fake_result(1), tmp_path / "s.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png", "s.svg"]
    meta = json.loads(read_png_metadata(path)["Description"])
    assert meta == {"protocol": {"name": "slh", "doses": ["10 mg/kg ip"]}, "subjects": 1}


def test_failure_bars_carry_the_posterior_interval_where_the_summary_has_one(replication):
    # a summary with `<key>_ci90` (ketamine experiment --posterior): the bar's error bar spans exactly that interval
    import copy

    from circuits.figures import failure_rates_figure

    summary = copy.deepcopy(replication[0])
    rates = summary["slh"]["failure_rate"]
    rates["lh_ci90"] = [rates["lh"] - 0.05, rates["lh"] + 0.08]
    fig = failure_rates_figure(summary)
    try:
        ax = fig.axes[0]
        segments = [seg for coll in ax.collections for seg in coll.get_segments()]
        [seg] = [s for s in segments if len(s) == 2 and np.isfinite(s).all() and abs(s[0][1] - s[1][1]) > 1e-12]
        assert sorted(seg[:, 1]) == pytest.approx([rates["lh"] - 0.05, rates["lh"] + 0.08], abs=1e-12)
        assert "posterior" in ax.get_legend_handles_labels()[1][0]
    finally:
        _close(fig)
    plain = failure_rates_figure(replication[0])  # no interval, no error bars
    try:
        assert not [s for c in plain.axes[0].collections for s in c.get_segments() if len(s)]
    finally:
        _close(plain)
