"""The cohort runner: exposure readouts against the exact solution, bitwise determinism across chunk sizes, thread
counts and schedulers (in-process, a real 2-worker LocalCluster, a cluster whose worker dies), resume after a
killed process, failing subjects that keep their rows, and every bad input.

Uses the compiled ``ketamine_pk`` system (numba disk cache); each Dask worker process loads it from the cache.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pkpd.cohort import (ENV_KILL_WORKER, ENV_STOP_AFTER, PROTOCOLS, READOUTS, CohortSpec, estimate_memory,
                         read_percentiles, read_subjects, register_readout, run_chunk, run_cohort, summarize_run)
from pkpd.dosing import Regimen
from pkpd.population import Covariates, Population, Variability, WeightDistribution

ROOT = Path(__file__).resolve().parents[2]
N = 48


def _spec(**kw):
    base = dict(n=N, regimen=Regimen.single("10mg/kg", "ip"), duration_h=6.0, seed=7)
    base.update(kw)
    return CohortSpec(**base)


def _bitwise_equal_tables(ta, tb):
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


def _same_run(a: Path, b: Path):
    """Every subject row, every band value and every percentile identical, bit for bit."""
    _bitwise_equal_tables(read_subjects(a), read_subjects(b))
    ba = pa.concat_tables([pq.read_table(p) for p in sorted((a / "bands").glob("*.parquet"))])
    bb = pa.concat_tables([pq.read_table(p) for p in sorted((b / "bands").glob("*.parquet"))])
    _bitwise_equal_tables(ba, bb)
    _bitwise_equal_tables(pq.read_table(a / "percentiles.parquet"), pq.read_table(b / "percentiles.parquet"))
    sa, sb = json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text())
    assert sa == sb


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The cohort in one chunk, in process: the oracle every other way of running it must reproduce bit for bit."""
    out = tmp_path_factory.mktemp("ref") / "run"
    run = run_cohort(_spec(), out, chunk_size=N)
    return out, run


def test_reference_run_layout_and_summary(reference):
    out, run = reference
    assert sorted(p.name for p in out.iterdir()) == ["bands", "manifest.json", "percentiles.parquet", "subjects",
                                                    "summary.json"]
    tab = read_subjects(out)
    assert tab.num_rows == N and tab.column("id").to_pylist() == list(range(N))
    assert run.summary["n_ok"] == N and run.summary["failures"] == {}
    m = json.loads((out / "manifest.json").read_text())
    assert m["spec"]["seed"] == 7 and m["chunking"] == {"chunk_size": N, "n_chunks": 1}
    assert m["spec"]["population"]["variability"]["names"] == ["cl_L_per_h", "v_L", "kp_brain"]
    assert m["spec"]["regimen"][0]["route"] == "ip" and m["version"]


def test_exposure_matches_the_exact_solution(reference):
    """Cmax and AUC of plasma ketamine against the matrix-exponential solution of the same subject on the same
    grid: the engine runs at rtol 1e-6, so 1e-4 relative bounds its global error with margin."""
    from pkpd.closed_form import solve_linear
    from pkpd.exposure import auc
    from pkpd.pk import _observables

    out, _ = reference
    spec = _spec()
    tab = read_subjects(out).to_pydict()
    ids = np.array([0, 17, 41])
    sample = spec.population.sample(spec.seed, ids)
    inp = PROTOCOLS["pk"].inputs(spec, sample)
    for k, i in enumerate(ids):
        y = solve_linear(inp.system, inp.y0, inp.t_eval, inp.params[k], inp.schedules[k])
        c = _observables(False, y, inp.params[k])["plasma_ketamine_uM"]
        np.testing.assert_allclose(tab["plasma_ketamine_cmax_uM"][i], c.max(), rtol=1e-4)
        # the vectorised AUC is the formula of pkpd.exposure.auc: equal to rounding on the same samples
        np.testing.assert_allclose(tab["plasma_ketamine_auc_uM_h"][i], auc(inp.t_eval, c), rtol=1e-4)
    # the solve grid resolves the i.p. peak (~8 min) to a minute
    assert 0.05 < np.median(tab["plasma_ketamine_tmax_h"]) < 0.25


def test_vectorised_auc_is_the_nca_auc():
    """The chunk-wide AUC does the same floating-point operations as pkpd.exposure.auc (linear up, log down);
    only the summation of a row may group differently: rtol 1e-13."""
    from pkpd.cohort import auc_linear_up_log_down
    from pkpd.exposure import auc

    rng = np.random.default_rng(0)
    t = np.sort(rng.random(60)) * 10
    c = np.abs(rng.standard_normal((12, 60)))
    c[3] = 0.0
    c[4, 10:] = 0.0  # falls to zero: linear, not log
    ref = np.array([auc(t, ci) for ci in c])
    np.testing.assert_allclose(auc_linear_up_log_down(t, c), ref, rtol=1e-13, atol=0)


