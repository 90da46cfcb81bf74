"""Behavioural protocols (strong and weak learned helplessness, escapable tests), drug regimens and
manipulations, turned into engine schedules and parameter overrides. Time in hours from the start.

Protocol timing follows Wu et al. 2021 eLife Methods:

* **sLH**: a pre-induction test (30 escapable shocks) at 0 h; induction sessions (360 inescapable 3-s shocks,
  inter-shock interval uniform 1–15 s) at 24 h and 48 h; the LH test 24 h after the last induction (72 h);
  the drug 48 h after the last induction (96 h); tests 4 h, 24 h and 72 h after the drug.
* **wLH**: one induction session at 0 h, then six daily tests of 100 escapable shocks (24–144 h); the drug 4 h
  before test 5 (116 h); test 6 is 24 h after it.

Long-horizon mode: an inescapable session is a ``stress`` input equal to its shock duty fraction (3 s of shock per
3 + 8 s on average) from its start to its end. An escapable test is stressful only through its *failed* trials
(uncontrollable shocks; Maier & Seligman 2016 Psychol Rev 123:349): its drive is ``test_stress_weight × P_fail ×
10 s/(10 s + ITI)``, with ``P_fail`` read out just before the test by a resolved single-shock trial
(:func:`circuits.experiments.run_groups` integrates test to test). This is what lets wLH deepen over the daily tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pkpd.dosing import Regimen
from pkpd.parameters import check_bounds, param

__all__ = ["ProtocolParams", "Protocol", "PROTOCOLS", "MANIPULATIONS", "build_protocol", "schedule_for",
           "apply_manipulations", "session_duty", "clip_schedule"]

PROTOCOLS = ("slh", "wlh")

#: manipulation name -> (parameter overrides, CNO window?, mPFC-silencing window?, drug site)
MANIPULATIONS = {
    "none": ({}, False, False),
    "da_silencing": ({"hm4di_da": 1.0}, True, False),
    "cno_only": ({}, True, False),
    "mpfc_silencing": ({}, False, True),
    "vta_infusion": ({"occ_scale_mpfc": 0.0}, False, False),
    "mpfc_infusion": ({"occ_scale_vta": 0.0}, False, False),
    "drd1_activation": ({"hm3dq_drd1": 1.0}, True, False),
    "drd1_inhibition": ({"hm4di_drd1": 1.0}, True, False),
    "mtor_block": ({"mtor_block": 1.0}, False, False),
    "spine_block": ({"spine_block": 1.0}, False, False),
}


@dataclass(frozen=True)
class ProtocolParams:
    """Timing of sessions and manipulations."""

    shock_s: float = param(3.0, "s", "Wu 2021 Methods: 0.3 mA, 3-s inescapable shocks", bounds=(0.01, 60),
                           kind="published")
    isi_mean_s: float = param(8.0, "s", "Wu 2021 Methods: inter-shock interval uniform 1-15 s (mean 8 s)",
                              bounds=(0.01, 600), kind="published")
    n_induction_shocks: float = param(360.0, "1", "Wu 2021 Methods: 360 shocks per induction session",
                                      bounds=(1, 10000), kind="published")
    test_trial_s: float = param(10.0, "s", "Wu 2021 Methods: escapable shock up to 10 s", bounds=(0.1, 60),
                                kind="published")
    test_iti_mean_s: float = param(17.5, "s", "Wu 2021 Methods: inter-trial interval 5-30 s (mean 17.5 s)",
                                   bounds=(0.1, 600), kind="published")
    test_stress_weight: float = param(1.5753, "1", "calibrated: stress of a failed escape trial relative to an "
                                      "inescapable shock, to the wLH progression 11.9 % -> 48.9 % (Wu 2021)",
                                      bounds=(0, 10), kind="calibrated")
    cno_duration_h: float = param(6.0, "h", "assumed: behavioural effect of CNO 3 mg/kg i.p. lasts several hours "
                                  "(Alexander et al. 2009 Neuron 63:27)", bounds=(0.1, 48), kind="assumed")
    silence_lead_h: float = param(0.25, "h", "assumed: mPFC silencing (muscimol) starts 15 min before the drug",
                                  bounds=(0, 12), kind="assumed")
    silence_duration_h: float = param(2.25, "h", "assumed: muscimol silencing lasts ~2 h (Martin 1991 Neurosci "
                                      "Lett 127:160)", bounds=(0.1, 48), kind="assumed")

    def __post_init__(self):
        check_bounds(self)

    @property
    def induction_h(self) -> float:
        return self.n_induction_shocks * (self.shock_s + self.isi_mean_s) / 3600.0

    def test_h(self, n_trials: int) -> float:
        return n_trials * (self.test_trial_s + self.test_iti_mean_s) / 3600.0


def session_duty(q: ProtocolParams) -> float:
    """Fraction of an induction session spent under shock (the session-averaged shock input)."""
    return q.shock_s / (q.shock_s + q.isi_mean_s)


@dataclass(frozen=True)
class Protocol:
    """A fully timed protocol for one group of subjects.

    Attributes
    ----------
    name : str
    sessions : tuple of (start_h, duration_h, level)
        Inescapable induction sessions (stress-drive windows).
    tests : tuple of (label, time_h)
        Escapable test sessions; the readout is taken just before each starts.
    test_h : float
        Duration of one test session, h.
    test_level_per_failure : float
        Stress drive of a test session per unit failure probability.
    regimen : Regimen
        Drug doses (absolute times, h); empty for saline.
    windows : tuple of (state, start_h, end_h)
        Input-state windows (``cno``, ``silence``) set to 1 between start and end.
    overrides : dict
        Circuit-parameter overrides (manipulations).
    duration_h : float
    drug_time_h : float
    """

    name: str
    sessions: tuple
    tests: tuple
    regimen: Regimen
    windows: tuple
    overrides: dict = field(default_factory=dict)
    test_h: float = 0.0
    test_level_per_failure: float = 0.0
    duration_h: float = 0.0
    drug_time_h: float = 0.0

    def test_time(self, label: str) -> float:
        for k, t in self.tests:
            if k == label:
                return t
        raise ValueError(f"test: unknown test {label!r}; expected one of {[k for k, _ in self.tests]}")


def _check_names(manipulations) -> tuple[str, ...]:
    if isinstance(manipulations, str):
        manipulations = (manipulations,)
    out = []
    for m in manipulations or ():
        if m not in MANIPULATIONS:
            raise ValueError(f"manipulation: unknown {m!r}; expected one of {', '.join(MANIPULATIONS)}")
        if m != "none":
            out.append(m)
    return tuple(out)


def _shift(regimen: Regimen, t0: float) -> Regimen:
    return Regimen(tuple(dataclasses.replace(d, time_h=d.time_h + t0) for d in regimen))


def build_protocol(name: str, *, regimen: Regimen | None = None, manipulations=(), post_drug_tests_h=None,
                   drug_time_h: float | None = None, q: ProtocolParams = ProtocolParams()) -> Protocol:
    """Build a timed protocol.

    Parameters
    ----------
    name : {"slh", "wlh"}
    regimen : Regimen, optional
        The drug, with dose times *relative to the protocol's drug time* (default: none = saline).
    manipulations : str or sequence of str
        Keys of :data:`MANIPULATIONS`, combinable.
    post_drug_tests_h : sequence of float, optional
        sLH only: test times after the drug, h (default 4, 24, 72).
    drug_time_h : float, optional
        Override the drug time (h from the start; sLH default 96 = 48 h after the last induction, wLH 116).
    q : ProtocolParams

    Raises
    ------
    ValueError
        Unknown protocol or manipulation; a drug or test before induction ends; negative times.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"protocol: unknown {name!r}; expected one of {', '.join(PROTOCOLS)}")
    mans = _check_names(manipulations)
    regimen = regimen if regimen is not None else Regimen()
    if not isinstance(regimen, Regimen):
        raise ValueError(f"regimen: expected a pkpd.dosing.Regimen, got {type(regimen).__name__}")
    duty = session_duty(q)
    test_level = q.test_stress_weight * q.test_trial_s / (q.test_trial_s + q.test_iti_mean_s)
    if name == "slh":
        inductions = (24.0, 48.0)
        induction_end = inductions[-1] + q.induction_h
        drug_t = 96.0 if drug_time_h is None else float(drug_time_h)
        post = (4.0, 24.0, 72.0) if post_drug_tests_h is None else tuple(float(x) for x in post_drug_tests_h)
        if any(x <= 0 for x in post):
            raise ValueError(f"post_drug_tests_h: expected positive times after the drug, got {list(post)}")
        tests = [("baseline", 0.0), ("lh", 72.0)] + [(f"{x:g}h", drug_t + x) for x in post]
        n_trials = 30
    else:
        if post_drug_tests_h is not None:
            raise ValueError("post_drug_tests_h: wLH has fixed daily tests (24-144 h); not adjustable")
        inductions = (0.0,)
        induction_end = q.induction_h
        drug_t = 116.0 if drug_time_h is None else float(drug_time_h)
        tests = [(f"test{k}", 24.0 * k) for k in range(1, 7)]
        n_trials = 100
    if drug_t < induction_end:
        raise ValueError(f"drug_time_h: the drug at {drug_t:g} h would come before induction ends "
                         f"({induction_end:.3g} h); this protocol gives it after induction")
    for label, t in tests:
        if label != "baseline" and t < induction_end:
            raise ValueError(f"test {label!r} at {t:g} h is before induction ends ({induction_end:.3g} h)")
    sessions = [(t, q.induction_h, duty) for t in inductions]
    spans = sorted(sessions + [(t, q.test_h(n_trials), 0.0) for _, t in tests])
    for (a, la, _), (b, _, _) in zip(spans, spans[1:]):
        if a + la > b:
            raise ValueError(f"sessions overlap: one at {a:g} h lasting {la:.3g} h runs into one at {b:g} h")
    overrides, windows = {}, []
    for m in mans:
        ov, cno, sil = MANIPULATIONS[m]
        overrides.update(ov)
        if cno:
            windows.append(("cno", drug_t, drug_t + q.cno_duration_h))
        if sil:
            windows.append(("silence", drug_t - q.silence_lead_h, drug_t - q.silence_lead_h + q.silence_duration_h))
    reg = _shift(regimen, drug_t)
    duration = max(t for _, t in tests) + q.test_h(n_trials) + 0.5
    reg.check_within(duration)
    label = name + ("+" + "+".join(mans) if mans else "")
    return Protocol(label, tuple(sessions), tuple(tests), reg, tuple(windows), overrides, duration_h=duration,
                    drug_time_h=drug_t, test_h=q.test_h(n_trials), test_level_per_failure=test_level)


