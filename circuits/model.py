"""PK + NMDA occupancy + circuits composed into ONE :class:`~pkpd.ode.OdeSystem` (hours), compiled once.

Data flow (each arrow is a sympy expression handed to the next part)::

    pkpd.pk graph ──free brain ketamine──▶ occupancy O_I, O_E (pkpd.receptor, equilibrium)
        × site scales (mPFC, VTA) ─▶ mpfc_part ─r_D1─▶ vta_part ─DA→d1─▶ (mpfc, plasticity)
                                              └──r_D1──▶ plasticity_part ─w = ρA─▶ mpfc

Input states switched by ``Schedule.reset`` events (d/dt = 0): ``shock`` (one trial: 1 during a shock),
``stress`` (session-averaged shock duty during an inescapable session; long-horizon mode), ``silence`` (mPFC
silenced). CNO is a compound, not a switch: a dose enters ``cno_depot`` (i.p.), is absorbed into ``cno`` (the
DREADD agonist that reaches the brain) and eliminated; a receptor (hM4Di/hM3Dq, :class:`Manipulations`) is
activated by ``cno/(cno + K)`` only where it is expressed (:func:`dreadd_activation`).

The fast neural states (τ 10 ms–1.5 s) are genuine states of the same hours-based
system; Rodas4 rides their slow manifold over days (to :data:`LONG_NEURAL_ATOL`), and when an input switches they
are set to their new quasi-steady state (:data:`LONG_QSS`) rather than integrated through the transient. A readout
trial resolves them, and holds :data:`TRIAL_FROZEN` constant (:func:`trial_system`).

**A slow relaxation oscillation after ketamine (a coupling artifact).** As the drug wanes after 10 mg/kg i.p. (mPFC
interneuron occupancy falling through ~0.75 to ~0.65, 50-65 min after the dose), a mouse whose mPFC→VTA drive is
strong enough fires spontaneous population DA bursts (r_DA to ~9 Hz) every ~2.3 min, with r_E and r_D1 swinging
with them. Measured 2026-12-02 in naive mice with every state resolved (rtol 1e-8), 40-80 min after the dose: none
for the typical mouse; bursts at 56.8, 59.0, 61.3, 63.8 min with the previous calibration's stronger potentiation
(``k_a_per_h`` 2.462), and seven from 50.7 min in a mouse with ``j_pd_pA_per_Hz`` × 1.2 (+2.3 SD of the cohort).
They need the positive DA → D1 → mPFC → burst-drive loop: without the D1 facilitation of pyramidal cells
(``j_d1_nA = 0``) or with a fast adapting burst reference (``tau_v_s = 5``) there are none. No such minute-scale DA
bursting after ketamine is reported (Wu 2021: ketamine does not change VTA DA firing in slices), so we read it as
an artifact of the coupling, not biology. Sampled on coarse output grids it aliases into the apparent ~10-min
oscillation of S_E, v_glu and r_DA, and the long-horizon solver steps over the bursts, so in those mice M (which
integrates r_D1 above θ) depends on the tolerance (~2 % at 1 h with the previous calibration); for the typical mouse
M at 1 h is 0.25645 at rtol 1e-6, 1e-7 and fully resolved alike. The Drd1 Ca²⁺ readout averages r_D1 over 5-min
bins.

Two modes: :func:`run_long` (days; sessions as averaged drive) on the composed system, and :func:`run_trials`
(seconds; one resolved shock from any state) on its trial subsystem, the same equations with the states that do not
move in 15 s held constant.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np
import sympy

from pkpd.parameters import check_bounds, describe, param
from pkpd.receptor import NmdaParams

from .behavior import BehaviorParams
from .mpfc import MpfcParams, mpfc_part
from .parts import S_PER_H, values_of
from .plasticity import PlasticityParams, plasticity_part
from .protocols import CNO_UNIT_MG_PER_KG
from .vta import VtaParams, d1_gate, vta_part

__all__ = ["Manipulations", "CircuitParams", "INPUT_STATES", "circuit_parts", "circuit_system", "parameter_rows",
           "parameter_values", "parameter_vector", "initial_state", "initial_states", "run_long", "run_trials",
           "trial_system", "TrialResult", "NEURAL_STATES", "SLOW_STATES", "TRIAL_FROZEN", "RTOL", "TRIAL_METHOD",
           "TRIAL_RTOL", "LONG_NEURAL_ATOL", "TRIAL_NEURAL_ATOL", "LONG_QSS", "atol_vector",
           "interneuron_potency_ratio", "CNO_STATES", "CNO_UNIT_MG_PER_KG", "dreadd_activation"]

INPUT_STATES = ("shock", "stress", "silence")
#: CNO depot (i.p.) and the DREADD agonist in the brain, in units of one 3-mg/kg dose (:data:`CNO_UNIT_MG_PER_KG`)
CNO_STATES = ("cno_depot", "cno")
NEURAL_STATES = ("S_E", "S_I", "r_G", "u_glu", "v_glu", "r_DA", "DA", "gcamp")
SLOW_STATES = ("H", "theta", "M", "A", "P", "rho", "Z")  # Z: post-anaesthetic state (mPFC part)
RTOL = 1e-6
#: Method of the resolved readout trials (:func:`run_trials`): Rodas5P (order 5, with the residual control of
#: Rodas5Pr; :func:`pkpd.ode.solve`) at :data:`TRIAL_RTOL`. Measured against Rodas4 at rtol 1e-5, the method before
#: (2026-11-30; ``run_groups(virtual_cohort(200, 0), …)`` on sLH + 10 and + 100 mg/kg, sLH under mTOR block and
#: wLH + 10 mg/kg, against the whole circuit system at rtol 1e-7, atol 1e-8): 72 instead of 126 steps per trial,
#: 0.80 instead of 0.91 ms of trials per subject on one thread (a Rodas5P step costs ~1.5x a Rodas4 step), and
#: readouts closer to the reference: failure probability within 2.8e-4 (absolute) and DA response 2.4e-4
#: (relative) in wLH, ≤ 4.4e-5 / 6.2e-5 in the sLH groups (Rodas4 at 1e-5: 5.3e-4 / 4.5e-4 and 6.4e-5 / 7.8e-5).
#: Rodas5P at 1e-4 was faster still (0.72 ms) but farther off (7.1e-4 / 9.0e-4 in wLH).
TRIAL_METHOD = "rodas5p"
#: Relative tolerance of the resolved readout trials (:func:`run_trials`, :data:`TRIAL_METHOD`). Before Rodas5P,
#: Rodas4 at 1e-5 (a third fewer steps than at :data:`RTOL`, with readouts within 1e-3 of 1e-6). The peak is read on
#: the 0.05-s output grid, whose own discretisation error (2.7e-3 against a 0.01-s grid) is larger than either;
#: a 0.1-s grid would change the readouts by 4.6e-3 and is not used.
TRIAL_RTOL = 3e-5
#: Absolute tolerance of the fast neural states (:data:`NEURAL_STATES`, each in its own unit: Hz, gating fraction,
#: µM) in the long-horizon mode (:func:`run_long`), instead of 1e-8. There the readouts are the slow states, the
#: drug levels and the states the trials start from; the neural states ride their slow manifold, and most steps
#: went into resolving their transients after each input switch to 1e-8 (τ 10 ms–30 s; 1254 Rodas4 steps per
#: 7-day sLH or wLH run). Measured on ``virtual_cohort(100, 0)`` through sLH and wLH with 10 mg/kg ketamine
#: (2026-11-29), against 1e-8: at 1e-4, 712 steps, every readout and kept time course within 1.1e-4 (relative to
#: the course's maximum; failure probability 4e-6 absolute, DA response 5e-5 relative); 1e-3 and 1e-2 gave 570 and
#: 486 steps with as small changes there, but where ketamine follows a stress session by an hour (its surge
#: amplifies small errors: the 1e-8 solution itself is 1.6e-3 off on ρ at rtol 1e-6) 1e-3 doubled the error against
#: an rtol-1e-9 oracle, while 1e-4 adds 6 % to it (``test_long_horizon_neural_tolerance_costs_no_accuracy``).
#: Dropping the neural states from the error norm (379 steps) let one output inside a transient be off by 19 %.
LONG_NEURAL_ATOL = 1e-4
#: Absolute tolerance of the neural states in a readout trial (:func:`run_trials`), instead of 1e-8: while a shock
#: silences DA firing, r_DA, DA and the indicator decay towards zero over four decades, and tracking them to 1e-8
#: took half of a trial's steps (124 instead of 162 for a 3-s shock). Measured with the trial subsystem
#: (:data:`TRIAL_FROZEN`) on ``virtual_cohort(200, 0)`` through sLH and wLH with 10 mg/kg, sLH with 100 mg/kg and
#: sLH under mTOR block (2026-11-29, Rodas4 at rtol 1e-5; for Rodas5P see :data:`TRIAL_METHOD`), against the whole
#: circuit system at rtol 1e-7 and atol 1e-8: failure probability within 5.3e-4 (absolute) and DA response 4.5e-4
#: (relative), both in wLH (whose test-to-test stress feedback amplifies them; ≤ 7.8e-5 in the sLH groups), as with
#: the whole system at rtol 1e-5 and 1e-8 (5.2e-4).
#: 1e-5 and 1e-4 gave 6.6e-4 and 1.1e-3 (measured with a smaller subsystem that froze the PK too).
TRIAL_NEURAL_ATOL = 1e-6
#: States the long-horizon mode (:func:`run_long`) sets to their quasi-steady state at every input switch and dose
#: (:func:`pkpd.ode.solve`'s ``qss``; Newton on their own equations, the slow states and drug held): the neural
#: states, whose transients (τ 10 ms–30 s) after a switch cost most of the long horizon's steps and move nothing
#: that lasts. Measured 2026-11-30: one thread, 1000 subjects through sLH + 10 mg/kg, 143 → 61 Rodas4 steps per
#: segment and 1.39 → 0.73 ms per subject; ``wu2021(n=100)`` gives the same summary within 1e-4 except the
#: mPFC-silencing control (4-h failures 80.7 → 81.1 %): there, and to a lesser degree under Drd1 activation, the
#: *step* that switches the mPFC on or off made the resolved transient overshoot (a brief Drd1 surge that drives
#: BDNF/mTOR), an artifact of an instantaneous switch that the projection leaves out (per subject ≤ 1.4e-2 on
#: failure probability, ≤ 8.4e-3 on the DA response; ``tests/circuits/test_run_groups.py``). Between switches the
#: neural states remain ordinary states held to :data:`LONG_NEURAL_ATOL`. Skipping the ~30-s burst transient that
#: switching a session's averaged drive on at once makes (itself an artifact of the averaging) moves the activity
#: reference θ by ≤ 2.7e-5 Hz of its 3 Hz (measured 2026-12-02, ``tests/circuits/test_model.py``).
LONG_QSS = NEURAL_STATES

#: Interneuron/pyramidal NMDA potency ratio used by the circuit (pkpd.receptor's parameter, here calibrated).
_RATIO_SOURCE = ("calibrated with f_EE and J_an to the inverted U of prefrontal glutamate with dose (Moghaddam "
                 "et al. 1997 J Neurosci 17:2921); interneurons blocked more potently (Homayoun & Moghaddam 2007)")


@dataclass(frozen=True)
class Manipulations:
    """Experimental manipulations as parameters: receptor expression and blocks (0/1), site scales, and the
    kinetics of CNO (a dose given by :mod:`circuits.protocols`; the mPFC-silencing window is an input state)."""

    occ_scale_mpfc: float = param(1.0, "1", "protocol: ketamine reaches mPFC (1 systemic or mPFC infusion, 0 "
                                  "VTA-only infusion)", bounds=(0, 1), kind="assumed")
    occ_scale_vta: float = param(1.0, "1", "protocol: ketamine reaches VTA (1 systemic or VTA infusion, 0 "
                                 "mPFC-only infusion)", bounds=(0, 1), kind="assumed")
    hm4di_da: float = param(0.0, "1", "protocol: hM4Di expressed in VTA DA neurons (acts while the CNO agonist "
                            "is present)",
                            bounds=(0, 1), kind="assumed")
    hm3dq_drd1: float = param(0.0, "1", "protocol: hM3Dq in mPFC Drd1 neurons (acts while CNO present)",
                              bounds=(0, 1), kind="assumed")
    hm4di_drd1: float = param(0.0, "1", "protocol: hM4Di in mPFC Drd1 neurons (acts while CNO present)",
                              bounds=(0, 1), kind="assumed")
    cno_ka_per_h: float = param(12.0, "1/h", "assumed: CNO absorption after i.p. injection, so that the agonist "
                                "peaks ~15-20 min after the dose (plasma CNO peaks at 15 min after i.p. in mice; "
                                "Jendryka et al. 2019 Sci Rep 9:4522)", bounds=(0.1, 1000), kind="assumed")
    cno_half_life_h: float = param(1.0, "h", "assumed: effective half-life of the DREADD agonist after CNO i.p. in "
                                   "mice: plasma CNO is very low 2 h after the dose (Jendryka et al. 2019 Sci Rep "
                                   "9:4522), but the agonist at the receptor is largely clozapine back-converted "
                                   "from CNO, which enters the brain and binds DREADDs with high affinity (Gomez et "
                                   "al. 2017 Science 357:503), and behavioural effects last 6-10 h (Jendryka 2019)",
                                   bounds=(0.05, 100), kind="assumed")
    cno_k_rel: float = param(0.02, "1", "assumed: agonist level (in units of one 3-mg/kg dose at full absorption) of "
                             "half-maximal DREADD activation; high affinity, so 3 mg/kg keeps the receptor over half "
                             "active for ~6 h (the 6-10 h of Jendryka et al. 2019)", bounds=(1e-4, 10),
                             kind="assumed")
    mtor_block: float = param(0.0, "1", "protocol: mTORC1 blocked (rapamycin; Li et al. 2010)", bounds=(0, 1),
                              kind="assumed")
    spine_block: float = param(0.0, "1", "protocol: new-spine formation blocked (Moda-Sava et al. 2019 "
                               "photodeletion)", bounds=(0, 1), kind="assumed")

    def __post_init__(self):
        check_bounds(self)


@dataclass(frozen=True)
class CircuitParams:
    """All circuit parameters of one subject."""

    mpfc: MpfcParams = field(default_factory=MpfcParams)
    vta: VtaParams = field(default_factory=VtaParams)
    plasticity: PlasticityParams = field(default_factory=PlasticityParams)
    behavior: BehaviorParams = field(default_factory=BehaviorParams)
    manipulations: Manipulations = field(default_factory=Manipulations)
    interneuron_potency_ratio: float = 3.0

    def replace(self, **changes) -> "CircuitParams":
        """A copy with fields changed by *field name* in any group (``replace(g_h=3.0, hm4di_da=1)``)."""
        group_of = _group_of_field()
        groups, top = {}, {}
        for k, v in changes.items():
            g = group_of.get(k)
            if g is not None:
                groups.setdefault(g, {})[k] = v
            elif k == "interneuron_potency_ratio":
                top[k] = v
            else:
                raise ValueError(f"unknown circuit parameter {k!r}; `ketamine params` lists them")
        new = {g: dataclasses.replace(getattr(self, g), **c) for g, c in groups.items()}
        return dataclasses.replace(self, **new, **top)

    def value(self, name: str) -> float:
        """A parameter's value by *field name* in any group (``value("g_h")``)."""
        g = _group_of_field().get(name)
        if g is None:
            raise ValueError(f"unknown circuit parameter {name!r}; `ketamine params` lists them")
        return getattr(getattr(self, g), name)


