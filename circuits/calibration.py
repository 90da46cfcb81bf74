"""How the behavioural and slow-plasticity parameters were calibrated (re-runnable: ``python -m
circuits.calibration``). Targets are the paper's means (Wu et al. 2021 eLife 10:e64041) plus two readings we
*assumed* where the paper reports only "rescue" (marked below). The shipped defaults come from a fit of the
*typical* mouse (``CAL_N = 0``); cohort means (lognormal variation, :data:`circuits.experiments.COHORT_VARIATION`)
are then predictions that land near, not on, the targets because the logistic link is nonlinear. Fitting the
means of a seeded cohort instead (``CAL_N = 12``) was tried: it drove ``g_p`` and ``k_rho_per_h`` to their bounds
for a small gain, so we kept the typical-mouse fit.

Fitted (on the logit scale; the DA response on a log scale): ``g_h``, ``k_rho_per_h``, ``test_stress_weight``,
``b1``, ``k_a_per_h``, ``g_p``, ``tau_a_h``
(``b0`` = logit of the 2.2 % sLH baseline, exactly). Set by hand before this fit, not fitted: ``j_z_nA`` and
``tau_z_h`` of the post-anaesthetic state (:mod:`circuits.mpfc`), so that 100-200 mg/kg do not rescue escape
(an assumed target: subanaesthetic doses are the antidepressant ones; they leave 10 mg/kg untouched). Every other experiment (all controls, wLH 24 h, dose
response, the DA response, individual differences) is a prediction.
"""

from __future__ import annotations

import numpy as np

#: target failure rates. (assumed) = our reading of "rescue at 4 h and 24 h, partly lost by 72 h".
TARGETS = {
    ("slh", "lh"): (0.74, "Wu 2021: 74 % after sLH induction (n = 107)"),
    ("slh", "4h"): (0.25, "assumed reading: rescue at 4 h"),
    ("slh", "24h"): (0.25, "assumed reading: rescue at 24 h"),
    ("slh", "72h"): (0.45, "assumed reading: partly lost by 72 h"),
    ("wlh", "days12"): (0.119, "Wu 2021: wLH days 1-2, 11.9 % (n = 34)"),
    ("wlh", "days34"): (0.489, "Wu 2021: wLH days 3-4, 48.9 % (n = 34)"),
    ("wlh", "test5"): (0.293, "Wu 2021 photometry cohort 60 % -> 36 % after ketamine, scaled to 48.9 %"),
    ("da", "lh"): (0.55, "assumed reading: post-shock DA peak 'blunted' by sLH to about half (Wu 2021 Fig. 2)"),
}
CAL_N, CAL_SEED = 0, 12345
FITTED = ("g_h", "k_rho_per_h", "test_stress_weight", "b1", "k_a_per_h", "g_p", "tau_a_h")


def _run(x, base=None):
    from pkpd.dosing import Regimen

    from .experiments import run_groups, virtual_cohort
    from .model import CircuitParams
    from .protocols import ProtocolParams, build_protocol

    v = dict(zip(FITTED, np.exp(x)))
    q = ProtocolParams(test_stress_weight=v.pop("test_stress_weight"))
    cp = (base or CircuitParams()).replace(**v)
    ket = Regimen.single("10mg/kg", "ip")
    cohort = virtual_cohort(CAL_N, CAL_SEED, base=cp) if CAL_N else [cp]
    s, w = run_groups(cohort, [build_protocol("slh", regimen=ket, q=q), build_protocol("wlh", regimen=ket, q=q)])
    f = {("slh", k): s.failure[:, s.labels.index(k)].mean() for k in ("lh", "4h", "24h", "72h")}
    f[("wlh", "days12")] = w.failure[:, :2].mean()
    f[("wlh", "days34")] = w.failure[:, 2:4].mean()
    f[("wlh", "test5")] = w.failure[:, 4].mean()
    f[("da", "lh")] = s.r_rel[:, s.labels.index("lh")].mean()
    return f


def residuals(x):
    f = _run(x)
    logit = lambda p: np.log(np.clip(p, 1e-9, 1 - 1e-9) / (1 - np.clip(p, 1e-9, 1 - 1e-9)))  # noqa: E731
    return np.array([logit(f[k]) - logit(TARGETS[k][0]) if k[0] != "da" else 4 * np.log(f[k] / TARGETS[k][0])
                     for k in TARGETS])


def calibrate(x0=None, verbose: bool = True):
    """Least squares on the logit scale; returns the fitted values by name."""
    from scipy.optimize import least_squares

    from .model import CircuitParams
    from .protocols import ProtocolParams

    cp, q = CircuitParams(), ProtocolParams()
    if x0 is None:
        x0 = np.log([cp.plasticity.g_h, cp.plasticity.k_rho_per_h, q.test_stress_weight, cp.behavior.b1,
                     cp.plasticity.k_a_per_h, cp.plasticity.g_p, cp.plasticity.tau_a_h])
    lo = np.log([0.1, 1 / 1000, 0.01, 1.0, 1e-3, 0.01, 2.0])
    hi = np.log([1000.0, 1.0, 10.0, 50.0, 100.0, 1000.0, 300.0])
    r = least_squares(residuals, np.clip(x0, lo + 1e-9, hi - 1e-9), bounds=(lo, hi), diff_step=1e-3, xtol=1e-6,
                      ftol=1e-6, max_nfev=200, verbose=2 if verbose else 0)
    out = dict(zip(FITTED, np.exp(r.x)))
    if verbose:
        print(out)
        print({k: round(float(v), 4) for k, v in _run(r.x).items()})
    return out


if __name__ == "__main__":  # pragma: no cover
    calibrate()
