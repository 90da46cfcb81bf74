"""Species and subjects: body weight and sex as covariates, the default salt form, brain physiology.

Two species are modelled: the mouse (default 25 g; the species of Wu et al. 2021) and the human (default 70 kg,
the reference weight of the published population models). A :class:`Subject` is one animal or person: species,
body weight and sex. Allometric scaling of clearances (exponent 0.75) and volumes (exponent 1) from a model's
reference weight is done by :func:`allometric` (Anderson & Holford 2008, Annu Rev Pharmacol Toxicol 48:303);
whether a model scales at all is the model's choice (see :mod:`pkpd.pk_models`).

Brain physiology (volume and blood flow) comes from the compilation of Brown et al. 1997 (Toxicol Ind Health
13:407–484, "Physiological parameter values for physiologically based pharmacokinetic models"). It is held fixed
within a species (a heavier adult does not have a proportionally heavier brain).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .parameters import check_bounds, is_finite_real, param

__all__ = ["Species", "Subject", "BrainPhysiology", "SPECIES", "SEXES", "allometric", "get_species"]

SEXES = ("male", "female")
_BROWN = "Brown et al. 1997 Toxicol Ind Health 13:407 (PBPK physiological parameter compilation)"


@dataclass(frozen=True)
class BrainPhysiology:
    """Brain tissue volume and blood flow of a reference animal.

    The brain compartment of the PK model (:mod:`pkpd.pk`) is perfusion-limited: its uptake clearance is the
    brain blood flow, and it holds ``kp × volume`` litres of plasma-equivalent distribution volume.
    """

    reference_weight_kg: float = param(0.025, "kg", "reference body weight of the species", bounds=(0.005, 500.0),
                                       kind="assumed")
    brain_fraction_of_body_weight: float = param(0.0165, "kg/kg", _BROWN + ": mouse brain 1.65 % of body weight",
                                                 bounds=(1e-3, 0.1), kind="published")
    cardiac_output_L_per_h: float = param(13.98 * 60 / 1000, "L/h", _BROWN + ": mouse cardiac output 13.98 mL/min",
                                          bounds=(0.01, 1000.0), kind="published")
    brain_flow_fraction_of_cardiac_output: float = param(0.033, "1", _BROWN + ": mouse brain 3.3 % of cardiac "
                                                         "output", bounds=(1e-3, 0.5), kind="published")

    def __post_init__(self):
        check_bounds(self)

    @property
    def v_brain_L(self) -> float:
        """Brain tissue volume, L (density 1 kg/L assumed)."""
        return self.brain_fraction_of_body_weight * self.reference_weight_kg

    @property
    def q_brain_L_per_h(self) -> float:
        """Brain blood flow, L/h."""
        return self.brain_flow_fraction_of_cardiac_output * self.cardiac_output_L_per_h


MOUSE_BRAIN = BrainPhysiology()
HUMAN_BRAIN = BrainPhysiology(
    reference_weight_kg=70.0, brain_fraction_of_body_weight=0.020, cardiac_output_L_per_h=5.6 * 60,
    brain_flow_fraction_of_cardiac_output=0.114)
# The metadata above names the mouse values; the human instance's sources are recorded here for `ketamine params`.
HUMAN_BRAIN_SOURCES = {
    "reference_weight_kg": "reference body weight of the published human models (70 kg)",
    "brain_fraction_of_body_weight": _BROWN + ": human brain 2.0 % of body weight",
    "cardiac_output_L_per_h": _BROWN + ": human cardiac output 5.6 L/min",
    "brain_flow_fraction_of_cardiac_output": _BROWN + ": human brain 11.4 % of cardiac output",
}


@dataclass(frozen=True)
class Species:
    """What differs between species outside the PK parameter sets.

    Attributes
    ----------
    name : str
    default_weight_kg : float
    weight_bounds_kg : (float, float)
        Plausible adult body weights; a subject outside them is an input error.
    default_salt : {"hcl", "base"}
        The salt form a dose is assumed to be weighed as when none is given.
    salt_rationale : str
    default_pk_model : str
        Name of the PK parameter set used when none is chosen (see :data:`pkpd.pk_models.PK_MODELS`).
    brain : BrainPhysiology
    """

    name: str
    default_weight_kg: float
    weight_bounds_kg: tuple[float, float]
    default_salt: str
    salt_rationale: str
    default_pk_model: str
    brain: BrainPhysiology = field(repr=False, default=MOUSE_BRAIN)


MOUSE = Species(
    name="mouse", default_weight_kg=0.025, weight_bounds_kg=(0.010, 0.080), default_salt="hcl",
    salt_rationale=("rodent doses are conventionally weighed as ketamine hydrochloride (e.g. Wu et al. 2021 eLife: "
                    "10 mg/kg HCl = 8.67 mg/kg base)"),
    default_pk_model="mouse", brain=MOUSE_BRAIN)
HUMAN = Species(
    name="human", default_weight_kg=70.0, weight_bounds_kg=(20.0, 250.0), default_salt="base",
    salt_rationale=("clinical doses are labelled as base (Ketalar: 'ketamine hydrochloride equivalent to N mg "
                    "ketamine base'; Spravato 28 mg = esketamine base)"),
    default_pk_model="domino1982", brain=HUMAN_BRAIN)

SPECIES = {"mouse": MOUSE, "human": HUMAN}


def get_species(name: str, field_name: str = "species") -> Species:
    """Look a species up by name (``ValueError`` naming the known species otherwise)."""
    key = str(name).strip().lower()
    if key not in SPECIES:
        raise ValueError(f"{field_name}: unknown species {name!r}; expected one of {', '.join(SPECIES)}")
    return SPECIES[key]


@dataclass(frozen=True)
class Subject:
    """One animal or person.

    Attributes
    ----------
    species : str
        ``"mouse"`` or ``"human"``.
    weight_kg : float or None
        Body weight in kg; None means the species default (25 g mouse, 70 kg human).
    sex : {"male", "female"}
    """

    species: str = "mouse"
    weight_kg: float | None = None
    sex: str = "male"

    def __post_init__(self):
        sp = get_species(self.species)
        object.__setattr__(self, "species", sp.name)
        w = sp.default_weight_kg if self.weight_kg is None else self.weight_kg
        if not is_finite_real(w):
            raise ValueError(f"weight: expected a body weight in kg, got {self.weight_kg!r}")
        lo, hi = sp.weight_bounds_kg
        if not lo <= w <= hi:
            raise ValueError(f"weight: {w:g} kg is outside the plausible range {lo:g}–{hi:g} kg for a "
                             f"{sp.name}; expected a body weight in that range (e.g. '25g' or '70kg')")
        object.__setattr__(self, "weight_kg", float(w))
        sex = str(self.sex).strip().lower()
        sex = {"m": "male", "f": "female"}.get(sex, sex)
        if sex not in SEXES:
            raise ValueError(f"sex: unknown sex {self.sex!r}; expected 'male' or 'female'")
        object.__setattr__(self, "sex", sex)

    @property
    def species_info(self) -> Species:
        return SPECIES[self.species]


def allometric(value: float, weight_kg: float, reference_weight_kg: float, exponent: float) -> float:
    """``value × (weight / reference)^exponent`` — 0.75 for clearances and flows, 1 for volumes."""
    return value * (weight_kg / reference_weight_kg) ** exponent