@pytest.mark.parametrize("species, pk_model, dose, route", [("mouse", None, "10mg/kg", "ip"),
                                                           ("human", "kamp2020", "0.5mg/kg", "iv"),
                                                           ("human", "fanta2015", "0.25mg/kg", "oral")])
def test_vectorised_parameters_equal_the_scalar_path(species, pk_model, dose, route):
    """The engine parameters of a sampled subject equal pkpd.pk.parameter_values on a model with its values
    (``dataclasses.replace``) and its Subject (Fanta 2015: women clear 20 % faster, so sex matters); NumPy vs
    Python power may differ in the last bit (rtol 1e-14)."""
    from pkpd.pk import parameter_values, parameter_vector
    from pkpd.pk_models import get_pk_model
    from pkpd.species import Subject

    spec = _spec(species=species, pk_model=pk_model, regimen=Regimen.single(dose, route))
    sample = spec.population.sample(spec.seed, np.arange(8))
    assert 0 < sample["female"].sum() < 8  # both sexes present
    inp = PROTOCOLS["pk"].inputs(spec, sample)
    model = get_pk_model(pk_model, species)
    for i in range(8):
        m = dataclasses.replace(model, **{n: float(sample[n][i]) for n in spec.population.variability.names})
        subj = Subject(species, float(sample["weight_kg"][i]), "female" if sample["female"][i] else "male")
        p = parameter_vector(inp.system, parameter_values(m, subj, drug=spec.drug))
        np.testing.assert_allclose(inp.params[i], p, rtol=1e-14, atol=0)


@pytest.mark.parametrize("chunk_size, threads", [(7, 1), (20, 2)])
def test_identical_across_chunk_sizes_and_threads(reference, tmp_path, chunk_size, threads):
    out = tmp_path / "run"
    run = run_cohort(_spec(), out, chunk_size=chunk_size, threads=threads)
    assert run.chunks_run == -(-N // chunk_size)
    _same_run(reference[0], out)


def test_percentile_bands_are_exact_percentiles_of_all_subjects(reference):
    out, _ = reference
    from pkpd.cohort import read_bands

    t, occ = read_bands(out, "nmda_occupancy_pyramidal")
    assert occ.shape == (N, t.size) and occ.dtype == np.float32
    p = read_percentiles(out)
    sel = [i for i, s in enumerate(p["series"]) if s == "nmda_occupancy_pyramidal"]
    np.testing.assert_array_equal(np.asarray(p["time_h"])[sel], t)
    # numpy's linear-interpolation percentiles of the stored float32 values: identical
    np.testing.assert_array_equal(np.asarray(p["p50"])[sel], np.percentile(occ.astype(float), 50, axis=0))
    np.testing.assert_array_equal(np.asarray(p["p95"])[sel], np.percentile(occ.astype(float), 95, axis=0))
    assert np.all(np.asarray(p["n"])[sel] == N)
    # reading one band time at a time (the smallest memory budget) gives the same numbers bit for bit
    from pkpd.cohort import compute_percentiles

    a, b = compute_percentiles(out), compute_percentiles(out, block_bytes=1)
    for name in ("plasma_ketamine_uM", "nmda_occupancy_pyramidal"):
        assert np.array_equal(a[name]["p"], b[name]["p"]) and np.array_equal(a[name]["n"], b[name]["n"])
    assert not list(out.glob(".bands-by-time*"))  # the time-major scratch file is removed


def test_percentiles_in_groups_of_band_times_when_the_disk_is_short(reference, monkeypatch):
    # with too little free disk for the whole time-major scratch file, it is filled and read a group of band times
    # at a time (here: 3 band times, 2 per block): the same numbers, bit for bit
    import shutil
    import types

    from pkpd.cohort import compute_percentiles

    out, _ = reference
    whole = compute_percentiles(out)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: types.SimpleNamespace(free=2 * 3 * 4 * N))
    grouped = compute_percentiles(out, block_bytes=2 * 5 * 4 * N)
    assert list(grouped) == list(whole)
    for name in whole:
        if name != "time_h":
            assert np.array_equal(grouped[name]["p"], whole[name]["p"])
            assert np.array_equal(grouped[name]["n"], whole[name]["n"])


def _bad_population():
    """Mouse volume so small that some subjects fall below the declared bound (1e-3 L) and others below the
    brain's distribution volume (the PK model raises): two kinds of per-subject failure."""
    var = Variability(("v_L", "cl_L_per_h"), np.diag([0.8, 0.01]))
    return Population({"v_L": 0.004, "cl_L_per_h": 0.3}, var,
                      Covariates(WeightDistribution(0.025, 0.1, 0.01, 0.08)))


