"""Regimen presets expand to their documented doses; bad presets and late doses are clear errors; the comparison
figure has the documented axes (checked on the Figure object). No circuit simulation here (fast)."""

import numpy as np
import pytest

from circuits.regimens import (PRESETS, TABLE_COLUMNS, RegimenComparison, compare_regimens, default_horizon_h,
                               default_presets, expand_preset, plot_regimens, preset_spec, regimen_file_spec)
from circuits.translation import TranslationResult, effect_metrics
from pkpd.dosing import Regimen

H40 = 40.0 / 60.0

# name -> [(time_h, value, unit, route, duration_h)], exactly as the module docstring documents them
DOCUMENTED = {
    "single": [(0.0, 10.0, "mg/kg", "ip", None)],
    "daily": [(24.0 * k, 10.0, "mg/kg", "ip", None) for k in range(5)],
    "daily:3": [(24.0 * k, 10.0, "mg/kg", "ip", None) for k in range(3)],
    "bolus": [(0.0, 10.0, "mg/kg", "iv", None)],
    "infusion_40min": [(0.0, 10.0, "mg/kg", "iv-infusion", H40)],
    "infusion_2h": [(0.0, 10.0, "mg/kg", "iv-infusion", 2.0)],
    "human_single": [(0.0, 0.5, "mg/kg", "iv-infusion", H40)],
    "human_bolus": [(0.0, 0.5, "mg/kg", "iv", None)],
    "human_infusion_2h": [(0.0, 0.5, "mg/kg", "iv-infusion", 2.0)],
    "human_6x12d": [(24.0 * d, 0.5, "mg/kg", "iv-infusion", H40) for d in (0, 2, 4, 7, 9, 11)],
    "esketamine_56": [(24.0 * d, 56.0, "mg", "intranasal", None) for d in (0, 3, 7, 10, 14, 17, 21, 24)],
    "esketamine_84": [(24.0 * d, 84.0, "mg", "intranasal", None) for d in (0, 3, 7, 10, 14, 17, 21, 24)],
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_presets_expand_to_the_documented_doses(name):
    reg = expand_preset(name)
    got = [(d.time_h, d.amount.value, d.amount.unit, d.route, d.duration_h) for d in reg]
    assert len(got) == len(DOCUMENTED[name])
    for g, want in zip(got, DOCUMENTED[name]):
        assert g[0] == pytest.approx(want[0], abs=1e-12)  # exact arithmetic on whole hours / 40/60
        assert g[1:4] == want[1:4]
        assert (g[4] is None and want[4] is None) or g[4] == pytest.approx(want[4], rel=1e-15)


def test_every_preset_is_documented_and_has_species_and_provenance():
    assert set(PRESETS) == {n.split(":")[0] for n in DOCUMENTED}
    for p in PRESETS.values():
        assert p.species in ("mouse", "human") and len(p.description) > 20
    assert preset_spec("esketamine_84").pk_model == "perez-ruixo2021"  # esketamine PK, not racemic
    assert preset_spec("human_single").pk_model is None and preset_spec("human_single").species == "human"
    assert preset_spec("daily:7").label == "daily:7" and len(preset_spec("daily:7").regimen) == 7
    assert default_presets("human") == ("human_single", "human_6x12d", "esketamine_56", "esketamine_84")
    assert all(PRESETS[n.split(":")[0]].species == "mouse" for n in default_presets("mouse"))


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError) as e:
        expand_preset("ketamine_forever")
    msg = str(e.value)
    assert msg.startswith("preset: unknown preset 'ketamine_forever'; expected one of ")
    for name in PRESETS:
        assert name in msg
    assert "daily:N" in msg


@pytest.mark.parametrize("name, message", [
    ("daily:0", "expects a positive whole number of doses"),
    ("daily:x", "expects a positive whole number of doses"),
    ("daily:2.5", "expects a positive whole number of doses"),
    ("single:3", "takes no ':N' argument"),
])
def test_bad_preset_argument(name, message):
    with pytest.raises(ValueError, match=message):
        expand_preset(name)


def test_event_table_dose_after_the_horizon_names_file_row_and_column(tmp_path):
    f = tmp_path / "course.csv"
    f.write_text("time,amount,unit,route,duration,repeat,interval\n"
                 "0h,0.5,mg/kg,iv-infusion,40min,,\n"
                 "48h,0.5,mg/kg,iv-infusion,40min,3,10d\n")
    with pytest.raises(ValueError) as e:
        regimen_file_spec(f, horizon_h=21 * 24.0)
    msg = str(e.value)
    assert msg.startswith("course.csv row 2, column 'time': a dose at 22 d (after repeat/interval) is after the "
                          "horizon (21 d)")
    # the same through compare_regimens, before anything is simulated
    with pytest.raises(ValueError, match="course.csv row 2, column 'time'"):
        compare_regimens([f], horizon_days=21)
    spec = regimen_file_spec(f, horizon_h=50 * 24.0)
    assert [d.time_h for d in spec.regimen] == [0.0, 48.0, 288.0, 528.0]
    assert spec.label == "course" and spec.species == "human"


