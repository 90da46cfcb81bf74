"""Method coefficients as data: frozen tableaus that check their own invariants on construction.

The numba kernels read these arrays as compile-time constants; the step functions in :mod:`pkpd.ode._kernels`
are the only code that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ExplicitTableau", "RosenbrockTableau", "Dop853Tableau", "DOPRI5", "RODAS4", "RODAS5P", "DOP853"]


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ExplicitTableau:
    """An embedded explicit Runge–Kutta pair with FSAL and a dense output polynomial.

    Attributes
    ----------
    c : (s,) nodes; a : (s, s) strictly lower-triangular stage matrix; b : (s,) weights of the propagated
    solution; e : (s + 1,) weights of the error estimate ``b - b_hat`` (the last entry multiplies the FSAL stage);
    p : (s + 1, q) dense output: ``y(t + θh) = y + h Σ_j k_j Σ_m p[j, m] θ^(m+1)``; order : propagated order;
    error_order : order of the embedded solution.
    """

    name: str
    c: np.ndarray
    a: np.ndarray
    b: np.ndarray
    e: np.ndarray
    p: np.ndarray
    order: int
    error_order: int

    def __post_init__(self):
        for k in ("c", "a", "b", "e", "p"):
            object.__setattr__(self, k, _frozen(getattr(self, k)))
        s = self.b.size
        if self.a.shape != (s, s) or self.c.shape != (s,) or self.e.shape != (s + 1,) or self.p.shape[0] != s + 1:
            raise ValueError(f"{self.name}: inconsistent tableau shapes")
        if np.any(np.triu(self.a) != 0):
            raise ValueError(f"{self.name}: explicit stage matrix must be strictly lower triangular")
        if not np.allclose(self.a.sum(axis=1), self.c, atol=1e-15):
            raise ValueError(f"{self.name}: row sums of a must equal c")
        if not np.isclose(self.b.sum(), 1.0, atol=1e-15):
            raise ValueError(f"{self.name}: weights b must sum to 1")
        if not np.isclose(self.e.sum(), 0.0, atol=1e-15):
            raise ValueError(f"{self.name}: error weights must sum to 0")
        # the dense output at θ = 1 reproduces the propagated solution (the FSAL stage gets weight 0)
        if not np.allclose(self.p.sum(axis=1), np.append(self.b, 0.0), atol=1e-14):
            raise ValueError(f"{self.name}: dense output at θ=1 must equal the weights b")


@dataclass(frozen=True, eq=False)
class RosenbrockTableau:
    """A Rosenbrock method in Hairer & Wanner's transformed form (no Jacobian-vector products needed).

    With ``W = I/(hγ) - J``, stage ``i`` solves
    ``W k_i = f(t + c_i h, y + Σ_j a_ij k_j) + Σ_j (C_ij / h) k_j + d_i h ∂f/∂t``. For the stiffly accurate Rodas
    family, ``y_new = y + Σ_j a_sj k_j + k_{s-1} + k_s``, the embedded solution omits ``k_s``, so ``k_s`` is the error
    estimate, and the dense output is ``y(θ) = (1-θ) y + θ (y_new + (1-θ)(K1 + θ K2 + θ² K3 + …))`` with
    ``K = H k`` (two rows of ``H`` for Rodas4, three for Rodas5P).

    Attributes
    ----------
    gamma : diagonal coefficient γ; a : (s, s) ; C : (s, s) ; c : (s,) ; d : (s,) ; h : (m, s) dense output.
    """

    name: str
    gamma: float
    a: np.ndarray
    C: np.ndarray
    c: np.ndarray
    d: np.ndarray
    h: np.ndarray
    order: int
    error_order: int

    def __post_init__(self):
        for k in ("a", "C", "c", "d", "h"):
            object.__setattr__(self, k, _frozen(getattr(self, k)))
        s = self.c.size
        # Undo the transformation (Hairer & Wanner II, §IV.7, eq. 7.21): Γ = (diag(1/γ) - C)^-1, α = a Γ.
        Gamma = np.linalg.inv(np.eye(s) / self.gamma - self.C)
        alpha = self.a @ Gamma
        # Consistency: d_i = Σ_j γ_ij (Γ includes the diagonal γ) and c_i = Σ_j α_ij.
        if not np.allclose(Gamma.sum(axis=1), self.d, atol=1e-12):
            raise ValueError(f"{self.name}: rows of Gamma must sum to d")
        if not np.allclose(alpha.sum(axis=1), self.c, atol=1e-12):
            raise ValueError(f"{self.name}: rows of alpha must sum to c")
        object.__setattr__(self, "Gamma", _frozen(Gamma))
        object.__setattr__(self, "alpha", _frozen(alpha))


# Dormand & Prince (1980) 5(4) with the dense output of Shampine (1986) as in scipy.integrate.RK45.
DOPRI5 = ExplicitTableau(
    name="dopri5",
    c=[0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1],
    a=[[0, 0, 0, 0, 0, 0],
       [1 / 5, 0, 0, 0, 0, 0],
       [3 / 40, 9 / 40, 0, 0, 0, 0],
       [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
       [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
       [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0]],
    b=[35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    e=[-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40],
    p=[[1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
       [0, 0, 0, 0],
       [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
       [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
       [0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
       [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
       [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]],
    order=5,
    error_order=4,
)

# Rodas4 of Hairer & Wanner (Solving ODEs II, 2nd ed., §VI.4, Table 4.3; coefficients of their RODAS code, METH=1),
# L-stable and stiffly accurate, order 4 with an embedded order-3 solution and an order-3 dense output.
_RA = np.zeros((6, 6))
_RA[1, 0] = 1.544
_RA[2, :2] = [0.9466785280815826, 0.2557011698983284]
_RA[3, :3] = [3.314825187068521, 2.896124015972201, 0.9986419139977817]
_RA[4, :4] = [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950]
_RA[5, :4] = _RA[4, :4]
_RA[5, 4] = 1.0
_RC = np.zeros((6, 6))
_RC[1, 0] = -5.6688
_RC[2, :2] = [-2.430093356833875, -0.2063599157091915]
_RC[3, :3] = [-0.1073529058151375, -9.594562251023355, -20.47028614809616]
_RC[4, :4] = [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160]
_RC[5, :5] = [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054]
RODAS4 = RosenbrockTableau(
    name="rodas4",
    gamma=0.25,
    a=_RA,
    C=_RC,
    c=[0.0, 0.386, 0.21, 0.63, 1.0, 1.0],
    d=[0.25, -0.1043, 0.1035, -0.03620000000000023, 0.0, 0.0],
    h=[[10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823, 1.025137723295662, 0.0],
       [-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386, -6.594389125716872, 0.0]],
    order=4,
    error_order=3,
)


# Rodas5P of Steinebach (2023, BIT Numer. Math. 63:27, "Construction of Rosenbrock-Wanner method Rodas5P and
# numerical benchmarks within the Julia Differential Equations package"): 8 stages, order 5 with an embedded order-4
# solution and an order-4 dense output, L-stable and stiffly accurate; coefficients as in OrdinaryDiffEq.jl
# (src/tableaus/rosenbrock_tableaus.jl, Rodas5PTableau). Stages 7 and 8 restart from the previous stage's solution
# (a_7j = a_6j + δ_j6, a_8j = a_7j + δ_j7), as in Rodas4's stage 6; the consistency checks of RosenbrockTableau
# (rows of Γ sum to d, rows of α to c) verify the transcription.
_R5A = np.zeros((8, 8))
_R5A[1, 0] = 3.0
_R5A[2, :2] = [2.849394379747939, 0.45842242204463923]
_R5A[3, :3] = [-6.954028509809101, 2.489845061869568, -10.358996098473584]
_R5A[4, :4] = [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641]
_R5A[5, :5] = [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
               0.030198172008377946]
_R5A[6, :5] = _R5A[5, :5]
_R5A[6, 5] = 1.0
_R5A[7, :6] = _R5A[6, :6]
_R5A[7, 6] = 1.0
_R5C = np.zeros((8, 8))
_R5C[1, 0] = -14.155112264123755
_R5C[2, :2] = [-17.97296035885952, -2.859693295451294]
_R5C[3, :3] = [147.12150275711716, -1.41221402718213, 71.68940251302358]
_R5C[4, :4] = [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306]
_R5C[5, :5] = [24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125, -0.6610691825249471]
_R5C[6, :6] = [30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783, -19.097331116725623,
               -28.087943162872662]
_R5C[7, :7] = [37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047, -40.06618937091002,
               -54.66780262877968, -9.48861652309627]
RODAS5P = RosenbrockTableau(
    name="rodas5p",
    gamma=0.21193756319429014,
    a=_R5A,
    C=_R5C,
    c=[0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664, 1.0, 1.0, 1.0],
    d=[0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734, 2.325825639765069, 0.0,
       0.0, 0.0],
    h=[[25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204, 0.524948541321073,
        1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
       [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796, 20.176138334709044,
        15.98066361424651, -6.789040303419874, -6.710236069923372],
       [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643, -52.072871366152654,
        -59.78993625266729, -0.15582684282751913, 4.883087185713722]],
    order=5,
    error_order=4,
)


@dataclass(frozen=True, eq=False)
class Dop853Tableau:
    """Hairer's DOP853: an explicit 8th-order pair with a 5th- and 3rd-order error estimate and a 7th-order dense
    output that needs three extra stages.

    Attributes
    ----------
    c : (16,) nodes of the 12 main, the FSAL and the 3 extra stages; a : (16, 16) stage matrix (row 12 is b);
    b : (12,) weights; e3, e5 : (13,) error weights; d : (4, 16) dense output coefficients.
    """

    name: str
    c: np.ndarray
    a: np.ndarray
    b: np.ndarray
    e3: np.ndarray
    e5: np.ndarray
    d: np.ndarray
    order: int = 8
    error_order: int = 7

    def __post_init__(self):
        for k in ("c", "a", "b", "e3", "e5", "d"):
            object.__setattr__(self, k, _frozen(getattr(self, k)))
        if np.any(np.triu(self.a) != 0):
            raise ValueError(f"{self.name}: explicit stage matrix must be strictly lower triangular")
        if not np.allclose(self.a.sum(axis=1), self.c, atol=1e-14):
            raise ValueError(f"{self.name}: row sums of a must equal c")
        if not np.isclose(self.b.sum(), 1.0, atol=1e-14) or not np.allclose(self.a[12, :12], self.b):
            raise ValueError(f"{self.name}: weights must sum to 1 and be the FSAL row of a")
        if not (np.isclose(self.e3.sum(), 0.0, atol=1e-14) and np.isclose(self.e5.sum(), 0.0, atol=1e-14)):
            raise ValueError(f"{self.name}: error weights must sum to 0")


def _dop853() -> Dop853Tableau:
    # Coefficients of Hairer's DOP853 (Hairer, Nørsett & Wanner I, §II.10) as distributed with SciPy
    # (scipy/integrate/_ivp/dop853_coefficients.py), which transcribes Hairer's Fortran code.
    from scipy.integrate._ivp import dop853_coefficients as k

    return Dop853Tableau(name="dop853", c=k.C, a=k.A, b=k.B, e3=k.E3, e5=k.E5, d=k.D)


DOP853 = _dop853()
