"""The Wu 2021 replication on a small virtual cohort: the summary follows the schema, the calibration/validation
split is disjoint and complete, the calibration targets are met (a calibration check), the paper's controls can
falsify the behaviour model (CNO alone in receptor-expressing mice; CNO without a receptor), and every validation
target is asserted in the paper's direction where the model meets it, with a strict xfail carrying the paper's
value where it misses (so a fix shows up as an unexpected pass).

The cohort is small (n = 12, seed 1) to keep the suite fast; the checks' margins (0.10 in failure fraction or in
ratio, :data:`circuits.replication.MARGIN`) are far above the sampling noise of a difference within the same mice.
The R² distributions over n = 11 subsamples need a larger cohort and are left to ``ketamine experiment``."""

import numpy as np
import pytest

from circuits.replication import CALIBRATION, CHECKS, PAPER, SCHEMA, assess, split, summary_keys, wu2021

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

#: validation targets the model misses (n = 12, seed 1): key -> why, with the paper's value or direction
MISSES = {
    "photometry.slh.dip_rel_ket_4h": "paper: dip at 4 h not below the end of induction (restoration n.s., p = "
                                     "0.0788); the model's deficit deepens for a day after induction, so the 4-h "
                                     "dip, though restored from the LH level, stays below the end of induction",
    "photometry.slh.peak_rel_ket_4h": "paper: post-shock peak restored 4 h after ketamine (p = 0.0068); same reason",
    "photometry.wlh.escape_peak_rel_wlh": "paper: escape transient unchanged (p = 0.1787); the model's later "
                                          "escapes after wLH give a larger (small) post-escape rise",
    "photometry.wlh.escape_peak_rel_ket": "paper: escape transient unchanged by ketamine (p = 0.1787)",
    "controls.vta_hm4di_ket_alone_72h": "paper: several mice LH again by 72 h (Fig 3d); the model's rescue grows "
                                        "to 72 h (new spines)",
    "mpfc_drd1_ca.min5_10": "paper: no rise at 5-10 min (p = 0.3605); the brain level's slow rise through the "
                            "disinhibition window (brain Tmax 9.6 min after i.v., Cohen 1973: < 1 min) shows at "
                            "1-8 min",
    "mpfc_drd1_ca.h24": "paper: raised at 24 h (p = 0.0031)",
    "individual.r2_distance_vs_wlh_failures": "paper R² 0.629 (Fig 2h, n = 11); met at n = 200 (0.60), not in "
                                              "this 12-mouse cohort",
    "individual.r2_ket_distance_vs_ket_failures": "paper R² 0.399 (Fig 2g, n = 11); the deterministic model is "
                                                  "too tight",
}
_N11 = ("individual.r2_n11_median", "individual.r2_n11_p05", "individual.r2_n11_p95")


@pytest.fixture(scope="module")
def result():
    return wu2021(n=12, seed=1)


def _get(s, key):
    for part in key.split("."):
        s = s[part]
    return s


def test_summary_follows_the_schema_exactly(result):
    s, _ = result
    assert set(s) == set(SCHEMA) | {"split", "paper"}
    for key in summary_keys():
        v = _get(s, key)
        if key == "literature.dose_response":
            assert set(v) == {"dose_mg_per_kg", "mpfc_peak_rel", "failure_4h"}
            assert len(v["dose_mg_per_kg"]) == len(v["mpfc_peak_rel"]) == len(v["failure_4h"])
        elif key.startswith("individual.r2_n11"):
            assert set(v) == {"distance_vs_wlh_failures", "distance_vs_ket_failures"}
        else:
            assert isinstance(v, float), key
    for section in ("slh", "wlh"):
        assert all(0.0 <= x <= 1.0 for x in s[section]["failure_rate"].values())
    assert set(s["paper"]) == set(summary_keys())
    assert all(p["panel"] for p in s["paper"].values())