_GROUPS = {"mpfc": MpfcParams, "vta": VtaParams, "plasticity": PlasticityParams, "behavior": BehaviorParams,
           "manipulations": Manipulations}


@functools.lru_cache(maxsize=None)
def _group_of_field() -> dict[str, str]:
    """Field name -> the :class:`CircuitParams` group that holds it (the first in :data:`_GROUPS` order)."""
    out = {}
    for g, cls in reversed(_GROUPS.items()):
        out.update({f.name: g for f in dataclasses.fields(cls)})
    return out


def interneuron_potency_ratio() -> float:
    return CircuitParams().interneuron_potency_ratio


def parameter_rows(params: CircuitParams = CircuitParams()) -> list[dict]:
    """Every circuit parameter: group, name, value, unit, kind, source, bounds (for ``ketamine params``)."""
    rows = []
    for g in ("mpfc", "vta", "plasticity", "behavior", "manipulations"):
        rows += describe(getattr(params, g), f"circuit.{g}")
    rows.append({"group": "circuit.mpfc", "name": "interneuron_potency_ratio",
                 "value": params.interneuron_potency_ratio, "unit": "1", "kind": "calibrated",
                 "source": _RATIO_SOURCE, "bounds": [1.0, 100.0]})
    from .protocols import ProtocolParams

    rows += describe(ProtocolParams(), "circuit.protocol")
    return rows


