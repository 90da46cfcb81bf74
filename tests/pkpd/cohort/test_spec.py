"""Bad cohort specs are refused before any computation, naming the field."""

import pytest

from pkpd.population import Covariates, Population, Variability, WeightDistribution

from .common import make_spec


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_n_must_be_positive(n):
    with pytest.raises(ValueError, match="^n: expected a positive number of subjects"):
        make_spec(n=n)


def test_non_psd_omega_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="omega: expected a positive semi-definite"):
        Variability(("cl_L_per_h", "v_L"), [[0.1, 0.5], [0.5, 0.1]])
    pop = Population({"bogus": 1.0}, Variability(("bogus",), [[0.1]]),
                     Covariates(WeightDistribution(0.025, 0.1, 0.01, 0.08)))
    with pytest.raises(ValueError, match="'bogus' is not a parameter of the mouse PK model"):
        make_spec(population=pop)
    with pytest.raises(ValueError, match="protocol: expected a CohortProtocol object, got 'bogus'"):
        make_spec(protocol="bogus")
    with pytest.raises(ValueError, match="readouts: unknown readout 'bogus'; expected readouts of 'pk': exposure"):
        make_spec(readouts=("bogus",))
    with pytest.raises(ValueError, match="bands: unknown time course"):
        make_spec(bands=("da_response",))
