"""The replication of Wu et al. 2021 eLife (10:e64041) on a virtual cohort, on the paper's own protocols, with a
declared calibration/validation split, plus experiments from other literature (each cited to its source).

* :data:`CALIBRATION` names, in one place, the few results the model's parameters were set to reproduce
  (:mod:`circuits.calibration` fits to them). Every other key of the summary is a **validation** target: it was
  never used to set a parameter, and a miss is reported as a miss (:func:`assess`) beside the paper's value.
* :data:`PAPER` holds, for every key, the paper's value (with its n) or its reported direction, and the figure
  panel; :data:`CHECKS` says how each key is judged (within ±0.10 of a number, or a direction with a 0.10 margin).
* :func:`wu2021` runs every group together (:func:`circuits.experiments.run_groups`) and returns the summary
  (schema: :data:`SCHEMA`) and the details for figures; :func:`circuits.figures.write_wu2021` writes
  ``summary.json`` and figures;
  :func:`replication_table` renders the README's table from a summary.

All failure values are fractions of trials (0–1); ``*_rel`` values are relative to the same mice at the start of
induction (sLH photometry) or at baseline, days 1–2 (wLH), as the paper normalises.
"""

from __future__ import annotations

import numpy as np

from pkpd.dosing import Regimen

from .behavior import photometry
from .experiments import escape_failure_trials, run_groups, virtual_cohort
from .protocols import ProtocolParams, build_protocol

__all__ = ["SCHEMA", "CALIBRATION", "PAPER", "CHECKS", "DOSE_GRID", "CNO_TEST_LEAD_H", "wu2021", "wu2021_summary",
           "summary_keys", "split", "assess", "replication_table", "MARGIN"]

#: mg/kg i.p. (HCl salt): the prefrontal dose–response grid (Moghaddam et al. 1997 J Neurosci 17:2921 used
#: 10, 30 and 200 mg/kg; 100-200 mg/kg are anaesthetic in mice)
DOSE_GRID = (1.0, 3.0, 10.0, 30.0, 50.0, 100.0, 200.0)
#: assumed: CNO given 30 min before the test in the CNO-alone groups (Wu 2021 Fig 3f does not state the interval;
#: 30 min puts the test at the agonist's peak, the strictest test of "CNO alone changes nothing")
CNO_TEST_LEAD_H = 0.5
#: the paper's no-rise/rise bins of mPFC Drd1 Ca²⁺ after 10 mg/kg i.p. (min after the dose; Wu 2021 FS6-1), the
#: 24-h bin, and the pre-drug baseline bin
CA_BINS_MIN = {"min5_10": (5.0, 10.0), "min15_20": (15.0, 20.0), "min25_30": (25.0, 30.0),
               "h24": (24 * 60.0, 24 * 60.0 + 5.0)}
CA_BASELINE_MIN = (-5.0, 0.0)
#: subsamples of the paper's n (11 mice, Wu 2021 Fig 2g-i) for the R² distribution
N11, N11_DRAWS = 11, 2000

#: the summary's keys (leaves; ``literature.dose_response`` is one table)
SCHEMA = {
    "slh": {"failure_rate": ("baseline", "lh", "ket_4h", "saline_4h")},
    "wlh": {"failure_rate": ("day1_2", "day3_4", "ket_day5", "ket_day6", "saline_day5", "no_induction_day5_6")},
    "photometry": {"slh": ("dip_rel_end_induction", "peak_rel_end_induction", "dip_rel_ket_4h", "peak_rel_ket_4h"),
                   "wlh": ("failure_dip_rel_wlh", "failure_dip_rel_ket", "escape_peak_rel_wlh",
                           "escape_peak_rel_ket")},
    "controls": ("vta_hm4di_cno_ket_4h", "vta_hm4di_cno_ket_24h", "vta_hm4di_ket_alone_4h", "vta_hm4di_ket_alone_72h",
                 "cno_alone_hm4di_baseline", "cno_alone_hm4di_lh", "mpfc_infusion_ket_4h", "vta_infusion_ket_4h",
                 "drd1_hm3dq_cno_2h", "drd1_hm3dq_cno_4h", "drd1_hm4di_ket_4h", "drd1_hm4di_ket_24h"),
    "mpfc_drd1_ca": ("min5_10", "min15_20", "min25_30", "h24"),
    "literature": ("mtor_block_ket_24h", "spine_block_ket_4h", "spine_block_ket_48h", "dose_response"),
    "individual": ("r2_distance_vs_wlh_failures", "r2_distance_vs_ket_failures", "r2_ket_distance_vs_ket_failures",
                   "slope_sign_distance_vs_wlh_failures", "r2_n11_median", "r2_n11_p05", "r2_n11_p95"),
}