@functools.lru_cache(maxsize=None)
def circuit_parts():
    """The PK graph and the circuit parts, wired (cached). Returns ``(graph, inputs, mpfc, vta, plast)``."""
    from pkpd.pk import ketamine_graph

    g = ketamine_graph(trapping=False)
    obs = dict(g.observables)
    shock, stress, silence = sympy.symbols(INPUT_STATES)
    man = {f.name: sympy.Symbol(f.name) for f in dataclasses.fields(Manipulations)}
    o_int, o_pyr, c_free = obs["nmda_occupancy_interneuron"], obs["nmda_occupancy_pyramidal"], \
        obs["brain_free_ketamine_uM"]
    drive = shock + stress
    da = sympy.Symbol("DA")
    d1 = d1_gate(da, sympy.Symbol("k_d1_uM"))
    w = sympy.Symbol("rho") * sympy.Symbol("A")
    cno = dreadd_activation(sympy.Symbol("cno"), man["cno_k_rel"])
    chemo = cno * (man["hm3dq_drd1"] - man["hm4di_drd1"])
    mp = mpfc_part(man["occ_scale_mpfc"] * o_pyr, man["occ_scale_mpfc"] * o_int, man["occ_scale_mpfc"] * c_free,
                   w, d1, drive, silence, chemo)
    vt = vta_part(mp.out("r_d1"), w, drive, man["occ_scale_vta"] * o_pyr, cno * man["hm4di_da"])
    pl = plasticity_part(mp.out("r_d1"), vt.out("d1"), drive)
    inputs = (shock, stress, silence)
    return g, inputs, mp, vt, pl