def test_failing_subjects_keep_their_rows_and_the_run_goes_on(tmp_path):
    spec = _spec(n=40, population=_bad_population())
    a = run_cohort(spec, tmp_path / "a", chunk_size=40)
    tab = read_subjects(tmp_path / "a").to_pydict()
    v = np.asarray(tab["v_L"])
    status = np.asarray(tab["status"])
    reasons = tab["reason"]
    vc = v * np.asarray(tab["weight_kg"]) / 0.025  # the volume scales with body weight (exponent 1)
    bound = v < 1e-3
    brain = (v >= 1e-3) & (vc < 6.5 * 0.0165 * 0.025)  # kp × V_brain of the reference mouse (L)
    assert bound.any() and brain.any() and (~bound & ~brain).any()  # the seed gives all three kinds
    assert np.all(status[bound | brain] == -1) and np.all(status[~bound & ~brain] == 0)
    assert all("v_L" in reasons[i] and "outside" in reasons[i] for i in np.flatnonzero(bound))
    assert all("brain's distribution volume" in reasons[i] for i in np.flatnonzero(brain))
    assert np.all(np.isnan(np.asarray(tab["plasma_ketamine_cmax_uM"], float)[status != 0]))
    assert a.summary["n_failed"] == int((status != 0).sum()) == a.summary["failures"]["invalid-parameters"]
    # the one-by-one fallback for rejected subjects does not change anyone else's values
    run_cohort(spec, tmp_path / "b", chunk_size=3)
    _same_run(tmp_path / "a", tmp_path / "b")