def test_toml_event_table_late_row(tmp_path):
    f = tmp_path / "esk.toml"
    f.write_text('[[dose]]\ntime = "0h"\namount = 56\nunit = "mg"\nroute = "intranasal"\n'
                 '[[dose]]\ntime = "30d"\namount = 84\nunit = "mg"\nroute = "intranasal"\n')
    with pytest.raises(ValueError, match=r"esk.toml row 2, column 'time': a dose at 30 d is after the horizon"):
        regimen_file_spec(f, horizon_h=21 * 24.0)


def test_preset_after_an_explicit_horizon_is_an_error():
    with pytest.raises(ValueError, match=r"horizon: regimen 'esketamine_56' has a dose at 24 d, after the horizon "
                                         r"\(21 d\); expected --horizon >= 24d"):
        compare_regimens(["esketamine_56"], horizon_days=21)
    with pytest.raises(ValueError, match="preset: unknown preset 'nope'"):
        compare_regimens(["human_single", "nope"])
    with pytest.raises(ValueError, match="horizon: expected a positive number of days"):
        compare_regimens(["human_single"], horizon_days=0)


def test_default_horizon_covers_the_last_dose_plus_two_weeks():
    assert default_horizon_h([expand_preset("human_single")]) == 21 * 24.0
    # esketamine: last dose day 24 -> 38 days
    assert default_horizon_h([expand_preset("human_single"), expand_preset("esketamine_84")]) == 38 * 24.0


# ---- a comparison without simulation, for the figure and CLI tests -----------------------------------------------
def fake_result(label: str, regimen: Regimen, scale: float = 1.0) -> TranslationResult:
    """A TranslationResult with a known rescue curve (rise to `scale` over 2 h, exponential fall, t½ 48 h)."""
    t = np.linspace(0.0, 21 * 24.0, 505)
    r = np.where(t < 2.0, scale * t / 2.0, scale * 0.5 ** ((t - 2.0) / 48.0))
    met = effect_metrics(t, r)
    ex = {"cmax_plasma_ketamine_ng_per_ml": 100.0 * scale, "auc_plasma_ketamine_uM_h": 2.0 * scale,
          "peak_occupancy_interneuron": 0.6, "peak_occupancy_pyramidal": 0.3, "total_base_mg": 35.0}
    z = np.zeros_like(t)
    return TranslationResult(label, regimen, "human", "kamp2020", 70.0, t, r, 0.7 - 0.68 * r, 0.56 + 0.44 * r,
                             z + 1.0, np.exp(-t), np.exp(-t) / 2, np.exp(-t), met, ex,
                             {"r_rel": 0.56, "p_fail": 0.7, "p_healthy": 0.022}, 0.56 + 0.44 * r, met)


def fake_comparison() -> RegimenComparison:
    res = (fake_result("human_single", expand_preset("human_single")),
           fake_result("human_6x12d", expand_preset("human_6x12d"), 0.8))
    t = res[0].t_h
    return RegimenComparison(res, {"t_h": t, "rescue": np.zeros_like(t), "p_fail": np.full_like(t, 0.7)}, 21 * 24.0)


def test_table_has_one_row_per_regimen_with_the_documented_columns():
    tab = fake_comparison().table()
    assert tuple(tab) == TABLE_COLUMNS
    assert tab["regimen"] == ["human_single", "human_6x12d"]
    assert tab["n_doses"] == [1, 6]
    assert tab["half_life_h"][0] == pytest.approx(48.0, rel=1e-3)  # the synthetic curve's t½ (grid 1 h)
    assert tab["cmax_plasma_ketamine_ng_per_ml"] == [100.0, 80.0]


def test_figure_has_the_documented_axes_and_one_curve_per_regimen(tmp_path):
    path = tmp_path / "regimens.png"
    fig = plot_regimens(fake_comparison(), path, close=False)
    try:
        ax, ax_da, ax_pk = fig.axes
        assert ax.get_ylabel() == "circuit rescue (fraction of deficit restored)"
        assert ax_pk.get_xlabel() == "time (days)"
        assert ax_pk.get_ylabel() == "mPFC interneuron NMDA occupancy"
        assert ax_da.get_yscale() == "log"
        labels = [ln.get_label() for ln in ax.get_lines()]
        assert labels[:1] == ["human_single"] and "human_6x12d" in labels and "no drug" in labels
        x = ax.get_lines()[0].get_xdata()
        assert x[-1] == pytest.approx(21.0)  # days, not hours
        assert ax.get_xlim() == pytest.approx((0.0, 21.0))
        assert len(ax_pk.get_lines()) == 2  # one exposure curve per regimen
    finally:
        from pkpd.figures import pyplot

        pyplot().close(fig)
    assert path.is_file() and path.with_suffix(".svg").is_file()
