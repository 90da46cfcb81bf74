"""Slow plasticity (hours–days): stress load, the glutamate-surge → BDNF/mTOR → DA/D1-gated potentiation →
spine formation cascade, and stress-driven spine loss. Time in hours.

::

    dH/dt = k_H·shock·(1 − H) − H/τ_H                                   stress load
    dθ/dt = (r_D1 − θ)/τ_θ                                              sliding activity reference (BCM-like)
    dM/dt = (k_M (1 − mTOR block) [σ(r_D1/θ − 1 − δ) − σ(−δ)] − M)/τ_M   BDNF/mTORC1 drive
    dA/dt = k_A M d1 [1 − ρA]₊/ρ − (A − 1)/τ_A                          DA/D1-gated potentiation
    dP/dt = (M d1 − P)/τ_P                                              structural (synaptic-protein) drive
    dρ/dt = k_ρ [1 + g_P P (1 − spine block)(ρ_max − ρ)/(ρ_max − 1) − (1 + g_H H²) ρ]
                                                                        spine density (1 naive)
    w     = ρ A                                                         synaptic efficacy

Spine loss is cooperative in the stress load (H², assumed): one wLH session is mild, two sLH sessions severe
(Wu 2021: 11.9 % vs 74 % failures a day after induction), which a linear term cannot give. The structural drive P
integrates the same DA/D1-gated BDNF/mTOR signal over τ_P, so new spines lag
potentiation (few at 4 h, many at 12–24 h; Moda-Sava 2019) and are blocked with it by mTOR or DA/D1 block.

**Potentiation restores, it does not enhance.** The DA/D1-gated potentiation closes a fraction of the efficacy
deficit ``[1 − w]₊`` (in w: ``dw/dt = ρ dA/dt = k_A M d1 [1 − w]₊`` while spines are unchanged), so one surge restores
the same *fraction* of what stress removed, whatever the depth of the deficit, and does nothing to an intact
circuit. Reading (assumed, from two sources): ketamine reverses stress-induced synaptic deficits rather than
enhancing naive synapses (Li et al. 2011 Biol Psychiatry 69:754: spine density and EPSC deficits after chronic
stress reversed within 24 h), and the new spines it forms preferentially restore those stress eliminated
(Moda-Sava et al. 2019). Its consequence, checked and not fitted: with ``k_A`` set by the wLH rescue alone, the
deeper sLH deficit gets the larger absolute rescue at 4 h (an earlier form, ``k_A M d1 (A_max − A)``, potentiated
every synapse by the same factor, so the few synapses left after sLH gained little: 74 % → 65 % failures, a miss).

σ is a smooth threshold, so only a surge of Drd1 output well above its recent level (ketamine's, or chemogenetic
activation) engages BDNF/mTOR, not the modest activity of a shock session. Time scales: BDNF translation within
≈ 30 min (Autry et al. 2011 Nature 475:91), mTORC1 peaking at 30–60 min (Li et al. 2010 Science 329:959), D1/PKA
gating of potentiation (Wu et al. 2021 Biol Psychiatry, doi 10.1016/j.biopsych.2020.12.022), new spines unchanged
at 3–6 h and increased at 12–24 h, needed to sustain the effect (Moda-Sava et al. 2019 Science 364:eaat8078); stress eliminates spines.

**Saturating spine formation.** Activity-driven formation needs free sites on the dendrite: it is proportional to
``(ρ_max − ρ)/(ρ_max − 1)`` (1 at the naive density, 0 at the ceiling ρ_max), so repeated doses cannot push the
density, and the efficacy ``w = ρA ≤ ρ_max·A_max``, beyond a physiological ceiling (without it, repeated dosing
drove ρ toward ~10× naive). Below naive density (after stress) formation is correspondingly easier. Ketamine's
reported increases of mPFC spine density are tens of percent (Li et al. 2010, rat layer V at 24 h;
Phoumthipphavong et al. 2016 eNeuro 3:ENEURO.0133-15.2016, mouse medial frontal cortex, up to 2 weeks); ρ_max is
set above them (assumed).

Anaesthetic doses: the post-anaesthetic depression of pyramidal excitability (state ``Z`` of
:mod:`circuits.mpfc`) keeps the drug's wash-out from producing a surge, so no BDNF/mTOR drive follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from pkpd.parameters import check_bounds, param

from .parts import Part, softplus, symbols_of

__all__ = ["PlasticityParams", "plasticity_part", "efficacy"]


@dataclass(frozen=True)
class PlasticityParams:
    """Slow plasticity parameters (time in hours)."""

    k_h_per_h: float = param(0.5, "1/h", "assumed (not fitted; g_H is): stress-load rise per unit shock drive",
                             bounds=(0, 100), kind="assumed")
    tau_h_h: float = param(60.0, "h", "assumed: stress load decays over 2-3 days",
                           bounds=(1, 1000), kind="assumed")
    tau_theta_h: float = param(24.0, "h", "assumed: sliding reference of BCM/homeostatic scale (Turrigiano 2008 "
                               "Cell 135:422: hours-days)", bounds=(0.1, 1000), kind="assumed")
    tau_m_h: float = param(0.5, "h", "BDNF/mTORC1 time scale: mTORC1 peaks 30-60 min (Li et al. 2010 Science "
                           "329:959)", bounds=(0.01, 100), kind="published")
    k_m: float = param(2.0, "1", "assumed: BDNF/mTOR drive per unit relative surge above threshold (M is "
                       "dimensionless)", bounds=(0, 100), kind="assumed")
    delta_m: float = param(0.35, "1", "calibrated: relative Drd1 surge above the reference needed to engage "
                           "BDNF/mTOR, above shock-evoked activity and below ketamine's surge", bounds=(0, 10),
                           kind="calibrated")
    theta_floor_Hz: float = param(0.1, "Hz", "assumed: floor of the activity reference (keeps r_D1/θ finite "
                                  "when mPFC is silenced for long)", bounds=(1e-3, 10), kind="assumed")
    sharp_m: float = param(20.0, "1", "assumed: sharpness of the surge threshold", bounds=(1, 1000),
                           kind="assumed")
    k_a_per_h: float = param(3.8209, "1/h", "calibrated (circuits.calibration): rate of closing the efficacy "
                             "deficit per unit DA/D1-gated drive, to wLH failures 4 h after 10 mg/kg, "
                             "29.35 % (Wu 2021 Fig 2c: 60 % -> 36 % applied to FS6-3b's 48.91 %)",
                             bounds=(0, 1000), kind="calibrated")
    sharp_w: float = param(20.0, "1", "assumed: sharpness of the efficacy deficit's ramp [1 - w]+ (smooth "
                           "within ~0.05 of the naive efficacy)", bounds=(1, 1000), kind="assumed")
    tau_a_h: float = param(16.48, "h", "calibrated earlier (not refitted): potentiation decays so the rescue is "
                           "partly lost by 72 h (an assumed reading of Wu 2021 Fig 3d)", bounds=(1, 1000),
                           kind="calibrated")
    tau_p_h: float = param(8.0, "h", "assumed: synaptic protein/structural drive over hours (Li et al. 2010 "
                           "Science 329:959: synaptic proteins from 2 h)", bounds=(0.1, 1000), kind="assumed")
    k_rho_per_h: float = param(0.004744, "1/h", "calibrated earlier (not refitted; sLH/wLH rates and the 72-h "
                               "fade): spine "
                               "turnover ~9 days, within the days-weeks range of cortical spines (Holtmaat et al. "
                               "2005 Neuron 45:279)", bounds=(1e-4, 10), kind="calibrated")
    g_p: float = param(286.67, "1", "calibrated earlier (not refitted): spine formation per unit structural drive "
                       "at the naive density "
                       "(saturating toward rho_max), to the rescue at 24 h (new spines at 12-24 h, Moda-Sava 2019)",
                       bounds=(0, 1000), kind="calibrated")
    rho_max: float = param(1.5, "1", "assumed: maximal spine density (x naive) that activity-driven formation "
                           "can reach; set above the tens-of-percent increases of mPFC spine density after ketamine "
                           "(Li et al. 2010 Science 329:959; Phoumthipphavong et al. 2016 eNeuro "
                           "3:ENEURO.0133-15.2016)",
                           bounds=(1.01, 10), kind="assumed")
    g_h: float = param(221.65, "1", "calibrated (circuits.calibration): stress-driven spine elimination per unit "
                       "load, with the behaviour link's b1, to sLH 74.02 % and wLH days 3-4 48.91 % (Wu 2021 FS6-3)",
                       bounds=(0, 1000), kind="calibrated")

    def __post_init__(self):
        check_bounds(self)


P = symbols_of(PlasticityParams)
MANIP = {"mtor_block": sympy.Symbol("mtor_block"), "spine_block": sympy.Symbol("spine_block")}


def efficacy() -> sympy.Expr:
    """The slow synaptic efficacy ``w = ρ·A`` (state symbols of this part)."""
    return sympy.Symbol("rho") * sympy.Symbol("A")


def plasticity_part(r_d1, d1, shock) -> Part:
    """The plasticity part.

    Parameters
    ----------
    r_d1 : sympy.Expr
        mPFC Drd1 output rate, Hz.
    d1 : sympy.Expr
        D1 activation by mesocortical dopamine (0–1).
    shock : sympy.Expr
        Shock input (1 during a shock, the duty fraction when session-averaged; 0 otherwise).

    Uses the manipulation parameters ``mtor_block`` and ``spine_block`` (0 or 1; :mod:`circuits.protocols`).
    Observables: ``w`` (efficacy), ``surge`` (relative Drd1 output r_D1/θ).
    """
    h, theta, m, a, pp, rho = sympy.symbols("H theta M A P rho")
    p = P
    surge = (r_d1 + p["theta_floor_Hz"]) / (theta + p["theta_floor_Hz"])
    sig = softplus(surge - 1 - p["delta_m"], p["sharp_m"]) - softplus(-p["delta_m"], p["sharp_m"])
    rhs = (p["k_h_per_h"] * shock * (1 - h) - h / p["tau_h_h"],
           (r_d1 - theta) / p["tau_theta_h"],
           (p["k_m"] * (1 - MANIP["mtor_block"]) * sig - m) / p["tau_m_h"],
           p["k_a_per_h"] * m * d1 * softplus(1 - rho * a, p["sharp_w"]) / rho - (a - 1) / p["tau_a_h"],
           (m * d1 - pp) / p["tau_p_h"],
           p["k_rho_per_h"] * (1 + p["g_p"] * pp * (1 - MANIP["spine_block"]) * (p["rho_max"] - rho)
                               / (p["rho_max"] - 1) - (1 + p["g_h"] * h ** 2) * rho))
    return Part("plasticity", (h, theta, m, a, pp, rho), rhs, tuple(P.values()) + tuple(MANIP.values()),
                (("w", rho * a), ("surge", surge)))