def test_resume_after_a_killed_process_gives_the_uninterrupted_result(reference, tmp_path):
    out = tmp_path / "run"
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from pkpd.cohort import CohortSpec, run_cohort
        from pkpd.dosing import Regimen
        run_cohort(CohortSpec(n={N}, regimen=Regimen.single("10mg/kg", "ip"), duration_h=6.0, seed=7),
                   {str(out)!r}, chunk_size=10, threads=1)
    """)
    env = {**os.environ, ENV_STOP_AFTER: "2"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 137, proc.stderr  # killed after its 2nd chunk
    assert len(list((out / "subjects").glob("*.parquet"))) == 2 and not (out / "summary.json").exists()
    run = run_cohort(_spec(), out, chunk_size=10, resume=True)
    assert (run.chunks_skipped, run.chunks_run) == (2, 3)
    _same_run(reference[0], out)
    again = run_cohort(_spec(), out, chunk_size=10, resume=True)  # nothing left to do
    assert again.chunks_run == 0 and again.summary == run.summary


def test_local_cluster_of_two_workers_gives_identical_results(reference, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "run"
    run = run_cohort(_spec(), out, chunk_size=12, scheduler="local", n_workers=2)
    assert run.chunks_run == 4
    _same_run(reference[0], out)


def test_existing_cluster_whose_worker_dies_recomputes_its_chunk(reference, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "killed"
    monkeypatch.setenv(ENV_KILL_WORKER, str(marker))  # inherited by the worker processes started below
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        out = tmp_path / "run"
        run = run_cohort(_spec(), out, chunk_size=12, scheduler=cluster.scheduler_address)
    assert marker.exists()  # a worker really died holding chunk 1
    assert run.chunks_run == 4
    _same_run(reference[0], out)


# ---- bad input --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_n_must_be_positive(n):
    with pytest.raises(ValueError, match="^n: expected a positive number of subjects"):
        _spec(n=n)


def test_chunk_too_big_for_memory_is_refused_with_the_estimate(tmp_path):
    spec = _spec(n=10 ** 8)
    est = estimate_memory(spec, 10 ** 8)
    with pytest.raises(ValueError, match=r"chunk-size: 100000000 subjects per chunk need an estimated") as err:
        run_cohort(spec, tmp_path / "x", chunk_size=10 ** 8)
    assert f"{est['total_bytes'] / 2 ** 30:.2f} GiB" in str(err.value)
    assert not (tmp_path / "x").exists()  # refused before anything is written
    # the estimate is linear in the chunk: per-subject bytes × chunk + the fixed base
    e1, e2 = estimate_memory(spec, 1000), estimate_memory(spec, 2000)
    assert e2["per_chunk_bytes"] == 2 * e1["per_chunk_bytes"]
    with pytest.raises(ValueError, match="chunk-size: expected a positive"):
        run_cohort(_spec(), tmp_path / "y", chunk_size=0)


def test_a_directory_holding_another_run_is_refused(reference, tmp_path):
    out, _ = reference
    with pytest.raises(ValueError, match="already holds a cohort run; pass resume"):
        run_cohort(_spec(), out, chunk_size=N)
    with pytest.raises(ValueError, match=r"holds a different run \(manifest differs in spec.seed\)"):
        run_cohort(_spec(seed=8), out, chunk_size=N, resume=True)
    with pytest.raises(ValueError, match="chunking.chunk_size"):
        run_cohort(_spec(), out, chunk_size=5, resume=True)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty and holds no cohort manifest"):
        run_cohort(_spec(), tmp_path / "junk")


def test_unreachable_scheduler_fails_within_seconds(tmp_path):
    pytest.importorskip("distributed")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"scheduler: cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        run_cohort(_spec(), tmp_path / "x", scheduler="tcp://127.0.0.1:1", connect_timeout_s=2)
    assert time.perf_counter() - t0 < 10  # the timeout (2 s) plus client start-up
    assert not (tmp_path / "x").exists()  # nothing written: the same command works once the scheduler is up
    with pytest.raises(ValueError, match="scheduler: expected none"):
        run_cohort(_spec(), tmp_path / "y", scheduler="localhost")


def test_non_psd_omega_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="omega: expected a positive semi-definite"):
        Variability(("cl_L_per_h", "v_L"), [[0.1, 0.5], [0.5, 0.1]])
    pop = Population({"bogus": 1.0}, Variability(("bogus",), [[0.1]]),
                     Covariates(WeightDistribution(0.025, 0.1, 0.01, 0.08)))
    with pytest.raises(ValueError, match="'bogus' is not a parameter of the mouse PK model"):
        _spec(population=pop)
    with pytest.raises(ValueError, match="protocol: unknown protocol 'bogus'"):
        _spec(protocol="bogus")
    with pytest.raises(ValueError, match="bands: unknown time course"):
        _spec(bands=("da_response",))


def test_readouts_are_pluggable(tmp_path):
    """A readout registered by name (as the circuit model will) becomes columns of every subject row."""
    @register_readout("test_half_life_proxy")
    def _proxy(ctx):
        return {"auc_per_cmax_h": ctx.observables["plasma_ketamine_uM"].sum(axis=1) * 0 + 1.0}

    try:
        res = run_chunk(_spec(readouts=("exposure", "test_half_life_proxy")), 0, 0, 5)
        assert np.array_equal(res["subjects"]["auc_per_cmax_h"], np.ones(5))
        assert "plasma_ketamine_cmax_uM" in res["subjects"]
    finally:
        READOUTS.pop("test_half_life_proxy")


def test_trajectories_on_request_hold_the_band_values(tmp_path):
    """--trajectories writes every observable on the solve grid; the band series are the same values at the band
    times, rounded to float32 (so: equal after the same rounding)."""
    out = tmp_path / "run"
    run_cohort(_spec(n=9, trajectories=True), out, chunk_size=5)
    from pkpd.cohort import read_bands

    traj = pa.concat_tables([pq.read_table(p) for p in sorted((out / "trajectories").glob("*.parquet"))])
    t = np.asarray(json.loads(pq.read_schema(next((out / "trajectories").glob("*.parquet"))).metadata[b"time_h"]))
    tb, band = read_bands(out, "plasma_ketamine_uM")
    idx = np.searchsorted(t, tb)
    assert np.array_equal(t[idx], tb)
    full = np.asarray(traj.column("plasma_ketamine_uM").combine_chunks().flatten()).reshape(9, t.size)
    assert np.array_equal(full[:, idx].astype(np.float32), band)
    assert traj.column_names == ["id", *PROTOCOLS["pk"].observable_names(_spec())]


def test_summarize_refuses_an_unfinished_run(tmp_path):
    with pytest.raises(ValueError, match="holds no cohort manifest"):
        summarize_run(tmp_path)


def test_summary_header_says_when_dose_times_are_relative_to_the_protocol():
    # a circuit protocol's regimen is timed from the protocol's drug time (sLH: 96 h), a PK cohort's from 0
    from pkpd.cohort import format_summary

    spec = {"species": "mouse", "pk_model": "mouse", "drug": "racemic", "duration_h": 168.7, "seed": 7,
            "regimen": [{"amount": 10.0, "unit": "mg/kg", "route": "ip", "time_h": 0.0}]}
    summary = {"n": 3, "n_ok": 3, "n_failed": 0, "failures": {}, "readouts": {}}
    head = {p: format_summary({**summary, "spec": {**spec, "protocol": p}}).splitlines()[0] for p in ("pk", "slh")}
    assert "10 mg/kg ip at 0 h, 168.7 h" in head["pk"]
    assert "10 mg/kg ip at 0 h after the protocol's drug time, 168.7 h" in head["slh"]
