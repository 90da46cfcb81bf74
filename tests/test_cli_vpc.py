"""`ketamine vpc` and `--observed` on `pk` and `cohort summarize`: the printed statistic is the library's, the
observed points are drawn where they belong, bad observed files are one-line errors with exit code 2 and no
figure."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from pkpd.cohort import bands_figure, run_cohort
from pkpd.cohort.vpc import vpc
from pkpd.observed import read_observed
from tests.pkpd.cohort.common import make_spec

runner = CliRunner()
OBS = "ID,TIME(min),NAME,VALUE,UNIT\n1,30,plasma_ketamine_uM,4.0,uM\n2,60,plasma_ketamine_uM,2.0,uM\n" \
      "3,120,plasma_ketamine_uM,0.3,uM\n3,120,nmda_occupancy_pyramidal,0.1,1\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vpc") / "run"
    run_cohort(make_spec(n=40, times_h=(0.5, 1.0, 2.0)), out, chunk_size=40)
    return out


def test_vpc_prints_the_library_statistic_and_draws(run, tmp_path):
    (tmp_path / "o.csv").write_text(OBS)
    res = runner.invoke(cli.app, ["vpc", str(run), "--observed", str(tmp_path / "o.csv"), "--name",
                                  "plasma_ketamine_uM", "--json", "--out", str(tmp_path / "v.png")])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    ref = vpc(run, read_observed(tmp_path / "o.csv"), name="plasma_ketamine_uM")
    assert got["fraction_outside"] == ref["fraction_outside"] and got["n_observed"] == 3
    assert (tmp_path / "v.png").stat().st_size > 0 and (tmp_path / "v.svg").exists()
    res = runner.invoke(cli.app, ["vpc", str(run), "--observed", str(tmp_path / "o.csv"), "--name",
                                  "plasma_ketamine_uM"])
    assert res.exit_code == 0 and "outside the model's 90 % interval" in res.stdout


@pytest.mark.parametrize("text, args, message", [
    (OBS.replace("4.0,uM", "4.0,mg"), [], "o.csv row 1, column 'UNIT': unit 'mg'"),
    (OBS.replace("1,30,", "1,30h,"), [], "o.csv row 1, column 'TIME': expected a number"),
    (OBS, [], "name: the observed data hold plasma_ketamine_uM, nmda_occupancy_pyramidal"),
    (OBS.replace("plasma_ketamine_uM,4.0", "brain_ketamine_uM,4.0"), ["--name", "brain_ketamine_uM"],
     "o.csv row 1, column 'NAME': 'brain_ketamine_uM' is nothing simulated"),
])
def test_vpc_bad_observed_exits_2_one_line_no_figure(run, tmp_path, text, args, message):
    (tmp_path / "o.csv").write_text(text)
    res = runner.invoke(cli.app, ["vpc", str(run), "--observed", str(tmp_path / "o.csv"), "--out",
                                  str(tmp_path / "v.png"), *args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and res.stderr.count("\n") == 1
    assert not (tmp_path / "v.png").exists()


def test_observed_points_are_drawn_on_their_panels(run, tmp_path):
    (tmp_path / "o.csv").write_text(OBS)
    obs = read_observed(tmp_path / "o.csv")
    fig = bands_figure(run, obs)
    by_label = {ax.get_ylabel(): ax for ax in fig.axes}
    pts = [ln for ln in by_label["plasma ketamine (µM)"].lines if ln.get_label().startswith("observed")]
    np.testing.assert_array_equal(pts[0].get_xdata(), [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(pts[0].get_ydata(), [4.0, 2.0, 0.3])
    occ = [ln for ln in by_label["NMDA occupancy pyramidal (fraction)"].lines if ln.get_label().startswith("observed")]
    np.testing.assert_array_equal(occ[0].get_ydata(), [0.1])
    res = runner.invoke(cli.app, ["cohort", "summarize", str(run), "--observed", str(tmp_path / "o.csv"),
                                  "--plot", str(tmp_path / "b.png")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli.app, ["pk", "--dose", "10mg/kg", "--route", "ip", "--observed", str(tmp_path / "o.csv"),
                                  "--plot", str(tmp_path / "pk.png"), "--out", str(tmp_path / "pk.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pk.png").exists()
    res = runner.invoke(cli.app, ["pk", "--dose", "10mg/kg", "--route", "ip", "--observed", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "observed: the observed points are drawn on the figure" in res.stderr


def test_pk_figure_draws_observed_points():
    from pkpd.dosing import Regimen
    from pkpd.observed import Observed
    from pkpd.output import pk_figure
    from pkpd.pk import simulate_pk

    r = simulate_pk(Regimen.single("10mg/kg", "ip"), 2.0)
    obs = Observed(np.array(["1", "1"]), np.array([0.5, 1.0]), np.array(["brain_ketamine_uM"] * 2),
                   np.array([1.5, 0.7]), np.array(["uM"] * 2), np.array([1, 2]), "o.csv")
    ax = pk_figure(r, obs).axes[1]
    pts = [ln for ln in ax.lines if ln.get_label().startswith("observed")]
    np.testing.assert_array_equal(pts[0].get_ydata(), [1.5, 0.7])
