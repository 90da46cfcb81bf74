"""Species and subjects: defaults, covariate validation, allometry, brain physiology."""

import pytest

from pkpd.species import HUMAN_BRAIN, MOUSE_BRAIN, SPECIES, Subject, allometric


def test_defaults():
    assert Subject().weight_kg == 0.025 and Subject("human").weight_kg == 70.0
    assert SPECIES["mouse"].default_salt == "hcl" and SPECIES["human"].default_salt == "base"


@pytest.mark.parametrize("species,w", [("human", 0.0), ("human", 5000.0), ("mouse", 0.0), ("mouse", 2.0)])
def test_implausible_weight_names_field_and_range(species, w):
    with pytest.raises(ValueError, match=r"weight: .* kg is outside the plausible range"):
        Subject(species, w)


def test_bad_sex_and_species():
    with pytest.raises(ValueError, match="sex: unknown sex 'x'"):
        Subject(sex="x")
    with pytest.raises(ValueError, match="species: unknown species 'rat'"):
        Subject("rat")
    assert Subject(sex="F").sex == "female"


def test_allometry():
    # CL scales with W^0.75: doubling weight multiplies it by 2^0.75 = 1.6818 (rounding only)
    assert allometric(10.0, 140.0, 70.0, 0.75) == pytest.approx(10 * 2 ** 0.75, rel=1e-15)


def test_brain_physiology():
    # Brown et al. 1997: mouse brain 1.65 % of 25 g = 0.4125 g; flow 3.3 % of 13.98 mL/min = 0.461 mL/min
    assert MOUSE_BRAIN.v_brain_L == pytest.approx(4.125e-4, rel=1e-12)
    assert MOUSE_BRAIN.q_brain_L_per_h == pytest.approx(0.033 * 13.98 * 60 / 1000, rel=1e-12)
    # human: 2 % of 70 kg = 1.4 L; 11.4 % of 5.6 L/min = 38.3 L/h
    assert HUMAN_BRAIN.v_brain_L == pytest.approx(1.4, rel=1e-12)
    assert HUMAN_BRAIN.q_brain_L_per_h == pytest.approx(38.304, rel=1e-12)
