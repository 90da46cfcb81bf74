"""Protocols against the paper's Methods (Wu et al. 2021 eLife): event timelines (counts, durations, intervals, the
day of induction and of each test), manipulations, and bad input (clear errors naming the field)."""

import numpy as np
import pytest

from circuits.experiments import simulate_protocol, virtual_cohort
from circuits.model import CNO_UNIT_MG_PER_KG
from circuits.protocols import MANIPULATIONS, PROTOCOLS, ProtocolParams, build_protocol, clip_schedule, \
    schedule_for
from pkpd.dosing import Regimen
from pkpd.ode import Schedule

KET = Regimen.single("10mg/kg", "ip")


def test_induction_sessions_are_360_shocks_of_3_s_with_1_to_15_s_intervals():
    q = ProtocolParams()
    assert (q.n_induction_shocks, q.shock_s, q.isi_mean_s) == (360, 3.0, (1 + 15) / 2)
    assert q.induction_h == pytest.approx(360 * (3 + 8) / 3600)
    pr = build_protocol("slh")
    assert all(s[1] == pytest.approx(q.induction_h) and s[2] == pytest.approx(3 / 11) for s in pr.sessions)


def test_slh_timeline_follows_the_methods():
    # baseline test, two induction sessions one per day, LH test 24 h after the last, ketamine 48 h after the last
    # induction and ONE test 4 h later (Wu 2021 Methods, Fig 1)
    pr = build_protocol("slh", regimen=KET)
    assert [s[0] for s in pr.sessions] == [24.0, 48.0]
    assert dict(pr.behaviour_tests) == {"baseline": 0.0, "lh": 72.0, "4h": 100.0}
    assert pr.drug_time_h == 96.0 == 48.0 + 48.0 and [d.time_h for d in pr.regimen] == [96.0]
    assert pr.test_time("lh") - pr.sessions[-1][0] == 24.0
    assert pr.trial_s == 10.0
    # 30 escapable shocks of up to 10 s, inter-trial interval 5-30 s
    q = ProtocolParams()
    assert (q.n_slh_test_trials, q.test_trial_s, q.test_iti_mean_s) == (30, 10.0, (5 + 30) / 2)
    assert pr.test_h == pytest.approx(30 * (10 + 17.5) / 3600)
    # photometry recordings at the start and at the end of induction (Fig 1d,e), not behavioural tests
    assert dict(pr.tests)["ind_start"] == 24.0
    assert dict(pr.tests)["ind_end"] == pytest.approx(48.0 + q.induction_h)
    assert pr.recordings == ("ind_start", "ind_end")


def test_wlh_timeline_follows_the_methods():
    # six daily tests of 100 escapable 3-s shocks (5-15 s intervals); ONE induction at the end of day 2, after
    # tests 1 and 2; ketamine 4 h before test 5; test 6 24 h after ketamine (Wu 2021 Methods, Fig 2)
    pr = build_protocol("wlh", regimen=KET)
    tests = dict(pr.behaviour_tests)
    assert list(tests) == [f"test{k}" for k in range(1, 7)]
    assert [tests[f"test{k}"] for k in range(1, 6)] == [0.0, 24.0, 48.0, 72.0, 96.0]   # days 1-5
    assert len(pr.sessions) == 1
    start, length, _ = pr.sessions[0]
    assert tests["test2"] + pr.test_h <= start and start + length <= tests["test3"]     # day 2, after test 2
    assert 24.0 <= start < 48.0
    assert pr.drug_time_h == tests["test5"] - 4.0 and [d.time_h for d in pr.regimen] == [92.0]
    assert tests["test6"] - pr.drug_time_h == 24.0
    q = ProtocolParams()
    assert pr.trial_s == 3.0 and (q.n_wlh_test_trials, q.wlh_iti_mean_s) == (100, (5 + 15) / 2)
    assert pr.test_h == pytest.approx(100 * (3 + 10) / 3600)
    # no induction: the paper's age-matched controls, same six tests
    ctl = build_protocol("wlh", induction=False)
    assert ctl.sessions == () and ctl.behaviour_tests == pr.behaviour_tests and len(ctl.regimen) == 0