#: The calibration targets, the one place they are named: key -> (target value, source). The model's parameters
#: were set to reproduce these (:mod:`circuits.calibration`; the two baselines in closed form,
#: :func:`circuits.behavior.baseline_link`); nothing else in the summary was used to set a parameter, except the
#: literature dose–response (set by hand earlier: the inverted U of prefrontal glutamate and no benefit at
#: anaesthetic doses; ``mpfc.f_ee_nmda``, ``j_anaes_nA``, ``j_z_nA``, ``tau_z_h``).
CALIBRATION = {
    "slh.failure_rate.baseline": (0.0219, "Wu 2021 FS6-3a: sLH baseline 2.19 % (Gaussian fit, n = 105)"),
    "slh.failure_rate.lh": (0.7402, "Wu 2021 FS6-3a: after sLH 74.02 % (n = 107)"),
    "wlh.failure_rate.day1_2": (0.1188, "Wu 2021 FS6-3b: wLH days 1-2 (before induction) 11.88 % (n = 34)"),
    "wlh.failure_rate.day3_4": (0.4891, "Wu 2021 FS6-3b: wLH days 3-4 (after induction) 48.91 % (n = 34)"),
    "wlh.failure_rate.ket_day5": (0.2935, "Wu 2021 Fig 2c photometry cohort: 60 % -> 36 % failures after ketamine "
                                          "(n = 8), the same relative fall applied to the 48.91 % of FS6-3b"),
    "literature.dose_response": (None, "set by hand: inverted U of prefrontal glutamate (up at 10-30 mg/kg, down "
                                       "at 200 mg/kg; Moghaddam et al. 1997 J Neurosci 17:2921) and no "
                                       "behavioural benefit at anaesthetic doses (assumed reading)"),
}

#: margin (fraction, or relative units) of every direction and every numeric validation check; the calibration
#: checks use the same ±0.10
MARGIN = 0.10

