"""The VPC statistic: observations drawn from the model itself fall outside its 90 % interval 10 % of the time
(within the binomial spread), shifted ones clearly more; bad observed files name row and column."""

import numpy as np
import pytest

from pkpd.cohort import read_bands, run_cohort
from pkpd.cohort.vpc import plot_vpc, vpc
from pkpd.observed import Observed, read_observed
from pkpd.pk import COLUMN_UNITS

from .common import make_spec

UNITS = {k: v for k, v in COLUMN_UNITS.items() if k != "time_h"}
TIMES = (0.25, 0.5, 1.0, 2.0, 4.0, 6.0)
N_MODEL, N_OBS = 400, 300


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("vpc")
    run_cohort(make_spec(n=N_MODEL, times_h=TIMES), d / "model", chunk_size=N_MODEL)
    run_cohort(make_spec(n=N_OBS, times_h=TIMES, seed=11), d / "obs", chunk_size=N_OBS)
    return d / "model", d / "obs"


def observed_from(run, scale=1.0):
    """Subject i of another run of the same model, seen once, at band time i mod 6: independent points."""
    t, y = read_bands(run, "plasma_ketamine_uM")
    k = np.arange(y.shape[0]) % t.size
    n = y.shape[0]
    return Observed(np.arange(n).astype(str), t[k], np.full(n, "plasma_ketamine_uM"),
                    y[np.arange(n), k].astype(float) * scale, np.full(n, "uM"), np.arange(1, n + 1), "obs.csv")


def test_data_from_the_model_fall_outside_ten_percent_of_the_time(runs, tmp_path):
    model, obs = runs
    r = vpc(model, observed_from(obs))
    # binomial spread of the observed points plus that of the model's percentiles estimated from N_MODEL subjects
    sd = np.sqrt(0.1 * 0.9 * (1 / N_OBS + 1 / N_MODEL))
    assert r["n_observed"] == N_OBS and r["n_subjects"] == N_MODEL
    assert abs(r["fraction_outside"] - 0.10) < 3 * sd, r["fraction_outside"]
    lo, hi = r["binomial_95"]
    assert lo < 0.1 < hi
    # one bin per nominal time; the observed median lies within the model's interval of the median
    assert [b["t_mid"] for b in r["bins"]] == list(TIMES) and sum(b["n"] for b in r["bins"]) == N_OBS
    assert all(b["model"]["p50"][0] <= b["observed"][1] <= b["model"]["p50"][2] for b in r["bins"])
    path = plot_vpc(r, tmp_path / "vpc.png", svg=False)
    assert path.stat().st_size > 0


def test_shifted_data_fall_outside_clearly_more_often(runs):
    model, obs = runs
    r = vpc(model, observed_from(obs, scale=2.0))
    assert r["fraction_outside"] > r["binomial_95"][1] + 0.1, r["fraction_outside"]
    assert sum(not (b["model"]["p50"][0] <= b["observed"][1] <= b["model"]["p50"][2]) for b in r["bins"]) >= 5


@pytest.mark.parametrize("text, message", [
    ("ID,TIME,NAME,VALUE\n1,1,plasma_ketamine_uM,x\n", "o.csv row 1, column 'VALUE': expected a number"),
    ("ID,TIME,NAME,VALUE\n1,1,plasma_ketamine_uM,1\n1,-1,plasma_ketamine_uM,1\n", "o.csv row 2, column 'TIME'"),
    ("ID,TIME,NAME,VALUE\n1,1,plasma_ketamine,1\n", "o.csv row 1, column 'NAME': 'plasma_ketamine' is nothing"),
    ("ID,TIME,NAME,VALUE,UNIT\n1,1,plasma_ketamine_uM,1,ng/mL\n", "o.csv row 1, column 'UNIT': unit 'ng/mL'"),
    ("ID,TIME,VALUE\n1,1,1\n", "o.csv header: the required column 'NAME' is missing"),
    ("ID,TIME,AMT(mg),CMT,DV(ng/mL)\n1,0,10,1,.\n1,1,.,.,3\n", "o.csv header, column 'DV': unit 'ng/mL'"),
])
def test_bad_observed_files_name_row_and_column(tmp_path, text, message):
    (tmp_path / "o.csv").write_text(text)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        read_observed(tmp_path / "o.csv", units=UNITS)


def test_dataset_dv_rows_and_a_tidy_table_read_the_same(tmp_path):
    (tmp_path / "d.csv").write_text("ID,TIME(min),AMT(mg),ROUTE,DV,MDV\n1,0,10,iv,.,1\n1,30,.,.,2.5,0\n1,60,.,.,1.5,1\n"
                                    "2,0,10,iv,.,1\n2,90,.,.,0.5,0\n")
    (tmp_path / "t.csv").write_text("ID,TIME(min),NAME,VALUE,UNIT\n1,30,plasma_ketamine_uM,2.5,µM\n"
                                    "2,90,plasma_ketamine_uM,0.5,uM\n")
    a, b = (read_observed(tmp_path / f, units=UNITS) for f in ("d.csv", "t.csv"))
    for f in ("id", "time_h", "name", "value"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    np.testing.assert_array_equal(a.time_h, [0.5, 1.5])


def test_an_observation_outside_the_run_is_refused(runs):
    model, _ = runs
    o = Observed(np.array(["1"]), np.array([7.0]), np.array(["plasma_ketamine_uM"]), np.array([1.0]),
                 np.array(["uM"]), np.array([4]), "o.csv")
    with pytest.raises(ValueError, match="o.csv row 4, column 'TIME': 7 h is outside"):
        vpc(model, o)
    with pytest.raises(ValueError, match="name: 'x' is not a band series"):
        vpc(model, o, name="x")
