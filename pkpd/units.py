"""Units for doses, salts, concentrations and times: one place for molar masses, one conversion function each.

Internal units of the PK model (used everywhere below ``pkpd``):

=================  ==========================================================================
quantity           internal unit
=================  ==========================================================================
time               hour (h); convert with :func:`to_hours` / :func:`parse_time`
amount             micromole (µmol) of the free base
volume             litre (L)
concentration      µmol/L = µM (amount / volume, no conversion factor)
mass doses         milligram (mg) of the form that was weighed (salt or base), see :func:`dose_to_umol`
=================  ==========================================================================

Salt form. Ketamine is sold and weighed as the hydrochloride (MW 274.19 g/mol); the free base (MW 237.73 g/mol)
is what circulates. A dose "10 mg/kg of ketamine HCl" is 10 × 237.73/274.19 = 8.67 mg/kg of base. Rodent doses
are conventionally weighed as the HCl salt (Wu et al. 2021 eLife, Methods), so the mouse default salt is ``hcl``;
clinical doses are labelled as base (Ketalar® vials state "ketamine hydrochloride equivalent to N mg ketamine
base"; Spravato® 28 mg is esketamine base), so the human default is ``base``. The defaults live in
:mod:`pkpd.species`; every output states which salt was applied.

Molar masses (computed from the formulas with IUPAC standard atomic weights): ketamine C13H16ClNO 237.73 g/mol,
ketamine hydrochloride C13H17Cl2NO 274.19 g/mol, norketamine C12H14ClNO 223.70 g/mol.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "MOLAR_MASS_G_PER_MOL", "KETAMINE_BASE_G_PER_MOL", "KETAMINE_HCL_G_PER_MOL", "NORKETAMINE_BASE_G_PER_MOL",
    "SALTS", "TIME_UNITS", "MASS_UNITS_MG", "DOSE_UNITS", "MAX_DOSE_MG_PER_KG", "MAX_DOSE_MG", "DoseAmount",
    "salt_factor", "parse_salt", "to_hours", "parse_time", "parse_dose", "dose_amount", "dose_to_umol",
    "mg_to_umol", "umol_to_mg", "uM_to_ng_per_mL", "ng_per_mL_to_uM", "parse_weight", "format_hours",
]

#: Molar masses of the free bases, g/mol. The only place these numbers appear.
KETAMINE_BASE_G_PER_MOL = 237.73
KETAMINE_HCL_G_PER_MOL = 274.19
NORKETAMINE_BASE_G_PER_MOL = 223.70
MOLAR_MASS_G_PER_MOL = {"ketamine": KETAMINE_BASE_G_PER_MOL, "norketamine": NORKETAMINE_BASE_G_PER_MOL}

#: Salt form -> mass of free base per mass weighed (dimensionless).
SALTS = {"base": 1.0, "hcl": KETAMINE_BASE_G_PER_MOL / KETAMINE_HCL_G_PER_MOL}
_SALT_ALIASES = {"base": "base", "free-base": "base", "freebase": "base", "hcl": "hcl", "hydrochloride": "hcl",
                 "salt": "hcl"}

#: Time unit -> hours.
TIME_UNITS = {"s": 1.0 / 3600.0, "sec": 1.0 / 3600.0, "min": 1.0 / 60.0, "h": 1.0, "hr": 1.0, "hour": 1.0,
              "hours": 1.0, "d": 24.0, "day": 24.0, "days": 24.0, "w": 168.0, "week": 168.0, "weeks": 168.0}

#: Mass unit -> milligrams.
MASS_UNITS_MG = {"g": 1e3, "mg": 1.0, "ug": 1e-3, "µg": 1e-3, "μg": 1e-3, "mcg": 1e-3, "ng": 1e-6}
_MOLAR_UNITS_UMOL = {"mmol": 1e3, "umol": 1.0, "µmol": 1.0, "μmol": 1.0}

#: Every accepted dose unit (the canonical spelling).
DOSE_UNITS = tuple(f"{u}{k}" for u in ("g", "mg", "ug", "ng", "mmol", "umol") for k in ("", "/kg"))

# ASCII digits only: ``\d`` (and ``float``) also take full-width and other Unicode digits ("１０mg/kg")
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"

#: Largest dose accepted, per kg of body weight and in total (mg of the form weighed; molar doses converted with
#: the base's molar mass). **Assumed** ceilings, set far above any dose in use — anaesthesia in rodents is 100–
#: 200 mg/kg (ketamine:xylazine 100:12.5 mg/kg in Wu et al. 2021 eLife Methods) — so that they catch unit
#: mistakes such as ``1e6g/kg`` or mg typed for µg, never a real protocol.
MAX_DOSE_MG_PER_KG = 1000.0
MAX_DOSE_MG = 100_000.0


def _canon_mass(u: str) -> str:
    return {"µg": "ug", "μg": "ug", "mcg": "ug", "µmol": "umol", "μmol": "umol"}.get(u, u)


def _finite_number(x, field: str) -> float:
    if isinstance(x, bool) or (isinstance(x, str) and not x.isascii()):
        raise ValueError(f"{field}: expected a number written with ASCII digits, got {x!r}")
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: expected a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{field}: expected a finite number, got {x!r}")
    return v


# ---- salts -------------------------------------------------------------------------------------------------
def parse_salt(text: str, field: str = "salt") -> str:
    """Canonical salt name (``"hcl"`` or ``"base"``) from user text; ``ValueError`` naming ``field`` otherwise."""
    key = str(text).strip().lower()
    if key not in _SALT_ALIASES:
        raise ValueError(f"{field}: unknown salt form {text!r}; expected 'hcl' (hydrochloride) or 'base'")
    return _SALT_ALIASES[key]


def salt_factor(salt: str) -> float:
    """Mass of ketamine free base per mass weighed: 1 for ``base``, 237.73/274.19 = 0.867 for ``hcl``."""
    return SALTS[parse_salt(salt)]


# ---- time --------------------------------------------------------------------------------------------------
def to_hours(value: float, unit: str, field: str = "time") -> float:
    """Convert ``value`` in ``unit`` (s, min, h, d, w and spelled-out forms) to hours, the internal time unit."""
    u = str(unit).strip().lower()
    if u not in TIME_UNITS:
        raise ValueError(f"{field}: unknown time unit {unit!r}; expected one of s, min, h, d, w")
    return _finite_number(value, field) * TIME_UNITS[u]


_TIME_FORM = "a number with a unit such as '4h', '40min', '30s' or '2d'"


def parse_time(text, field: str = "time", *, default_unit: str | None = None, allow_zero: bool = True) -> float:
    """Parse ``"4h"``, ``"40 min"``, ``"30s"``, ``"2d"`` into hours.

    Parameters
    ----------
    text : str or float
        A number followed by a unit. A bare number is accepted only when ``default_unit`` is given.
    field : str
        Name used in error messages (for example ``"duration"``).
    default_unit : str, optional
        Unit of a bare number (event tables use hours).
    allow_zero : bool
        Whether 0 is acceptable (a time point may be 0; a duration may not).

    Returns
    -------
    float
        The time in hours (>= 0).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if default_unit is None:
            raise ValueError(f"{field}: {text!r} has no unit; expected {_TIME_FORM}")
        hours = to_hours(text, default_unit, field)
    else:
        s = str(text).strip()
        m = re.fullmatch(rf"({_NUMBER})\s*([A-Za-zµ]*)", s)
        if not m:
            raise ValueError(f"{field}: cannot read {text!r} as a time; expected {_TIME_FORM}")
        number, unit = m.groups()
        if not unit:
            if default_unit is None:
                raise ValueError(f"{field}: {text!r} has no unit; expected {_TIME_FORM}")
            unit = default_unit
        hours = to_hours(number, unit, field)
    if hours < 0 or (hours == 0 and not allow_zero):
        raise ValueError(f"{field}: expected a {'non-negative' if allow_zero else 'positive'} time, got {text!r}")
    return hours


