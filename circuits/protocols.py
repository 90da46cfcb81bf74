"""Behavioural protocols of Wu et al. 2021 eLife (Methods), drug regimens and manipulations, turned into engine
schedules and parameter overrides. Time in hours from the start of the protocol.

* **sLH** (strong learned helplessness): a baseline test (30 escapable shocks, 0.3 mA, up to 10 s, inter-trial
  interval uniform 5–30 s) at 0 h; two induction sessions (360 inescapable 3-s shocks, inter-shock interval
  uniform 1–15 s) on consecutive days, at 24 h and 48 h; the LH test 24 h after the last induction (72 h); the drug
  48 h after the last induction (96 h) and **one** test 4 h later (``post_drug_tests_h`` adds others, e.g. the
  4/24-h and 4/24/72-h tests of the VTA hM4Di experiment, Wu 2021 Fig 3).
* **wLH** (weak learned helplessness): six daily tests of 100 escapable **3-s** shocks (inter-trial interval
  uniform 5–15 s) at 0, 24, 48, 72, 96 and 116 h; **one** induction session at the end of day 2, after test 2
  (:attr:`ProtocolParams.wlh_induction_after_test2_h`); the drug 4 h before test 5 (92 h); test 6 24 h after the
  drug. ``induction=False`` gives the paper's age-matched controls (six tests, no induction).

Long-horizon mode: an inescapable session is a ``stress`` input equal to its shock duty fraction (3 s of shock per
3 + 8 s on average) from its start to its end. Escapable test sessions add no stress: shocks the mouse can end are
controllable, and controllable shock does not produce learned helplessness (Maier & Seligman 2016 Psychol Rev
123:349); the paper's no-induction controls stay at 11–12 % failures over six daily wLH tests (Wu 2021 FS2-3).

Chemogenetics: a manipulation expresses a receptor (hM4Di in VTA DA neurons, hM3Dq or hM4Di in mPFC Drd1 neurons;
none for ``cno_only``, the receptor-less Cre− control), and CNO is a *dose* (3 mg/kg i.p., Wu 2021 Methods) into
the CNO depot of the composed model (:mod:`circuits.model`: absorption, elimination and receptor activation with
their own cited or assumed constants); the receptor acts only where it is expressed and only while the agonist is
present. By default CNO is given with the drug (Wu 2021: CNO + ketamine at 48 h; hM3Dq: CNO alone at 48 h);
``cno_at_h`` sets other times (CNO alone before a test, Fig 3f).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pkpd.dosing import Regimen
from pkpd.parameters import check_bounds, param

__all__ = ["ProtocolParams", "Protocol", "PROTOCOLS", "MANIPULATIONS", "build_protocol", "schedule_for",
           "apply_manipulations", "session_duty", "clip_schedule"]

#: the CNO amount that is one unit of the model's CNO states (mg/kg; the i.p. dose of Wu et al. 2021 eLife Methods)
CNO_UNIT_MG_PER_KG = 3.0

PROTOCOLS = ("slh", "wlh")

#: manipulation name -> (parameter overrides, CNO given?, mPFC-silencing window?). The receptor switches
#: (``hm4di_da``, ``hm3dq_drd1``, ``hm4di_drd1``) say where a DREADD is expressed; CNO (a dose) activates it.
MANIPULATIONS = {
    "none": ({}, False, False),
    "da_silencing": ({"hm4di_da": 1.0}, True, False),        # hM4Di in VTA DA neurons (DAT-Cre), CNO
    "cno_only": ({}, True, False),                           # CNO in Cre− mice: no receptor anywhere
    "mpfc_silencing": ({}, False, True),                     # broad mPFC silencing (muscimol; not in Wu 2021)
    "vta_infusion": ({"occ_scale_mpfc": 0.0}, False, False),
    "mpfc_infusion": ({"occ_scale_vta": 0.0}, False, False),
    "drd1_activation": ({"hm3dq_drd1": 1.0}, True, False),   # hM3Dq in mPFC Drd1 neurons, CNO
    "drd1_inhibition": ({"hm4di_drd1": 1.0}, True, False),   # hM4Di in mPFC Drd1 neurons, CNO
    "mtor_block": ({"mtor_block": 1.0}, False, False),
    "spine_block": ({"spine_block": 1.0}, False, False),
}

_WU = "Wu et al. 2021 eLife Methods"


@dataclass(frozen=True)
class ProtocolParams:
    """Timing of sessions and manipulations (Wu et al. 2021 eLife Methods unless stated)."""

    shock_s: float = param(3.0, "s", _WU + ": 0.3 mA, 3-s inescapable shocks", bounds=(0.01, 60), kind="published")
    isi_mean_s: float = param(8.0, "s", _WU + ": inter-shock interval uniform 1-15 s (mean 8 s)",
                              bounds=(0.01, 600), kind="published")
    n_induction_shocks: float = param(360.0, "1", _WU + ": 360 shocks per induction session", bounds=(1, 10000),
                                      kind="published")
    test_trial_s: float = param(10.0, "s", _WU + ": sLH escapable shock up to 10 s", bounds=(0.1, 60),
                                kind="published")
    test_iti_mean_s: float = param(17.5, "s", _WU + ": sLH inter-trial interval 5-30 s (mean 17.5 s)",
                                   bounds=(0.1, 600), kind="published")
    n_slh_test_trials: float = param(30.0, "1", _WU + ": 30 escapable shocks per sLH test", bounds=(1, 1000),
                                     kind="published")
    wlh_trial_s: float = param(3.0, "s", _WU + ": wLH escapable shocks last 3 s", bounds=(0.1, 60),
                               kind="published")
    wlh_iti_mean_s: float = param(10.0, "s", _WU + ": wLH inter-trial interval 5-15 s (mean 10 s)",
                                  bounds=(0.1, 600), kind="published")
    n_wlh_test_trials: float = param(100.0, "1", _WU + ": 100 escapable shocks per wLH test", bounds=(1, 1000),
                                     kind="published")
    wlh_induction_after_test2_h: float = param(6.0, "h", "assumed: the wLH induction session 'at the end of the "
                                               "second day' (Wu 2021 Methods) starts 6 h after test 2 starts",
                                               bounds=(0.5, 20), kind="assumed")
    cno_mg_per_kg: float = param(3.0, "mg/kg", _WU + ": CNO 3 mg/kg i.p. (the only in vivo CNO dose stated)",
                                 bounds=(0.01, 100), kind="published")
    silence_lead_h: float = param(0.25, "h", "assumed: mPFC silencing (muscimol) starts 15 min before the drug",
                                  bounds=(0, 12), kind="assumed")
    silence_duration_h: float = param(2.25, "h", "assumed: muscimol silencing lasts ~2 h (Martin 1991 Neurosci "
                                      "Lett 127:160)", bounds=(0.1, 48), kind="assumed")

    def __post_init__(self):
        check_bounds(self)

    @property
    def induction_h(self) -> float:
        return self.n_induction_shocks * (self.shock_s + self.isi_mean_s) / 3600.0

    def test_h(self, name: str = "slh") -> float:
        """Duration (h) of one test session of protocol ``name`` (mean trial + inter-trial interval × trials)."""
        if name == "slh":
            return self.n_slh_test_trials * (self.test_trial_s + self.test_iti_mean_s) / 3600.0
        return self.n_wlh_test_trials * (self.wlh_trial_s + self.wlh_iti_mean_s) / 3600.0

    def trial_s(self, name: str = "slh") -> float:
        """Escapable shock duration (s) of a test trial of protocol ``name`` (the failure criterion)."""
        return self.test_trial_s if name == "slh" else self.wlh_trial_s


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
        Readouts, in time order: escapable test sessions and photometry recordings
        (:attr:`recordings`); the readout is taken just before each starts.
    recordings : tuple of str
        The labels of :attr:`tests` that are photometry recordings, not behavioural tests (``ind_start``: before
        the first induction session; ``ind_end``: at the end of the last one).
    trial_s : float
        Escapable shock duration of a test trial, s (sLH 10, wLH 3).
    test_h : float
        Duration of one test session, h.
    regimen : Regimen
        Drug doses (absolute times, h); empty for saline.
    cno_h : tuple of float
        CNO injection times (absolute, h).
    windows : tuple of (state, start_h, end_h)
        Input-state windows (``silence``) set to 1 between start and end.
    overrides : dict
        Circuit-parameter overrides (manipulations).
    duration_h, drug_time_h : float
    """

    name: str
    sessions: tuple
    tests: tuple
    regimen: Regimen
    windows: tuple
    overrides: dict = field(default_factory=dict)
    test_h: float = 0.0
    duration_h: float = 0.0
    drug_time_h: float = 0.0
    trial_s: float = 10.0
    recordings: tuple = ()
    cno_h: tuple = ()
    cno_mg_per_kg: float = 3.0

    def test_time(self, label: str) -> float:
        for k, t in self.tests:
            if k == label:
                return t
        raise ValueError(f"test: unknown test {label!r}; expected one of {[k for k, _ in self.tests]}")

    @property
    def behaviour_tests(self) -> tuple:
        """The escapable test sessions (label, time_h): :attr:`tests` without the photometry recordings."""
        return tuple((k, t) for k, t in self.tests if k not in self.recordings)


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


