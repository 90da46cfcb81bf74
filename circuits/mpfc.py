"""Medial prefrontal cortex: an excitatory/inhibitory dynamic mean field with NMDA-driven excitation, a Drd1
pyramidal output, and D1 modulation by mesocortical dopamine.

Equations (Deco et al. 2014 J Neurosci 34:7886, "How local excitation–inhibition ratio impacts the whole brain
dynamics", eqs. 1–6; time in seconds, currents in nA, rates in Hz)::

    x_E = w₊ J_N (1 − f_EE O_E) S_E − J_i S_I + W_E I₀ + I_aff·w + I_sh·shock + J_D1·d1 − I_sil·sil
          − J_an C/(C + K_an) − J_Z·Z
    x_I = J_N (1 − O_I) S_E − S_I + W_I I₀
    dS_E/dt = −S_E/τ_E + (1 − S_E) γ H_E(x_E)
    dS_I/dt = −S_I/τ_I + γ_I H_I(x_I)
    H(x) = (a x − b) / (1 − exp(−d (a x − b)))
    dZ/dt = k_Z a(C) (1 − Z) − Z/τ_Z,  a(C) = C⁴/(C⁴ + K_Z⁴)   (hours; post-anaesthetic state)

Ketamine (O = NMDA occupancy at the mPFC) scales the E→I NMDA term by ``1 − O_I`` and the E→E term by
``1 − f_EE O_E`` (only the NMDA fraction ``f_EE`` of recurrent excitation is blockable; the rest is AMPA);
interneurons are blocked more potently (Homayoun & Moghaddam 2007 J Neurosci 27:11496), which disinhibits
pyramidal cells. At anaesthetic concentrations a low-affinity, non-NMDA suppression of pyramidal excitability
(``J_an C/(C + K_an)``, C the free brain ketamine, e.g. HCN1 block, Chen et al. 2009 J Neurosci 29:600) takes
over, so the surge follows the inverted U of glutamate efflux with dose (Moghaddam et al. 1997 J Neurosci
17:2921).

**Post-anaesthetic state Z (memory of anaesthesia).** The instantaneous terms alone let anaesthetic doses
(100–200 mg/kg i.p.) rescue behaviour: as the drug washes out (t½ ≈ 13 min in the mouse; norketamine lingers) its
level passes back through the disinhibition window and produces the same surge → BDNF/mTOR → potentiation as
10 mg/kg, and residual disinhibition even inflates the shock response at the 4-h test — against "no benefit at
anaesthetic doses" (an assumed reading: ketamine is antidepressant at sub-anaesthetic doses). ``Z`` is switched on
steeply (Hill 4) only by anaesthetic concentrations of free brain ketamine (``K_Z`` above the peak after 50 mg/kg)
and decays over hours after emergence (τ_Z); while it lasts it depresses pyramidal excitability (``J_Z·Z``), so the
wash-out passes the disinhibition window without a surge.
Biological reading (assumed, not measured for ketamine alone): the hours-long post-anaesthetic state of rodents —
hypothermia and depressed cortical activity after emergence (anaesthesia-induced hypothermia in mice: Planel et al.
2007 J Neurosci 27:3090; with ketamine it also leaves brain growth-factor signalling unresponsive, "Anaesthesia
generates neuronal insulin resistance by inducing hypothermia", BMC Neurosci 2008 9:100) — and the prolonged fall
of prefrontal glutamate at 200 mg/kg (Moghaddam et al. 1997). Sub-anaesthetic doses (≤ 30 mg/kg) leave Z ≈ 0.

``w`` is the slow synaptic efficacy (spines × potentiation, :mod:`circuits.plasticity`); it
scales the afferent gain, not the E→E recurrence (which can make the population bistable).

The Drd1 pyramidal output that the paper's photometry sees (and that projects, directly or polysynaptically, to
the VTA) receives the same input plus the chemogenetic current (hM3Dq +, hM4Di −): ``r_D1 = H_E(x_E + I_chemo)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from pkpd.parameters import check_bounds, param

from .parts import Part, per_s, symbols_of

__all__ = ["MpfcParams", "mpfc_part", "transfer", "steady_state"]

_DECO = "Deco et al. 2014 J Neurosci 34:7886, dynamic mean field"


@dataclass(frozen=True)
class MpfcParams:
    """mPFC mean-field parameters (Deco 2014 values unless stated)."""

    a_e_per_nC: float = param(310.0, "1/nC", _DECO + ": a_E", bounds=(1, 1e4), kind="published")
    b_e_Hz: float = param(125.0, "Hz", _DECO + ": b_E", bounds=(0, 1e3), kind="published")
    d_e_s: float = param(0.16, "s", _DECO + ": d_E", bounds=(1e-3, 10), kind="published")
    tau_e_s: float = param(0.1, "s", _DECO + ": tau_NMDA", bounds=(1e-3, 10), kind="published")
    gamma_e: float = param(0.641, "1", _DECO + ": gamma", bounds=(1e-3, 10), kind="published")
    a_i_per_nC: float = param(615.0, "1/nC", _DECO + ": a_I", bounds=(1, 1e4), kind="published")
    b_i_Hz: float = param(177.0, "Hz", _DECO + ": b_I", bounds=(0, 1e3), kind="published")
    d_i_s: float = param(0.087, "s", _DECO + ": d_I", bounds=(1e-3, 10), kind="published")
    tau_i_s: float = param(0.01, "s", _DECO + ": tau_GABA", bounds=(1e-4, 10), kind="published")
    gamma_i: float = param(1.0, "1", _DECO + ": gamma_I", bounds=(1e-3, 10), kind="published")
    w_plus: float = param(1.4, "1", _DECO + ": w+", bounds=(0, 10), kind="published")
    j_n_nA: float = param(0.15, "nA", _DECO + ": J_NMDA", bounds=(0, 10), kind="published")
    w_e: float = param(1.0, "1", _DECO + ": W_E", bounds=(0, 10), kind="published")
    w_i: float = param(0.7, "1", _DECO + ": W_I", bounds=(0, 10), kind="published")
    i0_nA: float = param(0.382, "nA", _DECO + ": I_0", bounds=(0, 10), kind="published")
    j_i_nA: float = param(1.123111, "nA", "calibrated: feedback inhibition giving r_E ≈ 3 Hz at rest (Deco 2014 FIC "
                          "target)", bounds=(0, 20), kind="calibrated")
    f_ee_nmda: float = param(0.3, "1", "calibrated to the inverted U of prefrontal glutamate with dose (up at "
                             "10-30, down at 200 mg/kg; Moghaddam et al. 1997): NMDA share of E->E "
                             "current", bounds=(0, 1), kind="calibrated")
    j_anaes_nA: float = param(0.02, "nA", "calibrated to the fall of prefrontal glutamate at 200 mg/kg "
                              "(Moghaddam et al. 1997): low-affinity anaesthetic suppression", bounds=(0, 1),
                              kind="calibrated")
    k_anaes_uM: float = param(10.0, "uM", "assumed: free ketamine of half-maximal anaesthetic suppression, of the "
                              "order of ketamine's HCN1 IC50 (Chen et al. 2009 J Neurosci 29:600)",
                              bounds=(0.1, 1000), kind="assumed")
    i_aff_nA: float = param(0.002, "nA", "assumed: afferent (e.g. thalamic/hippocampal) drive scaled by the slow "
                            "synaptic efficacy w; small against I_0", bounds=(0, 1), kind="assumed")
    i_shock_nA: float = param(0.006, "nA", "calibrated: the foot shock's afferent drive to mPFC, sized so the "
                              "shock raises r_D1 by < 50 % (keeps shocks below the plasticity threshold)",
                              bounds=(0, 1), kind="calibrated")
    j_d1_nA: float = param(0.005, "nA", "assumed: D1 facilitation of pyramidal excitability by mesocortical "
                           "dopamine (Seamans & Yang 2004 Prog Neurobiol 74:1), small", bounds=(0, 1),
                           kind="assumed")
    i_silence_nA: float = param(0.2, "nA", "assumed: muscimol/hM4Di inhibitory current silencing mPFC (r_E < "
                                "0.1 Hz)", bounds=(0, 10), kind="assumed")
    k_z_per_h: float = param(20.0, "1/h", "assumed: onset rate of the post-anaesthetic state (loss of righting "
                             "within minutes of an anaesthetic dose)", bounds=(0.1, 1000), kind="assumed")
    k_z_uM: float = param(25.0, "uM", "assumed: free brain ketamine of half-maximal drive of the post-anaesthetic "
                          "state (Hill 4), above the model's peak after 50 mg/kg i.p. (11 uM), near that after 100 "
                          "(23 uM): mice lose the righting reflex only at anaesthetic doses (>= ~100 mg/kg ketamine "
                          "alone)",
                          bounds=(0.1, 1000), kind="assumed")
    tau_z_h: float = param(4.0, "h", "calibrated (by hand) to reproduce no benefit at anaesthetic "
                           "doses (100-200 mg/kg): recovery from the post-anaesthetic state over hours (cf. post-"
                           "anaesthetic hypothermia), outlasting the drug's wash-out through the disinhibition window",
                           bounds=(0.1, 1000), kind="calibrated")
    j_z_nA: float = param(0.015, "nA", "calibrated (by hand) to reproduce (no benefit at anaesthetic "
                          "doses): post-anaesthetic depression of pyramidal excitability at Z = 1 (smaller than the "
                          "acute anaesthetic suppression j_anaes)", bounds=(0, 1), kind="calibrated")
    i_chemo_nA: float = param(0.02, "nA", "assumed: hM3Dq (+) or hM4Di (-) current in Drd1 pyramidal cells "
                              "while CNO is present", bounds=(0, 1), kind="assumed")

    def __post_init__(self):
        check_bounds(self)


P = symbols_of(MpfcParams)

#: Hill exponent of the anaesthetic threshold of Z (assumed: anaesthesia is nearly all-or-none with dose). A fixed
#: integer, not a parameter: with a symbolic exponent the Jacobian's d(Cⁿ)/dC = n·Cⁿ/C is 0/0 at C = 0.
N_Z = 4


def transfer(x, a, b, d):
    """Deco's population transfer function ``H(x) = (a x − b)/(1 − exp(−d (a x − b)))`` (Hz; sympy or NumPy)."""
    u = a * x - b
    exp = sympy.exp if isinstance(u, sympy.Basic) else __import__("numpy").exp
    return u / (1 - exp(-d * u))


