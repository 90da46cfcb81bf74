"""Two limits of the dose: no benefit at anaesthetic doses (an assumed reading; the post-anaesthetic state Z of
circuits.mpfc), and a ceiling on spine density under repeated dosing (saturating formation, circuits.plasticity).

Typical mouse through the sLH protocol (Wu 2021 timing); each test runs in a few seconds once the model is compiled.
"""

import numpy as np
import pytest
import sympy

from circuits.experiments import run_groups
from circuits.model import CircuitParams, circuit_parts, circuit_system
from circuits.mpfc import MpfcParams, steady_state
from circuits.protocols import build_protocol
from pkpd.dosing import Regimen

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _ip(dose_mg_per_kg):
    return Regimen.single(f"{dose_mg_per_kg:g}mg/kg", "ip")


@pytest.fixture(scope="module")
def doses():
    cp = CircuitParams()
    names = ("saline", "10", "100", "200")
    prs = [build_protocol("slh", post_drug_tests_h=(4, 24))] + \
          [build_protocol("slh", regimen=_ip(d), post_drug_tests_h=(4, 24)) for d in (10, 100, 200)]
    return cp, dict(zip(names, run_groups([cp], prs)))


def test_anaesthetic_doses_do_not_rescue_escape(doses):
    # no benefit at anaesthetic doses (the assumed reading of Moghaddam et al. 1997 and the "sub-anaesthetic" 10
    # mg/kg of Wu 2021). 100 and 200 mg/kg stay within 0.05 of saline at 4 h and 24 h (no rescue, and no worse),
    # while 10 mg/kg lowers failures by more than that (typical mouse 2026-12-02: saline 0.785 / 0.769, 10 mg/kg
    # 0.674 / 0.519, 100 and 200 mg/kg 0.786 / 0.771)
    _, g = doses
    sal = {t: g["saline"].mean_failure(t) for t in ("lh", "4h", "24h")}
    assert sal["4h"] > 0.6 and sal["24h"] > 0.6
    for t in ("4h", "24h"):
        assert g["10"].mean_failure(t) < sal[t] - 0.05, t
        for d in ("100", "200"):
            assert abs(g[d].mean_failure(t) - sal[t]) < 0.05, (d, t)


def test_post_anaesthetic_state_is_switched_on_only_by_anaesthetic_doses(doses):
    # Z ≈ 0 after 10 mg/kg (sub-anaesthetic; the 10 mg/kg rescue is untouched by it), ≈ 1 after 200 mg/kg, and it
    # decays over hours
    cp, g = doses
    tau = cp.mpfc.tau_z_h
    z10, z200, t = g["10"].long["Z"][0], g["200"].long["Z"][0], g["200"].t_h
    assert z10.max() < 0.01
    assert z200.max() > 0.9
    # once the drug has washed out (2 h after the peak: free ketamine < 1 % of K_Z) Z decays as exp(-t/τ_Z)
    i = np.searchsorted(t, t[int(np.argmax(z200))] + 2.0)
    j = np.searchsorted(t, t[i] + 12.0)
    assert z200[j] / z200[i] == pytest.approx(np.exp(-(t[j] - t[i]) / tau), rel=1e-3)
    # the potentiation cascade is not engaged after 200 mg/kg (BDNF/mTOR drive at most a tenth of 10 mg/kg's)
    assert g["200"].long["M"][0].max() < 0.1 * g["10"].long["M"][0].max()


def test_post_anaesthetic_state_fixed_point_matches_the_numpy_oracle():
    # at a constant free concentration C the part's dZ/dt vanishes at the closed-form Z* = kaτ/(1 + kaτ),
    # a = C⁴/(C⁴ + K_Z⁴), that circuits.mpfc.steady_state uses; the drug-free fixed point is Z = 0
    import dataclasses

    from circuits.mpfc import mpfc_part

    q = MpfcParams()
    c = sympy.Symbol("c")
    mp = mpfc_part(*sympy.symbols("oe oi"), c, *sympy.symbols("w d1 shock sil chemo"))
    z = sympy.Symbol("Z")
    rhs = dict(zip(mp.states, mp.rhs))[z].subs({sympy.Symbol(k): getattr(q, k)
                                                for k in ("k_z_per_h", "k_z_uM", "tau_z_h")})
    assert rhs.free_symbols == {c, z}
    for c_val in (0.0, 5.0, 25.0, 60.0):
        a = c_val ** 4 / (c_val ** 4 + q.k_z_uM ** 4)
        z_star = q.k_z_per_h * a * q.tau_z_h / (1 + q.k_z_per_h * a * q.tau_z_h)
        assert abs(float(rhs.subs({c: c_val, z: z_star}))) < 1e-12, c_val
        assert (z_star == 0.0) == (c_val == 0.0)
    # the oracle's steady state: Z plays no role without drug, and lowers r_E at an anaesthetic concentration
    no_z = dataclasses.replace(q, j_z_nA=0.0)
    assert np.allclose(steady_state(q)[1], steady_state(no_z)[1], rtol=0, atol=0)
    assert steady_state(q, c_free=60.0)[1][0] < steady_state(no_z, c_free=60.0)[1][0]


def test_repeated_dosing_keeps_spine_density_below_its_ceiling():
    # ten daily 10 mg/kg doses after sLH: spine density accumulates but never exceeds rho_max, and the efficacy
    # w = rho A stays below rho_max: potentiation only closes the deficit below the naive efficacy (w < 1), so above
    # it w is carried by spines alone (before the ceiling, daily dosing drove rho to ~10x naive)
    cp = CircuitParams()
    reg = _ip(10).repeat(24.0, 10)
    pr = build_protocol("slh", regimen=reg, post_drug_tests_h=(4, 24 * 10))
    single = build_protocol("slh", regimen=_ip(10), post_drug_tests_h=(4, 24 * 10))
    g, g1 = run_groups([cp], [pr, single])
    rho, w = g.long["rho"][0], g.long["w"][0]
    rho_max = cp.plasticity.rho_max
    assert np.all(np.isfinite(rho))
    assert rho.max() < rho_max
    assert w.max() < rho_max
    assert rho.max() > g1.long["rho"][0].max()        # repeated doses do add spines ...
    assert rho.max() > 1.0                            # ... beyond the naive density, toward the ceiling


def test_spine_formation_vanishes_at_the_ceiling():
    # symbolic: at rho = rho_max the spine-density rhs is -k_rho (1 + g_H H²) rho_max + k_rho < 0 for any
    # structural drive P, so rho_max is never crossed
    _, _, _, _, pl = circuit_parts()
    rho = sympy.Symbol("rho")
    f = dict(zip(pl.states, pl.rhs))[rho]
    p = CircuitParams().plasticity
    at_ceiling = sympy.simplify(f.subs(rho, sympy.Symbol("rho_max")))
    assert sympy.Symbol("P") not in at_ceiling.free_symbols
    val = at_ceiling.subs({sympy.Symbol("k_rho_per_h"): p.k_rho_per_h, sympy.Symbol("rho_max"): p.rho_max,
                           sympy.Symbol("g_h"): p.g_h, sympy.Symbol("H"): 0.0})
    assert float(val) == pytest.approx(p.k_rho_per_h * (1 - p.rho_max))
    assert circuit_system().state_index("Z") >= 0
