"""What :func:`circuits.experiments.run_groups` keeps, and the readout trials' tolerance.

* The kept time courses (``GroupResult.long``) are observed segment by segment; oracle: the compiled observables
  of the full stored states (``keep_y=True``, :func:`circuits.experiments.observe_all` on ``long["_y"]``), which is
  how they were computed before. Bitwise, a masked failure included.
* A run still in its naive state (the sLH baseline test at 0 h) reuses the naive readout trial; oracle: the
  trial solved here from the fixed point and read by :func:`circuits.behavior.photometry`.
* The long horizon's quasi-steady neural states (:data:`circuits.model.LONG_QSS`) against their resolved
  transients: per subject, readouts within 1e-4 where only the stress drive switches, and within 2e-2 (failure
  probability) and 1e-2 (DA response, relative) where a manipulation switches the mPFC on or off (measured on
  ``virtual_cohort(100, 0)``: mPFC silencing 1.4e-2 and 8.4e-3, Drd1 activation 1e-7 and 3.8e-3; the cohort's mean
  failure rate under mPFC silencing moves by 4.1e-3).
* The readout trials' method and tolerance (:data:`circuits.model.TRIAL_METHOD`, Rodas5P at
  :data:`~circuits.model.TRIAL_RTOL` 3e-5) against Rodas4 at rtol 1e-7: the readouts differ by less than the
  accepted 1e-3 (failure probability, absolute; DA response, relative).
"""

import dataclasses
import functools

import numpy as np
import pytest

import circuits.experiments as ex
from circuits import model
from circuits.protocols import build_protocol
from pkpd.dosing import Regimen

KET = Regimen.single("10mg/kg", "ip")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def cohort():
    return ex.virtual_cohort(6, 2)


def test_kept_time_courses_are_the_observables_of_the_stored_states(cohort, monkeypatch):
    real = ex.run_long

    def failing(y, P, te, scheds, **kw):  # run 3's solve fails in the segment after the LH test
        sol = real(y, P, te, scheds, **kw)
        if 70 < te[0] < 73:
            st = np.array(sol.status)
            st[3] = 2
            object.__setattr__(sol, "status", st) if dataclasses.is_dataclass(sol) else setattr(sol, "status", st)
        return sol

    monkeypatch.setattr(ex, "run_long", failing)
    pr = build_protocol("slh", regimen=KET)
    full = ex.run_groups(cohort, [pr], keep_y=True, on_failure="mask")[0]
    lean = ex.run_groups(cohort, [pr], on_failure="mask")[0]
    assert full.status[3] == 2 and np.count_nonzero(full.status) == 1
    y, p = full.long["_y"], full.long["_p"]
    assert np.isnan(y[3]).all()
    obs = ex.observe_all(y, p, full.t_h)
    system = model.circuit_system()
    for k in ex._KEEP:
        np.testing.assert_array_equal(full.long[k], obs[k], err_msg=k)
        np.testing.assert_array_equal(lean.long[k], obs[k], err_msg=k)
    for k in ex._KEEP_STATES:
        np.testing.assert_array_equal(full.long[k], y[:, :, system.state_index(k)], err_msg=k)
        np.testing.assert_array_equal(lean.long[k], y[:, :, system.state_index(k)], err_msg=k)
    assert set(lean.long) == set(ex._KEEP) | set(ex._KEEP_STATES)
    np.testing.assert_array_equal(lean.failure, full.failure)


@pytest.mark.slow
def test_trial_method_and_tolerance_change_readouts_by_less_than_1e_3(cohort, monkeypatch):
    pr = build_protocol("slh", regimen=KET)
    assert (model.TRIAL_METHOD, model.TRIAL_RTOL) == ("rodas5p", 3e-5)
    fast = ex.run_groups(cohort, [pr])[0]
    monkeypatch.setattr(ex, "run_trials", functools.partial(model.run_trials, method="rosenbrock", rtol=1e-7))
    tight = ex.run_groups(cohort, [pr])[0]
    assert np.max(np.abs(fast.failure - tight.failure)) < 1e-3
    assert np.max(np.abs(fast.r_rel / tight.r_rel - 1.0)) < 1e-3
    assert not np.array_equal(fast.r_rel, tight.r_rel)  # the method and tolerance are in effect


def test_quasi_steady_neural_states_change_readouts_by_less_than_stated(cohort, monkeypatch):
    ket = KET
    prs = [build_protocol("slh", regimen=ket), build_protocol("wlh", regimen=ket),
           build_protocol("slh", regimen=ket, manipulations="mpfc_silencing", post_drug_tests_h=(4,)),
           build_protocol("slh", manipulations="drd1_activation", post_drug_tests_h=(4,))]
    qss = ex.run_groups(cohort, prs)
    monkeypatch.setattr(ex, "run_long", functools.partial(model.run_long, qss=None))
    resolved = ex.run_groups(cohort, prs)
    for g, (a, b) in enumerate(zip(qss, resolved)):
        tol_f, tol_r = (1e-4, 1e-4) if g < 2 else (2e-2, 1e-2)  # sLH, wLH: switches of the stress drive only
        assert np.max(np.abs(a.failure - b.failure)) < tol_f, g
        assert np.max(np.abs(a.r_rel / b.r_rel - 1.0)) < tol_r, g
    assert not np.array_equal(qss[0].r_rel, resolved[0].r_rel)  # the projection is in effect


def test_baseline_readout_reuses_the_naive_trial(cohort, monkeypatch):
    from circuits.behavior import escape_efficacy, failure_probability

    rows = []
    real = ex.run_trials

    def counting(y0, params, **kw):
        rows.append(len(y0))
        return real(y0, params, **kw)

    monkeypatch.setattr(ex, "run_trials", counting)
    S = len(cohort)
    g = ex.run_groups(cohort, [build_protocol("slh", regimen=KET, recordings=False)], keep_traces=True)[0]
    assert g.labels[0] == "baseline" and rows == [S] * 3  # naive, then lh and 4h: no second baseline trial
    y0 = model.initial_states(cohort)
    p = np.array([model.parameter_vector(model.parameter_values(c)) for c in cohort])
    tr = real(y0, p)
    np.testing.assert_array_equal(g.traces[:, 0], tr.gcamp)
    np.testing.assert_array_equal(g.r_rel[:, 0], np.ones(S))
    # naive escape: the efficacy of an unstressed mouse (w = 1) over a 10-s trial, not read from the DA trial
    np.testing.assert_array_equal(g.failure[:, 0], [
        failure_probability(escape_efficacy(1.0, c.vta.j_pd_pA_per_Hz, c.behavior), c.behavior, trial_s=10.0)
        for c in cohort])
    rows.clear()
    ex.run_groups(cohort[:2], [build_protocol("slh", manipulations="mtor_block", recordings=False)])
    assert rows == [2] * 4  # other parameters: the baseline trial is solved (naive, baseline, lh, 4h)