#: The paper's value or direction for every key: key -> {"value": number or None, "direction": text, "panel": text}
PAPER = {
    "slh.failure_rate.baseline": {"value": 0.0219, "panel": "FS6-3a (n = 105)"},
    "slh.failure_rate.lh": {"value": 0.7402, "panel": "FS6-3a (n = 107)"},
    "slh.failure_rate.ket_4h": {"value": None, "direction": "below LH (rescue; LH vs LH+KET p = 0.0037)",
                                "panel": "Fig 1b (n = 8)"},
    "slh.failure_rate.saline_4h": {"value": None, "direction": "not below LH (p = 0.5299)", "panel": "FS1-1a (n = 5)"},
    "wlh.failure_rate.day1_2": {"value": 0.1188, "panel": "FS6-3b (n = 34)"},
    "wlh.failure_rate.day3_4": {"value": 0.4891, "panel": "FS6-3b (n = 34)"},
    "wlh.failure_rate.ket_day5": {"value": 0.2935, "direction": "below days 3-4 (60 % -> 36 % in the photometry "
                                  "cohort)", "panel": "Fig 2b,c (n = 8-9)"},
    "wlh.failure_rate.ket_day6": {"value": None, "direction": "below days 3-4 (wLH+KET vs saline, days 5-6 "
                                  "p < 0.0001)", "panel": "Fig 2b right (n = 9)"},
    "wlh.failure_rate.saline_day5": {"value": None, "direction": "not below days 3-4 (saline cohort 44 % -> 59 %)",
                                     "panel": "FS2-4 (n = 9)"},
    "wlh.failure_rate.no_induction_day5_6": {"value": 0.12, "panel": "FS2-3 (n = 6: 11, 12, 12 %)"},
    "photometry.slh.dip_rel_end_induction": {"value": None, "direction": "< 1 (blunted; peak during shock, start vs "
                                             "end p = 0.0458)", "panel": "Fig 1d,e (n = 8)"},
    "photometry.slh.peak_rel_end_induction": {"value": None, "direction": "< 1 (blunted; peak after shock "
                                              "p = 0.0230)", "panel": "Fig 1d,e (n = 8)"},
    "photometry.slh.dip_rel_ket_4h": {"value": None, "direction": "not below the end of induction (restoration n.s., "
                                      "p = 0.0788)", "panel": "Fig 1d,e (n = 8)"},
    "photometry.slh.peak_rel_ket_4h": {"value": None, "direction": "above the end of induction (restored, "
                                       "p = 0.0068)", "panel": "Fig 1d,e (n = 8)"},
    "photometry.wlh.failure_dip_rel_wlh": {"value": None, "direction": "< 1 (failure-trial dip lost; negative AUC "
                                           "p = 0.0069)", "panel": "Fig 2c,d (n = 12)"},
    "photometry.wlh.failure_dip_rel_ket": {"value": None, "direction": "above wLH (dip restored; p = 0.0069)",
                                           "panel": "Fig 2c,d (n = 12)"},
    "photometry.wlh.escape_peak_rel_wlh": {"value": None, "direction": "≈ 1 (escape positive AUC unchanged, "
                                           "p = 0.1787)", "panel": "Fig 2c,d (n = 12)"},
    "photometry.wlh.escape_peak_rel_ket": {"value": None, "direction": "≈ 1 (unchanged)",
                                           "panel": "Fig 2c,d (n = 12)"},
    "controls.vta_hm4di_cno_ket_4h": {"value": None, "direction": "no rescue (≈ LH; hM4Di+ vs Cre− p < 0.0001)",
                                      "panel": "Fig 3d (n = 7-8)"},
    "controls.vta_hm4di_cno_ket_24h": {"value": None, "direction": "no rescue (≈ LH; p = 0.0107)",
                                       "panel": "Fig 3d (n = 7-8)"},
    "controls.vta_hm4di_ket_alone_4h": {"value": None, "direction": "rescue (below LH; vs Cre− p > 0.9)",
                                        "panel": "Fig 3d (n = 7-8)"},
    "controls.vta_hm4di_ket_alone_72h": {"value": None, "direction": "between rescue and LH (several mice LH "
                                         "again)", "panel": "Fig 3d (n = 7-8)"},
    "controls.cno_alone_hm4di_baseline": {"value": None, "direction": "= baseline (p = 0.9538)",
                                          "panel": "Fig 3f (n = 5-6)"},
    "controls.cno_alone_hm4di_lh": {"value": None, "direction": "= LH (p = 0.9947)", "panel": "Fig 3f (n = 5-6)"},
    "controls.mpfc_infusion_ket_4h": {"value": None, "direction": "rescue (below LH; p < 0.0001)",
                                      "panel": "Fig 5b"},
    "controls.vta_infusion_ket_4h": {"value": None, "direction": "no rescue (≈ LH; p = 0.9986)", "panel": "Fig 5b"},
    "controls.drd1_hm3dq_cno_2h": {"value": None, "direction": "rescue without ketamine (below LH; p = 0.0157)",
                                   "panel": "Fig 6h (n = 10 Cre+)"},
    "controls.drd1_hm3dq_cno_4h": {"value": None, "direction": "rescue without ketamine (below LH; p < 0.0001)",
                                   "panel": "Fig 6h (n = 10 Cre+)"},
    "controls.drd1_hm4di_ket_4h": {"value": None, "direction": "no rescue (≈ LH; p = 0.0056)",
                                   "panel": "FS6-2 (n = 6)"},
    "controls.drd1_hm4di_ket_24h": {"value": None, "direction": "no rescue (≈ LH; p = 0.0002)",
                                    "panel": "FS6-2 (n = 6)"},
    "mpfc_drd1_ca.min5_10": {"value": None, "direction": "≈ 1 (not raised; p = 0.3605)", "panel": "FS6-1 (n = 6)"},
    "mpfc_drd1_ca.min15_20": {"value": None, "direction": "> 1 (raised; p = 0.0131)", "panel": "FS6-1 (n = 6)"},
    "mpfc_drd1_ca.min25_30": {"value": None, "direction": "> 1 (raised; p = 0.0063)", "panel": "FS6-1 (n = 6)"},
    "mpfc_drd1_ca.h24": {"value": None, "direction": "> 1 (raised; p = 0.0031)", "panel": "FS6-1 (n = 6)"},
    "literature.mtor_block_ket_24h": {"value": None, "direction": "no sustained rescue (≈ LH)",
                                      "panel": "not in Wu 2021: Li et al. 2010 Science 329:959 (rapamycin)"},
    "literature.spine_block_ket_4h": {"value": None, "direction": "early rescue intact (below LH)",
                                      "panel": "not in Wu 2021: Moda-Sava et al. 2019 Science 364:eaat8078"},
    "literature.spine_block_ket_48h": {"value": None, "direction": "rescue lost later (above the unblocked rescue)",
                                       "panel": "not in Wu 2021: Moda-Sava et al. 2019 Science 364:eaat8078"},
    "literature.dose_response": {"value": None, "direction": "prefrontal glutamate up at 10-30 mg/kg, down at 200 "
                                 "mg/kg (anaesthetic); no behavioural benefit at 100-200 mg/kg (assumed reading)",
                                 "panel": "not in Wu 2021: Moghaddam et al. 1997 J Neurosci 17:2921"},
    "individual.r2_distance_vs_wlh_failures": {"value": 0.629, "panel": "Fig 2h (n = 11)"},
    "individual.r2_distance_vs_ket_failures": {"value": 0.715, "panel": "Fig 2i (n = 11)"},
    "individual.r2_ket_distance_vs_ket_failures": {"value": 0.399, "panel": "Fig 2g (n = 11)"},
    "individual.slope_sign_distance_vs_wlh_failures": {"value": -1, "direction": "negative (larger distance, fewer "
                                                       "failures)", "panel": "Fig 2h"},
    "individual.r2_n11_median": {"value": None, "direction": "the paper's R² (0.629, 0.715) inside the model's "
                                 "5-95 % range over n = 11 subsamples", "panel": "Fig 2h,i (n = 11)"},
    "individual.r2_n11_p05": {"value": None, "direction": "≤ the paper's R²", "panel": "Fig 2h,i (n = 11)"},
    "individual.r2_n11_p95": {"value": None, "direction": "≥ the paper's R²", "panel": "Fig 2h,i (n = 11)"},
}


def _get(summary: dict, key: str):
    v = summary
    for part in key.split("."):
        v = v[part]
    return v


def _lh(s):
    return _get(s, "slh.failure_rate.lh")


def _rescued(key):
    return lambda s: _get(s, key) < _lh(s) - MARGIN


def _blocked(key):
    return lambda s: abs(_get(s, key) - _lh(s)) < MARGIN


def _near(key, value):
    return lambda s: abs(_get(s, key) - value) <= MARGIN


