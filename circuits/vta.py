"""Ventral tegmental area: dopamine (DA) and GABA rate units, the foot shock's two paths, and DA release/uptake.

Rates (time in seconds, currents in pA; after Joshi et al. 2017, a threshold-linear DA unit with Michaelis–Menten
uptake)::

    τ_G dr_G/dt = g_G⟨I_G⟩₊ − r_G,          I_G = I_G,bg + J_SG·w·shock + J_PG·w·r_D1
    τ_u du/dt   = w·r_D1·(1 − f_V O_V) − u                     (mPFC-driven glutamatergic burst drive)
    τ_v dv/dt   = w·r_D1·(1 − f_V O_V) − v                     (its slowly adapting reference)
    τ_D dr_D/dt = g_D⟨I_D − I₀⟩₊ − r_D,     I_D = I_D,bg + J_PD·⟨u − v − u_th⟩₊ − J_GD·r_G − I_hM4Di·cno·hm4di
    d[DA]/dt    = C_p r_D − V_max [DA]/(K_m + [DA])
    τ_F dF/dt   = r_D − F                                        (GCaMP6f-like indicator of the DA population)

⟨·⟩₊ is a smooth threshold (softplus). Tonic firing is intrinsic pacemaking (I_D,bg); the mPFC-driven input
recruits *bursts* only when it rises quickly above its recent level ``v`` (τ_v ≈ 30 s; bursting needs strong,
transient NMDA-dependent afferent drive, Overton & Clark 1997), so tonic DA and the D1 gate do not depend on the
mPFC operating point (the DA–D1–mPFC loop stays stable), while the shock-evoked mPFC response becomes the
post-shock rise, in proportion to the efficacy ``w`` of the mPFC→VTA projection (:mod:`circuits.plasticity`). The
shock drives VTA/RMTg GABA neurons (a **dip** of DA firing during the
shock; Ungless et al. 2004 Science 303:2040, Brischoux et al. 2009 PNAS 106:4894) and, through mPFC, the slow
excitatory drive ``u`` that outlasts the GABA inhibition and produces the **rise** after the shock (Wu et al. 2021
eLife; mPFC-driven bursting needs NMDA receptors, Overton & Clark 1997 Brain Res Rev 25:312). Ketamine at the VTA
(occupancy ``O_V``) blocks only the NMDA share ``f_V`` of that drive; it does not change DA firing by itself (Wu
2021: 50 µM in slices). The D1 gate of mesocortical dopamine is ``d1 = DA²/(DA² + K_D1²)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from pkpd.parameters import check_bounds, param

from .parts import Part, per_s, softplus, symbols_of

__all__ = ["VtaParams", "vta_part", "steady_state", "d1_gate"]

_JOSHI = "Joshi et al. 2017 J R Soc Interface 14:20160902 (DA rate unit, release/uptake)"


@dataclass(frozen=True)
class VtaParams:
    """VTA DA/GABA parameters."""

    g_d_Hz_per_pA: float = param(0.019, "Hz/pA", _JOSHI + ": DA gain g_D", bounds=(1e-4, 1), kind="published")
    i0_d_pA: float = param(-10.0, "pA", _JOSHI + ": DA threshold I_0", bounds=(-1000, 1000), kind="published")
    i_d_bg_pA: float = param(275.376, "pA", "calibrated: tonic DA firing 4.5 Hz at rest (Grace & Bunney 1984: "
                             "4-5 Hz)", bounds=(-2000, 2000), kind="calibrated")
    j_pd_pA_per_Hz: float = param(355.0, "pA/Hz", "calibrated: mPFC->DA burst drive sized so the naive "
                                  "post-shock rise after a 3-s shock is +50 % ΔF/F (Wu 2021 photometry shape)",
                                  bounds=(0, 5000), kind="calibrated")
    u_th_Hz: float = param(0.02, "Hz", "assumed: burst threshold of the mPFC-driven input above its adapting "
                           "reference (bursts need a transient rise of afferent drive; Overton & Clark 1997)",
                           bounds=(0, 100), kind="assumed")
    tau_v_s: float = param(30.0, "s", "assumed: adaptation of the burst reference (short-term synaptic depression "
                           "/ autoreceptor feedback over tens of seconds)", bounds=(1, 1e4), kind="assumed")
    softplus_u_per_Hz: float = param(50.0, "1/Hz", "assumed: sharpness of the burst threshold", bounds=(0.1, 100),
                                     kind="assumed")
    j_gd_pA_per_Hz: float = param(10.0, "pA/Hz", "assumed: GABA->DA inhibition; with J_SG silences DA firing "
                                  "during the shock", bounds=(0, 1000), kind="assumed")
    g_g_Hz_per_pA: float = param(0.05, "Hz/pA", "assumed: GABA unit gain", bounds=(1e-4, 1), kind="assumed")
    i_g_bg_pA: float = param(85.0, "pA", "assumed: tonic GABA firing ~5 Hz (Steffensen et al. 1998 "
                             "J Neurosci 18:8003)", bounds=(-1000, 1000), kind="assumed")
    j_sg_pA: float = param(500.0, "pA", "calibrated: shock drive to VTA/RMTg GABA at the naive efficacy (w = 1), "
                           "sized so the naive mouse's DA firing is just silenced during a shock (a dip during the "
                           "shock, the rise after it; Ungless 2004; Brischoux 2009); it passes through the mPFC "
                           "efficacy w (assumed: prefrontal afferents reach VTA GABA neurons, Carr & Sesack 2000 J "
                           "Neurosci 20:3864), so below w = 1 the dip is graded and learning blunts it as it blunts "
                           "the rise (Wu 2021 Fig 1d,e and Fig 2c,d: the failure-trial dip lost after wLH, back after "
                           "ketamine)", bounds=(0, 5000), kind="calibrated")
    j_pg_pA_per_Hz: float = param(5.0, "pA/Hz", "assumed: mPFC->VTA GABA/RMTg drive (makes the dip depend on "
                                  "mPFC efficacy; Wu 2021: wLH shrinks the dip, ketamine restores it)",
                                  bounds=(0, 1000), kind="assumed")
    tau_d_s: float = param(0.05, "s", "assumed: DA population rate time constant", bounds=(1e-3, 10),
                           kind="assumed")
    tau_g_s: float = param(0.02, "s", "assumed: GABA population rate time constant", bounds=(1e-3, 10),
                           kind="assumed")
    tau_u_s: float = param(1.5, "s", "assumed: slow NMDA-dependent mPFC->VTA burst drive; sets the rise after "
                           "shock offset", bounds=(1e-3, 100), kind="assumed")
    f_nmda_vta: float = param(0.5, "1", "assumed: NMDA share of the mPFC->DA drive blockable by ketamine in VTA",
                              bounds=(0, 1), kind="assumed")
    c_p_uM: float = param(0.1, "uM", _JOSHI + ": DA released per spike C_p (uM/spike)", bounds=(0, 10),
                          kind="published")
    vmax_uM_per_s: float = param(4.0, "uM/s", _JOSHI + ": uptake V_max", bounds=(1e-3, 100), kind="published")
    km_uM: float = param(0.15, "uM", _JOSHI + ": uptake K_m", bounds=(1e-3, 10), kind="published")
    k_d1_uM: float = param(0.02, "uM", "assumed: DA of half-maximal D1 gating, about the tonic level, so the gate "
                           "follows DA in both directions", bounds=(1e-4, 10), kind="assumed")
    tau_gcamp_s: float = param(0.2, "s", "assumed: GCaMP6f decay (Chen et al. 2013 Nature 499:295, t1/2 ~ 0.14 "
                               "s)", bounds=(1e-3, 10), kind="assumed")
    i_hm4di_pA: float = param(400.0, "pA", "assumed: hM4Di+CNO silences DA neurons (r_D ~ 0)", bounds=(0, 5000),
                              kind="assumed")
    softplus_per_pA: float = param(0.2, "1/pA", "assumed: sharpness of the smooth threshold (width ~5 pA)",
                                   bounds=(1e-3, 10), kind="assumed")

    def __post_init__(self):
        check_bounds(self)


P = symbols_of(VtaParams)


def d1_gate(da, k):
    """D1 activation by dopamine, ``da²/(da² + k²)`` (sympy or NumPy)."""
    return da ** 2 / (da ** 2 + k ** 2)


def vta_part(r_d1, w, shock, occ_vta, silence_da) -> Part:
    """The VTA part.

    Parameters
    ----------
    r_d1 : sympy.Expr
        mPFC Drd1 output rate, Hz.
    w : sympy.Expr
        Efficacy of the mPFC→VTA projection (1 naive).
    shock : sympy.Expr
        Shock input (1 during a shock; the duty fraction when session-averaged).
    occ_vta : sympy.Expr
        NMDA occupancy at the VTA (0–1).
    silence_da : sympy.Expr
        1 while DA neurons are chemogenetically silenced (hM4Di + CNO).

    Observables: ``r_da``, ``r_gaba`` (Hz), ``da_uM``, ``d1`` (0–1).
    """
    r_g, u, v, r_d, da, f = sympy.symbols("r_G u_glu v_glu r_DA DA gcamp")
    p = P
    k = p["softplus_per_pA"]
    i_g = p["i_g_bg_pA"] + p["j_sg_pA"] * w * shock + p["j_pg_pA_per_Hz"] * w * r_d1
    burst = softplus(u - v - p["u_th_Hz"], p["softplus_u_per_Hz"])
    i_d = p["i_d_bg_pA"] + p["j_pd_pA_per_Hz"] * burst - p["j_gd_pA_per_Hz"] * r_g - p["i_hm4di_pA"] * silence_da
    rhs = (per_s((p["g_g_Hz_per_pA"] * softplus(i_g, k) - r_g) / p["tau_g_s"]),
           per_s((w * r_d1 * (1 - p["f_nmda_vta"] * occ_vta) - u) / p["tau_u_s"]),
           per_s((w * r_d1 * (1 - p["f_nmda_vta"] * occ_vta) - v) / p["tau_v_s"]),
           per_s((p["g_d_Hz_per_pA"] * softplus(i_d - p["i0_d_pA"], k) - r_d) / p["tau_d_s"]),
           per_s(p["c_p_uM"] * r_d - p["vmax_uM_per_s"] * da / (p["km_uM"] + da)),
           per_s((r_d - f) / p["tau_gcamp_s"]))
    return Part("vta", (r_g, u, v, r_d, da, f), rhs, tuple(P.values()),
                (("r_da", r_d), ("r_gaba", r_g), ("da_uM", da), ("d1", d1_gate(da, p["k_d1_uM"]))))


def _softplus_np(x, k):
    import numpy as np

    return (x + np.sqrt(x * x + 1.0 / (k * k))) / 2


def steady_state(q: VtaParams, r_d1: float, *, w: float = 1.0, shock: float = 0.0, occ_vta: float = 0.0,
                 silence_da: float = 0.0):
    """Closed-form fixed point (r_G, u, v, r_DA, DA, F) of the VTA part for a constant mPFC rate (NumPy oracle)."""
    import math

    k = q.softplus_per_pA
    r_g = q.g_g_Hz_per_pA * _softplus_np(q.i_g_bg_pA + q.j_sg_pA * w * shock + q.j_pg_pA_per_Hz * w * r_d1, k)
    u = w * r_d1 * (1 - q.f_nmda_vta * occ_vta)
    burst = _softplus_np(-q.u_th_Hz, q.softplus_u_per_Hz)
    r_d = q.g_d_Hz_per_pA * _softplus_np(q.i_d_bg_pA + q.j_pd_pA_per_Hz * burst - q.j_gd_pA_per_Hz * r_g
                                         - q.i_hm4di_pA * silence_da - q.i0_d_pA, k)
    prod = q.c_p_uM * r_d
    if prod >= q.vmax_uM_per_s:
        raise ValueError("DA release exceeds the uptake capacity: no steady state")
    da = prod * q.km_uM / (q.vmax_uM_per_s - prod)
    return (float(r_g), float(u), float(u), float(r_d), float(da), float(r_d)) if not math.isnan(da) else None