def mpfc_part(occ_e, occ_i, c_free, w, d1, shock, silence, chemo) -> Part:
    """The mPFC part.

    Parameters
    ----------
    occ_e, occ_i : sympy.Expr
        NMDA occupancy (0–1) of pyramidal cells and interneurons at the mPFC.
    c_free : sympy.Expr
        Free ketamine concentration at the mPFC, µM (for the anaesthetic term).
    w : sympy.Expr
        Slow synaptic efficacy (1 naive).
    d1 : sympy.Expr
        D1 receptor activation by mesocortical dopamine (0–1).
    shock : sympy.Expr
        Shock input (1 during a shock; the duty fraction in the session-averaged mode).
    silence : sympy.Expr
        1 while mPFC is pharmacologically silenced.
    chemo : sympy.Expr
        Net chemogenetic drive of Drd1 pyramidal cells (+1 hM3Dq + CNO, −1 hM4Di + CNO, 0 otherwise).

    Observables: ``x_e`` (nA), ``r_e``, ``r_i``, ``r_d1`` (Hz), ``anaesthetic_drive`` (a(C), 0–1).
    """
    s_e, s_i, z = sympy.symbols("S_E S_I Z")
    p = P
    anaes = c_free ** N_Z / (c_free ** N_Z + p["k_z_uM"] ** N_Z)
    x_e = (p["w_plus"] * p["j_n_nA"] * (1 - p["f_ee_nmda"] * occ_e) * s_e - p["j_i_nA"] * s_i
           + p["w_e"] * p["i0_nA"] + p["i_aff_nA"] * w
           + p["i_shock_nA"] * shock + p["j_d1_nA"] * d1 - p["i_silence_nA"] * silence
           - p["j_anaes_nA"] * c_free / (c_free + p["k_anaes_uM"]) - p["j_z_nA"] * z)
    x_i = p["j_n_nA"] * (1 - occ_i) * s_e - s_i + p["w_i"] * p["i0_nA"]
    r_e = transfer(x_e, p["a_e_per_nC"], p["b_e_Hz"], p["d_e_s"])
    r_i = transfer(x_i, p["a_i_per_nC"], p["b_i_Hz"], p["d_i_s"])
    r_d1 = transfer(x_e + p["i_chemo_nA"] * chemo, p["a_e_per_nC"], p["b_e_Hz"], p["d_e_s"])
    rhs = (per_s(-s_e / p["tau_e_s"] + (1 - s_e) * p["gamma_e"] * r_e),
           per_s(-s_i / p["tau_i_s"] + p["gamma_i"] * r_i),
           p["k_z_per_h"] * anaes * (1 - z) - z / p["tau_z_h"])
    return Part("mpfc", (s_e, s_i, z), rhs, tuple(P.values()),
                (("x_e", x_e), ("r_e", r_e), ("r_i", r_i), ("r_d1", r_d1), ("anaesthetic_drive", anaes)))