def _n11(which):
    """The paper's R² (Fig 2h,i) against the model's n = 11 subsample distribution: at or above its 5th percentile
    (``p05``), at or below its 95th (``p95``), or between both (``median``: the paper's value is a typical draw)."""
    paper = {"distance_vs_wlh_failures": 0.629, "distance_vs_ket_failures": 0.715}

    def ok(s):
        lo, hi = s["individual"]["r2_n11_p05"], s["individual"]["r2_n11_p95"]
        return all((which == "p95" or lo[k] <= v) and (which == "p05" or v <= hi[k]) for k, v in paper.items())
    return ok


def _dose_ok(s):
    d = s["literature"]["dose_response"]
    peak = dict(zip(d["dose_mg_per_kg"], d["mpfc_peak_rel"]))
    fail = dict(zip(d["dose_mg_per_kg"], d["failure_4h"]))
    return (peak[10.0] > 1 + MARGIN and peak[30.0] > 1 + MARGIN and peak[200.0] < 1
            and min(fail[100.0], fail[200.0]) > _lh(s) - MARGIN)


#: How each key is judged against :data:`PAPER` (a function of the whole summary -> met?). Numbers within ±MARGIN;
#: "≈ LH" within ±MARGIN of the model's own LH rate; "rescue" more than MARGIN below it; ratios "≈ 1" within
#: MARGIN, "< 1" below 1 − MARGIN, "> 1" above 1 + MARGIN.
CHECKS = {
    "slh.failure_rate.baseline": _near("slh.failure_rate.baseline", 0.0219),
    "slh.failure_rate.lh": _near("slh.failure_rate.lh", 0.7402),
    "slh.failure_rate.ket_4h": _rescued("slh.failure_rate.ket_4h"),
    "slh.failure_rate.saline_4h": lambda s: _get(s, "slh.failure_rate.saline_4h") > _lh(s) - MARGIN,
    "wlh.failure_rate.day1_2": _near("wlh.failure_rate.day1_2", 0.1188),
    "wlh.failure_rate.day3_4": _near("wlh.failure_rate.day3_4", 0.4891),
    "wlh.failure_rate.ket_day5": _near("wlh.failure_rate.ket_day5", 0.2935),
    "wlh.failure_rate.ket_day6": lambda s: _get(s, "wlh.failure_rate.ket_day6")
    < _get(s, "wlh.failure_rate.day3_4") - MARGIN,
    "wlh.failure_rate.saline_day5": lambda s: _get(s, "wlh.failure_rate.saline_day5")
    > _get(s, "wlh.failure_rate.day3_4") - MARGIN,
    "wlh.failure_rate.no_induction_day5_6": _near("wlh.failure_rate.no_induction_day5_6", 0.12),
    "photometry.slh.dip_rel_end_induction": lambda s: _get(s, "photometry.slh.dip_rel_end_induction") < 1 - MARGIN,
    "photometry.slh.peak_rel_end_induction": lambda s: _get(s, "photometry.slh.peak_rel_end_induction") < 1 - MARGIN,
    "photometry.slh.dip_rel_ket_4h": lambda s: _get(s, "photometry.slh.dip_rel_ket_4h")
    >= _get(s, "photometry.slh.dip_rel_end_induction"),
    "photometry.slh.peak_rel_ket_4h": lambda s: _get(s, "photometry.slh.peak_rel_ket_4h")
    > _get(s, "photometry.slh.peak_rel_end_induction") + MARGIN,
    "photometry.wlh.failure_dip_rel_wlh": lambda s: _get(s, "photometry.wlh.failure_dip_rel_wlh") < 1 - MARGIN,
    "photometry.wlh.failure_dip_rel_ket": lambda s: _get(s, "photometry.wlh.failure_dip_rel_ket")
    > _get(s, "photometry.wlh.failure_dip_rel_wlh") + MARGIN,
    "photometry.wlh.escape_peak_rel_wlh": _near("photometry.wlh.escape_peak_rel_wlh", 1.0),
    "photometry.wlh.escape_peak_rel_ket": _near("photometry.wlh.escape_peak_rel_ket", 1.0),
    "controls.vta_hm4di_cno_ket_4h": _blocked("controls.vta_hm4di_cno_ket_4h"),
    "controls.vta_hm4di_cno_ket_24h": _blocked("controls.vta_hm4di_cno_ket_24h"),
    "controls.vta_hm4di_ket_alone_4h": _rescued("controls.vta_hm4di_ket_alone_4h"),
    "controls.vta_hm4di_ket_alone_72h": lambda s: _get(s, "controls.vta_hm4di_ket_alone_4h")
    < _get(s, "controls.vta_hm4di_ket_alone_72h") < _lh(s),
    # CNO alone at baseline is judged against the model's own baseline ("no change"), not a number
    "controls.cno_alone_hm4di_baseline": lambda s: abs(_get(s, "controls.cno_alone_hm4di_baseline")
                                                       - _get(s, "slh.failure_rate.baseline")) < MARGIN,
    "controls.cno_alone_hm4di_lh": _blocked("controls.cno_alone_hm4di_lh"),
    "controls.mpfc_infusion_ket_4h": _rescued("controls.mpfc_infusion_ket_4h"),
    "controls.vta_infusion_ket_4h": _blocked("controls.vta_infusion_ket_4h"),
    "controls.drd1_hm3dq_cno_2h": _rescued("controls.drd1_hm3dq_cno_2h"),
    "controls.drd1_hm3dq_cno_4h": _rescued("controls.drd1_hm3dq_cno_4h"),
    "controls.drd1_hm4di_ket_4h": _blocked("controls.drd1_hm4di_ket_4h"),
    "controls.drd1_hm4di_ket_24h": _blocked("controls.drd1_hm4di_ket_24h"),
    "mpfc_drd1_ca.min5_10": _near("mpfc_drd1_ca.min5_10", 1.0),
    "mpfc_drd1_ca.min15_20": lambda s: _get(s, "mpfc_drd1_ca.min15_20") > 1 + MARGIN,
    "mpfc_drd1_ca.min25_30": lambda s: _get(s, "mpfc_drd1_ca.min25_30") > 1 + MARGIN,
    "mpfc_drd1_ca.h24": lambda s: _get(s, "mpfc_drd1_ca.h24") > 1 + MARGIN,
    "literature.mtor_block_ket_24h": _blocked("literature.mtor_block_ket_24h"),
    "literature.spine_block_ket_4h": _rescued("literature.spine_block_ket_4h"),
    "literature.spine_block_ket_48h": lambda s: _get(s, "literature.spine_block_ket_48h")
    > _get(s, "slh.failure_rate.ket_4h") + MARGIN,
    "literature.dose_response": _dose_ok,
    "individual.r2_distance_vs_wlh_failures": _near("individual.r2_distance_vs_wlh_failures", 0.629),
    "individual.r2_distance_vs_ket_failures": _near("individual.r2_distance_vs_ket_failures", 0.715),
    "individual.r2_ket_distance_vs_ket_failures": _near("individual.r2_ket_distance_vs_ket_failures", 0.399),
    "individual.slope_sign_distance_vs_wlh_failures": lambda s: _get(
        s, "individual.slope_sign_distance_vs_wlh_failures") < 0,
    "individual.r2_n11_median": _n11("median"),
    "individual.r2_n11_p05": _n11("p05"),
    "individual.r2_n11_p95": _n11("p95"),
}


