"""Shared by the cohort tests: the reference spec (48 mice, 10 mg/kg i.p., 6 h, seed 7) and bitwise comparison of
run directories."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pkpd.cohort import CohortSpec, read_subjects
from pkpd.dosing import Regimen
from pkpd.population import Covariates, Population, Variability, WeightDistribution

ROOT = Path(__file__).resolve().parents[3]
N = 48


def make_spec(**kw):
    base = dict(n=N, regimen=Regimen.single("10mg/kg", "ip"), duration_h=6.0, seed=7)
    base.update(kw)
    return CohortSpec(**base)


def bitwise_equal_tables(ta, tb):
    """Same columns and the same bits in every value (NaN of a failed subject included)."""
    assert ta.column_names == tb.column_names
    for name in ta.column_names:
        a, b = ta.column(name).combine_chunks(), tb.column(name).combine_chunks()
        if pa.types.is_fixed_size_list(a.type):  # a time course per subject
            a, b = a.flatten(), b.flatten()
        x, y = a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False)
        if x.dtype.kind == "f":
            x, y = x.view(np.uint64 if x.itemsize == 8 else np.uint32), y.view(np.uint64 if y.itemsize == 8
                                                                                else np.uint32)
        assert x.shape == y.shape and np.array_equal(x, y), name


def same_run(a: Path, b: Path):
    """Every subject row, every band value and every percentile identical, bit for bit."""
    bitwise_equal_tables(read_subjects(a), read_subjects(b))
    ba = pa.concat_tables([pq.read_table(p) for p in sorted((a / "bands").glob("*.parquet"))])
    bb = pa.concat_tables([pq.read_table(p) for p in sorted((b / "bands").glob("*.parquet"))])
    bitwise_equal_tables(ba, bb)
    bitwise_equal_tables(pq.read_table(a / "percentiles.parquet"), pq.read_table(b / "percentiles.parquet"))
    sa, sb = json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text())
    assert sa == sb


def bad_population():
    """Mouse volume so small that some subjects fall below the declared bound (1e-3 L) and others below the
    brain's distribution volume (the PK model raises): two kinds of per-subject failure."""
    var = Variability(("v_L", "cl_L_per_h"), np.diag([0.8, 0.01]))
    return Population({"v_L": 0.004, "cl_L_per_h": 0.3}, var,
                      Covariates(WeightDistribution(0.025, 0.1, 0.01, 0.08)))
