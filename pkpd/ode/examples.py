"""Example systems for the engine: a pharmacokinetic demo and classic test problems with published references.

Each entry of :data:`SYSTEMS` is a zero-argument factory returning an :class:`~pkpd.ode.system.OdeSystem`.
Each entry of :data:`PROBLEMS` is a :class:`Problem`: a system with its initial state, parameters, end time,
recommended absolute tolerance and, where one is published, the reference solution at the end time.

The stiff problems and their references come from the *Test Set for IVP Solvers* (Mazzia & Magherini, release 2.4,
University of Bari, 2008, https://archimede.uniba.it/~testset/; formerly http://www.dm.uniba.it/~testset/), whose
Fortran problem files (``rober.f``, ``hires.f``, ``pollu.f``, ``vdpol.f``, ``plei.f``, revision 1.2 of 2006-10-02)
give the equations, initial values and a reference solution computed with RADAU5/PSIDE in extended precision.
The equations and digits below were transcribed from those files (mirrored, e.g., in the GitHub repository
``volpatto/pside``, folder ``problems/``) and cross-checked against ``scipy.integrate.solve_ivp(method="Radau",
rtol=1e-12)`` in ``tests/ode/test_reference_problems.py``.

Problems
--------
========== ====== ====== ========== ========================================================================
name       states stiff  t_end      reference
========== ====== ====== ========== ========================================================================
rober      3      yes    1e11       IVP test set ``rober.f`` (RADAU, uround 1.01e-19, rtol = atol = 1.1e-18)
hires      8      yes    321.8122   IVP test set ``hires.f`` (RADAU5 on a Cray C90, quadruple precision)
pollu      20     yes    60         IVP test set ``pollu.f`` (RADAU5 on a Cray C90, quadruple precision)
vdpol      2      yes    2          IVP test set ``vdpol.f`` (RADAU, uround 1.01e-19), eps = 1e-6
plei       28     no     3          IVP test set ``plei.f`` (PSIDE on a Cray C90, rtol = atol = 1e-16)
lorenz96   20     no     2          none published: compute one with :func:`scipy_solution` (DOP853, tight)
========== ====== ====== ========== ========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy

from .system import OdeSystem

__all__ = ["SYSTEMS", "PROBLEMS", "Problem", "two_compartment", "robertson", "hires", "pollution", "van_der_pol",
           "pleiades", "lorenz96", "ishigami", "ishigami_indices", "scipy_solution", "mixed_scd",
           "ROBERTSON_REFERENCE", "HIRES_REFERENCE", "POLLUTION_REFERENCE", "VAN_DER_POL_REFERENCE",
           "PLEIADES_REFERENCE", "POLLUTION_RATES", "ROBERTSON_PARAMS", "POLLUTION_Y0", "PLEIADES_Y0",
           "LORENZ96_Y0"]


# ------------------------------------------------------------------------------------------------------------------
# Pharmacokinetic demo
# ------------------------------------------------------------------------------------------------------------------
def two_compartment() -> OdeSystem:
    """Linear two-compartment PK with first-order absorption from a depot (amounts; rates in 1/time).

    States: ``depot``, ``central``, ``peripheral`` (amounts, declared non-negative). Params: ``ka``, ``k10``, ``k12``, ``k21`` (1/time),
    ``V`` (volume). Observable ``conc = central / V``.
    """
    depot, central, peripheral = sympy.symbols("depot central peripheral")
    ka, k10, k12, k21, V = sympy.symbols("ka k10 k12 k21 V")
    rhs = [-ka * depot,
           ka * depot - (k10 + k12) * central + k21 * peripheral,
           k12 * central - k21 * peripheral]
    return OdeSystem([depot, central, peripheral], rhs, [ka, k10, k12, k21, V],
                     observables={"conc": central / V}, name="two_compartment",
                     nonnegative=[depot, central, peripheral])


# ------------------------------------------------------------------------------------------------------------------
# Robertson (ROBER)
# ------------------------------------------------------------------------------------------------------------------
def robertson() -> OdeSystem:
    """Robertson's autocatalytic reaction (ROBER), 3 states, very stiff.

    ``y1' = -k1 y1 + k3 y2 y3``, ``y2' = k1 y1 - k3 y2 y3 - k2 y2^2``, ``y3' = k2 y2^2`` with
    ``k1 = 0.04``, ``k2 = 3e7``, ``k3 = 1e4`` (dimensionless time and concentrations). ``y1 + y2 + y3`` is
    conserved.

    References
    ----------
    H. H. Robertson, "The solution of a set of reaction rate equations", in *Numerical Analysis: an Introduction*,
    Academic Press, 1966, 178-182. Hairer & Wanner, *Solving ODEs II*, 2nd ed., Springer 1996, sect. IV.1.
    IVP test set, problem ROBER (``rober.f``).
    """
    y1, y2, y3 = sympy.symbols("y1 y2 y3")
    k1, k2, k3 = sympy.symbols("k1 k2 k3")
    rhs = [-k1 * y1 + k3 * y2 * y3,
           k1 * y1 - k3 * y2 * y3 - k2 * y2**2,
           k2 * y2**2]
    return OdeSystem([y1, y2, y3], rhs, [k1, k2, k3], name="robertson")


#: ``(k1, k2, k3)`` of :func:`robertson`, as in ``rober.f``.
ROBERTSON_PARAMS = np.array([0.04, 3.0e7, 1.0e4])

#: Robertson at ``t = 1e11`` from ``y0 = (1, 0, 0)``. IVP test set ``rober.f``, subroutine ``solut``: "computed
#: using double precision RADAU on an Alphaserver DS20E ... uround = 1.01d-19, rtol = atol = h0 = 1.1d-18".
ROBERTSON_REFERENCE = np.array([0.2083340149701255e-07, 0.8333360770334713e-13, 0.9999999791665050e+00])


# ------------------------------------------------------------------------------------------------------------------
# HIRES
# ------------------------------------------------------------------------------------------------------------------
def hires() -> OdeSystem:
    """HIRES ("High Irradiance RESponse" of photomorphogenesis), 8 states, stiff; all coefficients are literals.

    Equations as in the IVP test set ``hires.f`` (no parameters: this system exercises the parameter-free path).

    References
    ----------
    E. Schäfer, "A new approach to explain the 'high irradiance responses' of photomorphogenesis on the basis of
    phytochrome", J. Math. Biology 2 (1975) 41-56. Hairer & Wanner, *Solving ODEs II*, sect. IV.10.
    IVP test set, problem HIRES (``hires.f``).
    """
    y = sympy.symbols("y1:9")
    c = sympy.Float  # keep the decimal literals of hires.f as floats (no rationals in generated code)
    r = c("280") * y[5] * y[7]
    rhs = [-c("1.71") * y[0] + c("0.43") * y[1] + c("8.32") * y[2] + c("0.0007"),
           c("1.71") * y[0] - c("8.75") * y[1],
           -c("10.03") * y[2] + c("0.43") * y[3] + c("0.035") * y[4],
           c("8.32") * y[1] + c("1.71") * y[2] - c("1.12") * y[3],
           -c("1.745") * y[4] + c("0.43") * (y[5] + y[6]),
           -r + c("0.69") * y[3] + c("1.71") * y[4] - c("0.43") * y[5] + c("0.69") * y[6],
           r - c("1.81") * y[6],
           -(r - c("1.81") * y[6])]
    return OdeSystem(y, rhs, (), name="hires")


#: HIRES at ``t = 321.8122`` from ``y0 = (1, 0, 0, 0, 0, 0, 0, 0.0057)``. IVP test set ``hires.f``, ``solut``:
#: "computed using true double precision RADAU5 on Cray C90, uround = 1.01d-19, rtol = atol = h0 = 1.1d-18".
HIRES_REFERENCE = np.array([0.7371312573325668e-3, 0.1442485726316185e-3, 0.5888729740967575e-4,
                            0.1175651343283149e-2, 0.2386356198831331e-2, 0.6238968252742796e-2,
                            0.2849998395185769e-2, 0.2850001604814231e-2])


# ------------------------------------------------------------------------------------------------------------------
# POLL (air pollution, Verwer 1994)
# ------------------------------------------------------------------------------------------------------------------
#: Rate constants ``k1 .. k25`` of the pollution problem, exactly as in ``pollu.f`` (units: 1/min for first-order
#: reactions, 1/(ppm min) for second-order ones).
POLLUTION_RATES = np.array([0.35, 26.6, 1.23e4, 8.6e-4, 8.2e-4, 1.5e4, 1.3e-4, 2.4e4, 1.65e4, 9.0e3,
                            2.2e-2, 1.2e4, 1.88, 1.63e4, 4.8e6, 3.5e-4, 1.75e-2, 1.0e8, 4.44e11, 1.24e3,
                            2.1, 5.78, 4.74e-2, 1.78e3, 3.12])


def pollution() -> OdeSystem:
    """The air-pollution chemistry problem POLL of Verwer (1994): 20 species, 25 reactions, stiff.

    States ``y1 .. y20`` are concentrations (ppm); params ``k1 .. k25`` are the rate constants
    (:data:`POLLUTION_RATES`); time in minutes. The reaction rates ``r_j`` and the production terms follow
    ``pollu.f`` line by line, so the right-hand sides are sums of mass-action terms.

    References
    ----------
    J. G. Verwer, "Gauss-Seidel iteration for stiff ODEs from chemical kinetics", SIAM J. Sci. Comput. 15 (1994)
    1243-1250. IVP test set, problem POLL (``pollu.f``).
    """
    y = sympy.symbols("y1:21")
    k = sympy.symbols("k1:26")
    Y = (None, *y)  # 1-based, as in pollu.f
    K = (None, *k)
    r = [None,
         K[1] * Y[1], K[2] * Y[2] * Y[4], K[3] * Y[5] * Y[2], K[4] * Y[7], K[5] * Y[7],
         K[6] * Y[7] * Y[6], K[7] * Y[9], K[8] * Y[9] * Y[6], K[9] * Y[11] * Y[2], K[10] * Y[11] * Y[1],
         K[11] * Y[13], K[12] * Y[10] * Y[2], K[13] * Y[14], K[14] * Y[1] * Y[6], K[15] * Y[3],
         K[16] * Y[4], K[17] * Y[4], K[18] * Y[16], K[19] * Y[16], K[20] * Y[17] * Y[6],
         K[21] * Y[19], K[22] * Y[19], K[23] * Y[1] * Y[4], K[24] * Y[19] * Y[1], K[25] * Y[20]]
    rhs = [
        -r[1] - r[10] - r[14] - r[23] - r[24] + r[2] + r[3] + r[9] + r[11] + r[12] + r[22] + r[25],
        -r[2] - r[3] - r[9] - r[12] + r[1] + r[21],
        -r[15] + r[1] + r[17] + r[19] + r[22],
        -r[2] - r[16] - r[17] - r[23] + r[15],
        -r[3] + 2 * r[4] + r[6] + r[7] + r[13] + r[20],
        -r[6] - r[8] - r[14] - r[20] + r[3] + 2 * r[18],
        -r[4] - r[5] - r[6] + r[13],
        r[4] + r[5] + r[6] + r[7],
        -r[7] - r[8],
        -r[12] + r[7] + r[9],
        -r[9] - r[10] + r[8] + r[11],
        r[9],
        -r[11] + r[10],
        -r[13] + r[12],
        r[14],
        -r[18] - r[19] + r[16],
        -r[20],
        r[20],
        -r[21] - r[22] - r[24] + r[23] + r[25],
        -r[25] + r[24],
    ]
    return OdeSystem(y, rhs, k, name="pollution")


#: Initial concentrations (ppm) of ``pollu.f``: zero except y2, y4, y7, y8, y9, y17.
POLLUTION_Y0 = np.zeros(20)
POLLUTION_Y0[[1, 3, 6, 7, 8, 16]] = [0.2, 0.04, 0.1, 0.3, 0.01, 0.007]

#: POLL at ``t = 60`` min. IVP test set ``pollu.f``, ``solut``: "computed using true double precision RADAU5 on
#: Cray C90, uround = 1.01d-19, rtol = atol = h0 = 1.1d-18".
POLLUTION_REFERENCE = np.array([
    0.5646255480022769e-01, 0.1342484130422339e+00, 0.4139734331099427e-08, 0.5523140207484359e-02,
    0.2018977262302196e-06, 0.1464541863493966e-06, 0.7784249118997964e-01, 0.3245075353396018e+00,
    0.7494013383880406e-02, 0.1622293157301561e-07, 0.1135863833257075e-07, 0.2230505975721359e-02,
    0.2087162882798630e-03, 0.1396921016840158e-04, 0.8964884856898295e-02, 0.4352846369330103e-17,
    0.6899219696263405e-02, 0.1007803037365946e-03, 0.1772146513969984e-05, 0.5682943292316392e-04])


# ------------------------------------------------------------------------------------------------------------------
# Van der Pol, stiff (rescaled, eps = 1/mu^2)
# ------------------------------------------------------------------------------------------------------------------
def van_der_pol() -> OdeSystem:
    """Van der Pol's oscillator in the rescaled stiff form of the IVP test set (2 states).

    ``y1' = y2``, ``y2' = ((1 - y1^2) y2 - y1) / eps`` with ``eps = 1e-6`` (that is ``mu = 1e3`` after the
    rescaling ``t -> t / mu``, ``y2 -> mu y2'``), ``y0 = (2, 0)``, ``t`` in ``[0, 2]``.

    References
    ----------
    Hairer & Wanner, *Solving ODEs II*, sect. IV.1 and IV.10 (problem VDPOL). IVP test set, problem VDPOL
    (``vdpol.f``).
    """
    y1, y2 = sympy.symbols("y1 y2")
    eps = sympy.Symbol("eps")
    return OdeSystem([y1, y2], [y2, ((1 - y1**2) * y2 - y1) / eps], [eps], name="van_der_pol")


#: Van der Pol (eps = 1e-6) at ``t = 2``. IVP test set ``vdpol.f``, ``solut``: "computed using double precision
#: RADAU on an Alphaserver DS20E ... uround = 1.01d-19, rtol = atol = h0 = 1.1d-18".
VAN_DER_POL_REFERENCE = np.array([0.1706167732170483e+01, -0.8928097010247975e+00])


# ------------------------------------------------------------------------------------------------------------------
# Pleiades (non-stiff, 28 states)
# ------------------------------------------------------------------------------------------------------------------
def pleiades() -> OdeSystem:
    """The Pleiades problem: seven point masses in the plane under gravity, 28 states, non-stiff.

    States ``x1..x7, y1..y7`` (positions) then ``u1..u7, v1..v7`` (velocities); params ``m1..m7`` (masses,
    ``m_j = j`` in the standard problem); ``G = 1``. Close encounters make the step size vary a lot, which
    makes it a good test of explicit step-size control.

    References
    ----------
    Hairer, Nørsett & Wanner, *Solving ODEs I*, 2nd ed., Springer 1993, sect. II.10 (problem PLEI).
    IVP test set, problem PLEI (``plei.f``).
    """
    x = sympy.symbols("x1:8")
    y = sympy.symbols("y1:8")
    u = sympy.symbols("u1:8")
    v = sympy.symbols("v1:8")
    m = sympy.symbols("m1:8")
    ax, ay = [], []
    for i in range(7):
        sx = sy = sympy.Integer(0)
        for j in range(7):
            if j == i:
                continue
            r32 = ((x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2) ** sympy.Rational(3, 2)
            sx += m[j] * (x[j] - x[i]) / r32
            sy += m[j] * (y[j] - y[i]) / r32
        ax.append(sx)
        ay.append(sy)
    return OdeSystem([*x, *y, *u, *v], [*u, *v, *ax, *ay], m, name="pleiades")


#: Initial state of ``plei.f`` (x, y, u, v blocks of 7).
PLEIADES_Y0 = np.array([3, 3, -1, -3, 2, -2, 2,
                        3, -3, 2, 0, 0, -4, 4,
                        0, 0, 0, 0, 0, 1.75, -1.5,
                        0, 0, 0, -1.25, 1, 0, 0], dtype=float)

#: Pleiades at ``t = 3``. IVP test set ``plei.f``, ``pleiasoln``: "computed at Cray C90 using Cray double
#: precision, solving Pleiades problem using PSIDE, rtol = atol = 1d-16".
PLEIADES_REFERENCE = np.array([
    0.3706139143970502e+00, 0.3237284092057233e+01, -0.3222559032418324e+01, 0.6597091455775310e+00,
    0.3425581707156584e+00, 0.1562172101400631e+01, -0.7003092922212495e+00, -0.3943437585517392e+01,
    -0.3271380973972550e+01, 0.5225081843456543e+01, -0.2590612434977470e+01, 0.1198213693392275e+01,
    -0.2429682344935824e+00, 0.1091449240428980e+01, 0.3417003806314313e+01, 0.1354584501625501e+01,
    -0.2590065597810775e+01, 0.2025053734714242e+01, -0.1155815100160448e+01, -0.8072988170223021e+00,
    0.5952396354208710e+00, -0.3741244961234010e+01, 0.3773459685750630e+00, 0.9386858869551073e+00,
    0.3667922227200571e+00, -0.3474046353808490e+00, 0.2344915448180937e+01, -0.1947020434263292e+01])


# ------------------------------------------------------------------------------------------------------------------
# Lorenz-96 (non-stiff, 20 states, benchmark)
# ------------------------------------------------------------------------------------------------------------------
LORENZ96_N = 20


def lorenz96(n: int = LORENZ96_N) -> OdeSystem:
    """Lorenz-96 with ``n`` sites on a ring: ``x_i' = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F``; non-stiff.

    Param ``F`` (forcing). Chaotic for ``F = 8``: perturbations grow roughly like ``exp(1.7 t)`` (leading Lyapunov
    exponent of about 1.7 per time unit), so we keep the horizon short (``t_end = 2``) and start away from the
    unstable fixed point ``x = F`` (see :data:`LORENZ96_Y0`) to make a reference meaningful at ordinary
    tolerances. There is no published reference: use :func:`scipy_solution` with DOP853.

    References
    ----------
    E. N. Lorenz, "Predictability: a problem partly solved", Proc. ECMWF Seminar on Predictability, 1996.
    """
    if n < 4:
        raise ValueError(f"n (number of Lorenz-96 sites) must be at least 4, got {n}")
    x = sympy.symbols(f"x0:{n}")
    F = sympy.Symbol("F")
    rhs = [(x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + F for i in range(n)]
    return OdeSystem(x, rhs, [F], name=f"lorenz96_{n}")


#: Initial state ``x_i = 8 + 4 sin(6 pi i / N) + cos(10 pi i / N)``, ``i = 0 .. N-1``. Not the customary
#: ``x = F`` plus a small perturbation: that fixed point is unstable with growth rate ``9 F / 8 - 1 = 8`` per time
#: unit, so errors made there grow ~1e7-fold by ``t = 2``. From this state a perturbation grows about 100-fold
#: over ``[0, 2]`` (measured with scipy DOP853 at rtol 1e-12), so a solver's error stays near its tolerance.
LORENZ96_Y0 = (8.0 + 4.0 * np.sin(2 * np.pi * 3 * np.arange(LORENZ96_N) / LORENZ96_N)
               + np.cos(2 * np.pi * 5 * np.arange(LORENZ96_N) / LORENZ96_N))


# ------------------------------------------------------------------------------------------------------------------
# The registry
# ------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Problem:
    """A test problem: system, initial state, parameters, end time, tolerances and (if published) reference.

    Attributes
    ----------
    name : str
    factory : callable
        Zero-argument factory of the :class:`OdeSystem`; :attr:`system` calls it once and caches the result.
    y0 : ndarray, shape (n_states,)
        Initial state at ``t = 0``.
    params : ndarray, shape (n_params,)
        Nominal parameters, in the order of ``system.params`` (empty for parameter-free systems).
    t_end : float
        End time; the integration runs over ``[0, t_end]``.
    reference : ndarray, shape (n_states,), or None
        Published solution at ``t_end``; ``None`` when none exists (compute one with :func:`scipy_solution`).
    atol : ndarray, shape (n_states,)
        Recommended absolute tolerance at ``rtol = 1e-6``, in each state's unit; at another rtol use
        ``atol * rtol / 1e-6``, which keeps ``atol / rtol``, the size below which a component's error is measured
        absolutely (see :func:`mixed_scd`), fixed.
    stiff : bool
    source : str
        Where the equations and the reference come from.
    """

    name: str
    factory: Callable[[], OdeSystem]
    y0: np.ndarray
    params: np.ndarray
    t_end: float
    reference: np.ndarray | None
    atol: np.ndarray
    stiff: bool
    source: str
    notes: str = field(default="")

    def __post_init__(self):
        for name in ("y0", "params", "atol", "reference"):
            a = getattr(self, name)
            if a is not None:
                a = np.array(a, dtype=float)
                a.setflags(write=False)
                object.__setattr__(self, name, a)

    @cached_property
    def system(self) -> OdeSystem:
        """The :class:`OdeSystem`, built once per :class:`Problem`."""
        return self.factory()

    @property
    def params_or_none(self):
        """``params`` or ``None`` for a system without parameters (what :func:`~pkpd.ode.solve` expects)."""
        return self.params if self.params.size else None


_TESTSET = "Test Set for IVP Solvers (Mazzia & Magherini, release 2.4, 2008), "

PROBLEMS: dict[str, Problem] = {
    "rober": Problem(
        name="rober", factory=robertson, y0=[1.0, 0.0, 0.0], params=ROBERTSON_PARAMS, t_end=1e11,
        reference=ROBERTSON_REFERENCE,
        # y2 peaks at 3.6e-5 and falls to 8e-13 at t_end; 1e-14 keeps it resolved over the transient.
        atol=[1e-10, 1e-14, 1e-10], stiff=True, source=_TESTSET + "rober.f"),
    "hires": Problem(
        name="hires", factory=hires, y0=[1, 0, 0, 0, 0, 0, 0, 0.0057], params=[], t_end=321.8122,
        reference=HIRES_REFERENCE, atol=np.full(8, 1e-10), stiff=True, source=_TESTSET + "hires.f"),
    "pollu": Problem(
        name="pollu", factory=pollution, y0=POLLUTION_Y0, params=POLLUTION_RATES, t_end=60.0,
        reference=POLLUTION_REFERENCE,
        # the smallest reference components are 4e-18 (y16) and 4e-9 (y3); a floor of 1e-12 ppm
        atol=np.full(20, 1e-12), stiff=True, source=_TESTSET + "pollu.f; Verwer, SIAM J. Sci. Comput. 15 (1994)"),
    "vdpol": Problem(
        name="vdpol", factory=van_der_pol, y0=[2.0, 0.0], params=[1e-6], t_end=2.0,
        reference=VAN_DER_POL_REFERENCE, atol=[1e-8, 1e-8], stiff=True, source=_TESTSET + "vdpol.f"),
    "plei": Problem(
        name="plei", factory=pleiades, y0=PLEIADES_Y0, params=np.arange(1.0, 8.0), t_end=3.0,
        reference=PLEIADES_REFERENCE, atol=np.full(28, 1e-10), stiff=False, source=_TESTSET + "plei.f"),
    "lorenz96": Problem(
        name="lorenz96", factory=lorenz96, y0=LORENZ96_Y0, params=[8.0], t_end=2.0, reference=None,
        atol=np.full(LORENZ96_N, 1e-10), stiff=False, source="Lorenz (1996); no published reference",
        notes="reference: scipy DOP853 at rtol 1e-13 (see scipy_solution)"),
}

# ------------------------------------------------------------------------------------------------------------------
# Ishigami function (global sensitivity test problem)
# ------------------------------------------------------------------------------------------------------------------
def ishigami() -> OdeSystem:
    """The Ishigami function as an ODE: ``dy/dt = f(x1, x2, x3)`` from ``y(0) = 0``, so ``y(1) = f``.

    ``f = sin x1 + a sin² x2 + b x3⁴ sin x1`` with ``x_i ~ U(−π, π)``; params ``x1, x2, x3, a, b``. For ``a = 7``,
    ``b = 0.1`` the Sobol indices are known in closed form: S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244)
    (Ishigami & Homma 1990, Proc. ISUMA '90, 398; the variances in Sobol' & Levitan 1999 Comput Phys Commun
    117:52). A test problem for :mod:`pkpd.sensitivity` through the engine.
    """
    y = sympy.Symbol("y")
    x1, x2, x3, a, b = sympy.symbols("x1 x2 x3 a b")
    f = sympy.sin(x1) + a * sympy.sin(x2) ** 2 + b * x3 ** 4 * sympy.sin(x1)
    return OdeSystem([y], [f], [x1, x2, x3, a, b], name="ishigami")


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    """Analytic first-order and total Sobol indices of :func:`ishigami` (``x_i ~ U(−π, π)``)."""
    pi = np.pi
    v1 = 0.5 * (1 + b * pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"S1": np.array([v1, v2, 0.0]) / v, "ST": np.array([v1 + v13, v2, v13]) / v}


SYSTEMS = {"two_compartment": two_compartment, "robertson": robertson, "hires": hires, "pollution": pollution,
           "van_der_pol": van_der_pol, "pleiades": pleiades, "lorenz96": lorenz96, "ishigami": ishigami}


# ------------------------------------------------------------------------------------------------------------------
# Independent references and the error measure
# ------------------------------------------------------------------------------------------------------------------
def scipy_solution(problem: Problem, y0=None, params=None, *, method: str = "Radau", rtol: float = 1e-12,
                   atol=None, t_end: float | None = None) -> np.ndarray:
    """Solve one subject of ``problem`` with :func:`scipy.integrate.solve_ivp` and return ``y(t_end)``.

    Uses the lambdified NumPy right-hand side and Jacobian (:meth:`OdeSystem.lambdify`), so it shares nothing
    with the numba code generator. Slow (seconds): meant for references, not for production.

    Parameters
    ----------
    problem : Problem
    y0 : array_like, shape (n_states,), optional
        Default ``problem.y0``.
    params : array_like, shape (n_params,), optional
        Default ``problem.params``.
    method : str
        A :func:`~scipy.integrate.solve_ivp` method; ``"Radau"`` for stiff problems, ``"DOP853"`` for non-stiff.
    rtol : float
        Relative tolerance.
    atol : float or array_like, shape (n_states,), optional
        Absolute tolerance; default ``problem.atol * rtol / 1e-6`` floored at 1e-30 (keeps the ratio
        atol/rtol of the recommended setting).
    t_end : float, optional
        Default ``problem.t_end``.

    Returns
    -------
    ndarray, shape (n_states,)

    Raises
    ------
    RuntimeError
        If scipy reports a failure.
    """
    from scipy.integrate import solve_ivp

    f, j = problem.system.lambdify()
    p = problem.params if params is None else np.asarray(params, dtype=float)
    y = problem.y0 if y0 is None else np.asarray(y0, dtype=float)
    if atol is None:
        atol = np.maximum(problem.atol * (rtol / 1e-6), 1e-30)
    t1 = problem.t_end if t_end is None else float(t_end)
    kw = {"jac": lambda t, yy: j(t, yy, p)} if method in ("Radau", "BDF", "LSODA") else {}
    sol = solve_ivp(lambda t, yy: f(t, yy, p), (0.0, t1), y, method=method, rtol=rtol, atol=atol,
                    t_eval=[t1], **kw)
    if not sol.success:
        raise RuntimeError(f"scipy {method} failed on {problem.name}: {sol.message}")
    return sol.y[:, -1]


def mixed_scd(y, reference, atol, rtol) -> float:
    """Mixed significant correct digits of the IVP test set ("mescd"), the accuracy measure of our tests.

    ``scd = -log10( max_i |y_i - ref_i| / (atol_i / rtol + |ref_i|) )``

    A component much larger than ``atol_i / rtol`` is measured by its relative error; a smaller one by its
    absolute error in units of ``atol_i / rtol``, the size below which the tolerance ``atol_i + rtol |y_i|`` stops
    asking for relative accuracy. A solver that keeps its global error near the requested tolerance has
    ``scd`` close to ``-log10(rtol)``.

    Parameters
    ----------
    y, reference : array_like, shape (..., n_states)
        Computed and reference states; the maximum runs over all entries.
    atol : float or array_like, shape (n_states,)
    rtol : float

    Returns
    -------
    float
        ``inf`` when the error is exactly zero.
    """
    y = np.asarray(y, dtype=float)
    ref = np.asarray(reference, dtype=float)
    err = np.abs(y - ref) / (np.asarray(atol, dtype=float) / rtol + np.abs(ref))
    m = float(np.max(err))
    return float("inf") if m == 0.0 else -np.log10(m)