def summary_keys(schema: dict = SCHEMA, prefix: str = "") -> list[str]:
    """Every dotted key of the summary's results (the leaves of :data:`SCHEMA`), in schema order."""
    out = []
    for k, v in schema.items():
        p = f"{prefix}{k}"
        out += summary_keys(v, p + ".") if isinstance(v, dict) else [f"{p}.{x}" for x in v]
    return out


def split() -> dict:
    """``{"calibration": [...], "validation": [...]}``: :data:`CALIBRATION`'s keys and every other key."""
    keys = summary_keys()
    return {"calibration": [k for k in keys if k in CALIBRATION],
            "validation": [k for k in keys if k not in CALIBRATION]}


def assess(summary: dict) -> dict[str, bool]:
    """Key -> whether the model meets the paper there (:data:`CHECKS`); NaN readouts count as missed."""
    out = {}
    for k in summary_keys():
        try:
            with np.errstate(invalid="ignore"):
                out[k] = bool(CHECKS[k](summary))
        except (TypeError, KeyError):
            out[k] = False
    return out


def _ket(dose_mg_per_kg: float = 10.0, time_h: float = 0.0) -> Regimen:
    return Regimen.single(f"{dose_mg_per_kg:g}mg/kg", "ip", time_h=time_h)


def _groups(q: ProtocolParams = ProtocolParams()) -> dict:
    """Every group of the replication: name -> Protocol (Wu 2021 Methods; literature groups marked)."""
    ket = _ket(10.0)
    th = q.test_h("slh")
    ket2 = 24.0 + th  # Wu 2021 Fig 3: ketamine alone right after the 24-h test of CNO + ketamine
    lh_cno = (72.0 - CNO_TEST_LEAD_H,)
    g = {
        "slh_ket": build_protocol("slh", regimen=ket),
        "slh_saline": build_protocol("slh"),
        # Fig 3c,d: hM4Di in VTA DA neurons; CNO + ketamine at 48 h, tests 4 and 24 h; then ketamine alone
        "vta_hm4di": build_protocol("slh", regimen=ket + _ket(10.0, ket2), manipulations="da_silencing",
                                    post_drug_tests_h=(4.0, 24.0, ("ket2_4h", ket2 + 4.0), ("ket2_24h", ket2 + 24.0),
                                                       ("ket2_72h", ket2 + 72.0))),
        # Fig 3f: CNO alone in hM4Di+ mice, before a test in naive mice and after sLH
        "cno_alone_naive": build_protocol("slh", manipulations="da_silencing", induction=False, cno_at_h=lh_cno),
        "cno_alone_lh": build_protocol("slh", manipulations="da_silencing", cno_at_h=lh_cno),
        "mpfc_infusion_ket": build_protocol("slh", regimen=ket, manipulations="mpfc_infusion"),
        "vta_infusion_ket": build_protocol("slh", regimen=ket, manipulations="vta_infusion"),
        # Fig 6e-i: hM3Dq in mPFC Drd1 neurons, CNO at 48 h, tests 2 and 4 h; FS6-2: hM4Di with ketamine
        "drd1_hm3dq": build_protocol("slh", manipulations="drd1_activation", post_drug_tests_h=(2.0, 4.0)),
        "drd1_hm4di_ket": build_protocol("slh", regimen=ket, manipulations="drd1_inhibition",
                                         post_drug_tests_h=(4.0, 24.0)),
        # FS6-1: naive mice, 10 mg/kg, mPFC Drd1 Ca2+ in 5-min bins and at 24 h
        "naive_ket": build_protocol("slh", regimen=ket, induction=False, post_drug_tests_h=(24.0,)),
        "wlh_ket": build_protocol("wlh", regimen=ket),
        "wlh_saline": build_protocol("wlh"),
        "wlh_no_induction": build_protocol("wlh", induction=False),
        # literature, not Wu 2021
        "mtor_block_ket": build_protocol("slh", regimen=ket, manipulations="mtor_block", post_drug_tests_h=(24.0,)),
        "spine_block_ket": build_protocol("slh", regimen=ket, manipulations="spine_block",
                                          post_drug_tests_h=(4.0, 48.0)),
    }
    for d in DOSE_GRID:
        if d != 10.0:
            g[f"dose_{d:g}"] = build_protocol("slh", regimen=_ket(d))
    return g


