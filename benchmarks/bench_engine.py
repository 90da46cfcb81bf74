"""Speed and accuracy of the batched ODE engine (:mod:`pkpd.ode`) against its peers, measured in one run.

Problems (from :mod:`pkpd.ode.examples`), each as a virtual population whose subjects differ in their parameters:

* ``pollu`` — the stiff 20-species air-pollution chemistry POLL (Verwer 1994) over 60 min; each subject's 25 rate
  constants are the published ones times independent lognormal factors ``exp(0.2 z)``, ``z ~ N(0, 1)``.
* ``lorenz96`` — the non-stiff 20-state Lorenz-96 ring over ``[0, 2]``; each subject's forcing ``F`` is
  ``8 exp(0.05 z)``.
* ``ketamine_pk`` — the ketamine PK model (``ketamine_pk``, 14 states) of a mouse cohort given 10 mg/kg HCl i.p.,
  over 6 h: each subject's parameters are the cohort's (:class:`pkpd.cohort.PkProtocol` on the default mouse
  population: clearance, volume and brain partition varied, weight and sex drawn), the dose its initial amounts.

Solvers:

* this engine: :func:`pkpd.ode.solve` (Rodas5P, Rodas4 and auto for ``pollu``; Dormand-Prince 5(4), DOP853 and
  auto for ``lorenz96``), one call for the whole batch, with 1 and 2 threads (parallel efficiency =
  ``t(1 thread) / (2 t(2 threads))``);
* ``scipy.integrate.solve_ivp`` in a Python loop over subjects: LSODA and Radau (stiff) or LSODA and RK45
  (non-stiff), once with the engine's generated numba right-hand side and Jacobian ("numba rhs") and once with
  the plain NumPy functions of :meth:`OdeSystem.lambdify` ("python rhs");
* numbalsoda (optional): LSODA (and DOP853 for the non-stiff problem) called from a numba ``prange`` loop over
  subjects with the generated right-hand side wrapped as a ``cfunc``. numbalsoda's LSODA takes no Jacobian (it
  builds one by finite differences) and a scalar ``atol``.
* libRoadRunner (optional; stiff problems and ``ketamine_pk``): CVODE (BDF, Newton) on the model as written by the
  SBML exporter (:func:`pkpd.ode.sbml.export`), compiled once per process; for each subject its parameters and
  initial state are set and the time course simulated. One worker process per core (1 and 2 processes), each
  holding its compiled model, subjects split in contiguous blocks; the processes are started and the model
  compiled before the timing. CVODE takes a scalar ``atol`` here.

Accuracy: every solver is compared at the same output grid (``pollu``: every minute; ``lorenz96``: every 0.1) with
a per-subject reference on the first ``n_ref`` subjects (scipy Radau at rtol 1e-12 for ``pollu``, DOP853 at rtol
1e-13 for ``lorenz96``, both on the lambdified model, independent of the generated code). The error is
``max |y - ref| / (floor + |ref|)`` over those subjects, all output times and all states, with ``floor`` 1e-6 ppm
(``pollu``) or 1e-4 (``lorenz96``): the IVP test set's mixed measure, i.e. ``10**-scd``. Every solver is given
``atol = floor * rtol`` so that this measure is the one its error control aims at.

Equal accuracy: the engine runs at a nominal rtol; each peer's rtol is then tuned on the reference subjects to the
loosest value on a half-decade grid whose error is at most that of the engine's first method (equal or better
accuracy), and the time is measured at that rtol. The table reports the rtol and the error next to the time. Every
timing is the best of three calls (one with ``--quick``), the scipy loops included.

Start-up: the time for a new Python process to import the engine and solve one subject of ``pollu``, once with an
empty cache directory (code generation plus numba compilation: the cold start) and once more with the cache the
first process left (loading the compiled model from numba's on-disk cache).

Run ``python benchmarks/bench_engine.py --help``; see ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # running as a script from a checkout
    sys.path.insert(0, str(ROOT))

__all__ = ["run_benchmark", "format_table", "main", "CASES"]


@dataclass(frozen=True)
class Case:
    """One benchmark problem: which :data:`~pkpd.ode.examples.PROBLEMS` entry, how subjects vary, which solvers.

    Attributes
    ----------
    problem : str
        Key of :data:`pkpd.ode.examples.PROBLEMS`.
    n_out : int
        Number of equally spaced output times on ``[0, t_end]`` (both ends included).
    log_sd : float
        Standard deviation of the lognormal factor applied to every parameter, per subject.
    floor : float
        Size (in the states' unit) below which errors are measured absolutely; ``atol = floor * rtol``.
    engine_methods : tuple of str
        Engine methods; the first is the primary one, whose error sets the accuracy target for the peers.
    rtol : float
        Nominal relative tolerance of the engine.
    scipy_methods : tuple of str
        ``solve_ivp`` methods.
    numbalsoda_methods : tuple of str
        ``"lsoda"`` and/or ``"dop853"``.
    ref_method, ref_rtol : str, float
        scipy method and rtol of the per-subject reference.
    roadrunner : bool
        Also time libRoadRunner (CVODE) on the case.
    """

    problem: str
    n_out: int
    log_sd: float
    floor: float
    engine_methods: tuple
    rtol: float
    scipy_methods: tuple
    numbalsoda_methods: tuple
    ref_method: str
    ref_rtol: float
    roadrunner: bool = False


CASES = {
    "pollu": Case("pollu", n_out=61, log_sd=0.2, floor=1e-6, engine_methods=("rodas5p", "rosenbrock", "auto"),
                  rtol=1e-6,
                  scipy_methods=("LSODA", "Radau"), numbalsoda_methods=("lsoda",), ref_method="Radau",
                  ref_rtol=1e-12, roadrunner=True),
    "lorenz96": Case("lorenz96", n_out=21, log_sd=0.05, floor=1e-4, engine_methods=("explicit", "dop853", "auto"),
                     rtol=1e-7, scipy_methods=("LSODA", "RK45"), numbalsoda_methods=("lsoda", "dop853"),
                     ref_method="DOP853", ref_rtol=1e-13),
    "ketamine_pk": Case("ketamine_pk", n_out=61, log_sd=0.0, floor=1e-6, engine_methods=("rosenbrock", "auto"),
                        rtol=1e-6, scipy_methods=("LSODA", "Radau"), numbalsoda_methods=("lsoda",),
                        ref_method="Radau", ref_rtol=1e-12, roadrunner=True),
}

#: Candidate rtols for the peers, loosest first (half decades from 1e-2 to 1e-12).
RTOL_GRID = tuple(10.0 ** (-k / 2) for k in range(4, 25))
#: scipy method of the baseline that the "ratio" column divides by (with the numba right-hand side).
BASELINE = "LSODA"


# ------------------------------------------------------------------------------------------------------------------
# Populations and references
# ------------------------------------------------------------------------------------------------------------------
def case_system(case: Case):
    """The :class:`~pkpd.ode.OdeSystem` of a case."""
    if case.problem == "ketamine_pk":
        from pkpd.pk import ketamine_system

        return ketamine_system(False)
    from pkpd.ode.examples import PROBLEMS

    return PROBLEMS[case.problem].system


def _pk_population(case: Case, n_subjects: int, seed: int):
    """The PK cohort's engine parameters and, as initial amounts, its doses (every bolus is at time 0)."""
    from pkpd.cohort import CohortSpec, PkProtocol
    from pkpd.dosing import Regimen

    spec = CohortSpec(n=n_subjects, regimen=Regimen.single("10mg/kg", "ip"), duration_h=6.0, seed=seed % 2 ** 63)
    inp = PkProtocol().prepare(spec, spec.sample(np.arange(n_subjects))).engine
    Y0 = np.zeros((n_subjects, inp.system.n_states))
    for i, sched in enumerate(inp.schedules):
        for e in sched:
            if e.kind != "bolus" or e.time != 0.0:
                raise ValueError("ketamine_pk benchmark: expected boluses at time 0 only")
            Y0[i, inp.system.state_index(e.state) if isinstance(e.state, str) else e.state] += e.value
    return inp.params, Y0, np.linspace(0.0, 6.0, case.n_out)


def population(case: Case, n_subjects: int, seed: int):
    """Parameters of ``n_subjects`` subjects: nominal values times ``exp(log_sd * z)`` (``ketamine_pk``: a mouse
    cohort's); returns (P, Y0, t_eval).

    Shapes: ``P`` (n_subjects, n_params), ``Y0`` (n_subjects, n_states), ``t_eval`` (n_out,).
    """
    from pkpd.ode.examples import PROBLEMS

    if case.problem == "ketamine_pk":
        return _pk_population(case, n_subjects, seed)
    p = PROBLEMS[case.problem]
    rng = np.random.default_rng(seed)
    P = p.params * np.exp(case.log_sd * rng.standard_normal((n_subjects, p.params.size)))
    Y0 = np.broadcast_to(p.y0, (n_subjects, p.y0.size)).copy()
    return P, Y0, np.linspace(0.0, p.t_end, case.n_out)


def references(case: Case, P, Y0, t_eval, n_ref: int) -> np.ndarray:
    """Per-subject reference trajectories (n_ref, n_out, n_states) from scipy on the lambdified model."""
    from scipy.integrate import solve_ivp

    f, jac = case_system(case).lambdify()
    out = []
    for s in range(n_ref):
        p = P[s]
        kw = {"jac": lambda t, y: jac(t, y, p)} if case.ref_method in ("Radau", "BDF", "LSODA") else {}
        sol = solve_ivp(lambda t, y: f(t, y, p), (t_eval[0], t_eval[-1]), Y0[s], method=case.ref_method,
                        rtol=case.ref_rtol, atol=case.floor * case.ref_rtol * 1e-2, t_eval=t_eval, **kw)
        if not sol.success:
            raise RuntimeError(f"reference failed for {case.problem} subject {s}: {sol.message}")
        out.append(sol.y.T)
    return np.array(out)


def max_error(y, ref, floor: float) -> float:
    """``max |y - ref| / (floor + |ref|)`` over the subjects both hold (the first ones), all times and states.

    ``inf`` if ``y`` has a NaN (a failed subject).
    """
    k = min(len(y), len(ref))
    y, ref = np.asarray(y)[:k], ref[:k]
    e = np.abs(y - ref) / (floor + np.abs(ref))
    return float("inf") if not np.all(np.isfinite(e)) else float(e.max())


# ------------------------------------------------------------------------------------------------------------------
# Solvers: each returns (y (n, n_out, n_states), ok (n,) bool) for the first n subjects
# ------------------------------------------------------------------------------------------------------------------
def _engine(system, P, Y0, t_eval, method, rtol, floor, threads):
    from pkpd.ode import solve

    sol = solve(system, Y0, t_eval, P, method=method, rtol=rtol, atol=floor * rtol, threads=threads,
                max_steps=1_000_000)
    return sol.y, sol.ok


def _scipy_functions(system, numba_rhs: bool):
    """``(rhs(t, y, p), jac(t, y, p))`` returning fresh arrays (scipy keeps references to what it is given)."""
    if not numba_rhs:
        return system.lambdify()
    from pkpd.ode.codegen import compile_system

    c = compile_system(system)
    n = system.n_states
    g_rhs, g_jac = c.rhs, c.jac

    def rhs(t, y, p):
        dy = np.empty(n)
        g_rhs(t, y, p, dy)
        return dy

    def jac(t, y, p):
        J = np.empty((n, n))
        g_jac(t, y, p, J)
        return J

    return rhs, jac


def _scipy(system, P, Y0, t_eval, method, rtol, floor, n, numba_rhs):
    from scipy.integrate import solve_ivp

    rhs, jac = _scipy_functions(system, numba_rhs)
    out = np.full((n, t_eval.size, system.n_states), np.nan)
    ok = np.zeros(n, bool)
    for s in range(n):
        p = P[s]
        kw = {"jac": lambda t, y: jac(t, y, p)} if method in ("Radau", "BDF", "LSODA") else {}
        sol = solve_ivp(lambda t, y: rhs(t, y, p), (t_eval[0], t_eval[-1]), Y0[s], method=method, rtol=rtol,
                        atol=floor * rtol, t_eval=t_eval, **kw)
        ok[s] = sol.success
        if sol.success:
            out[s] = sol.y.T
    return out, ok


_NUMBALSODA_CACHE: dict = {}


def _numbalsoda_driver(system, which: str):
    """A numba ``prange`` loop calling numbalsoda's ``lsoda``/``dop853`` on a cfunc of the generated rhs."""
    key = (system.fingerprint, which)
    if key in _NUMBALSODA_CACHE:
        return _NUMBALSODA_CACHE[key]
    import numba as nb
    import numbalsoda

    from pkpd.ode.codegen import compile_system

    g_rhs = compile_system(system).rhs
    n, m = system.n_states, max(system.n_params, 1)

    @nb.cfunc(numbalsoda.lsoda_sig)
    def f(t, u, du, p):
        g_rhs(t, nb.carray(u, (n,)), nb.carray(p, (m,)), nb.carray(du, (n,)))

    integrate = numbalsoda.lsoda if which == "lsoda" else numbalsoda.dop853

    @nb.njit(parallel=True)
    def batch(funcptr, P, Y0, t_eval, rtol, atol, out, ok):
        for s in nb.prange(Y0.shape[0]):
            usol, success = integrate(funcptr, Y0[s].copy(), t_eval, P[s].copy(), rtol, atol, 1_000_000)
            out[s] = usol
            ok[s] = success

    _NUMBALSODA_CACHE[key] = (f.address, batch)
    return _NUMBALSODA_CACHE[key]


def _numbalsoda(system, P, Y0, t_eval, which, rtol, floor, n, threads):
    import numba as nb

    address, batch = _numbalsoda_driver(system, which)
    out = np.empty((n, t_eval.size, system.n_states))
    ok = np.zeros(n, np.bool_)
    previous = nb.get_num_threads()
    try:
        nb.set_num_threads(min(threads, nb.config.NUMBA_NUM_THREADS))
        batch(address, np.ascontiguousarray(P[:n]), np.ascontiguousarray(Y0[:n]), t_eval, rtol, floor * rtol,
              out, ok)
    finally:
        nb.set_num_threads(previous)
    out[~ok] = np.nan
    return out, ok


_RR: dict = {}  # a worker's compiled model (one per process)


def _rr_init(text: str, param_ids: tuple, state_ids: tuple) -> None:
    """Worker initializer: compile the SBML model once and keep it with the indices of parameters and states."""
    import roadrunner

    rr = roadrunner.RoadRunner(text)
    rr.setIntegrator("cvode")
    rr.integrator.maximum_num_steps = 1_000_000
    ids = list(rr.model.getGlobalParameterIds())
    species = list(rr.model.getFloatingSpeciesIds())  # the exporter's amounts (hasOnlySubstanceUnits)
    rr.timeCourseSelections = ["time", *state_ids]
    as_param = [j for j, k in enumerate(state_ids) if k in ids]  # the others: rate-rule parameters
    as_species = [j for j, k in enumerate(state_ids) if k in species]
    if len(as_param) + len(as_species) != len(state_ids):
        raise ValueError("libRoadRunner: a state of the model is neither a species nor a parameter")
    _RR.update(rr=rr, p=np.array([ids.index(k) for k in param_ids], np.int32),
               yp=(np.array([ids.index(state_ids[j]) for j in as_param], np.int32), np.array(as_param, int)),
               ys=(np.array([species.index(state_ids[j]) for j in as_species], np.int32), np.array(as_species, int)))


def _rr_block(args):
    """Simulate a block of subjects in this worker: ``(P, Y0, t_eval, rtol, atol)`` -> ``(y, ok)``."""
    P, Y0, t_eval, rtol, atol = args
    rr, ip, (yp, jp), (ys, js) = _RR["rr"], _RR["p"], _RR["yp"], _RR["ys"]
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = atol
    out = np.full((P.shape[0], t_eval.size, Y0.shape[1]), np.nan)
    ok = np.zeros(P.shape[0], bool)
    for s in range(P.shape[0]):
        rr.reset()
        rr.model.setGlobalParameterValues(ip, P[s])
        if jp.size:
            rr.model.setGlobalParameterValues(yp, Y0[s, jp])
        if js.size:
            rr.model.setFloatingSpeciesAmounts(ys, Y0[s, js])
        try:
            res = rr.simulate(times=t_eval)
        except RuntimeError:  # CVODE gave up: a failed subject
            continue
        out[s] = np.asarray(res)[:, 1:]
        ok[s] = True
    return out, ok


class _RoadRunnerPool:
    """``processes`` workers, each with the model compiled (started before any timing)."""

    def __init__(self, system, P, Y0, processes: int):
        import multiprocessing as mp

        from pkpd.ode.sbml import export

        text = export(system, Y0[0], P[0])
        args = (text, tuple(system.param_names), tuple(system.state_names))
        if processes == 1:
            self.pool = None
            _rr_init(*args)
        else:  # spawn: no fork of a process holding numba's thread pool
            self.pool = mp.get_context("spawn").Pool(processes, initializer=_rr_init, initargs=args)
            self.pool.map(_rr_block, [(P[:1], Y0[:1], np.array([0.0, 1e-3]), 1e-6, 1e-12)] * processes)
        self.processes = processes

    def run(self, P, Y0, t_eval, rtol, atol):
        blocks = [(P[a:b], Y0[a:b], t_eval, rtol, atol) for a, b in
                  ((k * len(P) // self.processes, (k + 1) * len(P) // self.processes) for k in range(self.processes))]
        parts = [_rr_block(blocks[0])] if self.pool is None else self.pool.map(_rr_block, blocks)
        return np.concatenate([y for y, _ in parts]), np.concatenate([ok for _, ok in parts])

    def close(self):
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


def _have_roadrunner() -> bool:
    try:
        import roadrunner  # noqa: F401
    except Exception:
        return False
    return True


def _timed(fn: Callable, repeats: int):
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _tune(run: Callable[[float], tuple], ref, floor: float, target: float, start: float):
    """The loosest rtol of :data:`RTOL_GRID` (not looser than ``start``) whose error on the references is at most
    ``target``; falls back to the tightest grid value. Returns (rtol, error)."""
    err = float("inf")
    rtol = RTOL_GRID[-1]
    for rtol in (r for r in RTOL_GRID if r <= start * (1 + 1e-9)):
        y, ok = run(rtol)
        err = max_error(y, ref, floor) if ok.all() else float("inf")
        if err <= target:
            break
    return rtol, err


# ------------------------------------------------------------------------------------------------------------------
# Start-up: cold compilation and loading from the cache, in fresh processes
# ------------------------------------------------------------------------------------------------------------------
_STARTUP = """
import time
t0 = time.perf_counter()
from pkpd.ode import solve
from pkpd.ode.examples import PROBLEMS
p = PROBLEMS["pollu"]
sol = solve(p.system, p.y0, [0.0, p.t_end], p.params, method="rosenbrock", rtol=1e-6, atol=1e-12)
assert sol.ok.all()
print(time.perf_counter() - t0)
"""


def startup_times() -> dict:
    """Seconds for a new process to import the engine and solve one POLL subject: with an empty cache directory
    (``cold``: code generation + numba compilation) and again with the cache that left (``cached``).

    Both runs use a fresh temporary ``KETAMINE_QSP_CACHE`` and ``NUMBA_CACHE_DIR`` so that the user's cache is
    neither used nor touched. ``*_process`` includes interpreter start-up and imports.
    """
    out = {}
    with tempfile.TemporaryDirectory(prefix="kqsp-bench-") as tmp:
        env = dict(os.environ, KETAMINE_QSP_CACHE=str(Path(tmp) / "cache"), NUMBA_CACHE_DIR=str(Path(tmp) / "numba"),
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        for label in ("cold", "cached"):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", _STARTUP], env=env, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                raise RuntimeError(f"start-up measurement ({label}) failed:\n{r.stderr[-2000:]}")
            out[label] = float(r.stdout.strip().splitlines()[-1])
            out[f"{label}_process"] = wall
    return out


# ------------------------------------------------------------------------------------------------------------------
# The benchmark
# ------------------------------------------------------------------------------------------------------------------
def _have_numbalsoda() -> bool:
    try:
        import numbalsoda  # noqa: F401
    except Exception:  # not installed, or its shared library does not load
        return False
    return True


def run_benchmark(subjects: int = 1000, quick: bool = False, *, seed: int = 20240611,
                  problems: tuple = tuple(CASES), startup: bool | None = None,
                  progress: Callable[[str], None] | None = None) -> list[dict]:
    """Measure throughput and accuracy of the engine and its peers; returns one dict per (problem, solver) row.

    Parameters
    ----------
    subjects : int
        Batch size for the engine and numbalsoda. The scipy loops run fewer subjects (at most 40 with the numba
        right-hand side, 10 with the Python one; a quarter of that with ``quick``); rates are per subject.
    quick : bool
        Fewer reference subjects (3 instead of 8), one timing repeat instead of three, smaller scipy loops.
    seed : int
        Seed of the population's random generator.
    problems : tuple of str
        Keys of :data:`CASES`.
    startup : bool, optional
        Also measure cold compilation and cached start-up in fresh processes (about 30-60 s); default: unless
        ``quick``.
    progress : callable, optional
        Called with a short message before each measurement (the CLI prints them to stderr).

    Returns
    -------
    list of dict
        All rows have the keys :data:`ROW_KEYS`, in that order (``None`` where not applicable): ``problem``,
        ``solver``, ``method``, ``rhs``, ``threads``, ``rtol``, ``subjects``, ``seconds``, ``subjects_per_s``,
        ``ratio`` (subjects/s divided by the scipy LSODA numba-rhs baseline of the same problem),
        ``max_rel_error`` (see the module docstring), ``failed`` (subjects that did not finish),
        ``parallel_efficiency`` (engine and numbalsoda rows with 2 threads), ``kind`` ("throughput" or
        "startup"); start-up rows give in-process ``seconds``, whole-process ``process_seconds`` and a ``note``.

    Raises
    ------
    ValueError
        If ``subjects`` is not a positive integer or a problem is unknown.
    """
    if isinstance(subjects, bool) or int(subjects) != subjects or subjects < 1:
        raise ValueError(f"subjects must be a positive integer (number of virtual subjects), got {subjects!r}")
    for name in problems:
        if name not in CASES:
            raise ValueError(f"unknown problem {name!r}; expected one of {sorted(CASES)}")
    say = progress or (lambda msg: None)

    subjects = int(subjects)
    n_ref = min(subjects, 3 if quick else 8)
    n_scipy_numba = min(subjects, 10 if quick else 40)
    n_scipy_python = min(subjects, 3 if quick else 10)
    repeats = 1 if quick else 3
    thread_counts = [1, 2]
    numbalsoda = _have_numbalsoda()
    roadrunner = _have_roadrunner()
    rows: list[dict] = []

    for name in problems:
        case = CASES[name]
        system = case_system(case)
        P, Y0, t_eval = population(case, subjects, seed)
        say(f"{name}: reference for {n_ref} subjects ({case.ref_method}, rtol {case.ref_rtol:g})")
        ref = references(case, P, Y0, t_eval, n_ref)
        case_rows = []

        def row(solver, method, rhs, threads, rtol, n, seconds, y, ok, extra=None):
            r = _row(kind="throughput", problem=name, solver=solver, method=method, rhs=rhs, threads=threads,
                     rtol=rtol, subjects=n, seconds=seconds,
                     subjects_per_s=n / seconds if seconds > 0 else float("inf"),
                     max_rel_error=max_error(y, ref, case.floor), failed=int(n - np.count_nonzero(ok)))
            r.update(extra or {})
            case_rows.append(r)
            return r

        # ---- the engine ------------------------------------------------------------------------------------
        say(f"{name}: engine warm-up (loads or compiles the generated model)")
        for method in case.engine_methods:
            for threads in thread_counts:  # every configuration once, so no timing includes a compilation
                _engine(system, P[:2], Y0[:2], t_eval, method, case.rtol, case.floor, threads)
        target = None
        for method in case.engine_methods:
            t_one = None
            for threads in thread_counts:
                say(f"{name}: engine {method}, {subjects} subjects, {threads} thread(s)")
                sec, (y, ok) = _timed(lambda: _engine(system, P, Y0, t_eval, method, case.rtol, case.floor,
                                                      threads), repeats)
                extra = {}
                if threads == 1:
                    t_one = sec
                else:
                    extra["parallel_efficiency"] = t_one / (threads * sec)
                r = row("engine", method, "generated numba", threads, case.rtol, subjects, sec, y, ok, extra)
                if target is None:
                    target = r["max_rel_error"]

        # ---- scipy solve_ivp in a Python loop ---------------------------------------------------------------
        for method in case.scipy_methods:
            say(f"{name}: tuning scipy {method} to error <= {target:.2e}")
            rtol, _ = _tune(lambda r: _scipy(system, P, Y0, t_eval, method, r, case.floor, n_ref, True),
                            ref, case.floor, target, start=case.rtol * 100)
            for numba_rhs, n in ((True, n_scipy_numba), (False, n_scipy_python)):
                say(f"{name}: scipy {method}, {'numba' if numba_rhs else 'python'} rhs, {n} subjects, rtol {rtol:.1e}")
                sec, (y, ok) = _timed(lambda: _scipy(system, P, Y0, t_eval, method, rtol, case.floor, n,
                                                     numba_rhs), repeats)
                row("scipy solve_ivp", method, "numba" if numba_rhs else "python", 1, rtol, n, sec, y, ok)

        # ---- numbalsoda in a prange loop --------------------------------------------------------------------
        if numbalsoda:
            for which in case.numbalsoda_methods:
                say(f"{name}: numbalsoda {which}: compile and tune")
                rtol, _ = _tune(lambda r: _numbalsoda(system, P, Y0, t_eval, which, r, case.floor, n_ref, 1),
                                ref, case.floor, target, start=case.rtol * 100)
                t_one = None
                for threads in thread_counts:
                    say(f"{name}: numbalsoda {which}, {subjects} subjects, {threads} thread(s), rtol {rtol:.1e}")
                    sec, (y, ok) = _timed(lambda: _numbalsoda(system, P, Y0, t_eval, which, rtol, case.floor,
                                                              subjects, threads), repeats)
                    extra = {}
                    if threads == 1:
                        t_one = sec
                    else:
                        extra["parallel_efficiency"] = t_one / (threads * sec)
                    row("numbalsoda", which, "numba cfunc", threads, rtol, subjects, sec, y, ok, extra)
        else:
            say("numbalsoda is not installed: skipped (pip install numbalsoda; see benchmarks/README.md)")

        # ---- libRoadRunner: CVODE, one compiled model per worker process ----------------------------------------
        if case.roadrunner and roadrunner:
            say(f"{name}: libRoadRunner CVODE: compile and tune")
            one = _RoadRunnerPool(system, P, Y0, 1)
            rtol, _ = _tune(lambda r: one.run(P[:n_ref], Y0[:n_ref], t_eval, r, case.floor * r), ref, case.floor,
                            target, start=case.rtol * 100)
            t_one = None
            for threads in thread_counts:
                pool = one if threads == 1 else _RoadRunnerPool(system, P, Y0, threads)
                try:
                    say(f"{name}: libRoadRunner, {subjects} subjects, {threads} process(es), rtol {rtol:.1e}")
                    sec, (y, ok) = _timed(lambda: pool.run(P, Y0, t_eval, rtol, case.floor * rtol), repeats)
                finally:
                    pool.close()
                extra = {}
                if threads == 1:
                    t_one = sec
                else:
                    extra["parallel_efficiency"] = t_one / (threads * sec)
                row("libRoadRunner", "cvode", "SBML, LLVM", threads, rtol, subjects, sec, y, ok, extra)
        elif case.roadrunner:
            say("libroadrunner is not installed: skipped (pip install libroadrunner)")

        base = [r for r in case_rows if r["solver"] == "scipy solve_ivp" and r["method"] == BASELINE
                and r["rhs"] == "numba"]
        for r in case_rows:
            r["ratio"] = r["subjects_per_s"] / base[0]["subjects_per_s"] if base else float("nan")
        rows += case_rows

    if startup is None:
        startup = not quick
    if startup:
        say("start-up: cold compilation and cached load in fresh processes")
        s = startup_times()
        for label, what in (("cold", "new process, empty cache: codegen + numba compile + 1 solve"),
                            ("cached", "new process, compiled model loaded from the numba cache + 1 solve")):
            rows.append(_row(kind="startup", problem="pollu", solver="engine", method="rosenbrock",
                             rhs="generated numba", threads=1, rtol=1e-6, subjects=1, seconds=s[label],
                             process_seconds=s[f"{label}_process"], failed=0, note=what))
    return rows


#: The keys of every row, in order (all rows have all keys, so they tabulate and write as CSV directly).
ROW_KEYS = ("kind", "problem", "solver", "method", "rhs", "threads", "rtol", "subjects", "seconds", "subjects_per_s",
            "ratio", "max_rel_error", "parallel_efficiency", "failed", "process_seconds", "note")


def _row(**values) -> dict:
    unknown = set(values) - set(ROW_KEYS)
    if unknown:
        raise KeyError(f"unknown row keys {sorted(unknown)}")
    return {k: values.get(k) for k in ROW_KEYS}


# ------------------------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------------------------
def format_table(rows: list[dict]) -> str:
    """Markdown tables: throughput rows, then start-up rows."""
    lines = ["| problem | solver | method | rhs | threads | rtol | subjects | seconds | subjects/s | ratio vs "
             f"scipy {BASELINE} (numba rhs) | max rel error | parallel eff. | failed |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (r for r in rows if r["kind"] == "throughput"):
        pe = r.get("parallel_efficiency")
        lines.append(f"| {r['problem']} | {r['solver']} | {r['method']} | {r['rhs']} | {r['threads']} | "
                     f"{r['rtol']:.1e} | {r['subjects']} | {r['seconds']:.3f} | {r['subjects_per_s']:.1f} | "
                     f"{r['ratio']:.1f} | {r['max_rel_error']:.1e} | {'' if pe is None else f'{pe:.2f}'} | "
                     f"{r['failed']} |")
    start = [r for r in rows if r["kind"] == "startup"]
    if start:
        lines += ["", "| start-up (pollu, 20 states) | in-process seconds | process seconds |", "|---|---:|---:|"]
        lines += [f"| {r['note']} | {r['seconds']:.2f} | {r['process_seconds']:.2f} |" for r in start]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=1000,
                    help="virtual subjects per batch for the engine and numbalsoda (default 1000)")
    ap.add_argument("--quick", action="store_true", help="fewer reference subjects, one repeat, small scipy loops")
    ap.add_argument("--seed", type=int, default=20240611, help="seed of the population's random generator")
    ap.add_argument("--problem", action="append", choices=sorted(CASES),
                    help="benchmark only this problem (repeatable; default: all)")
    ap.add_argument("--startup", action=argparse.BooleanOptionalAction, default=None,
                    help="measure cold compilation and cached start-up in fresh processes (default: unless --quick)")
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    a = ap.parse_args(argv)
    if a.subjects < 1:
        ap.error(f"--subjects must be a positive number of virtual subjects, got {a.subjects}")
    import numba

    rows = run_benchmark(a.subjects, a.quick, seed=a.seed, problems=tuple(a.problem or CASES),
                         startup=a.startup, progress=lambda m: print(f"[bench] {m}", file=sys.stderr,
                                                                           flush=True))
    print(f"Machine: {os.cpu_count()} CPU(s), numba {numba.__version__} with {numba.config.NUMBA_NUM_THREADS} "
          f"threads available, Python {sys.version.split()[0]}\n")
    print(format_table(rows))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
