"""The population summary: refused for an unfinished run; its header says what dose times count from."""

import pytest

from pkpd.cohort import summarize_run


def test_summarize_refuses_an_unfinished_run(tmp_path):
    with pytest.raises(ValueError, match="holds no cohort manifest"):
        summarize_run(tmp_path)


def test_summary_header_says_when_dose_times_are_relative_to_the_protocol():
    # a circuit protocol's regimen is timed from the protocol's drug time (sLH: 96 h), a PK cohort's from 0
    from pkpd.cohort import format_summary

    spec = {"species": "mouse", "pk_model": "mouse", "drug": "racemic", "duration_h": 168.7, "seed": 7,
            "regimen": [{"amount": 10.0, "unit": "mg/kg", "route": "ip", "time_h": 0.0}]}
    summary = {"n": 3, "n_ok": 3, "n_failed": 0, "failures": {}, "readouts": {}}
    head = {p: format_summary({**summary, "spec": {**spec, "protocol": p, "dose_time_origin": o}}).splitlines()[0]
            for p, o in (("pk", ""), ("slh", "the protocol's drug time"))}
    assert "10 mg/kg ip at 0 h, 168.7 h" in head["pk"]
    assert "10 mg/kg ip at 0 h after the protocol's drug time, 168.7 h" in head["slh"]