def steady_state(params: MpfcParams = MpfcParams(), *, occ_e=0.0, occ_i=0.0, c_free=0.0, w=1.0, d1=0.5,
                 shock=0.0, silence=0.0, guess=(0.16, 0.05)):
    """The fixed point (S_E, S_I) and rates (r_E, r_I in Hz) by root finding in NumPy (an oracle for tests), with the
    post-anaesthetic state Z at its own fixed point for a constant ``c_free`` (0 without drug)."""
    import numpy as np
    from scipy.optimize import fsolve

    q = params
    drive = q.k_z_per_h * q.tau_z_h * c_free ** N_Z / (c_free ** N_Z + q.k_z_uM ** N_Z)
    z = drive / (1 + drive)

    def rates(s):
        se, si = s
        xe = (q.w_plus * q.j_n_nA * (1 - q.f_ee_nmda * occ_e) * se - q.j_i_nA * si + q.w_e * q.i0_nA
              + q.i_aff_nA * w + q.i_shock_nA * shock + q.j_d1_nA * d1 - q.i_silence_nA * silence
              - q.j_anaes_nA * c_free / (c_free + q.k_anaes_uM) - q.j_z_nA * z)
        xi = q.j_n_nA * (1 - occ_i) * se - si + q.w_i * q.i0_nA
        return transfer(xe, q.a_e_per_nC, q.b_e_Hz, q.d_e_s), transfer(xi, q.a_i_per_nC, q.b_i_Hz, q.d_i_s)

    def f(s):
        re, ri = rates(s)
        return [-s[0] / q.tau_e_s + (1 - s[0]) * q.gamma_e * re, -s[1] / q.tau_i_s + q.gamma_i * ri]

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # judged by the residual below, not by fsolve's progress
        s = fsolve(f, np.asarray(guess, float), xtol=1e-13)
    res = np.abs(f(s))
    if not np.all(res < 1e-6 * np.array([1 / q.tau_e_s, 1 / q.tau_i_s])):
        raise ValueError(f"mPFC steady state not found (residual {res.tolist()}); check the parameters")
    return s, np.array(rates(s))