def test_split_is_disjoint_and_complete(result):
    s, _ = result
    sp = s["split"]
    assert sp == split()
    assert not set(sp["calibration"]) & set(sp["validation"])
    assert sorted(sp["calibration"] + sp["validation"]) == sorted(summary_keys())
    assert set(sp["calibration"]) == set(CALIBRATION) and set(CHECKS) == set(summary_keys()) == set(PAPER)


def test_calibration_check_targets_met_within_10_points(result):
    # calibration check (these numbers were fitted: circuits.calibration), on the cohort mean: within ±0.10
    s, _ = result
    for key, (target, _source) in CALIBRATION.items():
        if target is not None:
            assert _get(s, key) == pytest.approx(target, abs=0.10), key
    assert assess(s)["literature.dose_response"]  # set by hand: the inverted U and no benefit at anaesthetic doses


def test_cno_alone_in_receptor_expressing_mice_leaves_failures_unchanged(result):
    # Wu 2021 Fig 3f: CNO in hM4Di+ mice, 30 min before a test, at baseline and after sLH. The DA neurons are
    # really silenced (the test could fail: a behaviour link that read the DA response would give ~0.8 here)
    s, d = result
    g = d["groups"]
    assert abs(s["controls"]["cno_alone_hm4di_baseline"] - s["slh"]["failure_rate"]["baseline"]) < 1e-3
    assert abs(s["controls"]["cno_alone_hm4di_lh"] - s["slh"]["failure_rate"]["lh"]) < 1e-3
    for name in ("cno_alone_naive", "cno_alone_lh"):
        r = g[name]
        t_test = r.protocol.test_time("lh")
        during = (r.t_h > t_test - 0.4) & (r.t_h < t_test - 0.01)
        assert np.nanmax(r.long["r_da"][:, during]) < 0.2, name          # tonic 4.5 Hz -> silenced
        assert np.nanmean(r.r_rel[:, r.labels.index("lh")]) < 0.7, name  # the post-shock rise is cut too


def test_a_chemogenetic_manipulation_without_its_receptor_does_nothing():
    # CNO in Cre− mice (no receptor anywhere) with ketamine: every readout equals ketamine alone; the same CNO with
    # hM4Di in DA neurons blocks the rescue
    from pkpd.dosing import Regimen

    from circuits.experiments import run_groups, virtual_cohort
    from circuits.protocols import build_protocol

    ket = Regimen.single("10mg/kg", "ip")
    cohort = virtual_cohort(3, 4)
    plain, cre_neg, hm4di = run_groups(cohort, [build_protocol("slh", regimen=ket),
                                                build_protocol("slh", regimen=ket, manipulations="cno_only"),
                                                build_protocol("slh", regimen=ket, manipulations="da_silencing")])
    assert cre_neg.protocol.cno_h == (96.0,)
    np.testing.assert_allclose(cre_neg.failure, plain.failure, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cre_neg.r_rel, plain.r_rel, rtol=1e-6)
    j = plain.labels.index("4h")
    assert np.all(hm4di.failure[:, j] > plain.failure[:, j] + 0.02)


_VALIDATION = [k for k in split()["validation"] if k not in _N11]


@pytest.mark.parametrize("key", [pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=MISSES[k]))
                                 if k in MISSES else k for k in _VALIDATION])
def test_validation_target_goes_the_papers_way(result, key):
    s, _ = result
    assert CHECKS[key](s), (key, _get(s, key), PAPER[key])


def test_table_separates_calibration_from_validation_and_names_the_misses(result):
    from circuits.replication import replication_table

    s, _ = result
    text = replication_table(s)
    cal, val = text.split("**Validation targets**")
    assert all(f"`{k}`" in cal for k in CALIBRATION) and not any(f"`{k}` |" in cal for k in _VALIDATION)
    ok = assess(s)
    for k in split()["validation"]:
        line = [ln for ln in val.splitlines() if ln.startswith(f"| `{k}` |")]
        assert len(line) == 1 and line[0].endswith("| met |" if ok[k] else "| **missed** |"), k