def _label(x: float) -> str:
    return f"{x:g}h"


def build_protocol(name: str, *, regimen: Regimen | None = None, manipulations=(), post_drug_tests_h=None,
                   drug_time_h: float | None = None, induction: bool = True, cno_at_h=None,
                   recordings: bool = True, q: ProtocolParams = ProtocolParams()) -> Protocol:
    """Build a timed protocol.

    Parameters
    ----------
    name : {"slh", "wlh"}
    regimen : Regimen, optional
        The drug, with dose times *relative to the protocol's drug time* (default: none = saline).
    manipulations : str or sequence of str
        Keys of :data:`MANIPULATIONS`, combinable.
    post_drug_tests_h : sequence of float or of (label, float), optional
        sLH only: test times after the drug, h (default ``(4,)``, Wu 2021 Fig 1); a bare time is labelled
        ``"<t>h"``.
    drug_time_h : float, optional
        Override the drug time (h from the start; sLH default 96 = 48 h after the last induction, wLH 92 = 4 h
        before test 5).
    induction : bool
        False: no induction session (the paper's no-induction controls; CNO alone in naive mice).
    cno_at_h : sequence of float, optional
        CNO injection times, h from the start (default: at the drug time when a manipulation gives CNO).
    recordings : bool
        Add the photometry recordings at the start and the end of induction (readouts only; no behaviour).
    q : ProtocolParams

    Raises
    ------
    ValueError
        Unknown protocol or manipulation; a drug or test before induction ends; overlapping sessions.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"protocol: unknown {name!r}; expected one of {', '.join(PROTOCOLS)}")
    mans = _check_names(manipulations)
    regimen = regimen if regimen is not None else Regimen()
    if not isinstance(regimen, Regimen):
        raise ValueError(f"regimen: expected a pkpd.dosing.Regimen, got {type(regimen).__name__}")
    duty = session_duty(q)
    if name == "slh":
        inductions = (24.0, 48.0) if induction else ()
        drug_t = 96.0 if drug_time_h is None else float(drug_time_h)
        post = (4.0,) if post_drug_tests_h is None else tuple(post_drug_tests_h)
        post = tuple(x if isinstance(x, tuple) else (_label(float(x)), float(x)) for x in post)
        if any(x <= 0 for _, x in post):
            raise ValueError(f"post_drug_tests_h: expected positive times after the drug, got {[x for _, x in post]}")
        tests = [("baseline", 0.0), ("lh", 72.0)] + [(lbl, drug_t + x) for lbl, x in post]
    else:
        if post_drug_tests_h is not None:
            raise ValueError("post_drug_tests_h: wLH has fixed daily tests (days 1-6); not adjustable")
        inductions = (24.0 + q.wlh_induction_after_test2_h,) if induction else ()
        drug_t = 92.0 if drug_time_h is None else float(drug_time_h)
        tests = [(f"test{k}", t) for k, t in enumerate((0.0, 24.0, 48.0, 72.0, 96.0, 116.0), start=1)]
    induction_end = inductions[-1] + q.induction_h if inductions else 0.0
    if inductions and drug_t < induction_end:
        raise ValueError(f"drug_time_h: the drug at {drug_t:g} h would come before induction ends "
                         f"({induction_end:.3g} h); this protocol gives it after induction")
    first_after = 72.0 if name == "slh" else 48.0
    for label, t in tests:
        if inductions and t >= first_after and t < induction_end:
            raise ValueError(f"test {label!r} at {t:g} h is before induction ends ({induction_end:.3g} h)")
    sessions = [(t, q.induction_h, duty) for t in inductions]
    test_h = q.test_h(name)
    spans = sorted(sessions + [(t, test_h, 0.0) for _, t in tests])
    for (a, la, _), (b, _, _) in zip(spans, spans[1:]):
        if a + la > b + 1e-9:
            raise ValueError(f"sessions overlap: one at {a:g} h lasting {la:.3g} h runs into one at {b:g} h")
    rec = ()
    if recordings and inductions:
        rec = (("ind_start", inductions[0]), ("ind_end", induction_end))
    overrides, windows, gives_cno = {}, [], False
    for m in mans:
        ov, cno, sil = MANIPULATIONS[m]
        overrides.update(ov)
        gives_cno = gives_cno or cno
        if sil:
            windows.append(("silence", drug_t - q.silence_lead_h, drug_t - q.silence_lead_h + q.silence_duration_h))
    if cno_at_h is None:
        cno_h = (drug_t,) if gives_cno else ()
    else:
        cno_h = tuple(float(t) for t in cno_at_h)
        if any(t < 0 for t in cno_h):
            raise ValueError(f"cno_at_h: expected times >= 0 h, got {list(cno_h)}")
    reg = _shift(regimen, drug_t)
    readouts = sorted(tests + list(rec), key=lambda x: x[1])
    duration = max(t for _, t in tests) + test_h + 0.5
    reg.check_within(duration)
    label = name + ("+" + "+".join(mans) if mans else "") + ("" if induction else "+no_induction")
    return Protocol(label, tuple(sessions), tuple(readouts), reg, tuple(windows), overrides, duration_h=duration,
                    drug_time_h=drug_t, test_h=test_h, trial_s=q.trial_s(name),
                    recordings=tuple(k for k, _ in rec), cno_h=cno_h, cno_mg_per_kg=q.cno_mg_per_kg)


def schedule_for(protocol: Protocol, *, species: str = "mouse", weight_kg: float | None = None):
    """The engine :class:`~pkpd.ode.Schedule` of a protocol: induction stress resets, input windows, CNO doses (into
    the ``cno_depot`` state, in units of 3 mg/kg) and the drug's doses."""
    from pkpd.ode import Schedule
    from pkpd.pk import dose_schedule
    from pkpd.pk_models import get_pk_model
    from pkpd.species import Subject

    s = Schedule()
    for start, length, level in protocol.sessions:
        s = s.reset(start, "stress", level).reset(start + length, "stress", 0.0)
    for state, a, b in protocol.windows:
        s = s.reset(max(a, 0.0), state, 1.0).reset(b, state, 0.0)
    for t in protocol.cno_h:
        s = s.bolus(t, "cno_depot", protocol.cno_mg_per_kg / CNO_UNIT_MG_PER_KG)
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