def dreadd_activation(cno, k_rel):
    """Fraction of an expressed DREADD activated by the agonist level ``cno`` (units of one 3-mg/kg dose):
    ``cno/(cno + k_rel)`` (one-site binding; sympy or NumPy)."""
    return cno / (cno + k_rel)


@functools.lru_cache(maxsize=None)
def circuit_system():
    """The composed :class:`~pkpd.ode.OdeSystem` ``ketamine_circuit`` (PK states, inputs, mPFC, VTA, plasticity)."""
    g, inputs, mp, vt, pl = circuit_parts()
    for s in inputs:
        g = g.add_state(s, sympy.Integer(0))
    depot, cno = sympy.symbols(CNO_STATES)
    ka, ke = sympy.Symbol("cno_ka_per_h"), sympy.log(2) / sympy.Symbol("cno_half_life_h")
    g = g.add_state(depot, -ka * depot).add_state(cno, ka * depot - ke * cno)
    for part in (mp, vt, pl):
        for s, r in zip(part.states, part.rhs):
            g = g.add_state(s, r)
        for k, e in part.observables:
            g = g.add_observable(k, e)
    obs = dict(g.observables)
    g = (g.add_observable("occupancy_mpfc_interneuron", sympy.Symbol("occ_scale_mpfc")
                          * obs["nmda_occupancy_interneuron"])
         .add_observable("occupancy_mpfc_pyramidal", sympy.Symbol("occ_scale_mpfc") * obs["nmda_occupancy_pyramidal"])
         .add_observable("occupancy_vta", sympy.Symbol("occ_scale_vta") * obs["nmda_occupancy_pyramidal"]))
    return g.to_ode_system("ketamine_circuit")


