"""The cohort runner: N subjects through a protocol, in chunks, to a resumable run directory.

The flow of one chunk (:func:`run_chunk`, a pure function: any process)::

    ids start … stop−1 ─► spec.sample(ids) ─► spec.protocol.prepare ─► spec.protocol.solve
                      ─► the protocol's readouts ─► {subject rows, band series, trajectories}

and of a run (:func:`run_cohort`): check the directory and the memory estimate, write the manifest, run the
unfinished chunks in process or on a Dask cluster, write each chunk's parts as it comes back (:mod:`.store`), then
the percentile bands and the summary (:mod:`.summary`).

Determinism: a subject's parameters depend only on (seed, id) (:mod:`pkpd.population`); the engine's result for a
subject does not depend on the other subjects in its batch nor on the thread count; tolerances and time grids are
fixed per spec (not per chunk). So the parts, the bands and the summary are bitwise identical for any chunk size,
thread count and scheduler (in-process, ``LocalCluster``, remote cluster) — on one machine type, since NumPy's and
LAPACK's elementwise results could differ between CPU builds.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..io import run_lock
from ..parameters import is_integer
from .contract import ReadoutContext
from .spec import CohortSpec
from .store import check_run_dir, new_manifest, open_run, write_chunk
from .summary import summarize_run

__all__ = ["CohortRun", "run_cohort", "run_chunk", "chunk_bounds", "estimate_memory", "available_memory_bytes",
           "BASE_MEMORY_BYTES", "ENV_STOP_AFTER", "ENV_KILL_WORKER"]

#: interpreter + NumPy + numba + the compiled model, before any chunk (measured ~250 MB; rounded up)
BASE_MEMORY_BYTES = 400 * 2 ** 20
#: test hooks (environment variables): stop the driver after k chunks (simulates a killed process); kill the worker
#: process that runs chunk 1, once, the marker file recording that it happened (simulates a dying Dask worker)
ENV_STOP_AFTER = "KETAMINE_QSP_COHORT_STOP_AFTER"
ENV_KILL_WORKER = "KETAMINE_QSP_COHORT_KILL_WORKER"

_NUMBA_LOCK = threading.Lock()  # one numba parallel region per process at a time (the workqueue layer is not
#                                 thread safe; parallelism comes from numba threads inside a chunk)


def chunk_bounds(n: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` of the chunks of ``n`` subjects."""
    return [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]


def _numba_threads() -> int | None:
    env = os.environ.get("NUMBA_NUM_THREADS")
    return int(env) if env else None


def run_chunk(spec: CohortSpec, index: int, start: int, stop: int, threads: int | None = None) -> dict:
    """Simulate subjects ``start … stop−1`` of ``spec``; a pure function of its arguments (any process).

    Returns ``{"index", "start", "stop", "subjects": {col: (S,)}, "bands": {name: (S, Tb) float32},
    "band_t": (Tb,), "trajectories": {name: (S, T)} or None, "t": (T,), "seconds", "solve_seconds"}``
    (``solve_seconds``: the time inside the protocol's ``solve``, for overhead accounting).
    """
    kill = os.environ.get(ENV_KILL_WORKER)
    if kill and index == 1 and not os.path.exists(kill):
        Path(kill).write_text(str(os.getpid()))
        os._exit(1)  # test hook: a worker process dies while holding this chunk
    t0 = time.perf_counter()
    proto = spec.protocol
    ids = np.arange(start, stop, dtype=np.int64)
    sample = spec.sample(ids)
    inp = proto.prepare(spec, sample)
    S, T = ids.size, inp.t_eval.size
    status = np.full(S, -1, np.int64)  # -1: not solved (invalid parameters)
    reasons = list(inp.reasons)
    n_steps = np.zeros(S, np.int64)
    names = proto.observable_names(spec)
    v = np.flatnonzero(inp.valid)
    obs = {k: np.full((S, T), np.nan) for k in names} if v.size < S else {}
    t_solve = 0.0
    results = None
    if v.size:
        with _NUMBA_LOCK:
            t1 = time.perf_counter()
            sol = proto.solve(spec, inp, v, threads=threads or _numba_threads())
            t_solve = time.perf_counter() - t1
        status[v] = sol.status
        n_steps[v] = sol.n_steps
        for k in names:
            if v.size == S:
                obs[k] = np.asarray(sol.observables[k])  # every subject solved: no copy
            else:
                obs[k][v] = sol.observables[k]
        for j, reason in sol.failures:
            reasons[v[j]] = reason
            for k in names:
                obs[k][v[j]] = np.nan  # a failed subject's partial trajectory is not a result
        results = sol.results
        del sol
    ok = status == 0
    ctx = ReadoutContext(spec, sample, inp, inp.t_eval, obs, ok, results)
    cols = dict(sample)
    cols["status"] = status
    cols["reason"] = np.array(reasons, dtype=object)
    cols["n_steps"] = n_steps
    cols.update(inp.extra)  # per-subject inputs the protocol reports (the PK protocol: dose_umol)
    readouts = proto.readouts()
    for r in spec.readouts:
        for k, val in readouts[r](ctx).items():
            val = np.asarray(val)
            cols[k] = np.where(ok, val, np.nan) if val.dtype.kind == "f" else val  # no readout of a failure
    bands = {b: obs[b][:, inp.band_index].astype(np.float32) for b in spec.bands}
    traj = {k: obs[k] for k in names} if spec.trajectories else None
    return {"index": index, "start": start, "stop": stop, "subjects": cols, "bands": bands,
            "band_t": inp.t_eval[inp.band_index], "trajectories": traj, "t": inp.t_eval,
            "seconds": time.perf_counter() - t0, "solve_seconds": t_solve, "version": __version__}


