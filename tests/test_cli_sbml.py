"""`ketamine export sbml` and `ketamine import sbml`: the exported PK model reproduces `simulate_pk`, an imported
model's table holds the closed form, a cohort's median subject is the file's model, and bad input is a one-line
error with exit code 2 and no output file."""

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("libsbml")

import cli  # noqa: E402
from pkpd import closed_form as cf  # noqa: E402
from pkpd.dosing import Regimen  # noqa: E402
from pkpd.ode.sbml import load  # noqa: E402
from pkpd.pk import simulate_pk  # noqa: E402

runner = CliRunner()
ORAL = Path(__file__).parent / "ode" / "sbml" / "two_compartment_oral.xml"


def read_csv(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_export_pk_reproduces_simulate_pk(tmp_path):
    """The exported file, loaded back and solved exactly (matrix exponential), gives simulate_pk's columns."""
    out = tmp_path / "ket.xml"
    res = runner.invoke(cli.app, ["export", "sbml", "--model", "pk", "--species", "mouse", "--dose", "10mg/kg",
                                  "--route", "ip", "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = load(out)
    t = np.linspace(0.0, 4.0, 49)
    y = cf.solve_linear(m.system, m.y0, t, m.params, m.schedule)
    ours = simulate_pk(Regimen.single("10mg/kg", "ip"), 4.0, species="mouse", t_eval=t)
    f = {k: v for k, v in m.system.observables.items()}
    import sympy

    args = [*m.system.states, *m.system.params]
    for col in ("plasma_ketamine_uM", "brain_ketamine_uM", "plasma_ketamine_ng_per_ml",
                "nmda_occupancy_interneuron"):
        g = sympy.lambdify(args, f[col], "numpy")
        got = np.broadcast_to(g(*y.T, *m.params), t.shape)
        # two matrix exponentials of the same matrix: equal to rounding
        np.testing.assert_allclose(got, ours.columns[col], rtol=1e-10, atol=1e-14)


def test_import_writes_the_closed_form(tmp_path):
    out = tmp_path / "oral.csv"
    res = runner.invoke(cli.app, ["import", "sbml", str(ORAL), "--duration", "36", "--points", "37",
                                  "--out", str(out)])
    assert res.exit_code == 0, res.output
    tab = read_csv(out)
    assert list(tab) == ["time", "gut", "central", "peripheral", "auc", "conc"]
    t = tab["time"]
    exact = cf.superpose(lambda tt, a: cf.two_compartment_absorption(tt, a, 1.0, 1.2, 20.0, 0.25, 0.4, 0.2),
                         t, [0.0, 12.0, 24.0], [80.0] * 3)
    np.testing.assert_allclose(tab["conc"], exact, rtol=1e-6, atol=1e-12)  # engine at the default rtol 1e-8


def test_import_cohort_varies_parameters_log_normally(tmp_path):
    out = tmp_path / "cohort.csv"
    res = runner.invoke(cli.app, ["import", "sbml", str(ORAL), "--duration", "12", "--points", "13", "--n", "40",
                                  "--cv", "0.3", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    tab = read_csv(out)
    assert np.array_equal(np.unique(tab["subject"]), np.arange(40))
    # AUC over 12 h differs between subjects; with cv 0 every subject is the file's model exactly
    auc = tab["auc"][tab["time"] == 12.0]
    assert auc.std() > 0.05 * auc.mean()
    res = runner.invoke(cli.app, ["import", "sbml", str(ORAL), "--duration", "12", "--points", "13", "--n", "3",
                                  "--cv", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    auc0 = read_csv(out)["auc"][read_csv(out)["time"] == 12.0]
    assert np.ptp(auc0) == 0.0


@pytest.mark.parametrize("args, message", [
    (["import", "sbml", "missing.xml", "--duration", "3", "--out", "{tmp}/x.csv"], "does not exist"),
    (["import", "sbml", str(ORAL), "--duration", "-1", "--out", "{tmp}/x.csv"], "duration"),
    (["import", "sbml", str(ORAL), "--duration", "3", "--out", "{tmp}/x.txt"], "out"),
    (["import", "sbml", str(ORAL), "--duration", "3", "--n", "0", "--out", "{tmp}/x.csv"], "n: expected"),
    (["export", "sbml", "--model", "nope", "--out", "{tmp}/x.xml"], "model: unknown model"),
    (["export", "sbml", "--model", "vdpol", "--dose", "1mg", "--out", "{tmp}/x.xml"], "only --model pk"),
    (["export", "sbml", "--model", "pk", "--dose", "1mg", "--out", "{tmp}/x.xml"], "route"),
    (["export", "sbml", "--model", "pk", "--out", "{tmp}/x.csv"], "out"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = runner.invoke(cli.app, args)
    assert res.exit_code == 2, res.output
    assert message in res.output and res.output.count("error:") == 1
    assert list(tmp_path.iterdir()) == []
