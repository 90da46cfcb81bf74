"""OdeSystem: validation messages and derived symbolic objects."""

import numpy as np
import pytest
import sympy

from pkpd.ode import OdeSystem
from pkpd.ode.examples import two_compartment

x, y, k, t = sympy.symbols("x y k t")


@pytest.mark.parametrize("kwargs, message", [
    (dict(states=[x, y], rhs=[-k * x]), "one expression per state"),
    (dict(states=[x], rhs=[-k * x]), r"\['k'\].*declare them as params"),
    (dict(states=[x, x], rhs=[-x, x]), "'x' is used more than once"),
    (dict(states=[x], rhs=[-k * x], params=[k, x]), "'x' is used more than once"),
    (dict(states=[], rhs=[]), "at least one state"),
    (dict(states=[x], rhs=[-x], observables={"c": x * y}), r"observables\['c'\].*\['y'\]"),
    (dict(states=[x], rhs=[-x], name="has space"), "name must be"),
    (dict(states=[1], rhs=[-x]), r"states\[0\] must be a sympy Symbol"),
])
def test_invalid_systems_name_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OdeSystem(**kwargs)


def test_derived_objects_match_hand_derivation():
    s = OdeSystem([x, y], [-k * x * y + t, k * x * y], [k])
    # d/dx(-k x y) = -k y, d/dy = -k x; the explicit t makes the system non-autonomous with df/dt = (1, 0)
    assert s.jacobian == sympy.Matrix([[-k * y, -k * x], [k * y, k * x]])
    assert s.time_derivative == (1, 0)
    assert not s.autonomous
    assert s.state_index("y") == 1 and s.state_index(0) == 0
    with pytest.raises(ValueError, match=r"unknown state 'z'; expected one of \['x', 'y'\]"):
        s.state_index("z")


def test_fingerprint_changes_with_the_equations():
    a = OdeSystem([x], [-k * x], [k], name="a")
    b = OdeSystem([x], [-k * x], [k], name="a")
    c = OdeSystem([x], [-2 * k * x], [k], name="a")
    assert a.fingerprint == b.fingerprint != c.fingerprint


@pytest.mark.slow
def test_freeze_holds_states_constant_as_parameters():
    # x' = -k x + z, z' = -z: with z frozen at z0, x(t) = z0/k + (x0 - z0/k) e^{-kt} (closed form), solved by the
    # engine on the frozen system, whose parameters are (k, z) in that order
    from pkpd.ode import solve

    z = sympy.Symbol("z")
    full = OdeSystem([x, z], [-k * x + z, -z], [k], observables={"sum": x + z}, name="xz")
    fr = full.freeze(["z"])
    assert fr.state_names == ("x",) and fr.param_names == ("k", "z") and fr.name == "xz_frozen"
    assert fr.rhs == (-k * x + z,) and fr.observables == full.observables
    assert fr.jacobian == sympy.Matrix([[-k]])
    kv, x0, z0 = 0.7, 2.0, 3.0
    te = np.linspace(0.0, 4.0, 9)
    sol = solve(fr, [x0], te, [kv, z0], method="rosenbrock", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.state("x")[0], z0 / kv + (x0 - z0 / kv) * np.exp(-kv * te), rtol=1e-8)
    with pytest.raises(ValueError, match="unknown state 'w'"):
        full.freeze(["w"])
    with pytest.raises(ValueError, match="named twice"):
        full.freeze(["z", "z"])
    with pytest.raises(ValueError, match="leaves no equation"):
        full.freeze(["x", "z"])


def test_lambdify_evaluates_the_equations():
    s = two_compartment()
    f, jac = s.lambdify()
    p = np.array([1.2, 0.3, 0.2, 0.1, 2.0])
    yv = np.array([1.0, 2.0, 3.0])
    ka, k10, k12, k21, _ = p
    expected = [-ka * 1.0, ka * 1.0 - (k10 + k12) * 2.0 + k21 * 3.0, k12 * 2.0 - k21 * 3.0]
    np.testing.assert_allclose(f(0.0, yv, p), expected, rtol=1e-15)
    np.testing.assert_allclose(jac(0.0, yv, p), [[-ka, 0, 0], [ka, -(k10 + k12), k21], [0, k12, -k21]], rtol=1e-15)


def test_equations_and_latex_print_every_state():
    s = two_compartment()
    text = s.equations()
    assert text[0] == "ddepot/dt = -depot*ka"
    assert text[-1] == "conc = central/V"
    assert s.latex().count(r"\frac{d") == 3


# ---- right-hand sides as text: parsed, never evaluated ----------------------------------------------------------
def test_text_rhs_equals_the_sympy_rhs():
    text = OdeSystem(["x", "y"], ["-k*x*y + t", "k*x*y - exp(-y)/2 + sqrt(x)**2"], ["k"],
                     observables={"total": "x + y", "c": 3})
    ref = OdeSystem([x, y], [-k * x * y + t, k * x * y - sympy.exp(-y) / 2 + sympy.sqrt(x) ** 2], [k],
                    observables={"total": x + y, "c": sympy.Integer(3)})
    assert text.fingerprint == ref.fingerprint  # the same sympy trees, so the same generated code


@pytest.mark.parametrize("text,message", [
    ("__import__('os').system('touch {p}')", "Call is not allowed"),
    ("x.__class__", "Attribute is not allowed"),
    ("x[0]", "Subscript is not allowed"),
    ("x^2", "use \\*\\* for powers"),
    ("exp(x, base=2)", "Call is not allowed"),
    ("lambda: 0", "Lambda is not allowed"),
    ("z + 1", "unknown name 'z'"),
    ("'a'", "Constant is not allowed"),
    ("x +", "cannot parse"),
])
def test_text_that_is_not_arithmetic_is_refused_unevaluated(tmp_path, text, message):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match=message):
        OdeSystem(["x"], [text.format(p=marker)], name="unsafe")
    assert not marker.exists()  # nothing was executed


def test_a_rhs_of_another_type_is_refused():
    with pytest.raises(ValueError, match=r"rhs\[0\] must be a sympy expression"):
        OdeSystem(["x"], [True])