def _r2_slope(x, y):
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan"), float("nan")
    r = float(np.corrcoef(x, y)[0, 1])
    return r * r, float(np.sign(r))


def _n11_r2(x, y, rng) -> np.ndarray:
    """R² over ``N11_DRAWS`` random subsamples of ``N11`` mice (without replacement)."""
    n = x.size
    if n < N11:
        return np.full(1, np.nan)
    out = np.empty(N11_DRAWS)
    for i in range(N11_DRAWS):
        idx = rng.choice(n, N11, replace=False)
        out[i] = _r2_slope(x[idx], y[idx])[0]
    return out


def _rel_bin(t_h, r, t0_h, lo_min, hi_min):
    """Mean of ``r`` (S, T) over [t0 + lo, t0 + hi] (min), trapezoids on the grid: (S,)."""
    sel = (t_h >= t0_h + lo_min / 60 - 1e-9) & (t_h <= t0_h + hi_min / 60 + 1e-9)
    tt, rr = t_h[sel], r[:, sel]
    return np.sum((rr[:, 1:] + rr[:, :-1]) * np.diff(tt) / 2, axis=1) / (tt[-1] - tt[0])


def wu2021(n: int = 100, seed: int = 0, progress=None, params=None, cohort=None) -> tuple[dict, dict]:
    """Run the replication on a virtual cohort of ``n`` mice (:func:`circuits.experiments.virtual_cohort`).

    Returns ``(summary, details)``: ``summary`` follows :data:`SCHEMA` plus ``split`` (:func:`split`) and ``paper``
    (:data:`PAPER`), and ``details`` holds the group results and trials for figures. ``params``: overrides by name
    (:mod:`circuits.overrides`), applied to the typical mouse the cohort varies around. ``cohort``: the mice
    themselves (a list of :class:`~circuits.model.CircuitParams`; ``n`` and the circuit overrides then unused).
    """
    summary, details = wu2021_summary(*_wu2021_run(n, seed, progress, params, cohort), seed)
    return summary, details


def _wu2021_run(n, seed, progress, params, cohort):
    """Every group of the replication on the cohort, batched: ``(results by group, cohort)``."""
    from .overrides import resolve_circuit

    base, pkv, _ = resolve_circuit(params)
    cohort = virtual_cohort(n, seed, base=base) if cohort is None else list(cohort)
    n = len(cohort)
    pk_values = None if pkv is None else [pkv] * n
    q = ProtocolParams()
    groups = _groups(q)
    names = list(groups)
    t_drug = 96.0
    extra = np.concatenate([t_drug + np.arange(-10.0, 36.0, 0.5) / 60,            # Drd1 Ca2+ bins (FS6-1)
                            t_drug + 24.0 + np.arange(0.0, 5.5, 0.5) / 60,        # and the 24-h bin
                            t_drug + np.arange(0.0, 121.0, 2.5) / 60])             # the surge's first 2 h
    wl = [k for k in names if k.startswith("wlh_")]
    other = [k for k in names if k not in wl]
    res = dict(zip(other, run_groups(cohort, [groups[k] for k in other], extra_t_h=extra, keep_traces=True,
                                     progress=progress, pk_values=pk_values)))
    res.update(zip(wl, run_groups(cohort, [groups[k] for k in wl], keep_traces=True, keep_y=True,
                                  pk_values=pk_values)))
    return res, cohort


