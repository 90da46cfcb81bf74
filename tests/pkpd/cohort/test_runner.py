"""The cohort runner: the run layout, bitwise determinism across chunk sizes, thread counts and schedulers
(in-process, a real 2-worker LocalCluster, a cluster whose worker dies), resume after a killed process, failing
subjects that keep their rows, the memory estimate and the scheduler's errors.

Uses the compiled ``ketamine_pk`` system (numba disk cache); each Dask worker process loads it from the cache.
"""

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pkpd.cohort import ENV_KILL_WORKER, ENV_STOP_AFTER, PkProtocol, estimate_memory, read_subjects, run_cohort

from .common import N, ROOT, bad_population, make_spec, same_run


def test_reference_run_layout_and_summary(reference):
    out, run = reference
    assert sorted(p.name for p in out.iterdir()) == [".lock", "bands", "done", "manifest.json",
                                                     "percentiles.parquet", "subjects", "summary.json"]
    tab = read_subjects(out)
    assert tab.num_rows == N and tab.column("id").to_pylist() == list(range(N))
    assert run.summary["n_ok"] == N and run.summary["failures"] == {}
    m = json.loads((out / "manifest.json").read_text())
    assert m["spec"]["seed"] == 7 and m["chunking"] == {"chunk_size": N, "n_chunks": 1}
    assert m["spec"]["population"]["variability"]["names"] == ["cl_L_per_h", "v_L", "kp_brain"]
    assert m["spec"]["regimen"][0]["route"] == "ip" and m["version"]


@pytest.mark.parametrize("chunk_size, threads", [(7, 1), (20, 2)])
def test_identical_across_chunk_sizes_and_threads(reference, tmp_path, chunk_size, threads):
    out = tmp_path / "run"
    run = run_cohort(make_spec(), out, chunk_size=chunk_size, threads=threads)
    assert run.chunks_run == -(-N // chunk_size)
    same_run(reference[0], out)


def test_failing_subjects_keep_their_rows_and_the_run_goes_on(tmp_path):
    spec = make_spec(n=40, population=bad_population())
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
    same_run(tmp_path / "a", tmp_path / "b")


@pytest.mark.slow
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
    run = run_cohort(make_spec(), out, chunk_size=10, resume=True)
    assert (run.chunks_skipped, run.chunks_run) == (2, 3)
    same_run(reference[0], out)
    again = run_cohort(make_spec(), out, chunk_size=10, resume=True)  # nothing left to do
    assert again.chunks_run == 0 and again.summary == run.summary


@pytest.mark.slow
def test_local_cluster_of_two_workers_gives_identical_results(reference, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "run"
    run = run_cohort(make_spec(), out, chunk_size=12, scheduler="local", n_workers=2)
    assert run.chunks_run == 4
    same_run(reference[0], out)


@pytest.mark.slow
def test_existing_cluster_whose_worker_dies_recomputes_its_chunk(reference, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "killed"
    monkeypatch.setenv(ENV_KILL_WORKER, str(marker))  # inherited by the worker processes started below
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        out = tmp_path / "run"
        run = run_cohort(make_spec(), out, chunk_size=12, scheduler=cluster.scheduler_address)
    assert marker.exists()  # a worker really died holding chunk 1
    assert run.chunks_run == 4
    same_run(reference[0], out)


def test_chunk_too_big_for_memory_is_refused_with_the_estimate(tmp_path):
    spec = make_spec(n=10 ** 8)
    est = estimate_memory(spec, 10 ** 8)
    with pytest.raises(ValueError, match=r"chunk-size: 100000000 subjects per chunk need an estimated") as err:
        run_cohort(spec, tmp_path / "x", chunk_size=10 ** 8)
    assert f"{est['total_bytes'] / 2 ** 30:.2f} GiB" in str(err.value)
    assert not (tmp_path / "x").exists()  # refused before anything is written
    # the estimate is linear in the chunk: per-subject bytes × chunk + the fixed base
    e1, e2 = estimate_memory(spec, 1000), estimate_memory(spec, 2000)
    assert e2["per_chunk_bytes"] == 2 * e1["per_chunk_bytes"]
    with pytest.raises(ValueError, match="chunk-size: expected a positive"):
        run_cohort(make_spec(), tmp_path / "y", chunk_size=0)


def test_unreachable_scheduler_fails_within_seconds(tmp_path):
    pytest.importorskip("distributed")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"scheduler: cannot reach a Dask scheduler at tcp://127.0.0.1:1"):
        run_cohort(make_spec(), tmp_path / "x", scheduler="tcp://127.0.0.1:1", connect_timeout_s=2)
    assert time.perf_counter() - t0 < 10  # the timeout (2 s) plus client start-up
    assert not (tmp_path / "x").exists()  # nothing written: the same command works once the scheduler is up
    with pytest.raises(ValueError, match="scheduler: expected none"):
        run_cohort(make_spec(), tmp_path / "y", scheduler="localhost")


def test_a_port_that_is_not_dask_and_a_scheduler_without_workers_fail_within_seconds(tmp_path):
    # both hung before: Client's timeout does not bound the handshake, and a run waited forever for a worker
    import socket
    import threading

    distributed = pytest.importorskip("distributed")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    held = []  # accepted, never answered

    def accept():
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(ValueError, match="no Dask handshake"):
            run_cohort(make_spec(), tmp_path / "x", scheduler=f"tcp://127.0.0.1:{srv.getsockname()[1]}",
                       connect_timeout_s=2)
        assert time.perf_counter() - t0 < 10
    finally:
        srv.close()
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://", dashboard_address=None) as empty:
        t0 = time.perf_counter()
        with pytest.raises(ValueError, match="has no worker .none joined within 2 s."):
            run_cohort(make_spec(), tmp_path / "y", scheduler=empty.scheduler_address, connect_timeout_s=2)
        assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_trajectories_on_request_hold_the_band_values(tmp_path):
    """--trajectories writes every observable on the solve grid; the band series are the same values at the band
    times, rounded to float32 (so: equal after the same rounding)."""
    out = tmp_path / "run"
    run_cohort(make_spec(n=9, trajectories=True), out, chunk_size=5)
    from pkpd.cohort import read_bands

    traj = pa.concat_tables([pq.read_table(p) for p in sorted((out / "trajectories").glob("*.parquet"))])
    t = np.asarray(json.loads(pq.read_schema(next((out / "trajectories").glob("*.parquet"))).metadata[b"time_h"]))
    tb, band = read_bands(out, "plasma_ketamine_uM")
    idx = np.searchsorted(t, tb)
    assert np.array_equal(t[idx], tb)
    full = np.asarray(traj.column("plasma_ketamine_uM").combine_chunks().flatten()).reshape(9, t.size)
    assert np.array_equal(full[:, idx].astype(np.float32), band)
    assert traj.column_names == ["id", *PkProtocol().observable_names(make_spec())]