#: States held constant in a readout trial (:func:`trial_system`): the inputs a trial does not switch, the slow
#: states no fast equation reads (θ, M and P act only through ρ and A, which keep moving), and the PK states that
#: reach the brain only through the plasma (peripheral compartments, whose return flux barely changes in 15 s) or
#: not at all (the elimination sinks): 24 of the 35 states move, and trials cost ~0.75× (``run_groups`` on 200
#: subjects × 4 protocols: 2.03 → 1.70 s with the long-horizon solves). Measured as for :data:`TRIAL_NEURAL_ATOL`,
#: both at rtol 1e-7: readouts within 2.2e-5 of the whole system's. Freezing more does not hold: with ρ, A, H and Z
#: frozen too the wLH DA response moved by 4e-3 (they still drift after stress and ketamine); with the plasma and
#: depots frozen, a trial at the moment of an i.p. dose missed the drug's rise (peak 5 % off).
TRIAL_FROZEN = ("stress", "cno_depot", "cno", "silence", "theta", "M", "P", "peripheral1", "peripheral2",
                "nor_peripheral", "eliminated", "nor_eliminated")


@functools.lru_cache(maxsize=None)
def trial_system():
    """:func:`circuit_system` with :data:`TRIAL_FROZEN` held constant (:meth:`pkpd.ode.OdeSystem.freeze`): they are
    parameters for the 15 s of a readout trial, appended to the circuit's parameters in
    :attr:`circuit_system().state_names <pkpd.ode.OdeSystem.state_names>` order."""
    full = circuit_system()
    return full.freeze([n for n in full.state_names if n in TRIAL_FROZEN], name="ketamine_circuit_trial")


