"""The circuit model as SBML: a valid document whose short simulation in libRoadRunner (CVODE) matches the engine
(skipped without libRoadRunner). Agreement as in tests/ode/test_sbml.py: ``max |ours - rr| / (|rr| + floor)`` per
column, ``floor`` = 1e-6 x the column's peak, at most 1e-5 with both solvers at rtol 1e-8."""

import numpy as np
import pytest
from typer.testing import CliRunner

libsbml = pytest.importorskip("libsbml")
roadrunner = pytest.importorskip("roadrunner")

import cli  # noqa: E402
from pkpd.dosing import Regimen  # noqa: E402

REG = Regimen.single("10mg/kg", "ip", time_h=0.25)
#: 0-1 h: the fixed point, a dose at 15 min, plasma peak and NMDA block, and the circuit's response to them
T = np.linspace(0.0, 1.0, 41)


@pytest.mark.slow
def test_circuit_export_is_valid_and_matches_roadrunner(tmp_path):
    from circuits.model import atol_vector, circuit_system, initial_state, parameter_values, parameter_vector
    from pkpd.ode import solve
    from pkpd.pk import dose_schedule
    from pkpd.pk_models import get_pk_model
    from pkpd.species import Subject

    out, reg = tmp_path / "circuit.xml", tmp_path / "reg.csv"
    reg.write_text("time,amount,unit,route\n15min,10,mg/kg,ip\n")  # after 15 min at the fixed point
    res = CliRunner().invoke(cli.app, ["export", "sbml", "--model", "circuit", "--regimen", str(reg), "--out",
                                       str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    assert [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR] == []
    m = doc.getModel()
    assert "Deco et al. 2014" in m.getParameter("a_e_per_nC").getNotesString()  # provenance travels
    assert m.getNumEvents() == 1  # the dose
    sysm = circuit_system()
    cols = ["central", "brain", "S_E", "S_I", "DA", "A", "rho", "plasma_ketamine_uM", "occupancy_mpfc_pyramidal",
            "r_e"]
    rr = roadrunner.RoadRunner(text)
    rr.integrator.relative_tolerance = 1e-8
    rr.integrator.absolute_tolerance = 1e-14
    rr.integrator.maximum_num_steps = 1_000_000
    rr.timeCourseSelections = ["time", *cols]
    theirs = np.array(rr.simulate(times=T))
    sched = dose_schedule(get_pk_model(None, "mouse"), Subject("mouse", None, "male"), REG)[0]
    sol = solve(sysm, initial_state(), T, parameter_vector(parameter_values()), method="rosenbrock", rtol=1e-8,
                atol=atol_vector() * 1e-2, schedule=sched, max_steps=1_000_000)
    assert sol.ok.all()
    for j, c in enumerate(cols):
        ours = sol.y[0][:, sysm.state_index(c)] if c in sysm.state_names else sol.observables[c][0]
        ref = theirs[:, j + 1]
        err = np.max(np.abs(ours - ref) / (np.abs(ref) + 1e-6 * np.max(np.abs(ref))))
        assert err < 1e-5, (c, err)
    assert theirs[-1, cols.index("occupancy_mpfc_pyramidal") + 1] > 0.1  # the drug acted within the window


def test_circuit_export_refuses_what_is_not_a_mouse_circuit(tmp_path):
    for args, msg in ((["--species", "human"], "species: the circuit model is a mouse's"),
                      (["--pk-model", "domino1982"], "pk-model: the circuit model uses the mouse PK set")):
        res = CliRunner().invoke(cli.app, ["export", "sbml", "--model", "circuit", *args, "--out",
                                           str(tmp_path / "c.xml")])
        assert res.exit_code == 2 and msg in res.stderr
        assert not (tmp_path / "c.xml").exists()