def wu2021_summary(res: dict, cohort: list, seed: int = 0) -> tuple[dict, dict]:
    """:func:`wu2021`'s ``(summary, details)`` from its group results ``res`` on ``cohort`` (rows = mice; a subset
    of a larger run by :meth:`~circuits.experiments.GroupResult.take`)."""
    n = len(cohort)
    q = ProtocolParams()
    t_drug = 96.0
    f = lambda g, lbl: float(np.nanmean(res[g].failure[:, res[g].labels.index(lbl)]))  # noqa: E731

    def days(g, a, b):
        return float(np.nanmean(res[g].failure[:, [res[g].labels.index(a), res[g].labels.index(b)]]))

    # sLH photometry: ΔF/F of inescapable 3-s shocks, relative to the same mouse at the start of induction
    s = res["slh_ket"]
    met = photometry(s.traces, s.trial_t_s, 5.0, 3.0)
    col = s.labels.index

    def rel(m, lbl):
        return float(np.nanmean(met[m][:, col(lbl)] / met[m][:, col("ind_start")]))

    # wLH escape and failure trials at the state of each test (Fig 2c,d)
    w = res["wlh_ket"]
    sysm_idx = {lbl: int(np.argmin(np.abs(w.t_h - (t - 1e-3)))) for lbl, t in w.protocol.tests}
    p_w = w.long["_p"]
    wtrials = {}
    for lbl in ("test1", "test2", "test3", "test4", "test5"):
        y = w.long["_y"][:, sysm_idx[lbl]]
        wtrials[lbl] = escape_failure_trials(y, p_w, w.efficacy[:, w.labels.index(lbl)],
                                             [c.behavior for c in cohort], trial_s=q.wlh_trial_s)

    def wrel(metric, lbls):
        base = (wtrials["test1"][metric] + wtrials["test2"][metric]) / 2
        return float(np.nanmean(np.mean([wtrials[x][metric] for x in lbls], axis=0) / base))

    # mPFC Drd1 Ca2+ (FS6-1): r_D1 averaged over 5-min bins, relative to the 5 min before the dose
    nk = res["naive_ket"]
    base = _rel_bin(nk.t_h, nk.long["r_d1"], t_drug, *CA_BASELINE_MIN)
    ca = {k: float(np.nanmean(_rel_bin(nk.t_h, nk.long["r_d1"], t_drug, lo, hi) / base))
          for k, (lo, hi) in CA_BINS_MIN.items()}
    # dose-response: the largest 20-min mean of the mPFC rate in the first 2 h / the 5 min before the dose (as
    # microdialysis reads glutamate, in 20-min fractions; Moghaddam et al. 1997)
    dose_peak, dose_fail = [], []
    for d in DOSE_GRID:
        g = res["slh_ket" if d == 10.0 else f"dose_{d:g}"]
        r0 = _rel_bin(g.t_h, g.long["r_e"], t_drug, -5.0, 0.0)
        bins = [_rel_bin(g.t_h, g.long["r_e"], t_drug, a, a + 20.0) / r0 for a in range(0, 120, 20)]
        dose_peak.append(float(np.nanmean(np.max(bins, axis=0))))
        dose_fail.append(f("slh_ket" if d == 10.0 else f"dose_{d:g}", "4h"))
    # individual differences, wLH only (Fig 2g-i)
    dist0 = (wtrials["test1"]["distance"] + wtrials["test2"]["distance"]) / 2
    dist_ket = wtrials["test5"]["distance"]
    fail34 = w.failure[:, [w.labels.index("test3"), w.labels.index("test4")]].mean(axis=1)
    fail5 = w.failure[:, w.labels.index("test5")]
    r2_wlh, sign_wlh = _r2_slope(dist0, fail34)
    r2_ket, _ = _r2_slope(dist0, fail5)
    r2_kk, _ = _r2_slope(dist_ket, fail5)
    rng = np.random.default_rng([int(seed), 11])
    sub = {"distance_vs_wlh_failures": _n11_r2(dist0, fail34, rng),
           "distance_vs_ket_failures": _n11_r2(dist0, fail5, rng)}
    def pct(q_):
        return {k: float(np.nanpercentile(v, q_)) if np.isfinite(v).any() else float("nan") for k, v in sub.items()}

    summary = {
        "slh": {"failure_rate": {"baseline": f("slh_ket", "baseline"), "lh": f("slh_ket", "lh"),
                                 "ket_4h": f("slh_ket", "4h"), "saline_4h": f("slh_saline", "4h")}},
        "wlh": {"failure_rate": {"day1_2": days("wlh_ket", "test1", "test2"),
                                 "day3_4": days("wlh_ket", "test3", "test4"),
                                 "ket_day5": f("wlh_ket", "test5"), "ket_day6": f("wlh_ket", "test6"),
                                 "saline_day5": f("wlh_saline", "test5"),
                                 "no_induction_day5_6": days("wlh_no_induction", "test5", "test6")}},
        "photometry": {
            "slh": {"dip_rel_end_induction": rel("dff_dip", "ind_end"),
                    "peak_rel_end_induction": rel("dff_peak", "ind_end"),
                    "dip_rel_ket_4h": rel("dff_dip", "4h"), "peak_rel_ket_4h": rel("dff_peak", "4h")},
            "wlh": {"failure_dip_rel_wlh": wrel("failure_dff_dip", ("test3", "test4")),
                    "failure_dip_rel_ket": wrel("failure_dff_dip", ("test5",)),
                    "escape_peak_rel_wlh": wrel("escape_dff_peak", ("test3", "test4")),
                    "escape_peak_rel_ket": wrel("escape_dff_peak", ("test5",))}},
        "controls": {
            "vta_hm4di_cno_ket_4h": f("vta_hm4di", "4h"), "vta_hm4di_cno_ket_24h": f("vta_hm4di", "24h"),
            "vta_hm4di_ket_alone_4h": f("vta_hm4di", "ket2_4h"),
            "vta_hm4di_ket_alone_72h": f("vta_hm4di", "ket2_72h"),
            "cno_alone_hm4di_baseline": f("cno_alone_naive", "lh"), "cno_alone_hm4di_lh": f("cno_alone_lh", "lh"),
            "mpfc_infusion_ket_4h": f("mpfc_infusion_ket", "4h"), "vta_infusion_ket_4h": f("vta_infusion_ket", "4h"),
            "drd1_hm3dq_cno_2h": f("drd1_hm3dq", "2h"), "drd1_hm3dq_cno_4h": f("drd1_hm3dq", "4h"),
            "drd1_hm4di_ket_4h": f("drd1_hm4di_ket", "4h"), "drd1_hm4di_ket_24h": f("drd1_hm4di_ket", "24h")},
        "mpfc_drd1_ca": ca,
        "literature": {"mtor_block_ket_24h": f("mtor_block_ket", "24h"),
                       "spine_block_ket_4h": f("spine_block_ket", "4h"),
                       "spine_block_ket_48h": f("spine_block_ket", "48h"),
                       "dose_response": {"dose_mg_per_kg": list(DOSE_GRID), "mpfc_peak_rel": dose_peak,
                                         "failure_4h": dose_fail}},
        "individual": {"r2_distance_vs_wlh_failures": r2_wlh, "r2_distance_vs_ket_failures": r2_ket,
                       "r2_ket_distance_vs_ket_failures": r2_kk, "slope_sign_distance_vs_wlh_failures": sign_wlh,
                       "r2_n11_median": pct(50), "r2_n11_p05": pct(5), "r2_n11_p95": pct(95)},
        "split": split(),
        "paper": PAPER,
    }
    details = {"groups": res, "cohort": cohort, "n": n, "seed": seed, "wlh_trials": wtrials,
               "distance_baseline": dist0, "distance_ket": dist_ket, "wlh_failure_day3_4": fail34,
               "wlh_failure_day5": fail5, "r2_n11": sub, "slh_photometry": met, "assessment": assess(summary)}
    return summary, details