def parameter_values(params: CircuitParams = CircuitParams(), *, species: str = "mouse",
                     weight_kg: float | None = None) -> dict[str, float]:
    """Every parameter of :func:`circuit_system` by name (PK of the species' default model + circuit)."""
    v = dict(_pk_values(species, weight_kg, params.interneuron_potency_ratio))
    for g in ("mpfc", "vta", "plasticity", "manipulations"):
        v.update(values_of(getattr(params, g)))
    return v


@functools.lru_cache(maxsize=64)
def _pk_values(species: str, weight_kg: float | None, ratio: float) -> dict[str, float]:
    """The PK and receptor part of :func:`parameter_values` (the same for every subject of a cohort: computed once;
    callers copy it)."""
    from pkpd.pk import parameter_values as pk_values
    from pkpd.pk_models import get_pk_model
    from pkpd.species import Subject

    subject = Subject(species, weight_kg, "male")
    model = get_pk_model(None, subject.species)
    return pk_values(model, subject, nmda=NmdaParams(interneuron_potency_ratio=ratio))


def parameter_vector(values: dict[str, float]) -> np.ndarray:
    from pkpd.pk import parameter_vector as pv

    return pv(circuit_system(), values)


def atol_vector(neural: float | None = None) -> np.ndarray:
    """Absolute tolerances per state (PK amounts in µmol; neural and slow states O(1)): 1e-8, DA 1e-9 µM; with
    ``neural`` given, that value for every state of :data:`NEURAL_STATES` (:data:`LONG_NEURAL_ATOL`,
    :data:`TRIAL_NEURAL_ATOL`)."""
    sysm = circuit_system()
    a = np.full(sysm.n_states, 1e-8)
    for i, n in enumerate(sysm.state_names):
        if n == "DA":
            a[i] = 1e-9
        if neural is not None and n in NEURAL_STATES:
            a[i] = neural
    return a


