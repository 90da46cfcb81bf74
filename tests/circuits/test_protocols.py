"""Protocols, manipulations and bad input: clear errors naming the field."""

import numpy as np
import pytest

from circuits.experiments import simulate_protocol, virtual_cohort
from circuits.protocols import MANIPULATIONS, PROTOCOLS, ProtocolParams, build_protocol, clip_schedule, \
    schedule_for
from pkpd.dosing import Regimen
from pkpd.ode import Schedule


def test_slh_timing_follows_the_paper():
    # Wu 2021: inductions on two days, LH test 24 h after the last, drug 48 h after it, tests 4/24/72 h later
    pr = build_protocol("slh", regimen=Regimen.single("10mg/kg", "ip"))
    assert [s[0] for s in pr.sessions] == [24.0, 48.0]
    assert dict(pr.tests) == {"baseline": 0.0, "lh": 72.0, "4h": 100.0, "24h": 120.0, "72h": 168.0}
    assert pr.drug_time_h == 96.0 and [d.time_h for d in pr.regimen] == [96.0]
    q = ProtocolParams()
    assert pr.sessions[0][1] == pytest.approx(360 * (3 + 8) / 3600)     # 360 shocks, 3 s + mean ISI 8 s
    assert pr.sessions[0][2] == pytest.approx(3 / 11)                   # session-averaged shock duty
    assert pr.test_h == pytest.approx(30 * (q.test_trial_s + q.test_iti_mean_s) / 3600)


def test_wlh_timing_follows_the_paper():
    pr = build_protocol("wlh", regimen=Regimen.single("10mg/kg", "ip"))
    assert [t for _, t in pr.tests] == [24.0, 48.0, 72.0, 96.0, 120.0, 144.0]
    assert pr.drug_time_h == 116.0                                      # 4 h before test 5


def test_manipulations_set_parameters_and_windows():
    q = ProtocolParams()
    pr = build_protocol("slh", regimen=Regimen.single("10mg/kg", "ip"), manipulations=["da_silencing",
                                                                                          "mtor_block"])
    assert pr.overrides == {"hm4di_da": 1.0, "mtor_block": 1.0}
    assert pr.windows == (("cno", 96.0, 96.0 + q.cno_duration_h),)
    sil = build_protocol("slh", manipulations="mpfc_silencing")
    assert sil.windows == (("silence", 96.0 - q.silence_lead_h, 96.0 - q.silence_lead_h + q.silence_duration_h),)
    vta = build_protocol("slh", manipulations="vta_infusion")
    assert vta.overrides == {"occ_scale_mpfc": 0.0}
    s = schedule_for(pr)
    assert sum(e.kind == "bolus" for e in s) == 1
    assert [e.value for e in s if e.state == "cno"] == [1.0, 0.0]


@pytest.mark.parametrize("call, message", [
    (lambda: build_protocol("xlh"), "protocol: unknown 'xlh'; expected one of slh, wlh"),
    (lambda: build_protocol("slh", manipulations="lobotomy"), "manipulation: unknown 'lobotomy'; expected one of"),
    (lambda: build_protocol("slh", drug_time_h=30.0), "drug_time_h: the drug at 30 h would come before induction"),
    (lambda: build_protocol("slh", post_drug_tests_h=(-4,)), "post_drug_tests_h: expected positive times"),
    (lambda: build_protocol("wlh", post_drug_tests_h=(4,)), "post_drug_tests_h: wLH has fixed daily tests"),
    (lambda: ProtocolParams(shock_s=-3.0), r"ProtocolParams.shock_s: expected a value in \[0.01, 60\] s"),
    (lambda: ProtocolParams(cno_duration_h=-1.0), "ProtocolParams.cno_duration_h"),
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