def available_memory_bytes() -> int:
    """``MemAvailable`` from /proc/meminfo (psutil elsewhere)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_memory(spec: CohortSpec, chunk_size: int, concurrent_chunks: int = 1) -> dict:
    """Estimated peak memory of a run: ``base + concurrent × chunk × per-subject bytes`` (plus the result being
    written by the driver). Returns ``{"per_subject_bytes", "per_chunk_bytes", "total_bytes"}``."""
    per = spec.protocol.per_subject_bytes(spec)
    c = min(chunk_size, spec.n)
    per_chunk = c * per
    total = BASE_MEMORY_BYTES * concurrent_chunks + per_chunk * (concurrent_chunks + 1)
    return {"per_subject_bytes": per, "per_chunk_bytes": per_chunk, "total_bytes": total}


@dataclass(frozen=True)
class CohortRun:
    """What :func:`run_cohort` returns: the run directory and a summary (also in ``summary.json``)."""

    path: Path
    manifest: dict
    summary: dict
    chunks_run: int
    chunks_skipped: int
    seconds: float
    timing: dict = field(default_factory=dict)  # summed chunk and engine-solve seconds of the chunks run


def _connect(scheduler: str, n_workers: int | None, timeout_s: float):
    """A Dask client (and the cluster it started, if any) for ``"local"`` or ``"tcp://HOST:PORT"``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("scheduler: Dask is needed for a scheduler: pip install 'dask[distributed]'") from None
    if scheduler == "local":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        n = n_workers or cores
        # each worker process runs one chunk at a time, with numba threads = its share of the cores
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               env={"NUMBA_NUM_THREADS": str(max(1, cores // n))})
        return Client(cluster), cluster
    if not (isinstance(scheduler, str) and scheduler.startswith(("tcp://", "tls://", "ws://", "wss://"))):
        raise ValueError(f"scheduler: expected none (in-process), 'local' or an address such as "
                         f"'tcp://host:8786', got {scheduler!r}")
    # Client's own timeout does not bound the handshake: a port that accepts but does not speak Dask would hang
    # it forever. So connect in a helper thread under a deadline, then wait for a worker under the same one.
    got: dict = {}

    def connect():
        try:
            got["client"] = Client(scheduler, timeout=timeout_s)
        except BaseException as err:  # noqa: BLE001 - reported below, in the caller's thread
            got["error"] = err

    t = threading.Thread(target=connect, name="dask-connect", daemon=True)
    t.start()
    t.join(timeout_s + 1.0)
    if "client" not in got:
        err = got.get("error")
        why = type(err).__name__ if err is not None else "no Dask handshake"
        raise ValueError(f"scheduler: cannot reach a Dask scheduler at {scheduler} within {timeout_s:g} s ({why}); "
                         "is it running, reachable, and a Dask scheduler?")
    client = got["client"]
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (OSError, TimeoutError):
        client.close()
        raise ValueError(f"scheduler: the Dask scheduler at {scheduler} has no worker (none joined within "
                         f"{timeout_s:g} s); start workers with `dask worker {scheduler}`") from None
    return client, None


def _close(client, cluster) -> None:
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def run_cohort(spec: CohortSpec, out, *, chunk_size: int = 5000, scheduler: str | None = None,
               resume: bool = False, threads: int | None = None, n_workers: int | None = None,
               memory_limit_bytes: int | None = None, connect_timeout_s: float = 5.0,
               progress: Callable[[int, int], None] | None = None) -> CohortRun:
    """Run a cohort into the directory ``out`` (see the module docstring for its layout).

    Parameters
    ----------
    spec : CohortSpec
    out : path
        A new or empty directory, or (``resume=True``) one holding the same run.
    chunk_size : int
        Subjects per chunk (> 0): the unit of work, of output files and of memory.
    scheduler : None, "local" or "tcp://HOST:PORT"
        None: in this process, numba threads on all cores. ``"local"``: a Dask ``LocalCluster`` of ``n_workers``
        processes (default: one per core). An address: an existing Dask cluster. Results come back to this
        process, which writes every part, so workers need no access to ``out``.
    resume : bool
        Continue the run in ``out`` (its manifest must match), skipping finished chunks.
    threads : int, optional
        numba threads in this process (in-process runs; default all cores).
    memory_limit_bytes : int, optional
        Refuse a chunk size whose estimate exceeds this (default: the memory available now).
    progress : callable(done_subjects, total_subjects), optional
        Called after each chunk (finished chunks of a resumed run count at the start).

    Raises
    ------
    ValueError
        For a bad chunk size (naming the memory estimate), an output directory that holds another run, an
        unreachable scheduler (within ``connect_timeout_s``), …
    """
    if not isinstance(spec, CohortSpec):
        raise ValueError(f"spec: expected a CohortSpec, got {type(spec).__name__}")
    if not is_integer(chunk_size) or chunk_size <= 0:
        raise ValueError(f"chunk-size: expected a positive number of subjects per chunk, got {chunk_size!r}")
    chunk_size = int(min(chunk_size, spec.n))
    concurrent = 1
    if scheduler == "local":
        concurrent = n_workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    est = estimate_memory(spec, chunk_size, concurrent)
    limit = available_memory_bytes() if memory_limit_bytes is None else int(memory_limit_bytes)
    if est["total_bytes"] > limit:
        per = est["per_subject_bytes"]
        fit = max(0, int((limit - BASE_MEMORY_BYTES * concurrent) // (per * (concurrent + 1))))
        raise ValueError(f"chunk-size: {chunk_size} subjects per chunk need an estimated "
                         f"{est['total_bytes'] / 2 ** 30:.2f} GiB ({per / 1024:.1f} KiB per subject, "
                         f"{concurrent} chunk(s) at a time), more than the {limit / 2 ** 30:.2f} GiB available; "
                         f"expected a chunk size of at most {fit}")
    run_dir = Path(out)
    bounds = chunk_bounds(spec.n, chunk_size)
    manifest = new_manifest(spec.manifest(), chunk_size, len(bounds))
    check_run_dir(run_dir, manifest, resume)  # before connecting: a refused directory costs nothing
    with contextlib.ExitStack() as stack:
        client = cluster = None
        if scheduler is not None:
            client, cluster = _connect(scheduler, n_workers, connect_timeout_s)
            stack.callback(_close, client, cluster)
        t_start = time.perf_counter()
        # only once the run can start (an unreachable scheduler leaves no directory): one writer at a time
        stack.enter_context(run_lock(run_dir))
        pending = open_run(run_dir, manifest, [e - s for s, e in bounds], resume)
        todo = [(i, *bounds[i]) for i in pending]
        done = spec.n - sum(e - s for _, s, e in todo)
        if progress:
            progress(done, spec.n)
        stop_after = int(os.environ.get(ENV_STOP_AFTER, "0") or 0)
        written = 0
        timing = {"chunk_s": 0.0, "solve_s": 0.0, "write_s": 0.0}

        def finish(res):
            nonlocal done, written
            if res.get("version") != __version__:  # a remote worker running other code: its results would differ
                raise ValueError(f"scheduler: a worker runs ketamine-qsp {res.get('version')}, this process "
                                 f"{__version__}; install the same version on every worker")
            t_w = time.perf_counter()
            write_chunk(run_dir, res)
            timing["write_s"] += time.perf_counter() - t_w
            timing["chunk_s"] += res["seconds"]
            timing["solve_s"] += res["solve_seconds"]
            done += res["stop"] - res["start"]
            written += 1
            if progress:
                progress(done, spec.n)
            if stop_after and written >= stop_after:
                os._exit(137)  # test hook: the process is killed after k chunks

        if client is None:
            for i, s, e in todo:
                finish(run_chunk(spec, i, s, e, threads))
        else:
            from distributed import as_completed

            futures = [client.submit(run_chunk, spec, i, s, e, key=f"cohort-chunk-{i}-{os.getpid()}-{id(spec)}",
                                     retries=3, pure=False) for i, s, e in todo]
            for fut in as_completed(futures):
                finish(fut.result())
                fut.release()
        t_s = time.perf_counter()
        summary = summarize_run(run_dir, verified=True)  # every chunk was checked or written above, under the lock
        timing["summary_s"] = time.perf_counter() - t_s
    return CohortRun(run_dir, manifest, summary, len(todo), len(bounds) - len(todo), time.perf_counter() - t_start,
                     timing)
