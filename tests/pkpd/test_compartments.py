"""The compartment graph: ODEs derived from flows, mass conservation, and graph validation."""

import pytest
import sympy

from pkpd.compartments import CompartmentGraph

k, q = sympy.symbols("k q")


def small():
    return (CompartmentGraph().add_compartment("a", "central").add_compartment("b", "peripheral")
            .add_compartment("out", "sink").add_flow("a", "b", q).add_flow("b", "a", q / 2).add_flow("a", "out", k))


def test_rhs_is_inflow_minus_outflow():
    rhs = small().amount_rhs()
    a, b = sympy.symbols("a b")
    assert sympy.expand(rhs["a"] - (-(q + k) * a + q / 2 * b)) == 0
    assert sympy.expand(rhs["b"] - (q * a - q / 2 * b)) == 0
    assert sympy.expand(rhs["out"] - k * a) == 0
    assert sympy.expand(sum(rhs.values())) == 0  # closed system: total amount is conserved


def test_to_ode_system():
    s = small().to_ode_system("small")
    assert s.state_names == ("a", "b", "out") and set(s.param_names) == {"q", "k"}


def test_validation():
    with pytest.raises(ValueError, match="unknown compartment 'c'"):
        small().add_flow("a", "c", k)
    with pytest.raises(ValueError, match="flow out of sink compartment 'out'"):
        small().add_flow("out", "a", k)
    with pytest.raises(ValueError, match="repeated"):
        small().add_compartment("a", "tissue")
    with pytest.raises(ValueError, match="kind must be one of"):
        CompartmentGraph().add_compartment("x", "organ")
