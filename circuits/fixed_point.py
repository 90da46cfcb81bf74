"""The drug-free, stress-free fixed point of the composed circuit for a whole cohort at once (numba kernel).

One subject's fixed point couples the mPFC mean field (two unknowns, ``S_E`` and ``S_I``, found by Newton's method)
with the closed-form VTA steady state through the D1 gate: mPFC at a D1 activation ``d1`` gives ``r_D1``, the VTA
at ``r_D1`` gives tonic DA, DA gives ``d1`` again. The outer loop iterates ``d1`` to a fixed point (|Δd1| <
1e-14), as the per-subject path with scipy's ``fsolve`` (:func:`circuits.mpfc.steady_state`,
:func:`circuits.vta.steady_state`) did; that path stays the fallback of :func:`circuits.model.initial_states`
where Newton fails, and the oracle of ``tests/circuits/test_model.py``. The equations are those of
:mod:`circuits.mpfc` (no drug, no shock, no silencing, ``w = 1``, ``Z = 0``) and :mod:`circuits.vta` (no shock, no
drug, no hM4Di); a change there must be made here too (the oracle test fails otherwise).

Each subject is solved by its own scalar loop, with its own convergence decisions, so its result does not depend
on the batch it is in (bitwise: the cohort runner's results must not depend on its chunk size).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["MPFC_FIELDS", "VTA_FIELDS", "STATUS", "COLUMNS", "fixed_points"]

#: the :class:`~circuits.mpfc.MpfcParams` fields the kernel reads, in its column order
MPFC_FIELDS = ("a_e_per_nC", "b_e_Hz", "d_e_s", "tau_e_s", "gamma_e", "a_i_per_nC", "b_i_Hz", "d_i_s", "tau_i_s",
               "gamma_i", "w_plus", "j_n_nA", "w_e", "w_i", "i0_nA", "j_i_nA", "i_aff_nA", "j_d1_nA")
#: the :class:`~circuits.vta.VtaParams` fields the kernel reads, in its column order
VTA_FIELDS = ("g_d_Hz_per_pA", "i0_d_pA", "i_d_bg_pA", "j_pd_pA_per_Hz", "u_th_Hz", "softplus_u_per_Hz",
              "j_gd_pA_per_Hz", "g_g_Hz_per_pA", "i_g_bg_pA", "j_pg_pA_per_Hz", "c_p_uM", "vmax_uM_per_s", "km_uM",
              "k_d1_uM", "softplus_per_pA")
#: kernel status code -> meaning
STATUS = {0: "ok", 1: "mPFC steady state not found (Newton's method did not reach a root)",
          2: "DA release exceeds the uptake capacity: no steady state"}
#: output columns of :func:`fixed_points`
COLUMNS = ("S_E", "S_I", "r_G", "u_glu", "v_glu", "r_DA", "DA", "gcamp", "theta")


@numba.njit(cache=True, error_model="numpy")
def _transfer(x, a, b, d):
    """Deco's H(x) = u/(1 − exp(−d u)), u = a x − b, and dH/dx."""
    u = a * x - b
    e = math.exp(-d * u)
    den = 1.0 - e
    return u / den, a * (den - u * d * e) / (den * den)


@numba.njit(cache=True, error_model="numpy")
def _mpfc_residual(se, si, d1, m):
    """mPFC right-hand side (f1, f2) in 1/s at (S_E, S_I), its Jacobian (j11, j12, j21, j22) and x_E (nA)."""
    xe = m[10] * m[11] * se - m[15] * si + m[12] * m[14] + m[16] + m[17] * d1
    xi = m[11] * se - si + m[13] * m[14]
    he, dhe = _transfer(xe, m[0], m[1], m[2])
    hi, dhi = _transfer(xi, m[5], m[6], m[7])
    f1 = -se / m[3] + (1.0 - se) * m[4] * he
    f2 = -si / m[8] + m[9] * hi
    j11 = -1.0 / m[3] - m[4] * he + (1.0 - se) * m[4] * dhe * m[10] * m[11]
    j12 = -(1.0 - se) * m[4] * dhe * m[15]
    j21 = m[9] * dhi * m[11]
    j22 = -1.0 / m[8] - m[9] * dhi
    return f1, f2, j11, j12, j21, j22, xe


