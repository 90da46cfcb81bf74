"""NMDA-receptor occupancy from free brain concentrations of S-/R-ketamine and S-/R-norketamine.

Equilibrium (competitive, Hill coefficient 1): every ligand ``i`` binds the same site with dissociation constant
``K_i``, so the fraction of receptors blocked is

    O = x / (1 + x),    x = Σ_i C_i / K_i

with ``C_i`` the *free* brain concentration (µM). For one ligand this is ``C / (C + K)``. Ki values are those of
Ebert et al. 1997 (Eur J Pharmacol 333:99–104; displacement of [³H]MK-801 in rat cortical membranes):
S-ketamine 0.30 µM, R-ketamine 1.4 µM, S-norketamine 1.7 µM, R-norketamine 13 µM. (2R,6R)-hydroxynorketamine
blocks NMDA currents only near 46 µM (Abbott & Popescu 2020) and is ignored.

Cell types. Ketamine blocks NMDA receptors on fast-spiking/SST interneurons more effectively than on pyramidal
cells (Homayoun & Moghaddam 2007 J Neurosci 27:11496). We use the Ebert Ki for pyramidal cells (bulk cortical
membranes are dominated by pyramidal neurons) and divide it by ``interneuron_potency_ratio`` for interneurons.
That ratio is an **assumed** placeholder here; the circuit model calibrates it to the inverted-U of prefrontal glutamate
efflux with dose (Moghaddam et al. 1997 J Neurosci 17:2921).

Enantiomers. A racemic dose is half S and half R. The lumped PK sets give the enantiomers the same PK (their
clearances and volumes differ by < 20 %, Hasan et al. 2021 Anesthesiology 135:326), and norketamine is assumed to
keep the parent's S:R ratio (assumed). So only the S fraction ``s`` enters:
``x = C_ket (s/K_S + (1-s)/K_R) + C_nor (s/K_SN + (1-s)/K_RN)``. The enantiomer-resolved set (``hasan2021``,
:func:`pkpd.pk.enantiomer_graph`) instead sums each enantiomer's own free concentration over its own Ki (the same
function with ``s = 1`` for the S chain and ``s = 0`` for the R chain). (2S,6S)- and (2R,6R)-hydroxynorketamine
are left out at their concentrations: Ki ~21 µM and > 100 µM at the MK-801 site (Morris et al. 2017 ACS Med Chem
Lett 8:680) and an IC50 of 46 µM on NMDA currents for (2R,6R)-HNK (Abbott & Popescu 2020 Mol Pharmacol 98:203),
against plasma levels below ~0.3 µM.

Trapping (optional). Use-dependent trapping lets block outlast the drug (Ma et al. 2023 Nature 622:802). The
binding ODE ``dB/dt = k_on·x·(1 − B) − k_off·B`` has the competitive equilibrium ``x/(x + k_off/k_on)``; with
``k_on = k_off`` it relaxes to the equilibrium occupancy above. Both rates are **assumed** (illustrative defaults:
binding within minutes, untrapping over ~10 h).

The functions below use only arithmetic, so they work on floats, NumPy arrays and sympy expressions alike: the PK
system's occupancy observables (:mod:`pkpd.pk`) are built from the same functions the NumPy readouts call.
"""

from __future__ import annotations

from dataclasses import dataclass

from .parameters import check_bounds, param

__all__ = ["NmdaParams", "occupancy_drive", "competitive_occupancy", "nmda_occupancy", "trapping_rate",
           "CELL_TYPES"]

CELL_TYPES = ("interneuron", "pyramidal")
_EBERT = "Ebert et al. 1997 Eur J Pharmacol 333:99 ([3H]MK-801 displacement, rat cortex)"


