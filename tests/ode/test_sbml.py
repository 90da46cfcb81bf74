"""SBML export and import: valid documents, export -> import round trips, imported models against closed forms,
and libRoadRunner (CVODE) as an independent referee of both directions (skipped when it is not installed).

Agreement with libRoadRunner is measured as ``max |ours - rr| / (|rr| + floor)`` per column, with ``floor`` =
1e-6 × the column's peak: below a millionth of its peak a value is compared absolutely (both solvers are then at
the level of their absolute tolerances, not their relative ones). The bound is 1e-5 at rtol 1e-8 for both.
"""

from pathlib import Path

import numpy as np
import pytest

libsbml = pytest.importorskip("libsbml")

from pkpd import closed_form as cf  # noqa: E402
from pkpd.dosing import Dose, Regimen  # noqa: E402
from pkpd.ode import Schedule, examples, solve  # noqa: E402
from pkpd.ode import sbml  # noqa: E402

HERE = Path(__file__).parent / "sbml"
RTOL = 1e-8
#: Relative agreement asked of two solvers each run at rtol 1e-8 (a hundredfold margin over that tolerance,
#: which controls local, not global, error).
AGREE = 1e-5


def errors(doc_text):
    doc = libsbml.readSBMLFromString(doc_text)
    doc.checkConsistency()
    return [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


def rel_error(ours, ref):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    floor = 1e-6 * np.max(np.abs(ref))
    return float(np.max(np.abs(ours - ref) / (np.abs(ref) + floor)))


def roadrunner_run(text, times, selections):
    rr_mod = pytest.importorskip("roadrunner")
    rr = rr_mod.RoadRunner(text)
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = 1e-14
    rr.integrator.maximum_num_steps = 100_000
    rr.timeCourseSelections = ["time", *selections]
    out = np.array(rr.simulate(times=np.asarray(times, float)))
    np.testing.assert_array_equal(out[:, 0], times)
    return {s: out[:, i + 1] for i, s in enumerate(selections)}


TWO = examples.two_compartment()
TWO_P = np.array([1.5, 0.3, 0.8, 0.4, 10.0])  # ka, k10, k12, k21 (1/h), V (L): illustrative
TWO_SCHED = (Schedule().bolus(0.0, "depot", 100.0).infusion(2.0, "central", rate=20.0, duration=1.5)
             .bolus(5.0, "central", 30.0).reset(7.0, "depot", 5.0))
T = np.linspace(0.0, 10.0, 81)  # holds the event times 2, 3.5, 5 and 7: the state after each event is compared


def test_export_is_valid_sbml_with_units_and_provenance():
    text = sbml.export(TWO, [0, 0, 0], TWO_P, TWO_SCHED, units={"ka": "1/h", "V": "L", "central": "umol"},
                       annotations={"ka": "assumed: illustrative"}, time_unit="h", notes=["a test model"])
    assert errors(text) == []
    m = libsbml.readSBMLFromString(text).getModel()
    assert (m.getLevel(), m.getVersion()) == (3, 2)
    ka = m.getParameter("ka")
    assert ka.getValue() == 1.5 and ka.getConstant()
    ud = m.getUnitDefinition(ka.getUnits())
    u = ud.getUnit(0)
    assert (u.getKind(), u.getExponent(), u.getMultiplier()) == (libsbml.UNIT_KIND_SECOND, -1, 3600.0)
    assert "assumed: illustrative" in ka.getNotesString()
    # the observable is an assignment rule named after it; events: one per distinct time (0, 2, 3.5, 5, 7)
    assert m.getAssignmentRule("conc") is not None
    assert m.getNumEvents() == 5


def test_round_trip_gives_the_same_trajectories():
    """export -> load: the loaded model (the infusion comes back as an input state set by events) has the exact
    solution of the original, to rounding."""
    text = sbml.export(TWO, [0, 0, 0], TWO_P, TWO_SCHED)
    m = sbml.load(text)
    a = cf.solve_linear(TWO, [0, 0, 0], T, TWO_P, TWO_SCHED)
    b = cf.solve_linear(m.system, m.y0, T, m.params, m.schedule)
    idx = [m.system.state_index(s) for s in TWO.state_names]
    np.testing.assert_allclose(b[:, idx], a, rtol=1e-12, atol=1e-12 * a.max())
    assert dict(zip(m.system.param_names, m.params))["ka"] == 1.5


def test_imported_two_compartment_matches_the_closed_form():
    """Three oral doses of F·D = 80 mg: Gibaldi & Perrier's triexponential, superposed, against the engine."""
    m = sbml.load(HERE / "two_compartment_oral.xml")
    p = dict(zip(m.system.param_names, m.params))
    v1, k10, k12, k21 = p["V1"], p["CL"] / p["V1"], p["Q"] / p["V1"], p["Q"] / p["V2"]
    t = np.linspace(0.0, 36.0, 145)
    exact = cf.superpose(lambda tt, a: cf.two_compartment_absorption(tt, a, 1.0, p["ka"], v1, k10, k12, k21),
                         t, [0.0, 12.0, 24.0], [80.0] * 3)
    sol = solve(m.system, m.y0, t, m.params, schedule=m.schedule, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.observables["conc"][0], exact, rtol=1e-7, atol=1e-12)
    # the AUC rate rule integrates the concentration: trapezoid on the fine exact grid agrees to its own error
    assert sol.state("auc")[0, -1] == pytest.approx(np.trapezoid(exact, t), rel=2e-3)


def test_imported_enzyme_kinetics_conserves_enzyme_and_matches_its_events():
    m = sbml.load(HERE / "enzyme_kinetics.xml")
    # concentrations × 2 L: S 5 mM -> 10 mmol; E from the initial assignment 0.5 - 0 mM -> 1 mmol
    assert dict(zip(m.system.state_names, m.y0)) == {"S": 10.0, "E": 1.0, "ES": 0.0, "P": 0.0}
    assert [(e.kind, e.time, e.state, e.value) for e in m.schedule] == [("bolus", 5.0, "S", 4.0),
                                                                         ("reset", 8.0, "P", 0.0)]
    t = np.linspace(0.0, 12.0, 49)
    sol = solve(m.system, m.y0, t, m.params, schedule=m.schedule, rtol=1e-10, atol=1e-12)
    e_total = sol.state("E")[0] + sol.state("ES")[0]
    np.testing.assert_allclose(e_total, 1.0, rtol=1e-9)  # enzyme is conserved (amounts)
    substrate = sol.state("S")[0] + sol.state("ES")[0] + sol.state("P")[0]
    before = t < 5
    np.testing.assert_allclose(substrate[before], 10.0, rtol=1e-9)  # substrate + complex + product conserved


def bad(body: str, extra_model: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="m">
    <listOfCompartments><compartment id="c" spatialDimensions="3" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies><species id="x" compartment="c" initialAmount="1" hasOnlySubstanceUnits="true"
      boundaryCondition="false" constant="false"/></listOfSpecies>
    <listOfParameters><parameter id="k" value="1" constant="true"/>{extra_model}</listOfParameters>
    {body}
  </model>
</sbml>"""


MATH = '<math xmlns="http://www.w3.org/1998/Math/MathML">{}</math>'
TIME = '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">time</csymbol>'
DELAY = '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/delay">delay</csymbol>'


@pytest.mark.parametrize("body, extra, refused", [
    (f'<listOfRules><rateRule variable="x">{MATH.format(f"<apply>{DELAY}<ci>x</ci><cn>1</cn></apply>")}'
     '</rateRule></listOfRules>', "", "delay"),
    (f'<listOfRules><algebraicRule>{MATH.format("<apply><minus/><ci>y</ci><ci>x</ci></apply>")}</algebraicRule>'
     '</listOfRules>', '<parameter id="y" value="1" constant="false"/>', "algebraic rule"),
    ('<listOfEvents><event useValuesFromTriggerTime="true"><trigger initialValue="true" persistent="true">'
     + MATH.format("<apply><lt/><ci>x</ci><cn>0.5</cn></apply>") + '</trigger><listOfEventAssignments>'
     '<eventAssignment variable="x">' + MATH.format("<cn>1</cn>") + '</eventAssignment></listOfEventAssignments>'
     '</event></listOfEvents>', "", "state-triggered event"),
    ('<listOfEvents><event useValuesFromTriggerTime="true"><trigger initialValue="true" persistent="true">'
     + MATH.format(f"<apply><geq/>{TIME}<cn>1</cn></apply>") + '</trigger><delay>' + MATH.format("<cn>1</cn>")
     + '</delay><listOfEventAssignments><eventAssignment variable="x">' + MATH.format("<cn>1</cn>")
     + '</eventAssignment></listOfEventAssignments></event></listOfEvents>', "", "delay of event"),
])
def test_unsupported_constructs_are_refused_by_name(body, extra, refused):
    with pytest.raises(ValueError, match=refused) as e:
        sbml.load(bad(body, extra))
    assert "\n" not in str(e.value)


def test_fast_reaction_is_refused_by_name():
    text = bad("").replace('level="3" version="2"', 'level="3" version="1"').replace(
        "level3/version2", "level3/version1").replace("</listOfParameters>", """</listOfParameters>
    <listOfReactions><reaction id="r" reversible="false" fast="true"><listOfReactants>
      <speciesReference species="x" stoichiometry="1" constant="true"/></listOfReactants>
      <kineticLaw>""" + MATH.format("<apply><times/><ci>k</ci><ci>x</ci></apply>") + """</kineticLaw>
    </reaction></listOfReactions>""")
    with pytest.raises(ValueError, match="fast reaction 'r'"):
        sbml.load(text)


def test_invalid_document_is_refused_with_its_line():
    with pytest.raises(ValueError, match=r"SBML: invalid document \(line \d+\)"):
        sbml.load(bad("").replace('constant="true"/></listOfParameters>', "/></listOfParameters>"))


# ---- libRoadRunner as referee ------------------------------------------------------------------------------------
def test_pk_model_export_matches_roadrunner():
    """The human kamp2020 model with an infusion, a repeated intranasal dose and an oral dose: every column of the
    pk table from libRoadRunner on the exported file against simulate_pk (exact matrix exponential)."""
    from pkpd.pk import TABLE_COLUMNS, pk_sbml, simulate_pk

    reg = (Regimen((Dose.infusion(0.0, "0.5mg/kg", duration_h=40 / 60),)) + Regimen.single("28mg", "intranasal",
           time_h=3.0).repeat(4.0, 2) + Regimen.single("50mg", "oral", time_h=6.0))
    text = pk_sbml(reg, species="human")
    assert errors(text) == []
    t = np.linspace(0.0, 12.0, 97)
    ours = simulate_pk(reg, 12.0, species="human", t_eval=t)
    cols = [c for c in TABLE_COLUMNS if c != "time_h"]
    theirs = roadrunner_run(text, t, cols)
    worst = max(rel_error(ours.columns[c], theirs[c]) for c in cols)
    assert worst < AGREE, worst


def test_example_export_matches_roadrunner():
    text = sbml.export(TWO, [0, 0, 0], TWO_P, TWO_SCHED)
    ours = cf.solve_linear(TWO, [0, 0, 0], T, TWO_P, TWO_SCHED)
    theirs = roadrunner_run(text, T, [*TWO.state_names, "conc"])
    for i, s in enumerate(TWO.state_names):
        assert rel_error(ours[:, i], theirs[s]) < AGREE, s
    assert rel_error(ours[:, 1] / TWO_P[4], theirs["conc"]) < AGREE


@pytest.mark.parametrize("name, t_end, columns", [
    ("two_compartment_oral.xml", 36.0, ["gut", "central", "peripheral", "auc", "conc"]),
    ("enzyme_kinetics.xml", 12.0, ["S", "E", "ES", "P", "product_fraction"]),
])
def test_imported_models_match_roadrunner(name, t_end, columns):
    """Import (our engine, rtol 1e-8) against libRoadRunner on the same file. Species are compared as amounts."""
    m = sbml.load(HERE / name)
    t = np.linspace(0.0, t_end, 4 * int(t_end) + 1)
    # `time > 5` (enzyme model) fires just after 5: at t = 5 itself libRoadRunner reports the state before the
    # event and this engine (right-continuous events) the state after; every other instant is compared
    t = t[t != 5.0] if name == "enzyme_kinetics.xml" else t
    sol = solve(m.system, m.y0, t, m.params, schedule=m.schedule, rtol=RTOL, atol=1e-14)
    theirs = roadrunner_run((HERE / name).read_text(), t, columns)
    for c in columns:
        ours = sol.observables[c][0] if c in sol.observables else sol.state(c)[0]
        assert rel_error(ours, theirs[c]) < AGREE, c


def test_trapping_pk_model_export_matches_roadrunner():
    """The nonlinear variant (NMDA trapping states) against the engine at rtol 1e-8."""
    from pkpd.pk import pk_sbml, simulate_pk

    reg = Regimen.single("10mg/kg", "ip")
    text = pk_sbml(reg, species="mouse", trapping=True)
    t = np.linspace(0.0, 6.0, 49)
    ours = simulate_pk(reg, 6.0, species="mouse", trapping=True, t_eval=t, rtol=RTOL)
    cols = ["plasma_ketamine_uM", "brain_ketamine_uM", "nmda_occupancy_interneuron", "nmda_occupancy_pyramidal"]
    theirs = roadrunner_run(text, t, cols)
    worst = max(rel_error(ours.columns[c], theirs[c]) for c in cols)
    assert worst < AGREE, worst


def test_level2_piecewise_rate_rule_and_concentration_kinetics():
    """An SBML Level 2 model: a rate rule with a piecewise input (x = min(t, 2)) and first-order decay of a
    concentration species in a 3 L compartment (amount 3·c0·e^{-kt}), solved by the scipy reference."""
    from pkpd.ode import solve_reference

    text = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level2/version4" level="2" version="4">
  <model id="l2">
    <listOfCompartments><compartment id="V" size="3"/></listOfCompartments>
    <listOfSpecies><species id="S" compartment="V" initialConcentration="2"/></listOfSpecies>
    <listOfParameters><parameter id="k" value="0.5"/><parameter id="x" value="0" constant="false"/></listOfParameters>
    <listOfRules><rateRule variable="x">""" + MATH.format(
        f"<piecewise><piece><cn>1</cn><apply><lt/>{TIME}<cn>2</cn></apply></piece><otherwise><cn>0</cn></otherwise>"
        "</piecewise>") + """</rateRule></listOfRules>
    <listOfReactions><reaction id="decay" reversible="false">
      <listOfReactants><speciesReference species="S"/></listOfReactants>
      <kineticLaw>""" + MATH.format("<apply><times/><ci>k</ci><ci>S</ci><ci>V</ci></apply>") + """</kineticLaw>
    </reaction></listOfReactions>
  </model>
</sbml>"""
    m = sbml.load(text)
    t = np.linspace(0.0, 4.0, 9)
    y = solve_reference(m.system, m.y0, t, m.params, rtol=1e-11, atol=1e-13)[0]
    np.testing.assert_allclose(y[:, m.system.state_index("S")], 6.0 * np.exp(-0.5 * t), rtol=1e-8)
    np.testing.assert_allclose(y[:, m.system.state_index("x")], np.minimum(t, 2.0), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("body, refused", [
    ('<listOfRules><assignmentRule variable="c">' + MATH.format("<cn>2</cn>") + '</assignmentRule></listOfRules>',
     "compartment 'c'"),
    ('<listOfRules><rateRule variable="x">' + MATH.format(
        '<apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/rateOf">rateOf</csymbol>'
        '<ci>x</ci></apply>') + '</rateRule></listOfRules>', "rateOf"),
])
def test_more_constructs_refused_by_name(body, refused):
    text = bad(body).replace('<compartment id="c" spatialDimensions="3" size="1" constant="true"/>',
                             '<compartment id="c" spatialDimensions="3" size="1" constant="false"/>')
    with pytest.raises(ValueError, match=refused):
        sbml.load(text)


def test_required_package_is_refused_by_name():
    text = bad("").replace('xmlns="http://www.sbml.org/sbml/level3/version2/core"',
                           'xmlns="http://www.sbml.org/sbml/level3/version1/core" '
                           'xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" comp:required="true"'
                           ).replace('version="2"', 'version="1"')
    with pytest.raises(ValueError, match="required package 'comp'"):
        sbml.load(text)


@pytest.mark.parametrize("name", sorted(examples.PROBLEMS))
def test_every_engine_problem_exports_valid_sbml_and_loads_back_the_same_equations(name):
    """Each test problem (stiff chemistry, mechanics, Lorenz 96): a valid document whose loaded right-hand side
    equals the original at the initial state and at a perturbed one, to rounding (the same parameter vector)."""
    pr = examples.PROBLEMS[name]
    text = sbml.export(pr.system, pr.y0, pr.params)
    assert errors(text) == []
    m = sbml.load(text)
    assert m.system.state_names == pr.system.state_names
    # libsbml writes numbers with 15 significant digits: values come back to ~1e-15, not bit for bit
    np.testing.assert_allclose(m.y0, pr.y0, rtol=1e-14, atol=0)
    def rhs(system):
        import sympy

        return sympy.lambdify((system.time, system.states, system.params), list(system.rhs), "numpy")

    f0, f1 = rhs(pr.system), rhs(m.system)
    values = dict(zip(m.system.param_names, m.params))
    np.testing.assert_allclose([values[n] for n in pr.system.param_names], pr.params, rtol=1e-14, atol=0)
    # to rounding: the loaded expressions may add their terms in another order
    for state in (pr.y0, pr.y0 * 1.1 + 0.01):
        np.testing.assert_allclose(np.array(f1(0.0, state, m.params), float),
                                   np.array(f0(0.0, state, pr.params), float), rtol=1e-13, atol=1e-300)
