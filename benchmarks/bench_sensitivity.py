"""Sensitivity benchmark: model evaluations per second of the batched readout adapters that ``ketamine
sensitivity`` evaluates, against a serial loop of single evaluations in the same run.

Models (each on its own parameter sample, uniform within narrow ranges around the defaults, so every run is valid):

* **pk**: :class:`pkpd.pk_readouts.PkReadouts` (mouse, 10 mg/kg i.p., 4 h) on the three readouts the batched path
  reads for a whole block (plasma ketamine Cmax and AUC, peak interneuron occupancy), factors ``cl_L_per_h``,
  ``v_L``, ``kp_brain``. Serial baselines: the same adapter one row at a time (*serial-adapter*) and
  :func:`pkpd.pk.simulate_pk` plus its exposure summary per row (*serial-simulate_pk*: what one would write
  without the adapter; exact matrix-exponential backend, the ``pk`` command's default).
* **circuit**: :class:`circuits.sensitivity.CircuitReadouts` on ``slh.failure_rate.lh`` and
  ``slh.failure_rate.4h`` (sLH, 10 mg/kg ketamine, 7 simulated days per run), factors ``g_h``, ``k_a_per_h``,
  ``j_pd_pA_per_Hz``. Serial baseline: the adapter one row at a time.
* **projection**: the wall time a Sobol analysis with N = 1024 over every assumed and calibrated circuit
  parameter (mPFC, VTA, plasticity, behaviour) would take at the measured batched circuit rate (three readouts of one group cost what one does).
* **sobol-pk**: the whole :func:`pkpd.sensitivity.run_sensitivity` on the pk model (sampling, chunked
  evaluation, resumable chunk files, analysis with 1000 bootstrap resamples per readout, figure), to show what the
  driver adds.

Compiled models are loaded (and warmed) before timing. Timings are wall clock on a possibly shared machine:
compare the ratios within one run.

Usage::

    python benchmarks/bench_sensitivity.py                       # pk 2048, circuit 512 evaluations
    python benchmarks/bench_sensitivity.py --pk 4096 --circuit 128 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PK_FACTORS = {"cl_L_per_h": (0.15, 0.6), "v_L": (0.05, 0.15), "kp_brain": (3.0, 10.0)}
PK_READOUTS = ["plasma_ketamine.cmax_uM", "plasma_ketamine.auc_0_t_uM_h", "nmda_occupancy_interneuron.peak"]
CIRCUIT_FACTORS = {"g_h": (60.0, 110.0), "k_a_per_h": (1.5, 3.5), "j_pd_pA_per_Hz": (300.0, 400.0)}
CIRCUIT_READOUTS = ["slh.failure_rate.lh", "slh.failure_rate.4h"]


def _sample(factors: dict, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = np.array(list(factors.values())).T
    return lo + (hi - lo) * rng.random((n, len(factors)))


def _rate(f, X, chunk: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    for a in range(0, len(X), chunk):
        f(X[a:a + chunk])
    dt = time.perf_counter() - t0
    return len(X) / dt, dt


def bench_pk(n: int, n_serial: int, chunk: int) -> list[dict]:
    from pkpd.dosing import Regimen
    from pkpd.pk import simulate_pk
    from pkpd.pk_readouts import PkReadouts

    reg = Regimen.single("10mg/kg", "ip")
    pr = PkReadouts(reg, 4.0)
    f = pr.model_function(list(PK_FACTORS), PK_READOUTS)
    X = _sample(PK_FACTORS, n)
    f(X[:8])  # load the compiled model
    batched, t_b = _rate(f, X, chunk)
    serial, t_s = _rate(f, X[:n_serial], 1)
    t0 = time.perf_counter()
    for x in X[:n_serial]:
        simulate_pk(reg, 4.0, params=dict(zip(PK_FACTORS, x))).summary()
    sim = n_serial / (time.perf_counter() - t0)
    return [{"model": "pk", "mode": f"batched (chunks of {chunk})", "evaluations": n, "seconds": t_b,
             "evals_per_s": batched, "ratio": batched / sim},
            {"model": "pk", "mode": "serial-adapter", "evaluations": n_serial, "seconds": t_s, "evals_per_s": serial,
             "ratio": serial / sim},
            {"model": "pk", "mode": "serial-simulate_pk (baseline)", "evaluations": n_serial,
             "seconds": n_serial / sim, "evals_per_s": sim, "ratio": 1.0}]


def bench_circuit(n: int, n_serial: int, chunk: int) -> list[dict]:
    from circuits.sensitivity import CircuitReadouts

    f = CircuitReadouts().model_function(list(CIRCUIT_FACTORS), CIRCUIT_READOUTS)
    X = _sample(CIRCUIT_FACTORS, n)
    f(X[:2])  # load the compiled model
    batched, t_b = _rate(f, X, chunk)
    serial, t_s = _rate(f, X[:n_serial], 1)
    return [{"model": "circuit", "mode": f"batched (chunks of {chunk})", "evaluations": n, "seconds": t_b,
             "evals_per_s": batched, "ratio": batched / serial},
            {"model": "circuit", "mode": "serial-adapter (baseline)", "evaluations": n_serial, "seconds": t_s,
             "evals_per_s": serial, "ratio": 1.0}]


def circuit_projection(rate: float, n_base: int = 1024) -> dict:
    """Projected wall time of a Sobol run with ``n_base`` over every assumed and calibrated circuit parameter
    (groups ``circuit.*``; ``N (D + 2)`` runs at the measured batched rate; target: under 15 minutes)."""
    from circuits.overrides import circuit_space

    space = circuit_space()
    d = sum(1 for n in space.select("assumed") + space.select("calibrated") if space[n].group.startswith("circuit."))
    runs = n_base * (d + 2)
    return {"model": "circuit", "mode": f"projected: sobol N={n_base}, D={d} assumed+calibrated", "evaluations": runs,
            "seconds": runs / rate, "evals_per_s": rate, "ratio": float("nan")}


def bench_sobol(n_base: int, chunk: int, serial_rate: float) -> dict:
    from pkpd.dosing import Regimen
    from pkpd.pk_readouts import PkReadouts
    from pkpd.sensitivity import factor, run_sensitivity

    f = PkReadouts(Regimen.single("10mg/kg", "ip"), 4.0).model_function(list(PK_FACTORS), PK_READOUTS)
    factors = [factor(k, *v) for k, v in PK_FACTORS.items()]
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = run_sensitivity(f, factors, PK_READOUTS, method="sobol", n=n_base, seed=0, out=Path(d) / "s",
                              chunk_size=chunk)
        dt = time.perf_counter() - t0
    rate = res.n_runs / dt
    return {"model": "pk", "mode": f"run_sensitivity sobol N={n_base} (whole driver)", "evaluations": res.n_runs,
            "seconds": dt, "evals_per_s": rate, "ratio": rate / serial_rate}


def format_rows(rows: list[dict]) -> str:
    lines = [f"{'model':<8} {'mode':<48} {'evals':>7} {'seconds':>9} {'evals/s':>10} {'ratio':>8}"]
    for r in rows:
        lines.append(f"{r['model']:<8} {r['mode']:<48} {r['evaluations']:>7d} {r['seconds']:>9.2f} "
                     f"{r['evals_per_s']:>10.1f} {r['ratio']:>8.1f}")
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pk", type=int, default=2048, help="PK evaluations (batched)")
    ap.add_argument("--circuit", type=int, default=512, help="circuit evaluations (batched)")
    ap.add_argument("--serial", type=int, default=16, help="evaluations of each serial baseline")
    ap.add_argument("--chunk", type=int, default=512, help="rows per batched call (circuit: min with --circuit)")
    ap.add_argument("--sobol-n", type=int, default=256, help="base sample of the whole-driver Sobol run (pk)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = bench_pk(a.pk, a.serial, a.chunk)
    rows.append(bench_sobol(a.sobol_n, a.chunk, rows[-1]["evals_per_s"]))
    if a.circuit:
        rows += bench_circuit(a.circuit, max(2, a.serial // 4), min(a.chunk, a.circuit))
        rows.append(circuit_projection(rows[-2]["evals_per_s"]))
    print(format_rows(rows))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