def _fmt(v) -> str:
    if isinstance(v, dict):
        if "dose_mg_per_kg" in v:
            return "surge " + ", ".join(f"{d:g}: {x:.2f}" for d, x in zip(v["dose_mg_per_kg"], v["mpfc_peak_rel"])) \
                + "; failures 4 h " + ", ".join(f"{d:g}: {x:.2f}" for d, x in zip(v["dose_mg_per_kg"],
                                                                                   v["failure_4h"]))
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items() if not k.endswith("_ci90"))
    if v is None:
        return "–"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return "nan" if v != v else f"{v:.3g}"
    return str(v)


def replication_table(summary: dict) -> str:
    """The README's replication table (markdown) from a ``summary.json`` dict: calibration rows, then validation
    rows (met, then missed), each with the model's value beside the paper's value or direction and its panel."""
    ok = assess(summary)
    sp = summary.get("split") or split()
    paper = summary.get("paper") or PAPER
    post = summary.get("posterior")
    head = "| key | model | paper | panel | |" + (" posterior |" if post else "") + "\n|---|---|---|---|---|" \
        + ("---|" if post else "") + "\n"

    def judged(k):  # the posterior predictive judgement: inside the 90 % interval, and how often the check holds
        inside = post["paper_inside_ci90"].get(k)
        frac = post["met_fraction"].get(k)
        parts = ([("paper inside" if inside else "paper **outside**")] if inside is not None else []) \
            + ([f"met in {100 * frac:.0f} % of draws"] if frac is not None else [])
        return " " + ("; ".join(parts) or "the pooled draws (undefined in one draw's mice)") + " |"

    def row(k, mark):
        p = paper[k]
        pv = _fmt(p["value"]) if p.get("value") is not None and not p.get("direction") else \
            (f"{_fmt(p['value'])}; " if p.get("value") is not None else "") + p.get("direction", "")
        try:
            ci = _get(summary, k + "_ci90")
            mv = f"{_fmt(_get(summary, k))} [{_fmt(ci[0])}, {_fmt(ci[1])}]" if not isinstance(ci[0], list) \
                else _fmt(_get(summary, k))
        except (KeyError, TypeError):
            mv = _fmt(_get(summary, k))
        return f"| `{k}` | {mv} | {pv} | {p['panel']} | {mark} |" + (judged(k) if post else "") + "\n"

    cal = "".join(row(k, "calibration ✓" if ok[k] else "calibration ✗ (missed)") for k in sp["calibration"])
    met = [k for k in sp["validation"] if ok[k]]
    missed = [k for k in sp["validation"] if not ok[k]]
    val = "".join(row(k, "met") for k in met) + "".join(row(k, "**missed**") for k in missed)
    note = "" if not post else (
        f"Posterior: {post['draws']} parameter sets of the calibration's posterior, {post['mice_per_draw']} mice "
        f"each; model values are medians over the sets with the 90 % posterior predictive interval of a study of "
        f"that many mice in brackets; the last column says whether the paper's value lies inside it and in how "
        f"many of the sets the check holds.\n\n")
    return (note + f"**Calibration targets** ({len(sp['calibration'])}; parameters were set to reproduce these):\n\n"
            f"{head}{cal}\n**Validation targets** ({len(sp['validation'])}; never used to set a parameter): "
            f"{len(met)} met, {len(missed)} missed"
            + (f" ({', '.join(f'`{k}`' for k in missed)})" if missed else "") + f".\n\n{head}{val}")