def format_hours(hours: float) -> str:
    """A short human form of a time in hours (``0.6667 h`` -> ``"40 min"``)."""
    if hours == 0:
        return "0 h"
    if hours < 1:
        return f"{hours * 60:g} min"
    if hours >= 48 and abs(hours / 24 - round(hours / 24)) < 1e-9:
        return f"{hours / 24:g} d"
    return f"{hours:g} h"


# ---- doses -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DoseAmount:
    """A dose amount as written by the user: ``value`` in ``unit`` (e.g. 10 ``mg/kg``, 56 ``mg``, 12.5 ``ug``).

    Attributes
    ----------
    value : float
        Positive amount.
    unit : str
        One of :data:`DOSE_UNITS` (mass or molar, optionally per kg of body weight).
    """

    value: float
    unit: str

    def __post_init__(self):
        v = _finite_number(self.value, "dose")
        if v <= 0:
            raise ValueError(f"dose: expected a positive amount, got {self.value!r} {self.unit}")
        u = _canon_unit(self.unit)
        base, _, per = u.partition("/")
        mg = v * (MASS_UNITS_MG[base] if base in MASS_UNITS_MG
                  else _MOLAR_UNITS_UMOL[base] * KETAMINE_BASE_G_PER_MOL * 1e-3)
        ceiling = MAX_DOSE_MG_PER_KG if per else MAX_DOSE_MG
        if mg > ceiling:
            raise ValueError(f"dose: {self.value!r} {u} is {mg:.4g} mg{'/kg' if per else ''}, above the ceiling of "
                             f"{ceiling:g} mg{'/kg' if per else ''} (far beyond anaesthetic doses); check the unit")
        object.__setattr__(self, "value", v)
        object.__setattr__(self, "unit", u)

    @property
    def per_kg(self) -> bool:
        """Whether the amount is per kg of body weight."""
        return self.unit.endswith("/kg")

    @property
    def molar(self) -> bool:
        """Whether the amount is in moles (then the salt form does not matter)."""
        return self.unit.split("/")[0] in _MOLAR_UNITS_UMOL

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