@dataclass(frozen=True)
class NmdaParams:
    """NMDA receptor block parameters (Ki in µM; rates in 1/h)."""

    ki_s_ketamine_uM: float = param(0.30, "uM", _EBERT + ": S-ketamine Ki 0.30 uM", bounds=(1e-3, 1e3),
                                    kind="published")
    ki_r_ketamine_uM: float = param(1.40, "uM", _EBERT + ": R-ketamine Ki 1.4 uM", bounds=(1e-3, 1e3),
                                    kind="published")
    ki_s_norketamine_uM: float = param(1.70, "uM", _EBERT + ": S-norketamine Ki 1.7 uM", bounds=(1e-3, 1e3),
                                       kind="published")
    ki_r_norketamine_uM: float = param(13.0, "uM", _EBERT + ": R-norketamine Ki 13 uM", bounds=(1e-3, 1e4),
                                       kind="published")
    interneuron_potency_ratio: float = param(
        3.0, "1", "assumed placeholder: interneuron NMDA block is more potent than pyramidal (Homayoun & "
        "Moghaddam 2007); the circuit model calibrates the ratio to the inverted-U glutamate efflux "
        "(Moghaddam et al. 1997)", bounds=(1.0, 100.0), kind="assumed")
    trap_k_on_per_h: float = param(
        60.0, "1/h", "assumed: trapped block forms within minutes of exposure (on-rate at x = 1)",
        bounds=(1e-3, 1e5), kind="assumed")
    trap_k_off_per_h: float = param(
        0.1, "1/h", "assumed: untrapping over ~10 h, qualitatively after Ma et al. 2023 Nature 622:802 (block "
        "persists up to 24 h in the LHb)", bounds=(1e-4, 1e5), kind="assumed")

    def __post_init__(self):
        check_bounds(self)

    def ki(self, cell: str = "pyramidal") -> tuple[float, float, float, float]:
        """(K_S-ket, K_R-ket, K_S-nor, K_R-nor) in µM for ``cell`` ('pyramidal' or 'interneuron')."""
        if cell not in CELL_TYPES:
            raise ValueError(f"cell: unknown cell type {cell!r}; expected one of {CELL_TYPES}")
        r = self.interneuron_potency_ratio if cell == "interneuron" else 1.0
        return (self.ki_s_ketamine_uM / r, self.ki_r_ketamine_uM / r, self.ki_s_norketamine_uM / r,
                self.ki_r_norketamine_uM / r)


def occupancy_drive(c_ketamine_free_uM, c_norketamine_free_uM, s_fraction, ki_s_ket, ki_r_ket, ki_s_nor,
                    ki_r_nor):
    """Dimensionless receptor drive ``x = Σ C_i / K_i`` (floats, arrays or sympy expressions).

    Parameters
    ----------
    c_ketamine_free_uM, c_norketamine_free_uM : float, ndarray or sympy.Expr
        Free brain concentrations of total (S + R) ketamine and norketamine, µM.
    s_fraction : float or sympy.Expr
        Fraction of S-enantiomer (0.5 racemic, 1 esketamine, 0 arketamine).
    ki_* : float or sympy.Expr
        Dissociation constants, µM.
    """
    return (c_ketamine_free_uM * (s_fraction / ki_s_ket + (1 - s_fraction) / ki_r_ket)
            + c_norketamine_free_uM * (s_fraction / ki_s_nor + (1 - s_fraction) / ki_r_nor))


def competitive_occupancy(x):
    """Equilibrium fraction of receptors blocked, ``x / (1 + x)``, for drive ``x >= 0``."""
    return x / (1 + x)


def nmda_occupancy(c_ketamine_free_uM, c_norketamine_free_uM, s_fraction: float, params: NmdaParams = NmdaParams(),
                   cell: str = "pyramidal"):
    """Equilibrium NMDA occupancy (0–1) of ``cell`` from free brain concentrations (µM; arrays broadcast)."""
    return competitive_occupancy(occupancy_drive(c_ketamine_free_uM, c_norketamine_free_uM, s_fraction,
                                                 *params.ki(cell)))


def trapping_rate(blocked, x, k_on_per_h, k_off_per_h):
    """``dB/dt`` (1/h) of the trapping ODE: ``k_on·x·(1 − B) − k_off·B``."""
    return k_on_per_h * x * (1 - blocked) - k_off_per_h * blocked