def initial_states(cohort, *, iterations: int = 200) -> np.ndarray:
    """The drug-free, stress-free fixed point of the composed model for every subject of ``cohort``.

    By fixed-point iteration of the closed-form VTA steady state and the mPFC root (Newton), subject by subject in
    a compiled loop (:func:`circuits.fixed_point.fixed_points`; oracle-independent of the ODE solver, and each
    subject's result independent of the batch it is in).

    Parameters
    ----------
    cohort : sequence of CircuitParams
        ``S`` subjects.
    iterations : int
        Most iterations of the D1 loop (the DA -> D1 -> mPFC -> VTA -> DA feedback).

    Returns
    -------
    ndarray, shape (S, n_states)
        States in :attr:`circuit_system().state_names <pkpd.ode.OdeSystem.state_names>` order: PK and input states
        0, neural states at rest, ``theta`` = r_D1 (Hz), ``A`` = ``rho`` = 1, the other slow states 0.

    Raises
    ------
    ValueError
        If a subject has no fixed point (names the first such subject).
    """
    from .fixed_point import COLUMNS, MPFC_FIELDS, STATUS, VTA_FIELDS, fixed_points

    sysm = circuit_system()
    cohort = list(cohort)
    mp = np.array([[getattr(c.mpfc, f) for f in MPFC_FIELDS] for c in cohort], float).reshape(-1, len(MPFC_FIELDS))
    vt = np.array([[getattr(c.vta, f) for f in VTA_FIELDS] for c in cohort], float).reshape(-1, len(VTA_FIELDS))
    vals, status = fixed_points(mp, vt, iterations=iterations)
    for k in np.flatnonzero(status == 1):  # Newton lost its way (far from the typical operating point): scipy
        try:
            vals[k] = _fixed_point_fsolve(cohort[k], iterations)
            status[k] = 0
        except ValueError:
            pass
    if (status != 0).any():
        k = int(np.flatnonzero(status != 0)[0])
        raise ValueError(f"subject {k}: {STATUS[int(status[k])]}; check the parameters")
    y = np.zeros((len(cohort), sysm.n_states))
    for j, name in enumerate(COLUMNS):
        y[:, sysm.state_index(name)] = vals[:, j]
    y[:, sysm.state_index("A")] = 1.0
    y[:, sysm.state_index("rho")] = 1.0
    return y


def _fixed_point_fsolve(params: CircuitParams, iterations: int) -> np.ndarray:
    """One subject's fixed point the way it was found before the compiled kernel (scipy's ``fsolve`` for the mPFC root
    from (0.16, 0.04) inside the same D1 loop; closed-form VTA): the fallback of :func:`initial_states` where Newton's
    method fails (measured: 1 of 1800 subjects with strongly varied mPFC parameters; none in the default cohort).
    Returns the 9 values of :data:`circuits.fixed_point.COLUMNS`; raises ``ValueError`` where it fails too."""
    from .mpfc import steady_state as mpfc_steady
    from .mpfc import transfer
    from .vta import steady_state as vta_steady

    q_m, q_v = params.mpfc, params.vta
    d1, guess = 0.5, (0.16, 0.04)
    for _ in range(iterations):
        s, _ = mpfc_steady(q_m, d1=d1, guess=guess)
        guess = tuple(s)
        xe = (q_m.w_plus * q_m.j_n_nA * s[0] - q_m.j_i_nA * s[1] + q_m.w_e * q_m.i0_nA + q_m.i_aff_nA
              + q_m.j_d1_nA * d1)
        r_d1 = float(transfer(xe, q_m.a_e_per_nC, q_m.b_e_Hz, q_m.d_e_s))
        vs = vta_steady(q_v, r_d1)
        if vs is None:
            raise ValueError("no VTA steady state (DA not finite)")
        d1_new = float(d1_gate(vs[4], q_v.k_d1_uM))
        converged = abs(d1_new - d1) < 1e-14
        d1 = d1_new
        if converged:
            break
    s, _ = mpfc_steady(q_m, d1=d1, guess=guess)
    return np.array([s[0], s[1], *vs, r_d1], float)


def initial_state(params: CircuitParams = CircuitParams(), *, iterations: int = 200) -> np.ndarray:
    """The drug-free, stress-free fixed point of one subject, shape (n_states,) (:func:`initial_states`)."""
    return initial_states([params], iterations=iterations)[0]


def run_long(y0, params, t_eval_h, schedules=None, *, rtol: float = RTOL, max_steps: int = 200_000,
             observables: bool = True, neural_atol: float | None = LONG_NEURAL_ATOL, qss=LONG_QSS):
    """Long-horizon integration (hours) of a batch: ``y0`` (S, N), ``params`` (S, P), one schedule per subject.
    ``observables=False`` leaves ``Solution.observables`` empty (for callers that observe the states themselves).
    ``neural_atol``: absolute tolerance of the fast neural states (default :data:`LONG_NEURAL_ATOL`, for sessions
    as averaged drive); ``None`` keeps :func:`atol_vector`'s, to resolve individual shocks. ``qss``: the states set
    to their quasi-steady state at every switch and dose (default :data:`LONG_QSS`); ``None`` integrates their
    transients (individual shocks, or the oracle of the reduction)."""
    from pkpd.ode import solve

    return solve(circuit_system(), y0, np.asarray(t_eval_h, float), params, method="rosenbrock", rtol=rtol,
                 atol=atol_vector(neural_atol), schedule=schedules, max_steps=max_steps, observables=observables,
                 qss=qss)


