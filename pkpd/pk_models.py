"""The parameter sets of the ketamine PK model: one calibrated mouse set and published human sets.

Each set is a frozen dataclass whose fields are the paper's own parameters (units in the names, provenance in the
field metadata, see :mod:`pkpd.parameters`) plus a table of routes. Every set maps onto the one compartment graph
of :mod:`pkpd.pk` through :meth:`disposition` (per-subject clearances and volumes) and :meth:`route`
(how a dose enters). Compartments a set does not have get zero flows.

==================  =====================================================================================
name                what
==================  =====================================================================================
``mouse``           racemic ketamine in the mouse; one body compartment + brain; **calibrated** to the
                    elimination half-life of 13 min (Ma et al. 2023) and the brain:plasma ratio of 6.5 (Cohen
                    et al. 1973); volume and routes **assumed** (see each field)
``domino1982``      racemic ketamine, human (**default**); three compartments, V1 0.063 L/kg, micro-constants
                    per minute (Domino et al. 1982); norketamine from Otto et al. 2021
``kamp2020``        racemic ketamine, human; meta-analysis of 18 studies: CL 79 L/h, V 252 L per 70 kg (Kamp
                    et al. 2020 Anesthesiology 133:1192): a one-compartment summary, unsuited to boluses
``fanta2015``       S-ketamine, human; three compartments (Fanta et al. 2015 Eur J Clin Pharmacol 71:441); oral
                    F = 8 %; S-norketamine from Otto et al. 2021
``perez-ruixo2021`` esketamine, human; three compartments + hepato-portal compartment, intranasal absorption with
                    a swallowed fraction (Perez-Ruixo et al. 2021 Clin Pharmacokinet 60:501, Table 3); its own
                    noresketamine model
``hasan2021``       **enantiomer-resolved**, human: S- and R-ketamine, S- and R-norketamine and (2S,6S)-/(2R,6R)-
                    hydroxynorketamine as separate species; each enantiomer's CL and Vss from Hasan et al. 2021
                    Anesthesiology 135:326, the three-compartment shape of Domino et al. 1982; racemic, esketamine
                    or arketamine doses
==================  =====================================================================================

Shared human assumptions (each labelled where used): a brain compartment with the rodent partition coefficient
(no human brain:plasma ratio exists), plasma free fraction 0.55, 80 % of ketamine clearance forming norketamine
for the models that do not estimate it.

Routes of the sets without an absorption model of their own (``domino1982``, ``kamp2020``, ``fanta2015``): i.m.
and s.c. enter plasma without first pass; an oral dose passes the liver first (F from Clements et al. 1982, or
Fanta for S-ketamine), and the first-pass loss forms norketamine before reaching plasma; a nasal dose splits into
a part absorbed through the mucosa and a swallowed part absorbed like an oral dose (the mechanism of Perez-Ruixo
et al. 2021), so the norketamine:ketamine ratio differs by route as first pass makes it.

The brain compartment is carved out of a published compartment (its plasma-equivalent volume ``kp × V_brain`` is
subtracted from the central volume, or for ``domino1982``, whose central volume is smaller than that, from the deep
peripheral compartment with its flow), so every published set keeps its clearance and its Vss exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .parameters import check_bounds, describe, param
from .species import HUMAN_BRAIN, HUMAN_BRAIN_SOURCES, MOUSE_BRAIN, BrainPhysiology, Subject, allometric

__all__ = ["RouteAbsorption", "DosePart", "Disposition", "PkModel", "MouseKetamine", "Domino1982", "Kamp2020",
           "Fanta2015", "PerezRuixo2021", "Hasan2021", "HnkDisposition", "PK_MODELS", "ENANTIOMERS",
           "get_pk_model", "parameter_table"]

#: Enantiomer composition -> fraction of S-enantiomer.
ENANTIOMERS = {"racemic": 0.5, "esketamine": 1.0, "arketamine": 0.0}

# ---- citations (primary sources) ---------------------------------------------------------------------------
MA2023 = "Ma et al. 2023 Nature 622:802 (ketamine elimination half-life ~13 min in mice)"
COHEN1973 = ("Cohen et al. 1973 Anesthesiology 39:370 (rat i.v.: brain:plasma ratio of ketamine ~6.5; "
             "brain equilibrates within minutes)")
KAMP2020 = "Kamp et al. 2020 Anesthesiology 133:1192 (meta-analysis, 18 studies; per 70 kg)"
FANTA2015 = "Fanta et al. 2015 Eur J Clin Pharmacol 71:441 (S-ketamine population PK, per 70 kg)"
OTTO2021 = ("Otto et al. 2021 Eur J Clin Pharmacol (S-norketamine two-compartment set, per 70 kg; values from a "
            "secondary compilation, not re-checked against the paper's tables)")
PEREZ2021 = ("Perez-Ruixo et al. 2021 Clin Pharmacokinet 60:501 Table 3 (esketamine, n = 820; transcription "
             "checked against nlmixr2lib PerezRuixo_2020_esketamine)")
CLEMENTS1982 = "Clements et al. 1982 J Pharm Sci 71:539 (racemic ketamine: i.m. F 93 %, oral F 17 %)"
YANAGIHARA2003 = ("Yanagihara et al. 2003 Biopharm Drug Dispos 24:37 (intranasal F 45 %; upper end of the 11–45 % "
                  "range across formulations)")
DOMINO1982 = ("Domino et al. 1982 (PMID 7198883): racemic ketamine, three-compartment micro-constants per kg, the "
              "set used for ketamine target-controlled infusion; transcription checked against two independent TCI "
              "implementations (opentiva ketamine.Domino; k10 0.4381, k12 0.5921, k13 0.5900, k21 0.2470, "
              "k31 0.0146 /min, V1 0.063 L/kg)")
PELTONIEMI2016 = ("Peltoniemi et al. 2016 Clin Pharmacokinet 55:1059 (review: ketamine is mainly (~80 %) "
                  "N-demethylated to norketamine)")
PROTEIN_BINDING = ("human plasma protein binding of ketamine 43–45 % (clinical PK literature as compiled for this "
                   "project; primary source not traced), free fraction 0.55")
KAKA1980 = "Kaka & Hayton 1980 J Pharmacokinet Biopharm 8:193 (dog: norketamine 60.3 % bound, free fraction 0.40)"
HASAN2021 = ("Hasan et al. 2021 Anesthesiology 135:326 (abstract; 15 healthy subjects, racemic ketamine 5 mg i.v. "
             "infusion, stereoselective LC-MS/MS, noncompartmental; mean ± SD)")
SIMONS2022 = ("Simons et al. 2022 Front Pain Res 3:946486 (S-ketamine, S-norketamine and S-hydroxynorketamine "
              "population PK, abstract: 80 % of S-ketamine metabolised to S-norketamine, 56 % finally to "
              "S-hydroxynorketamine)")
HENTHORN1999 = ("Henthorn et al. 1999 Anesthesiology 91:1733 (dog, recirculatory model: S- and R-ketamine differ in "
                "elimination clearance, not in tissue distribution)")
ANDERSON2008 = "allometric exponents 0.75 (clearance) and 1 (volume), Anderson & Holford 2008"


@dataclass(frozen=True)
class RouteAbsorption:
    """How an extravascular dose leaves its depot (first order, rate ``ka_per_h``).

    Of what leaves the depot, ``f_systemic`` reaches plasma as ketamine, ``f_hepatic`` enters the hepato-portal
    compartment (models that have one), ``f_presystemic_nor`` is converted to norketamine before reaching plasma
    (first pass), and the rest is lost (unabsorbed or other metabolites). ``kind`` labels the fractions and
    ``ka_kind`` the rate constant (published, calibrated or assumed); ``source`` explains both.
    """

    ka_per_h: float
    f_systemic: float
    f_hepatic: float = 0.0
    f_presystemic_nor: float = 0.0
    kind: str = "assumed"
    source: str = ""
    ka_kind: str = "assumed"

    def __post_init__(self):
        if not (math.isfinite(self.ka_per_h) and 0 < self.ka_per_h <= 1e4):
            raise ValueError(f"ka_per_h: expected a value in (0, 1e4] 1/h, got {self.ka_per_h!r}")
        for name in ("f_systemic", "f_hepatic", "f_presystemic_nor"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 <= v <= 1):
                raise ValueError(f"{name}: expected a fraction in [0, 1], got {v!r}")
        if self.f_systemic + self.f_hepatic + self.f_presystemic_nor > 1 + 1e-12:
            raise ValueError("f_systemic + f_hepatic + f_presystemic_nor must not exceed 1")

    def rates(self) -> dict[str, float]:
        """First-order rate constants (1/h) out of the depot, by destination."""
        lost = max(0.0, 1.0 - self.f_systemic - self.f_hepatic - self.f_presystemic_nor)
        return {"central": self.ka_per_h * self.f_systemic, "liver": self.ka_per_h * self.f_hepatic,
                "nor_central": self.ka_per_h * self.f_presystemic_nor, "eliminated": self.ka_per_h * lost}


@dataclass(frozen=True)
class DosePart:
    """A share of one dose delivered into one state, as a bolus (``zero_order_h`` 0) or zero-order input."""

    state: str
    fraction: float
    zero_order_h: float = 0.0


@dataclass(frozen=True)
class Disposition:
    """Per-subject clearances (L/h), volumes (L), rate constants (1/h) and fractions in the shape of the graph.

    Zero flows mean the compartment is absent. Volumes and flows are the published ones, before the brain is
    carved out of the compartment named by ``brain_within`` (see :meth:`rates`).
    """

    v_central_L: float
    cl_L_per_h: float
    fm_norketamine: float
    fu_plasma: float
    kp_brain: float
    v_brain_L: float
    q_brain_L_per_h: float
    q1_L_per_h: float = 0.0
    v1_L: float = 1.0
    q2_L_per_h: float = 0.0
    v2_L: float = 1.0
    qh_L_per_h: float = 0.0
    vh_L: float = 1.0
    kel_liver_per_h: float = 0.0
    kmet_liver_per_h: float = 0.0
    nor_v_central_L: float = 1.0
    nor_cl_L_per_h: float = 0.0
    nor_q_L_per_h: float = 0.0
    nor_vp_L: float = 1.0
    nor_kp_brain: float = 1.0
    nor_fu_plasma: float = 1.0
    brain_within: str = "central"

    def rates(self) -> dict[str, float]:
        """Values of the graph's parameters (see :func:`pkpd.pk.ketamine_graph`).

        The brain's plasma-equivalent volume ``kp × V_brain`` is taken out of the published compartment named by
        ``brain_within``: ``"central"`` (its volume), or ``"peripheral2"`` (its volume and, since the brain is
        perfused in parallel with it, its inter-compartmental clearance ``q2`` by the brain blood flow). Either
        way clearance, central volume (for ``"peripheral2"``) and Vss stay those published.
        """
        vb = self.kp_brain * self.v_brain_L
        vc, v2, q2 = self.v_central_L, self.v2_L, self.q2_L_per_h
        if self.brain_within == "central":
            vc = vc - vb
        elif self.brain_within == "peripheral2":
            v2, q2 = v2 - vb, q2 - self.q_brain_L_per_h
            if v2 <= 0 or q2 <= 0:
                raise ValueError("the brain's distribution volume or blood flow exceeds the deep peripheral "
                                 "compartment's; the body weight or the volumes are implausible")
        else:
            raise ValueError(f"brain_within: expected 'central' or 'peripheral2', got {self.brain_within!r}")
        vnc = self.nor_v_central_L - self.nor_kp_brain * self.v_brain_L
        if vc <= 0 or vnc <= 0:
            raise ValueError("the brain's distribution volume (kp × V_brain) exceeds the central volume; "
                             "the body weight or the volumes are implausible")
        return {
            "k_central_peripheral1": self.q1_L_per_h / vc, "k_peripheral1_central": self.q1_L_per_h / self.v1_L,
            "k_central_peripheral2": q2 / vc, "k_peripheral2_central": q2 / v2,
            "k_central_liver": self.qh_L_per_h / vc, "k_liver_central": self.qh_L_per_h / self.vh_L,
            "k_liver_nor_central": self.kmet_liver_per_h, "k_liver_eliminated": self.kel_liver_per_h,
            "k_central_brain": self.q_brain_L_per_h / vc,
            "k_brain_central": self.q_brain_L_per_h / (self.kp_brain * self.v_brain_L),
            "k_central_nor_central": self.fm_norketamine * self.cl_L_per_h / vc,
            "k_central_eliminated": (1 - self.fm_norketamine) * self.cl_L_per_h / vc,
            "k_nor_central_nor_peripheral": self.nor_q_L_per_h / vnc,
            "k_nor_peripheral_nor_central": self.nor_q_L_per_h / self.nor_vp_L,
            "k_nor_central_nor_brain": self.q_brain_L_per_h / vnc,
            "k_nor_brain_nor_central": self.q_brain_L_per_h / (self.nor_kp_brain * self.v_brain_L),
            "k_nor_central_nor_eliminated": self.nor_cl_L_per_h / vnc,
            "v_central_L": vc, "v_brain_L": self.v_brain_L, "v_nor_central_L": vnc,
            "fu_brain": self.fu_plasma / self.kp_brain, "fu_nor_brain": self.nor_fu_plasma / self.nor_kp_brain,
        }

    @property
    def vss_L(self) -> float:
        """Published-style Vss of ketamine: central + peripherals (the brain is inside the central volume)."""
        return self.v_central_L + (self.v1_L if self.q1_L_per_h else 0) + (self.v2_L if self.q2_L_per_h else 0)


class PkModel:
    """Interface of a parameter set (implemented by the dataclasses below)."""

    name: str
    species: str
    description: str
    enantiomers: tuple[str, ...]
    #: True for sets that carry S and R as separate species (:func:`pkpd.pk.enantiomer_graph`)
    resolved: bool = False

    def disposition(self, subject: Subject) -> Disposition:  # pragma: no cover - interface
        raise NotImplementedError

    def routes(self) -> dict[str, RouteAbsorption]:  # pragma: no cover - interface
        raise NotImplementedError

    def dose_parts(self, route: str, dose_mg_base: float, duration_h: float | None = None) -> tuple[DosePart, ...]:
        """How a dose of ``dose_mg_base`` mg (free base) by ``route`` enters the graph."""
        if route == "iv":
            return (DosePart("central", 1.0),)
        if route == "iv-infusion":
            return (DosePart("central", 1.0, float(duration_h)),)
        table = self.routes()
        if route not in table:
            raise ValueError(f"route: {route!r} is not available in the {self.name} PK model; expected one of "
                             f"{', '.join(['iv', 'iv-infusion', *table])}")
        return (DosePart(DEPOT_OF_ROUTE[route], 1.0),)

    def depot_absorption(self) -> dict[str, RouteAbsorption]:
        """Absorption of every depot the model uses, keyed by depot state name."""
        return {DEPOT_OF_ROUTE[r]: a for r, a in self.routes().items()}

    def check_enantiomer(self, enantiomer: str | None) -> str:
        e = self.enantiomers[0] if enantiomer is None else str(enantiomer).strip().lower()
        if e not in ENANTIOMERS:
            raise ValueError(f"drug: unknown form {enantiomer!r}; expected one of {', '.join(ENANTIOMERS)}")
        if e not in self.enantiomers:
            sets = ", ".join(m.name for m in PK_MODELS.values() if m.species == self.species and e in m.enantiomers)
            raise ValueError(f"drug: the {self.name} PK model describes {' or '.join(self.enantiomers)}, not {e}"
                             + (f"; {self.species} sets for {e}: {sets}" if sets else ""))
        return e

    def parameter_rows(self) -> list[dict]:
        rows = describe(self, self.name)
        for route, a in self.routes().items():
            for fname, unit in (("ka_per_h", "1/h"), ("f_systemic", "1"), ("f_hepatic", "1"),
                                ("f_presystemic_nor", "1")):
                v = getattr(a, fname)
                if fname in ("f_hepatic", "f_presystemic_nor") and v == 0:
                    continue
                rows.append({"group": f"{self.name}.route.{route}", "name": fname, "value": v, "unit": unit,
                             "kind": a.ka_kind if fname == "ka_per_h" else a.kind, "source": a.source,
                             "bounds": [0.0, 1e4 if fname == "ka_per_h" else 1]})
        return rows


#: Route -> depot state of the graph.
DEPOT_OF_ROUTE = {"ip": "depot_ip", "sc": "depot_sc", "im": "depot_im", "intranasal": "depot_nasal", "oral": "gut"}


def _with_first_pass(ka: float, f: float, fm: float, kind: str, source: str) -> RouteAbsorption:
    """A route with bioavailability ``f`` whose first-pass loss forms norketamine in proportion ``fm``."""
    return RouteAbsorption(ka, f, 0.0, fm * (1.0 - f), kind, source)


# ---- mouse ---------------------------------------------------------------------------------------------------
def _mouse_terminal_half_life_min(cl_L_per_h: float, v_L: float, kp: float, brain: BrainPhysiology) -> float:
    vc = v_L - kp * brain.v_brain_L
    q = brain.q_brain_L_per_h
    K = np.array([[-(cl_L_per_h + q) / vc, q / (kp * brain.v_brain_L)],
                  [q / vc, -q / (kp * brain.v_brain_L)]])
    lam = np.min(np.abs(np.linalg.eigvals(K).real))
    return math.log(2) / lam * 60.0


def calibrate_mouse_clearance(half_life_min: float, v_L: float, kp: float,
                              brain: BrainPhysiology = MOUSE_BRAIN) -> float:
    """Total ketamine clearance (L/h) giving a terminal plasma half-life of ``half_life_min`` with the brain
    compartment in place (bisection on the smallest eigenvalue; the half-life falls monotonically with CL)."""
    from scipy.optimize import brentq

    return brentq(lambda cl: _mouse_terminal_half_life_min(cl, v_L, kp, brain) - half_life_min, 1e-6, 1e3,
                  xtol=1e-14, rtol=1e-15)


_MOUSE_V_L_PER_KG = 252.0 / 70.0
_MOUSE_REF_KG = 0.025
_MOUSE_CL = calibrate_mouse_clearance(13.0, _MOUSE_V_L_PER_KG * _MOUSE_REF_KG, 6.5)
_OTTO = {"v": 98.6, "cl": 57.7, "vp": 160.0, "q": 42.8}
_TO_MOUSE = (_MOUSE_REF_KG / 70.0)


@dataclass(frozen=True)
class MouseKetamine(PkModel):
    """Racemic ketamine in the mouse: body (one compartment) + perfusion-limited brain; norketamine likewise.

    The two calibration targets are fields; :meth:`calibrated` recomputes the clearance after any change.
    Caveat: with the assumed volume (3.6 L/kg) the calibrated clearance is ~195 mL/min/kg, about twice mouse
    hepatic blood flow (~90 mL/min/kg, Davies & Morris 1993 Pharm Res 10:1093); either the mouse volume is smaller
    or clearance is partly extrahepatic. Concentrations scale with 1/V, so treat absolute mouse levels as
    uncertain by that factor; the half-life and the brain:plasma ratio are what is calibrated. Esketamine and
    arketamine are given the racemate's PK (assumed; Hasan et al. 2021 find < 20 % differences in humans).
    """

    half_life_min: float = param(13.0, "min", MA2023, bounds=(1.0, 600.0), kind="published")
    brain_plasma_ratio: float = param(6.5, "1", COHEN1973, bounds=(0.1, 100.0), kind="published")
    reference_weight_kg: float = param(_MOUSE_REF_KG, "kg", "reference mouse (25 g)", bounds=(0.01, 0.08),
                                       kind="assumed")
    v_L: float = param(_MOUSE_V_L_PER_KG * _MOUSE_REF_KG, "L", "assumed: no mouse volume found; 3.6 L/kg, the "
                       "human Vss per kg of Kamp et al. 2020 (252 L/70 kg; cf. 3.2 L/kg rabbit, 4.1 L/kg dog)",
                       bounds=(1e-3, 10.0), kind="assumed")
    cl_L_per_h: float = param(_MOUSE_CL, "L/h", "calibrated: terminal plasma half-life = half_life_min (13 min, "
                              "Ma et al. 2023) with the brain compartment in place", bounds=(1e-4, 100.0),
                              kind="calibrated")
    kp_brain: float = param(6.5, "1", "calibrated: brain/plasma AUC ratio of total ketamine = brain_plasma_ratio "
                            "(6.5, Cohen et al. 1973); for a perfusion-limited compartment the AUC ratio equals kp",
                            bounds=(0.1, 100.0), kind="calibrated")
    fu_plasma: float = param(0.55, "1", "assumed: human value (" + PROTEIN_BINDING + ")", bounds=(0.01, 1.0),
                             kind="assumed")
    fm_norketamine: float = param(0.8, "1", "assumed: " + PELTONIEMI2016, bounds=(0.0, 1.0), kind="assumed")
    nor_v_central_L: float = param(_OTTO["v"] * _TO_MOUSE, "L", "assumed: " + OTTO2021 + " scaled to 25 g (" +
                                   ANDERSON2008 + ")", bounds=(1e-4, 10.0), kind="assumed")
    nor_vp_L: float = param(_OTTO["vp"] * _TO_MOUSE, "L", "assumed: Otto et al. 2021 scaled to 25 g",
                            bounds=(1e-4, 10.0), kind="assumed")
    nor_cl_L_per_h: float = param(_OTTO["cl"] * _TO_MOUSE ** 0.75, "L/h", "assumed: Otto et al. 2021 scaled to "
                                  "25 g (exponent 0.75)", bounds=(1e-5, 10.0), kind="assumed")
    nor_q_L_per_h: float = param(_OTTO["q"] * _TO_MOUSE ** 0.75, "L/h", "assumed: Otto et al. 2021 scaled to "
                                 "25 g (exponent 0.75)", bounds=(1e-5, 10.0), kind="assumed")
    nor_kp_brain: float = param(2.0, "1", "assumed: no brain:plasma ratio of norketamine adopted; changes total "
                                "brain norketamine, not its free concentration (Kp,uu = 1)", bounds=(0.1, 100.0),
                                kind="assumed")
    nor_fu_plasma: float = param(0.40, "1", "assumed: " + KAKA1980, bounds=(0.01, 1.0), kind="assumed")
    female_cl_factor: float = param(1.0, "1", "assumed: no clearance ratio adopted for female mice (sex "
                                    "differences in exposure exist, Highland et al. 2022)", bounds=(0.2, 5.0),
                                    kind="assumed")

    name = "mouse"
    species = "mouse"
    #: calibration target -> the field calibrated to it (an override of a target re-runs :meth:`calibrated`)
    calibration_targets = {"half_life_min": "cl_L_per_h", "brain_plasma_ratio": "kp_brain"}
    description = "racemic ketamine, mouse; calibrated to t1/2 13 min and brain:plasma 6.5"
    enantiomers = ("racemic", "esketamine", "arketamine")

    def __post_init__(self):
        check_bounds(self)

    @classmethod
    def calibrated(cls, **changes) -> "MouseKetamine":
        """A set with ``changes`` applied and clearance and kp re-calibrated to the (possibly changed) targets."""
        base = dataclasses.replace(cls(), **changes)
        kp = base.brain_plasma_ratio
        cl = calibrate_mouse_clearance(base.half_life_min, base.v_L, kp)
        return dataclasses.replace(base, kp_brain=kp, cl_L_per_h=cl)

    def routes(self) -> dict[str, RouteAbsorption]:
        fm = self.fm_norketamine
        return {
            "ip": _with_first_pass(15.0, 0.75, fm, "assumed", "assumed: i.p. absorption t1/2 ~3 min (peak plasma "
                                   "~8 min); F 0.75 for partial hepatic first pass (i.p. absorption is "
                                   "partly portal); no mouse measurement found"),
            "sc": RouteAbsorption(8.0, 1.0, kind="assumed", source="assumed: complete s.c. absorption, t1/2 ~5 min"),
            "im": RouteAbsorption(15.0, 0.93, kind="assumed", source="assumed: F from human " + CLEMENTS1982 +
                                  "; absorption t1/2 ~3 min"),
            "intranasal": RouteAbsorption(10.0, 0.45, kind="assumed", source="assumed: F from human " +
                                          YANAGIHARA2003),
            "oral": _with_first_pass(4.0, 0.17, fm, "assumed", "assumed: F from human " + CLEMENTS1982 +
                                     "; first-pass loss forms norketamine in proportion fm"),
        }

    def disposition(self, subject: Subject) -> Disposition:
        w, ref = subject.weight_kg, self.reference_weight_kg
        sex = self.female_cl_factor if subject.sex == "female" else 1.0
        b = MOUSE_BRAIN
        return Disposition(
            v_central_L=allometric(self.v_L, w, ref, 1.0),
            cl_L_per_h=allometric(self.cl_L_per_h, w, ref, 0.75) * sex, fm_norketamine=self.fm_norketamine,
            fu_plasma=self.fu_plasma, kp_brain=self.kp_brain, v_brain_L=b.v_brain_L, q_brain_L_per_h=b.q_brain_L_per_h,
            nor_v_central_L=allometric(self.nor_v_central_L, w, ref, 1.0),
            nor_cl_L_per_h=allometric(self.nor_cl_L_per_h, w, ref, 0.75),
            nor_q_L_per_h=allometric(self.nor_q_L_per_h, w, ref, 0.75),
            nor_vp_L=allometric(self.nor_vp_L, w, ref, 1.0), nor_kp_brain=self.nor_kp_brain,
            nor_fu_plasma=self.nor_fu_plasma)


# ---- human: shared pieces ------------------------------------------------------------------------------------
# Oral and swallowed-nasal absorption of the racemic sets borrow the esketamine model's (Perez-Ruixo 2021 Table 3):
# no racemic population model estimates them; the molecules' absorption is not expected to differ by enantiomer.
_PR_ORAL = ("assumed: esketamine's oral absorption (Perez-Ruixo et al. 2021 Clin Pharmacokinet 60:501 Table 3: "
            "zero-order over Dpo 0.32 h, then ka,po 0.97 /h)")
_PR_SWALLOWED = ("assumed: esketamine's swallowed nasal fraction (Perez-Ruixo et al. 2021 Table 3: zero-order over "
                 "Dsw 0.53 h, then ka,sw 1.45 /h)")
_PR_NASAL = "assumed: esketamine's nasal ka 2.93 /h (Perez-Ruixo et al. 2021 Table 3)"
_NASAL_SPREAD = ("across racemic formulations F spans 11–45 %: 17 %, 13 % and 11 % after 10, 30 and 50 mg in "
                 "Pharmacotherapy 2022;42:298 Table 6 (n = 7–10), which the validation table compares")


def _human_routes(fm: float, oral_f: float = 0.17, oral_source: str = CLEMENTS1982) -> dict[str, RouteAbsorption]:
    """Routes of the sets without an absorption model of their own. Oral doses and the swallowed part of a nasal
    dose pass the liver first (F = ``oral_f``; the first-pass loss forms norketamine in proportion ``fm`` before
    reaching plasma); i.m., s.c. and the nasally absorbed part enter plasma without first pass."""
    oral = _with_first_pass(0.97, oral_f, fm, "published", "F: " + oral_source + "; ka: " + _PR_ORAL
                            + "; first-pass loss forms norketamine in proportion fm")
    oral = dataclasses.replace(oral, ka_kind="assumed")
    return {
        "im": RouteAbsorption(4.0, 0.93, kind="published", source="F: " + CLEMENTS1982 + "; ka assumed (t1/2 "
                              "~10 min)"),
        "sc": RouteAbsorption(2.0, 0.93, kind="assumed", source="assumed: F as i.m. (" + CLEMENTS1982 + "); ka "
                              "assumed (t1/2 ~20 min)"),
        "intranasal": RouteAbsorption(2.93, 1.0, kind="derived", source="the nasally absorbed part of a dose "
                                      "(nasal_absorbed_fraction) reaches plasma whole; " + _PR_NASAL),
        "oral": oral,
    }


class _SwallowedNasal:
    """Intranasal and oral dosing of the racemic human sets: a nasal dose splits into a nasally absorbed part and
    a swallowed part that is absorbed like an oral dose, through first pass (the mechanism of Perez-Ruixo et al.
    2021 for esketamine); an oral dose enters the gut over a zero-order period first."""

    oral_source = CLEMENTS1982

    def __post_init__(self):
        check_bounds(self)

    def routes(self) -> dict[str, RouteAbsorption]:
        return _human_routes(self.fm_norketamine, self.oral_bioavailability, self.oral_source)

    @property
    def nasal_absorbed_fraction(self) -> float:
        """Fraction of a nasal dose absorbed through the mucosa: total F = f_n + (1 − f_n)·F_oral solved for f_n."""
        return (self.nasal_f - self.oral_bioavailability) / (1.0 - self.oral_bioavailability)

    def dose_parts(self, route, dose_mg_base, duration_h=None):
        if route == "intranasal":
            f = self.nasal_absorbed_fraction
            return (DosePart("depot_nasal", f), DosePart("gut_swallowed", 1.0 - f, self.d_swallowed_h))
        if route == "oral":
            return (DosePart("gut", 1.0, self.d_oral_h),)
        return PkModel.dose_parts(self, route, dose_mg_base, duration_h)

    def depot_absorption(self) -> dict[str, RouteAbsorption]:
        d = PkModel.depot_absorption(self)
        d["gut_swallowed"] = dataclasses.replace(d["gut"], ka_per_h=self.ka_swallowed_per_h,
                                                 source=d["gut"].source + "; swallowed nasal part: " + _PR_SWALLOWED)
        return d


@dataclass(frozen=True)
class _HumanCommon:
    """Human assumptions shared by the sets that do not estimate them (brain, binding, norketamine)."""

    kp_brain: float = param(6.5, "1", "assumed: the rodent brain:plasma ratio (Cohen et al. 1973); no human "
                            "value exists", bounds=(0.1, 100.0), kind="assumed")
    fu_plasma: float = param(0.55, "1", PROTEIN_BINDING, bounds=(0.01, 1.0), kind="published")
    fm_norketamine: float = param(0.8, "1", "assumed: " + PELTONIEMI2016, bounds=(0.0, 1.0), kind="assumed")
    nor_v_central_L: float = param(98.6, "L", OTTO2021, bounds=(1.0, 5000.0), kind="published")
    nor_cl_L_per_h: float = param(57.7, "L/h", OTTO2021, bounds=(0.1, 1000.0), kind="published")
    nor_vp_L: float = param(160.0, "L", OTTO2021, bounds=(1.0, 5000.0), kind="published")
    nor_q_L_per_h: float = param(42.8, "L/h", OTTO2021, bounds=(0.1, 1000.0), kind="published")
    nor_kp_brain: float = param(2.0, "1", "assumed: no brain:plasma ratio of norketamine adopted",
                                bounds=(0.1, 100.0), kind="assumed")
    nor_fu_plasma: float = param(0.40, "1", "assumed: " + KAKA1980, bounds=(0.01, 1.0), kind="assumed")
    nasal_f: float = param(0.45, "1", YANAGIHARA2003 + "; " + _NASAL_SPREAD,
                           bounds=(0.0, 1.0), kind="published")

    d_swallowed_h: float = param(0.53, "h", _PR_SWALLOWED, bounds=(0.0, 24.0), kind="assumed")
    ka_swallowed_per_h: float = param(1.45, "1/h", _PR_SWALLOWED, bounds=(0.01, 100.0), kind="assumed")
    d_oral_h: float = param(0.32, "h", _PR_ORAL, bounds=(0.0, 24.0), kind="assumed")

    @property
    def oral_bioavailability(self) -> float:
        return getattr(self, "oral_f", 0.17)

    def _common(self, subject: Subject, scale: bool) -> dict:
        w = subject.weight_kg

        def cl(x):
            return allometric(x, w, 70.0, 0.75) if scale else x

        def v(x):
            return allometric(x, w, 70.0, 1.0) if scale else x

        b = HUMAN_BRAIN
        return dict(fu_plasma=self.fu_plasma, kp_brain=self.kp_brain, v_brain_L=b.v_brain_L,
                    q_brain_L_per_h=b.q_brain_L_per_h, nor_v_central_L=v(self.nor_v_central_L),
                    nor_cl_L_per_h=cl(self.nor_cl_L_per_h), nor_q_L_per_h=cl(self.nor_q_L_per_h),
                    nor_vp_L=v(self.nor_vp_L), nor_kp_brain=self.nor_kp_brain, nor_fu_plasma=self.nor_fu_plasma)


@dataclass(frozen=True)
class Kamp2020(_SwallowedNasal, _HumanCommon, PkModel):
    """Racemic ketamine, human: the meta-analytic typical values (one compartment: CL and V per 70 kg).

    A one-compartment *summary*: V is a steady-state volume, used here as the volume into which a dose mixes at
    once, so it is unsuited to boluses and short infusions (a 10-mg bolus peaks several-fold below what is
    measured, and a bolus and a 40-min infusion give nearly the same Cmax). Kept for AUC and slow regimens; the
    human default is :class:`Domino1982`.
    """

    cl_L_per_h: float = param(79.0, "L/h", KAMP2020 + ": weighted mean CL 79 L/h (95 % CI 69–90)",
                              bounds=(1.0, 1000.0), kind="published")
    v_L: float = param(252.0, "L", KAMP2020 + ": weighted mean V 252 L (95 % CI 200–304)", bounds=(10.0, 5000.0),
                       kind="published")
    female_cl_factor: float = param(1.0, "1", KAMP2020 + ": no covariate effect observed", bounds=(0.2, 5.0),
                                    kind="published")

    name = "kamp2020"
    species = "human"
    description = "racemic ketamine, human meta-analysis (Kamp 2020): CL 79 L/h, V 252 L per 70 kg"
    enantiomers = ("racemic",)

    def disposition(self, subject: Subject) -> Disposition:
        w = subject.weight_kg
        sex = self.female_cl_factor if subject.sex == "female" else 1.0
        return Disposition(v_central_L=allometric(self.v_L, w, 70.0, 1.0),
                           cl_L_per_h=allometric(self.cl_L_per_h, w, 70.0, 0.75) * sex,
                           fm_norketamine=self.fm_norketamine, **self._common(subject, True))


@dataclass(frozen=True)
class Domino1982(_SwallowedNasal, _HumanCommon, PkModel):
    """Racemic ketamine, human: three compartments with a small central volume (Domino et al. 1982).

    The published parameters are per kg of body weight (V1) and per minute (micro-constants), so volumes and
    clearances scale linearly with weight, as published. Derived, per 70 kg: V1 4.41 L, CL 116 L/h, Vss 193 L;
    half-lives 0.4 min, 4.6 min and 115 min. The brain (``kp × V_brain`` = 9.1 L of plasma-equivalent volume,
    twice V1) cannot sit inside the central compartment; it is carved out of the deep peripheral compartment
    (volume and flow, :meth:`Disposition.rates`), which keeps V1, CL, the total distribution clearance and Vss
    exactly and moves the plasma curve by < 1 % of its peak after a bolus and +5 % at the end of a 40-min
    infusion (tests/pkpd/test_pk_models.py).
    """

    v1_L_per_kg: float = param(0.063, "L/kg", DOMINO1982 + ": V1", bounds=(0.005, 5.0), kind="published")
    k10_per_min: float = param(0.438, "1/min", DOMINO1982 + ": k10", bounds=(1e-4, 10.0), kind="published")
    k12_per_min: float = param(0.592, "1/min", DOMINO1982 + ": k12 (fast peripheral)", bounds=(0.0, 10.0),
                               kind="published")
    k21_per_min: float = param(0.247, "1/min", DOMINO1982 + ": k21", bounds=(1e-4, 10.0), kind="published")
    k13_per_min: float = param(0.590, "1/min", DOMINO1982 + ": k13 (slow peripheral)", bounds=(0.0, 10.0),
                               kind="published")
    k31_per_min: float = param(0.0146, "1/min", DOMINO1982 + ": k31", bounds=(1e-5, 10.0), kind="published")
    female_cl_factor: float = param(1.0, "1", "assumed: no sex covariate in " + DOMINO1982.split(":")[0],
                                    bounds=(0.2, 5.0), kind="assumed")

    name = "domino1982"
    species = "human"
    description = "racemic ketamine, human, three compartments (Domino 1982): V1 0.063 L/kg, CL 1.66 L/h/kg"
    enantiomers = ("racemic",)

    def disposition(self, subject: Subject) -> Disposition:
        sex = self.female_cl_factor if subject.sex == "female" else 1.0
        v1 = self.v1_L_per_kg * subject.weight_kg
        per_h = 60.0
        return Disposition(v_central_L=v1, cl_L_per_h=v1 * self.k10_per_min * per_h * sex,
                           fm_norketamine=self.fm_norketamine, q1_L_per_h=v1 * self.k12_per_min * per_h,
                           v1_L=v1 * self.k12_per_min / self.k21_per_min, q2_L_per_h=v1 * self.k13_per_min * per_h,
                           v2_L=v1 * self.k13_per_min / self.k31_per_min, brain_within="peripheral2",
                           **self._common(subject, True))


@dataclass(frozen=True)
class Fanta2015(_SwallowedNasal, _HumanCommon, PkModel):
    """S-ketamine, human: three compartments (Fanta 2015) with S-norketamine from Otto 2021."""

    v1_L: float = param(133.0, "L", FANTA2015 + ": V1", bounds=(1.0, 5000.0), kind="published")
    cl_L_per_h: float = param(95.2, "L/h", FANTA2015 + ": CL", bounds=(1.0, 1000.0), kind="published")
    v2_L: float = param(187.0, "L", FANTA2015 + ": V2", bounds=(1.0, 5000.0), kind="published")
    q2_L_per_h: float = param(23.2, "L/h", FANTA2015 + ": Q2", bounds=(0.0, 5000.0), kind="published")
    v3_L: float = param(98.8, "L", FANTA2015 + ": V3", bounds=(1.0, 5000.0), kind="published")
    q3_L_per_h: float = param(157.0, "L/h", FANTA2015 + ": Q3", bounds=(0.0, 5000.0), kind="published")
    oral_f: float = param(0.08, "1", FANTA2015 + ": oral bioavailability 8 %", bounds=(0.0, 1.0), kind="published")
    female_cl_factor: float = param(1.2, "1", "women ~20 % higher S-ketamine clearance (Sigtermans et al. 2009 "
                                    "Anesthesiology 111:892)", bounds=(0.2, 5.0),
                                    kind="published")

    name = "fanta2015"
    species = "human"
    description = "S-ketamine, human, three compartments (Fanta 2015) + S-norketamine (Otto 2021)"
    enantiomers = ("esketamine",)
    oral_source = FANTA2015

    def disposition(self, subject: Subject) -> Disposition:
        w = subject.weight_kg
        sex = self.female_cl_factor if subject.sex == "female" else 1.0

        def cl(x):
            return allometric(x, w, 70.0, 0.75)

        def v(x):
            return allometric(x, w, 70.0, 1.0)

        return Disposition(v_central_L=v(self.v1_L), cl_L_per_h=cl(self.cl_L_per_h) * sex,
                           fm_norketamine=self.fm_norketamine, q1_L_per_h=cl(self.q3_L_per_h), v1_L=v(self.v3_L),
                           q2_L_per_h=cl(self.q2_L_per_h), v2_L=v(self.v2_L), **self._common(subject, True))


@dataclass(frozen=True)
class PerezRuixo2021(PkModel):
    """Esketamine nasal spray, human (n = 820): 3 compartments + hepato-portal compartment, noresketamine.

    Elimination happens in the hepato-portal compartment (rate constants ``kel`` to other metabolites and ``kmet``
    to noresketamine); systemic clearance emerges as the well-stirred ``Qh·CLint/(Qh + CLint)`` with
    ``CLint = Vh·(kel + kmet)``. An intranasal dose splits: the fraction ``FRn`` is absorbed through the nasal
    mucosa (first order, ``ka_n``); the rest is swallowed, enters the gut over ``Dsw`` (zero order) and is absorbed
    (``ka_sw``) into the hepato-portal compartment with intestinal availability ``Fgut``. The per-device FRn falls
    for the second and later 28-mg devices of one dose by the factor 0.62 (Table 3), which gives the published
    absolute bioavailabilities of 54 % (56 mg) and 51 % (84 mg). Body weight and sex had no effect (Results), so
    nothing is scaled. The noresketamine parameters are apparent (÷F); encoded literally as in the paper's
    equations (kmet × A_liver into noresketamine) — nlmixr2lib notes this over-predicts the noresketamine AUC of
    Table 4 by ~1.4× while matching its Cmax.
    """

    vc_L: float = param(192.0, "L", PEREZ2021 + ": Vc", bounds=(1.0, 5000.0), kind="published")
    q1_L_per_h: float = param(84.3, "L/h", PEREZ2021 + ": Q1", bounds=(0.0, 5000.0), kind="published")
    vp1_L: float = param(143.0, "L", PEREZ2021 + ": Vp1", bounds=(1.0, 5000.0), kind="published")
    q2_L_per_h: float = param(37.6, "L/h", PEREZ2021 + ": Q2", bounds=(0.0, 5000.0), kind="published")
    vp2_L: float = param(417.0, "L", PEREZ2021 + ": Vp2", bounds=(1.0, 5000.0), kind="published")
    qh_L_per_h: float = param(151.0, "L/h", PEREZ2021 + ": hepatic blood flow Qh", bounds=(1.0, 5000.0),
                              kind="published")
    vh_L: float = param(101.0, "L", PEREZ2021 + ": hepato-portal volume Vh", bounds=(1.0, 5000.0), kind="published")
    kel_per_h: float = param(1.11, "1/h", PEREZ2021 + ": kel (to other metabolites)", bounds=(0.0, 100.0),
                             kind="published")
    kmet_per_h: float = param(2.77, "1/h", PEREZ2021 + ": kmet (to noresketamine)", bounds=(0.0, 100.0),
                              kind="published")
    ka_nasal_per_h: float = param(2.93, "1/h", PEREZ2021 + ": ka,n", bounds=(0.01, 100.0), kind="published")
    frn: float = param(0.54, "1", PEREZ2021 + ": fraction of a 28-mg device absorbed nasally, FRn",
                       bounds=(0.0, 1.0), kind="published")
    frn_later_device_factor: float = param(0.62, "1", PEREZ2021 + ": dose effect on FRn for the 2nd and later "
                                           "28-mg devices", bounds=(0.0, 1.0), kind="published")
    device_mg: float = param(28.0, "mg", "Spravato device content, 28 mg esketamine", bounds=(1.0, 100.0),
                             kind="published")
    d_swallowed_h: float = param(0.53, "h", PEREZ2021 + ": zero-order duration of the swallowed part, Dsw",
                                 bounds=(0.0, 24.0), kind="published")
    ka_swallowed_per_h: float = param(1.45, "1/h", PEREZ2021 + ": ka,sw", bounds=(0.01, 100.0), kind="published")
    d_oral_h: float = param(0.32, "h", PEREZ2021 + ": zero-order duration of an oral solution, Dpo",
                            bounds=(0.0, 24.0), kind="published")
    ka_oral_per_h: float = param(0.97, "1/h", PEREZ2021 + ": ka,po", bounds=(0.01, 100.0), kind="published")
    fgut: float = param(0.64, "1", PEREZ2021 + ": fraction escaping intestinal metabolism, Fgut",
                        bounds=(0.0, 1.0), kind="published")
    nor_vc_L: float = param(70.0, "L", PEREZ2021 + ": Vcn/F", bounds=(1.0, 5000.0), kind="published")
    nor_cl_L_per_h: float = param(38.0, "L/h", PEREZ2021 + ": CLn/F", bounds=(0.1, 1000.0), kind="published")
    nor_vp_L: float = param(115.0, "L", PEREZ2021 + ": Vpn/F", bounds=(1.0, 5000.0), kind="published")
    nor_q_L_per_h: float = param(26.1, "L/h", PEREZ2021 + ": Q3/F", bounds=(0.0, 5000.0), kind="published")
    kp_brain: float = param(6.5, "1", "assumed: the rodent brain:plasma ratio (Cohen et al. 1973)",
                            bounds=(0.1, 100.0), kind="assumed")
    fu_plasma: float = param(0.55, "1", PROTEIN_BINDING, bounds=(0.01, 1.0), kind="published")
    nor_kp_brain: float = param(2.0, "1", "assumed: no brain:plasma ratio of norketamine adopted",
                                bounds=(0.1, 100.0), kind="assumed")
    nor_fu_plasma: float = param(0.40, "1", "assumed: " + KAKA1980, bounds=(0.01, 1.0), kind="assumed")

    name = "perez-ruixo2021"
    species = "human"
    description = "esketamine, human (Perez-Ruixo 2021): nasal + swallowed absorption, hepato-portal first pass"
    enantiomers = ("esketamine",)

    def __post_init__(self):
        check_bounds(self)

    def frn_effective(self, dose_mg_base: float) -> float:
        """Nasally absorbed fraction of a dose of ``n = round(dose / 28 mg)`` devices (at least 1):
        ``FRn (1 + (n − 1)·0.62) / n``."""
        n = max(1, int(round(dose_mg_base / self.device_mg)))
        return self.frn * (1 + (n - 1) * self.frn_later_device_factor) / n

    def routes(self) -> dict[str, RouteAbsorption]:
        return {
            "intranasal": RouteAbsorption(self.ka_nasal_per_h, 1.0, kind="published", ka_kind="published",
                                          source=PEREZ2021 + ": nasal part completely absorbed"),
            "oral": RouteAbsorption(self.ka_oral_per_h, 0.0, self.fgut, kind="published", ka_kind="published",
                                    source=PEREZ2021 + ": oral solution, Fgut into the hepato-portal compartment"),
        }

    def depot_absorption(self) -> dict[str, RouteAbsorption]:
        d = super().depot_absorption()
        d["gut_swallowed"] = RouteAbsorption(self.ka_swallowed_per_h, 0.0, self.fgut, kind="published",
                                             ka_kind="published", source=PEREZ2021 + ": swallowed part of a nasal dose")
        return d

    def dose_parts(self, route, dose_mg_base, duration_h=None):
        if route == "intranasal":
            f = self.frn_effective(dose_mg_base)
            return (DosePart("depot_nasal", f), DosePart("gut_swallowed", 1.0 - f, self.d_swallowed_h))
        if route == "oral":
            return (DosePart("gut", 1.0, self.d_oral_h),)
        return super().dose_parts(route, dose_mg_base, duration_h)

    @property
    def hepatic_extraction(self) -> float:
        """Well-stirred extraction ratio ``CLint / (Qh + CLint)``, ``CLint = Vh (kel + kmet)``."""
        clint = self.vh_L * (self.kel_per_h + self.kmet_per_h)
        return clint / (self.qh_L_per_h + clint)

    def disposition(self, subject: Subject) -> Disposition:
        b = HUMAN_BRAIN
        return Disposition(
            v_central_L=self.vc_L, cl_L_per_h=0.0, fm_norketamine=0.0, fu_plasma=self.fu_plasma,
            kp_brain=self.kp_brain, v_brain_L=b.v_brain_L, q_brain_L_per_h=b.q_brain_L_per_h,
            q1_L_per_h=self.q1_L_per_h, v1_L=self.vp1_L, q2_L_per_h=self.q2_L_per_h, v2_L=self.vp2_L,
            qh_L_per_h=self.qh_L_per_h, vh_L=self.vh_L, kel_liver_per_h=self.kel_per_h,
            kmet_liver_per_h=self.kmet_per_h, nor_v_central_L=self.nor_vc_L, nor_cl_L_per_h=self.nor_cl_L_per_h,
            nor_q_L_per_h=self.nor_q_L_per_h, nor_vp_L=self.nor_vp_L, nor_kp_brain=self.nor_kp_brain,
            nor_fu_plasma=self.nor_fu_plasma)


@dataclass(frozen=True)
class HnkDisposition:
    """A (2,6)-hydroxynorketamine of one enantiomer: the fraction of its norketamine's clearance that forms it, its
    clearance (L/h) and its volume (L), one compartment."""

    f_formation: float
    cl_L_per_h: float
    v_L: float


@dataclass(frozen=True)
class Hasan2021(_SwallowedNasal, _HumanCommon, PkModel):
    """S- and R-ketamine, their norketamines and (2S,6S)-/(2R,6R)-hydroxynorketamine as separate species, human.

    Each enantiomer has its own clearance and steady-state volume from Hasan et al. 2021 (racemic ketamine 5 mg
    i.v., 15 subjects, chiral assay): S 1620 mL/min and 6.6 L/kg, R 1530 mL/min and 5.6 L/kg. No compartmental
    model of the enantiomers with a central volume was found, so both share the three-compartment shape of
    :class:`Domino1982` (racemic; V1 0.063 L/kg and both distribution clearances), the enantiomers not differing
    in distribution (Henthorn et al. 1999, dog), and the deep peripheral volume is what makes up each Vss. This
    gives terminal half-lives of 5.2 h (S) and 4.6 h (R) against Hasan's 5.2 ± 3.4 and 6.1 ± 3.1 h (validation).

    Metabolism: 80 % of each ketamine forms its norketamine (Simons et al. 2022 for S; R assumed alike); the
    norketamines are Otto et al. 2021's S-norketamine (R assumed alike); 70 % of norketamine clearance forms the
    (2,6)-hydroxynorketamine (Simons 2022: 56 % of the S-ketamine dose, 0.56/0.80; R assumed alike), whose
    clearance is calibrated so the HNK:ketamine AUC ratio after i.v. ketamine is Hasan's 1.7 (S) and 3.1 (R):
    ``AUC_HNK/AUC_ket = fm · f_HNK · CL_ket / CL_HNK`` for this linear chain. No brain level of HNK is modelled (no
    human or usable animal brain:plasma ratio was found); HNK does not enter NMDA occupancy (see
    :mod:`pkpd.receptor`). There is no chiral inversion (Geisslinger et al. 1993 Br J Anaesth 70:666), so a racemic
    dose is half S, half R, esketamine all S and arketamine all R, and by linearity racemic = S + R. Hasan's
    clearances were measured after the racemate; R-ketamine is reported to slow the elimination of S-ketamine
    (Ihmsen et al. 2001 Clin Pharmacol Ther 70:431), an interaction this linear set does not carry.
    """

    v1_L_per_kg: float = param(0.063, "L/kg", DOMINO1982 + ": V1 (racemic), for each enantiomer", bounds=(0.005, 5.0),
                               kind="published")
    k12_per_min: float = param(0.592, "1/min", DOMINO1982 + ": k12", bounds=(0.0, 10.0), kind="published")
    k21_per_min: float = param(0.247, "1/min", DOMINO1982 + ": k21", bounds=(1e-4, 10.0), kind="published")
    k13_per_min: float = param(0.590, "1/min", DOMINO1982 + ": k13 (slow distribution clearance V1·k13)",
                               bounds=(0.0, 10.0), kind="published")
    s_cl_mL_per_min: float = param(1620.0, "mL/min", HASAN2021 + ": S-ketamine metabolic clearance 1620 ± 380",
                                   bounds=(10.0, 1e5), kind="published")
    r_cl_mL_per_min: float = param(1530.0, "mL/min", HASAN2021 + ": R-ketamine metabolic clearance 1530 ± 380",
                                   bounds=(10.0, 1e5), kind="published")
    s_vss_L_per_kg: float = param(6.6, "L/kg", HASAN2021 + ": S-ketamine Vss 6.6 ± 2.2", bounds=(0.5, 50.0),
                                  kind="published")
    r_vss_L_per_kg: float = param(5.6, "L/kg", HASAN2021 + ": R-ketamine Vss 5.6 ± 2.1", bounds=(0.5, 50.0),
                                  kind="published")
    reference_weight_kg: float = param(70.0, "kg", "assumed: the subjects' mean weight is not in " +
                                       HASAN2021.split(" (")[0] + "'s abstract; clearance scales from 70 kg "
                                       "(exponent 0.75)", bounds=(20.0, 200.0), kind="assumed")
    fm_norketamine: float = param(0.8, "1", SIMONS2022 + " for S; R assumed alike (" + PELTONIEMI2016 + ")",
                                  bounds=(0.0, 1.0), kind="published")
    s_f_hnk: float = param(0.70, "1", "derived: " + SIMONS2022 + ": 0.56/0.80 of S-norketamine clearance forms "
                           "(2S,6S)-HNK", bounds=(0.0, 1.0), kind="derived")
    r_f_hnk: float = param(0.70, "1", "assumed: as S (no R-specific fraction found)", bounds=(0.0, 1.0),
                           kind="assumed")
    s_hnk_ket_auc_ratio: float = param(1.7, "1", HASAN2021 + ": (2S,6S)-HNK:S-ketamine AUC ratio after i.v. "
                                       "1.7 ± 0.8; calibrates the HNK clearance (taken as molar; the masses differ "
                                       "by < 1 %)", bounds=(0.01, 100.0),
                                       kind="published")
    r_hnk_ket_auc_ratio: float = param(3.1, "1", HASAN2021 + ": (2R,6R)-HNK:R-ketamine AUC ratio after i.v. "
                                       "3.1 ± 1.4; calibrates the HNK clearance", bounds=(0.01, 100.0),
                                       kind="published")
    nor_v_central_L: float = param(98.6, "L", OTTO2021 + "; R-norketamine assumed alike", bounds=(1.0, 5000.0),
                                   kind="published")
    nor_cl_L_per_h: float = param(57.7, "L/h", OTTO2021 + "; R-norketamine assumed alike", bounds=(0.1, 1000.0),
                                  kind="published")
    nor_vp_L: float = param(160.0, "L", OTTO2021 + "; R-norketamine assumed alike", bounds=(1.0, 5000.0),
                            kind="published")
    nor_q_L_per_h: float = param(42.8, "L/h", OTTO2021 + "; R-norketamine assumed alike", bounds=(0.1, 1000.0),
                                 kind="published")
    hnk_v_L: float = param(258.6, "L", "assumed: one compartment with the Vss of S-norketamine (" + OTTO2021 +
                           ": 98.6 + 160 L); no HNK volume found", bounds=(1.0, 5000.0), kind="assumed")
    female_cl_factor: float = param(1.0, "1", "assumed: no sex covariate in " + HASAN2021.split(" (")[0],
                                    bounds=(0.2, 5.0), kind="assumed")

    name = "hasan2021"
    species = "human"
    description = ("S-/R-ketamine, -norketamine and 2,6-HNK, human: CL and Vss per enantiomer (Hasan 2021), "
                   "Domino 1982 shape")
    enantiomers = ("racemic", "esketamine", "arketamine")
    resolved = True

    def disposition(self, subject: Subject) -> Disposition:
        raise ValueError(f"pk-model: {self.name} is enantiomer-resolved (S and R apart); use "
                         "enantiomer_disposition(subject, 's' or 'r')")

    def ketamine_cl_L_per_h(self, subject: Subject, enantiomer: str) -> float:
        """Clearance (L/h) of S- (``'s'``) or R-ketamine (``'r'``) for ``subject``."""
        cl = {"s": self.s_cl_mL_per_min, "r": self.r_cl_mL_per_min}[enantiomer] * 60.0 / 1000.0
        sex = self.female_cl_factor if subject.sex == "female" else 1.0
        return allometric(cl, subject.weight_kg, self.reference_weight_kg, 0.75) * sex

    def enantiomer_disposition(self, subject: Subject, enantiomer: str) -> Disposition:
        """The :class:`Disposition` of S- (``'s'``) or R-ketamine (``'r'``) and its norketamine."""
        if enantiomer not in ("s", "r"):
            raise ValueError(f"enantiomer: expected 's' or 'r', got {enantiomer!r}")
        w = subject.weight_kg
        vss = {"s": self.s_vss_L_per_kg, "r": self.r_vss_L_per_kg}[enantiomer] * w
        v1 = self.v1_L_per_kg * w
        v2 = v1 * self.k12_per_min / self.k21_per_min
        v3 = vss - v1 - v2
        if v3 <= 0:
            raise ValueError("vss: the steady-state volume must exceed V1 + V2 of the distribution shape")
        return Disposition(v_central_L=v1, cl_L_per_h=self.ketamine_cl_L_per_h(subject, enantiomer),
                           fm_norketamine=self.fm_norketamine, q1_L_per_h=v1 * self.k12_per_min * 60.0, v1_L=v2,
                           q2_L_per_h=v1 * self.k13_per_min * 60.0, v2_L=v3, brain_within="peripheral2",
                           **self._common(subject, True))

    def hnk(self, subject: Subject, enantiomer: str) -> HnkDisposition:
        """The (2,6)-HNK of S- (``'s'``) or R-ketamine (``'r'``): clearance from the AUC-ratio calibration."""
        f = {"s": self.s_f_hnk, "r": self.r_f_hnk}[enantiomer]
        ratio = {"s": self.s_hnk_ket_auc_ratio, "r": self.r_hnk_ket_auc_ratio}[enantiomer]
        cl = self.fm_norketamine * f * self.ketamine_cl_L_per_h(subject, enantiomer) / ratio
        return HnkDisposition(f, cl, allometric(self.hnk_v_L, subject.weight_kg, 70.0, 1.0))


PK_MODELS: dict[str, PkModel] = {m.name: m for m in (MouseKetamine(), Domino1982(), Kamp2020(), Fanta2015(),
                                                     PerezRuixo2021(), Hasan2021())}


def get_pk_model(name: str | None, species: str) -> PkModel:
    """The parameter set ``name`` (default: the species default), checked against ``species``."""
    from .species import get_species

    sp = get_species(species)
    key = sp.default_pk_model if name is None else str(name).strip().lower()
    if key not in PK_MODELS:
        raise ValueError(f"pk-model: unknown PK model {name!r}; expected one of {', '.join(PK_MODELS)}")
    model = PK_MODELS[key]
    if model.species != sp.name:
        names = [m.name for m in PK_MODELS.values() if m.species == sp.name]
        raise ValueError(f"pk-model: {key!r} is a {model.species} model; for species {sp.name} expected one of "
                         f"{', '.join(names)}")
    return model


def parameter_table(species: str | None = None, model: str | None = None) -> list[dict]:
    """Every parameter (value, unit, kind, source, bounds) of the PK sets, brain physiology and NMDA block."""
    from .receptor import NmdaParams

    rows: list[dict] = []
    for m in PK_MODELS.values():
        if (species and m.species != species) or (model and m.name != model):
            continue
        rows += m.parameter_rows()
    if not model:
        for sp_name, brain in (("mouse", MOUSE_BRAIN), ("human", HUMAN_BRAIN)):
            if species and species != sp_name:
                continue
            for r in describe(brain, f"brain.{sp_name}"):
                if sp_name == "human":
                    r["source"] = HUMAN_BRAIN_SOURCES[r["name"]]
                rows.append(r)
        rows += describe(NmdaParams(), "nmda")
    return rows