def test_vta_hm4di_experiment_timeline():
    # Fig 3: CNO 3 mg/kg + ketamine at 48 h after induction, tests 4 and 24 h later; ketamine alone right after the
    # 24-h test, tests 4, 24 and 72 h after it
    from circuits.replication import _groups

    pr = _groups()["vta_hm4di"]
    th = pr.test_h
    assert [d.time_h for d in pr.regimen] == [96.0, pytest.approx(120.0 + th)]
    assert pr.cno_h == (96.0,) and pr.cno_mg_per_kg == 3.0
    t = dict(pr.behaviour_tests)
    assert (t["4h"], t["24h"]) == (100.0, 120.0)
    assert [t[k] - (120.0 + th) for k in ("ket2_4h", "ket2_24h", "ket2_72h")] == pytest.approx([4.0, 24.0, 72.0])
    s = schedule_for(pr)
    assert [(e.time, e.value) for e in s if e.state == "cno_depot"] == [(96.0, 3.0 / CNO_UNIT_MG_PER_KG)]


def test_chemogenetic_manipulations_express_a_receptor_and_give_cno_as_a_dose():
    pr = build_protocol("slh", regimen=KET, manipulations=["da_silencing", "mtor_block"])
    assert pr.overrides == {"hm4di_da": 1.0, "mtor_block": 1.0} and pr.cno_h == (96.0,)
    assert build_protocol("slh", manipulations="cno_only").overrides == {}                 # Cre−: no receptor
    assert build_protocol("slh", manipulations="drd1_activation", post_drug_tests_h=(2, 4)).cno_h == (96.0,)
    alone = build_protocol("slh", manipulations="da_silencing", cno_at_h=(71.5,))
    assert alone.cno_h == (71.5,) and len(alone.regimen) == 0
    q = ProtocolParams()
    sil = build_protocol("slh", manipulations="mpfc_silencing")
    assert sil.windows == (("silence", 96.0 - q.silence_lead_h, 96.0 - q.silence_lead_h + q.silence_duration_h),)
    assert build_protocol("slh", manipulations="vta_infusion").overrides == {"occ_scale_mpfc": 0.0}
    assert sum(e.kind == "bolus" for e in schedule_for(pr)) == 2                          # ketamine and CNO


@pytest.mark.parametrize("call, message", [
    (lambda: build_protocol("xlh"), "protocol: unknown 'xlh'; expected one of slh, wlh"),
    (lambda: build_protocol("slh", manipulations="lobotomy"), "manipulation: unknown 'lobotomy'; expected one of"),
    (lambda: build_protocol("slh", drug_time_h=30.0), "drug_time_h: the drug at 30 h would come before induction"),
    (lambda: build_protocol("slh", post_drug_tests_h=(-4,)), "post_drug_tests_h: expected positive times"),
    (lambda: build_protocol("wlh", post_drug_tests_h=(4,)), "post_drug_tests_h: wLH has fixed daily tests"),
    (lambda: build_protocol("slh", cno_at_h=(-1,)), r"cno_at_h: expected times >= 0 h"),
    (lambda: ProtocolParams(shock_s=-3.0), r"ProtocolParams.shock_s: expected a value in \[0.01, 60\] s"),
    (lambda: ProtocolParams(wlh_induction_after_test2_h=30.0), "ProtocolParams.wlh_induction_after_test2_h"),
    (lambda: virtual_cohort(0), "n: expected a cohort of at least 1 subject, got 0"),
    (lambda: simulate_protocol("slh", n=0), "subjects: expected at least 1 subject, got 0"),
    (lambda: simulate_protocol("slh", step_h=-1.0), "step: expected a positive output step"),
])
def test_bad_input_names_the_field(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_every_manipulation_name_is_listed_in_the_error():
    with pytest.raises(ValueError) as e:
        build_protocol("slh", manipulations="nope")
    for name in MANIPULATIONS:
        assert name in str(e.value)
    assert PROTOCOLS == ("slh", "wlh")


def test_clip_schedule_partitions_events_and_cuts_infusions():
    s = Schedule().bolus(1.0, "a", 2.0).infusion(0.5, "a", rate=3.0, end=2.5).reset(2.0, "b", 1.0)
    parts = [clip_schedule(s, 0.0, 1.0), clip_schedule(s, 1.0, 2.0), clip_schedule(s, 2.0, 3.0, last=True)]
    infused = sum(e.value * (e.end - e.time) for p in parts for e in p if e.kind == "infusion")
    assert infused == pytest.approx(3.0 * 2.0)                          # the amount is conserved exactly
    assert [len([e for e in p if e.kind != "infusion"]) for p in parts] == [0, 1, 1]


def test_cohort_is_seeded_and_independent_of_its_size():
    a, b = virtual_cohort(3, 7), virtual_cohort(5, 7)
    assert [c.plasticity.g_h for c in a] == [c.plasticity.g_h for c in b[:3]]
    assert len({c.plasticity.g_h for c in b}) == 5
    assert np.isfinite([c.vta.j_pd_pA_per_Hz for c in b]).all()