@dataclass(frozen=True, eq=False)
class TrialResult:
    """One resolved shock trial per row: time (s from the trial start), DA rate and indicator traces.

    ``shock_s`` is the shock duration: a float when every row had the same, else an ndarray (S,) of each row's."""

    t_s: np.ndarray
    r_da: np.ndarray
    gcamp: np.ndarray
    onset_s: float
    shock_s: float | np.ndarray
    status: np.ndarray


def run_trials(y0, params, *, onset_s: float = 5.0, shock_s=3.0, total_s: float = 15.0,
               dt_s: float = 0.05, t0_h: float = 0.0, rtol: float = TRIAL_RTOL,
               neural_atol: float | None = TRIAL_NEURAL_ATOL, method: str = TRIAL_METHOD) -> TrialResult:
    """Fully dynamic single-trial mode: one foot shock from each state in ``y0`` (S, N).

    The trial integrates :func:`trial_system`: the inputs it does not switch, the slow states no fast equation reads
    and the PK states with no effect on the brain within 15 s keep their values in ``y0`` (:data:`TRIAL_FROZEN`).

    The trial starts at ``t0_h`` (only matters for time-dependent inputs; there are none) with ``stress`` 0; the
    shock input is switched to 1 at ``onset_s`` and back to 0 after ``shock_s`` by exact reset events.
    ``shock_s`` is one duration (s) for every row or one per row (array-like (S,), e.g. escape trials ended at
    each subject's escape latency beside 10-s failure trials; one engine schedule per row). ``method`` and
    ``rtol``: the solver and its relative tolerance (default :data:`TRIAL_METHOD` at :data:`TRIAL_RTOL`, with their
    measured effect on the readouts); ``neural_atol`` the neural states' absolute tolerance (default
    :data:`TRIAL_NEURAL_ATOL`; ``None``: 1e-8).
    """
    from pkpd.ode import Schedule, solve

    sysm = circuit_system()
    y0 = np.array(y0, float, ndmin=2)
    y0[:, sysm.state_index("stress")] = 0.0
    y0[:, sysm.state_index("shock")] = 0.0
    t_s = np.arange(0.0, total_s + 1e-9, dt_s)
    t_h = t0_h + t_s / S_PER_H
    durations = np.asarray(shock_s, float)
    if durations.ndim > 1 or (durations.ndim == 1 and durations.size != y0.shape[0]):
        raise ValueError(f"shock_s: expected one duration or one per row ({y0.shape[0]}), got shape "
                         f"{durations.shape}")
    if not (np.all(np.isfinite(durations)) and np.all(durations > 0)):
        raise ValueError(f"shock_s: expected positive finite durations (s), got {shock_s!r}")

    def schedule(d):
        return (Schedule().reset(t0_h + onset_s / S_PER_H, "shock", 1.0)
                .reset(t0_h + (onset_s + float(d)) / S_PER_H, "shock", 0.0))

    sched = schedule(durations) if durations.ndim == 0 else [schedule(d) for d in durations]
    tsys = trial_system()
    moving = [sysm.state_index(n) for n in tsys.state_names]
    frozen = [sysm.state_index(n) for n in tsys.param_names[len(sysm.param_names):]]  # in freeze's order
    p_full = np.array(params, float, ndmin=2)
    p_trial = np.hstack([np.broadcast_to(p_full, (y0.shape[0], p_full.shape[1])), y0[:, frozen]])
    sol = solve(tsys, y0[:, moving], t_h, p_trial, method=method, rtol=rtol,
                atol=atol_vector(neural_atol)[moving], schedule=sched, observables=False)  # only the DA states
    out_shock = float(durations) if durations.ndim == 0 else durations.copy()
    return TrialResult(t_s, sol.state("r_DA"), sol.state("gcamp"), onset_s, out_shock, sol.status)