def _canon_unit(unit: str) -> str:
    u = str(unit).strip().replace(" ", "")
    base, _, per = u.partition("/")
    base = _canon_mass(base.lower() if base not in ("µg", "μg", "µmol", "μmol") else base)
    if per and per.lower() != "kg":
        raise ValueError(f"dose: unknown unit {unit!r}; expected one of {', '.join(DOSE_UNITS)}")
    if base not in MASS_UNITS_MG and base not in _MOLAR_UNITS_UMOL:
        raise ValueError(f"dose: unknown unit {unit!r}; expected one of {', '.join(DOSE_UNITS)}")
    return base + ("/kg" if per else "")


def dose_amount(value, unit: str) -> DoseAmount:
    """Build a validated :class:`DoseAmount` (``ValueError`` for a non-positive value or an unknown unit)."""
    return DoseAmount(value, unit)


def parse_dose(text: str) -> DoseAmount:
    """Parse ``"10mg/kg"``, ``"0.5 mg/kg"``, ``"56mg"``, ``"12.5ug"`` (also µg, mcg, g, ng, umol, mmol).

    Raises
    ------
    ValueError
        Naming the field ``dose`` and the expected form, for text that is not a number with a known unit, for
        zero or negative amounts, and for unknown units such as ``10mg/lb``.
    """
    s = str(text).strip()
    m = re.fullmatch(rf"({_NUMBER})\s*([^\d\s].*)?", s)
    if not m:
        raise ValueError(f"dose: cannot read {text!r}; expected a number with a unit such as '10mg/kg', "
                         "'0.5 mg/kg', '56mg' or '12.5ug'")
    number, unit = m.groups()
    if not unit:
        raise ValueError(f"dose: {text!r} has no unit; expected e.g. '10mg/kg' or '56mg'")
    return DoseAmount(float(number), unit)


def parse_weight(text, field: str = "weight") -> float:
    """Body weight in kg from ``"25g"``, ``"0.025kg"``, ``"70kg"`` or a bare number (kg)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _finite_number(text, field)
    s = str(text).strip()
    m = re.fullmatch(rf"({_NUMBER})\s*(kg|g|mg)?", s, flags=re.IGNORECASE)
    if not m:
        raise ValueError(f"{field}: cannot read {text!r}; expected a body weight such as '25g' or '70kg'")
    number, unit = m.groups()
    factor = {"kg": 1.0, "g": 1e-3, "mg": 1e-6, None: 1.0}[unit.lower() if unit else None]
    return _finite_number(number, field) * factor


def mg_to_umol(mass_mg: float, drug: str = "ketamine") -> float:
    """Milligrams of free base -> micromoles (µmol = mg / (g/mol) × 1000)."""
    return mass_mg / MOLAR_MASS_G_PER_MOL[drug] * 1e3


def umol_to_mg(amount_umol: float, drug: str = "ketamine") -> float:
    """Micromoles -> milligrams of free base."""
    return amount_umol * MOLAR_MASS_G_PER_MOL[drug] * 1e-3


def dose_to_umol(dose: DoseAmount, *, weight_kg: float, salt: str) -> float:
    """The amount of ketamine free base, in µmol, that a dose delivers.

    Parameters
    ----------
    dose : DoseAmount
    weight_kg : float
        Body weight, used for per-kg doses.
    salt : {"hcl", "base"}
        The form that was weighed; ignored for molar units.

    Returns
    -------
    float
        µmol of ketamine base. Example: 10 mg/kg HCl for a 25 g mouse = 0.25 mg HCl = 0.2168 mg base = 0.912 µmol.
    """
    base, _, _ = dose.unit.partition("/")
    scale = weight_kg if dose.per_kg else 1.0
    if base in _MOLAR_UNITS_UMOL:
        return dose.value * _MOLAR_UNITS_UMOL[base] * scale
    mass_mg = dose.value * MASS_UNITS_MG[base] * scale
    return mg_to_umol(mass_mg * salt_factor(salt), "ketamine")


def uM_to_ng_per_mL(conc_uM, drug: str = "ketamine"):
    """µM -> ng/mL: 1 µM = MW µg/L = MW ng/mL (MW in g/mol). Works on floats and arrays."""
    return conc_uM * MOLAR_MASS_G_PER_MOL[drug]


def ng_per_mL_to_uM(conc_ng_per_mL, drug: str = "ketamine"):
    """ng/mL -> µM (inverse of :func:`uM_to_ng_per_mL`)."""
    return conc_ng_per_mL / MOLAR_MASS_G_PER_MOL[drug]