@numba.njit(cache=True, error_model="numpy")
def _mpfc_root(se, si, d1, m):
    """Damped Newton for (S_E, S_I) from (se, si); returns (se, si, ok)."""
    f1, f2, j11, j12, j21, j22, _ = _mpfc_residual(se, si, d1, m)
    r = abs(f1) * m[3] + abs(f2) * m[8]  # residual in units of the state (rates × time constants)
    for _ in range(100):
        det = j11 * j22 - j12 * j21
        if det == 0.0 or not math.isfinite(det) or not math.isfinite(r):
            break
        dse = -(j22 * f1 - j12 * f2) / det
        dsi = -(-j21 * f1 + j11 * f2) / det
        small = abs(dse) <= 1e-15 * max(abs(se), 1e-3) and abs(dsi) <= 1e-15 * max(abs(si), 1e-3)
        lam = 1.0
        accepted = False
        for _ in range(40):  # halve the step until the residual falls (guards against overshoot)
            tse = se + lam * dse
            tsi = si + lam * dsi
            g1, g2, k11, k12, k21, k22, _ = _mpfc_residual(tse, tsi, d1, m)
            rt = abs(g1) * m[3] + abs(g2) * m[8]
            if math.isfinite(rt) and (rt < r or small):
                accepted = True
                break
            lam *= 0.5
        if not accepted:
            break  # no decrease possible: at the root to round-off
        se, si, f1, f2, j11, j12, j21, j22, r = tse, tsi, g1, g2, k11, k12, k21, k22, rt
        if small:
            break
    ok = abs(f1) < 1e-6 / m[3] and abs(f2) < 1e-6 / m[8] and math.isfinite(se) and math.isfinite(si)
    return se, si, ok


@numba.njit(cache=True, error_model="numpy")
def _softplus(x, k):
    """The smooth threshold of :func:`circuits.parts.softplus`."""
    return (x + math.sqrt(x * x + 1.0 / (k * k))) / 2.0


@numba.njit(cache=True, error_model="numpy")
def _fixed_points_kernel(mp, vt, iterations, out, status):
    """Per subject (row of ``mp``, ``vt``): the D1 loop around the mPFC root; writes ``out`` (S, 9), ``status``."""
    for s in range(mp.shape[0]):
        m = mp[s]
        v = vt[s]
        status[s] = 0
        d1 = 0.5
        se, si = 0.16, 0.04
        r_d1 = r_g = r_d = da = u = math.nan
        for _ in range(iterations):
            se, si, ok = _mpfc_root(se, si, d1, m)
            if not ok:
                status[s] = 1
                break
            xe = m[10] * m[11] * se - m[15] * si + m[12] * m[14] + m[16] + m[17] * d1
            r_d1, _ = _transfer(xe, m[0], m[1], m[2])
            r_g = v[7] * _softplus(v[8] + v[9] * r_d1, v[14])
            u = r_d1
            burst = _softplus(-v[4], v[5])
            r_d = v[0] * _softplus(v[2] + v[3] * burst - v[6] * r_g - v[1], v[14])
            prod = v[10] * r_d
            if prod >= v[11]:
                status[s] = 2
                break
            da = prod * v[12] / (v[11] - prod)
            d1_new = da * da / (da * da + v[13] * v[13])
            if abs(d1_new - d1) < 1e-14:
                d1 = d1_new
                break
            d1 = d1_new
        if status[s] == 0:
            se, si, ok = _mpfc_root(se, si, d1, m)
            if not ok:
                status[s] = 1
        out[s, 0] = se
        out[s, 1] = si
        out[s, 2] = r_g
        out[s, 3] = u
        out[s, 4] = u
        out[s, 5] = r_d
        out[s, 6] = da
        out[s, 7] = r_d
        out[s, 8] = r_d1


def fixed_points(mpfc: np.ndarray, vta: np.ndarray, *, iterations: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Fixed points of many subjects.

    Parameters
    ----------
    mpfc : ndarray, shape (S, len(MPFC_FIELDS))
        Each subject's mPFC parameters, columns :data:`MPFC_FIELDS` (units of :class:`~circuits.mpfc.MpfcParams`).
    vta : ndarray, shape (S, len(VTA_FIELDS))
        Each subject's VTA parameters, columns :data:`VTA_FIELDS` (units of :class:`~circuits.vta.VtaParams`).
    iterations : int
        Most iterations of the D1 loop.

    Returns
    -------
    values : ndarray, shape (S, 9)
        Columns :data:`COLUMNS`: ``S_E``, ``S_I`` (1), ``r_G`` (Hz), ``u_glu``, ``v_glu`` (Hz), ``r_DA`` (Hz), ``DA``
        (µM), ``gcamp`` (Hz), ``theta`` (= r_D1, Hz).
    status : ndarray of int, shape (S,)
        Key of :data:`STATUS` (0 where the fixed point was found).
    """
    mp = np.ascontiguousarray(mpfc, dtype=np.float64)
    vt = np.ascontiguousarray(vta, dtype=np.float64)
    if mp.ndim != 2 or vt.ndim != 2 or mp.shape != (mp.shape[0], len(MPFC_FIELDS)) \
            or vt.shape != (mp.shape[0], len(VTA_FIELDS)):
        raise ValueError(f"fixed_points: expected mpfc (S, {len(MPFC_FIELDS)}) and vta (S, {len(VTA_FIELDS)}), got "
                         f"{mp.shape} and {vt.shape}")
    out = np.empty((mp.shape[0], len(COLUMNS)))
    status = np.zeros(mp.shape[0], np.int64)
    _fixed_points_kernel(mp, vt, int(iterations), out, status)
    return out, status