def schedule_for(protocol: Protocol, *, species: str = "mouse", weight_kg: float | None = None):
    """The engine :class:`~pkpd.ode.Schedule` of a protocol: induction stress resets, input windows and the doses
    (test-session stress depends on the readouts and is added by :func:`circuits.experiments.run_groups`)."""
    from pkpd.ode import Schedule
    from pkpd.pk import dose_schedule
    from pkpd.pk_models import get_pk_model
    from pkpd.species import Subject

    s = Schedule()
    for start, length, level in protocol.sessions:
        s = s.reset(start, "stress", level).reset(start + length, "stress", 0.0)
    for state, a, b in protocol.windows:
        s = s.reset(max(a, 0.0), state, 1.0).reset(b, state, 0.0)
    if len(protocol.regimen):
        subject = Subject(species, weight_kg, "male")
        doses, _ = dose_schedule(get_pk_model(None, subject.species), subject, protocol.regimen)
        s = s + doses
    return s


def apply_manipulations(params, protocol: Protocol):
    """The subject's :class:`~circuits.model.CircuitParams` with the protocol's overrides applied."""
    return params.replace(**protocol.overrides) if protocol.overrides else params


def clip_schedule(schedule, a: float, b: float, *, last: bool = False):
    """The events of ``schedule`` in the segment ``[a, b)`` (``[a, b]`` when ``last``); infusions crossing a
    boundary are cut at it, so integrating segment by segment equals integrating the whole span."""
    from pkpd.ode import Schedule
    from pkpd.ode.schedule import Event

    out = []  # one Schedule at the end (building it event by event re-sorted it each time)
    for e in schedule:
        if e.kind == "infusion":
            s, t = max(e.time, a), min(e.end, b)
            if t > s:
                out.append(Event("infusion", s, e.state, e.value, t))
        elif a <= e.time < b or (last and e.time == b):
            out.append(e)  # events are immutable
    return Schedule(out)
