"""Cohorts from a dataset: the same cohort written as a dataset and as a Regimen with output times gives the same
bits; per-subject regimens and covariates reach each subject (against the exact solution); what a cohort cannot
take is refused naming the ID and column."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pkpd.cohort import CohortSpec, PkProtocol, read_subjects, run_cohort
from pkpd.cohort.design import SubjectDesign
from pkpd.dataset import parse_dataset
from pkpd.dosing import Regimen

from .common import bitwise_equal_tables

TIMES = (0.25, 0.5, 1.0, 2.0, 4.0, 6.0)


def dataset(n, rows_of):
    header = ["ID", "TIME(h)", "AMT(mg/kg)", "EVID", "ROUTE", "DV", "WT", "SEX"]
    rows = [r for i in range(1, n + 1) for r in rows_of(i)]
    return parse_dataset(rows, header, source="d.csv")


def same_regimen(i):
    return [[i, 0, 10, 1, "ip", ".", ".", "."]] + [[i, t, ".", 0, ".", 1.0, ".", "."] for t in TIMES]


def test_a_dataset_and_the_equivalent_regimen_give_the_same_bits(tmp_path):
    n = 12
    design = SubjectDesign.from_dataset(dataset(n, same_regimen))
    np.testing.assert_array_equal(design.times_h, TIMES)
    a = run_cohort(CohortSpec(n=n, regimen=Regimen(), duration_h=design.end_h, seed=3, design=design),
                   tmp_path / "data", chunk_size=5)
    b = run_cohort(CohortSpec(n=n, regimen=Regimen.single("10mg/kg", "ip"), duration_h=6.0, seed=3, times_h=TIMES),
                   tmp_path / "reg", chunk_size=n)
    ta, tb = read_subjects(a.path), read_subjects(b.path)
    assert ta.column("ID").to_pylist() == [str(i) for i in range(1, n + 1)]
    bitwise_equal_tables(ta.drop(["ID"]), tb)
    for kind in ("bands",):
        bitwise_equal_tables(*(pa.concat_tables([pq.read_table(p) for p in sorted((r.path / kind).glob("*"))])
                               for r in (a, b)))
    bitwise_equal_tables(pq.read_table(a.path / "percentiles.parquet"), pq.read_table(b.path / "percentiles.parquet"))
    assert a.summary["readouts"] == b.summary["readouts"]
    m = json.loads((a.path / "manifest.json").read_text())["spec"]
    assert m["data"] == design.manifest() and m["regimen"] == []
    # the band times are the observation times
    assert pq.read_table(a.path / "percentiles.parquet").column("time_h").to_pylist()[:len(TIMES)] == list(TIMES)


def test_each_subject_gets_its_own_doses_and_covariates():
    """Without IIV, subject k's plasma ketamine is the exact (matrix-exponential) solution of its own regimen,
    weight and sex; the engine runs at rtol 1e-6, so 1e-4 relative bounds its error with margin."""
    from pkpd.pk import simulate_pk

    def rows(i):
        amt, wt = (10, 0.02) if i == 1 else (30, 0.035)
        doses = [[i, 0, amt, 1, "ip", ".", wt * 1000, "F" if i == 1 else "M"], [i, 1, amt / 2, 1, "ip", ".", ".", "."]]
        return sorted(doses + [[i, t, ".", 0, ".", ".", ".", "."] for t in TIMES], key=lambda r: r[1])

    header = ["ID", "TIME(h)", "AMT(mg/kg)", "EVID", "ROUTE", "DV", "WT(g)", "SEX"]
    data = parse_dataset([r for i in (1, 2) for r in rows(i)], header, source="d.csv")
    design = SubjectDesign.from_dataset(data)
    spec = CohortSpec(n=2, regimen=Regimen(), duration_h=design.end_h, design=design,
                      population=PkProtocol().default_population("mouse", "mouse").without_iiv())
    sample = spec.sample(np.arange(2))
    np.testing.assert_array_equal(sample["weight_kg"], [0.02, 0.035])
    np.testing.assert_array_equal(sample["female"], [True, False])
    from pkpd.cohort import run_chunk

    res = run_chunk(spec, 0, 0, 2)
    grid = res["t"]
    for k, (amt, w) in enumerate(((10, 0.02), (30, 0.035))):
        reg = Regimen.single(f"{amt}mg/kg", "ip") + Regimen.single(f"{amt / 2}mg/kg", "ip", time_h=1.0)
        exact = simulate_pk(reg, 6.0, species="mouse", weight_kg=w, sex="female" if k == 0 else "male",
                            t_eval=grid, backend="exact")
        np.testing.assert_allclose(res["bands"]["plasma_ketamine_uM"][k], exact.columns["plasma_ketamine_uM"][1:],
                                   rtol=1e-4)
        np.testing.assert_allclose(res["subjects"]["dose_umol"][k], exact.metadata["doses"][0]["base_umol"] * 1.5,
                                   rtol=1e-12)


@pytest.mark.parametrize("extra, column", [([1, 2, 10, 1, "ip", ".", ".", ".", 12, 1], "SS"),
                                            ([1, 2, ".", 3, ".", ".", ".", ".", ".", "."], "EVID")])
def test_steady_state_and_resets_are_refused_naming_id_and_column(extra, column):
    header = ["ID", "TIME", "AMT(mg/kg)", "EVID", "ROUTE", "DV", "WT", "SEX", "II", "SS"]
    rows = [[1, 0, 10, 1, "ip", ".", ".", ".", ".", "."], extra, [1, 3, ".", 0, ".", ".", ".", ".", ".", "."]]
    with pytest.raises(ValueError, match=f"d.csv, ID 1, column '{column}'"):
        SubjectDesign.from_dataset(parse_dataset(rows, header, source="d.csv"))


def test_a_design_needs_the_pk_protocol_and_its_own_size():
    design = SubjectDesign.from_dataset(dataset(2, same_regimen))
    with pytest.raises(ValueError, match="n: the dataset holds 2 subjects, not 3"):
        CohortSpec(n=3, regimen=Regimen(), duration_h=6.0, design=design)
    with pytest.raises(ValueError, match="times: the dataset's observation rows"):
        CohortSpec(n=2, regimen=Regimen(), duration_h=6.0, design=design, times_h=(1.0,))


def test_a_resumed_data_run_must_hold_the_same_dataset(tmp_path):
    design = SubjectDesign.from_dataset(dataset(4, same_regimen))
    spec = CohortSpec(n=4, regimen=Regimen(), duration_h=design.end_h, design=design)
    first = run_cohort(spec, tmp_path / "run", chunk_size=2)
    again = run_cohort(spec, tmp_path / "run", chunk_size=2, resume=True)
    assert (again.chunks_run, again.chunks_skipped) == (0, 2) and again.summary == first.summary

    def heavier(i):
        rows = same_regimen(i)
        rows[0][2] = 20 if i == 4 else 10
        return rows

    other = SubjectDesign.from_dataset(dataset(4, heavier))
    with pytest.raises(ValueError, match="manifest differs in spec.data.sha256"):
        run_cohort(CohortSpec(n=4, regimen=Regimen(), duration_h=other.end_h, design=other), tmp_path / "run",
                   chunk_size=2, resume=True)
