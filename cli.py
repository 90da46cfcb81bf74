"""The ``ketamine`` command line: a thin layer over importable functions that return data.

Heavy modules (numba, sympy, the engine) are imported inside the commands so that ``ketamine --help`` and
``ketamine --version`` answer instantly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="ketamine",
    help="ketamine-qsp: a mechanistic simulator of ketamine's antidepressant action (after Wu et al., eLife 2021).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool):
    if value:
        from pkpd import __version__

        typer.echo(f"ketamine-qsp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
):
    """ketamine-qsp command line."""


def fail(message: str) -> None:
    """Print a one-line error for bad user input and exit with code 2 (no traceback)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


def reproduce_command() -> str:
    """The command line that is running now, quoted for a shell (``ketamine …``): studies record it so that
    ``ketamine report`` can print the exact command that reproduces them."""
    import shlex
    import sys

    return shlex.join(["ketamine", *sys.argv[1:]])


def record_command(run_dir: Path, *, inputs: dict | None = None, resume: bool = False) -> Path:
    """Write ``RUN_DIR/command.json`` (``command``, ``version``, ``created``, ``inputs``): the provenance that
    ``ketamine report`` prints. With ``resume`` and an earlier record, the running command is appended to its
    ``commands`` list instead (the first command stays ``command``)."""
    import datetime
    import json

    from pkpd import __version__
    from pkpd.io import write_json

    path = Path(run_dir) / "command.json"
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    rec = {"command": reproduce_command(), "version": __version__, "created": now}
    if inputs is not None:
        rec["inputs"] = inputs
    if resume and path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if isinstance(old, dict) and old.get("command"):
            rec = old | {"commands": list(old.get("commands") or [old["command"]]) + [rec["command"]],
                         "resumed": now}
    return write_json(rec, path)


# ---- engine commands -----------------------------------------------------------------------------------------
def _models() -> dict:
    """Every model ``ketamine equations`` can print: name -> zero-argument factory of an OdeSystem."""
    from pkpd.ode import examples
    from pkpd.pk import ketamine_system

    return {"ketamine_pk": ketamine_system, "ketamine_pk_trapping": lambda: ketamine_system(True),
            **examples.SYSTEMS}


@app.command()
def equations(
    system: Annotated[str, typer.Argument(help="Which model to print; `ketamine equations --list` names them.")]
    = "ketamine_pk",
    latex: Annotated[bool, typer.Option(help="Print LaTeX instead of plain text.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the available models and exit.")] = False,
):
    """Print a model's equations as generated from its single symbolic source."""
    models = _models()
    if list_:
        for name in models:
            typer.echo(name)
        return
    if system not in models:
        fail(f"unknown system {system!r}; expected one of {sorted(models)}")
    sys_ = models[system]()
    typer.echo(f"# {sys_.name}: {sys_.n_states} states, {sys_.n_params} parameters")
    if latex:
        typer.echo(sys_.latex())
    else:
        for line in sys_.equations():
            typer.echo(line)


@app.command()
def bench(
    subjects: Annotated[int, typer.Option(min=1, help="Virtual subjects per engine run.")] = 2000,
    quick: Annotated[bool, typer.Option(help="A fast smoke run: fewer subjects, skip the slowest peers.")] = False,
    out: Annotated[Optional[str], typer.Option(help="Also write the table as .csv or .json.")] = None,
):
    """Benchmark the engine against its peers (scipy solve_ivp loops, numbalsoda): accuracy and speed together."""
    from benchmarks.bench_engine import format_table, run_benchmark

    from pkpd.io import write_table

    rows = run_benchmark(subjects=subjects, quick=quick)
    typer.echo(format_table(rows))
    if out:
        write_table(rows, out)


# ---- pharmacokinetics -------------------------------------------------------------------------------------
@app.command()
def pk(
    species: Annotated[str, typer.Option(help="Species: mouse or human.")] = "mouse",
    dose: Annotated[Optional[str], typer.Option(help="Dose with unit, e.g. 10mg/kg, 0.5mg/kg, 56mg, 12.5ug. "
                                                     "Mass doses are of the salt form given by --salt.")] = None,
    route: Annotated[Optional[str], typer.Option(help="Route: iv, iv-infusion, ip, sc, im, intranasal, oral.")]
    = None,
    regimen: Annotated[Optional[Path], typer.Option(help="Event table (.csv or .toml) with columns time, amount, "
                                                         "unit, route[, duration, salt, repeat, interval]; "
                                                         "instead of --dose/--route.")] = None,
    duration: Annotated[str, typer.Option(help="Simulated time with unit, e.g. 4h, 90min, 14d.")] = "4h",
    infusion_time: Annotated[Optional[str], typer.Option(help="Infusion duration for iv-infusion, e.g. 40min.")]
    = None,
    pk_model: Annotated[Optional[str], typer.Option(help="PK parameter set: mouse; kamp2020 (human default), "
                                                         "fanta2015, perez-ruixo2021. `ketamine params` lists them.")]
    = None,
    weight: Annotated[Optional[str], typer.Option(help="Body weight with unit, e.g. 25g or 70kg (default: 25 g "
                                                       "mouse, 70 kg human).")] = None,
    sex: Annotated[str, typer.Option(help="Sex: male or female (a clearance covariate in some models).")] = "male",
    salt: Annotated[Optional[str], typer.Option(help="Form in which mass doses were weighed: hcl (MW 274.19) or "
                                                     "base (MW 237.73). Default: hcl for mouse, base for human.")]
    = None,
    drug: Annotated[Optional[str], typer.Option(help="racemic, esketamine or arketamine (default: the PK model's "
                                                     "own).")] = None,
    trapping: Annotated[bool, typer.Option(help="Occupancy from the NMDA trapping (binding) ODE instead of "
                                                "instantaneous equilibrium.")] = False,
    step: Annotated[Optional[str], typer.Option(help="Output time step with unit, e.g. 1min (default: chosen from "
                                                     "the duration, at most ~1000 rows).")] = None,
    backend: Annotated[str, typer.Option(help="Solver: auto (exact matrix exponential for the linear model, "
                                              "numba engine with --trapping), exact, engine or scipy.")] = "auto",
    out: Annotated[Optional[Path], typer.Option(help="Write the table to FILE (.csv, .json or .parquet). "
                                                     "Without --out and --summary the CSV goes to stdout.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Draw plasma, brain and occupancy to FILE (.png, .pdf, "
                                                      ".svg; a .png also gets an .svg twin).")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Print exposure metrics (Cmax, Tmax, AUC, half-life, "
                                                            "occupancy) as JSON.")] = False,
):
    """Simulate one subject's ketamine and norketamine PK (plasma, brain; µM and ng/mL) and NMDA occupancy.

    Example: ketamine pk --species mouse --route ip --dose 10mg/kg --duration 4h --out pk.csv
    """
    import json
    import sys

    import numpy as np

    from pkpd.dosing import build_regimen
    from pkpd.figures import check_figure_path
    from pkpd.output import jsonable, plot_pk, table_format, write_pk_table
    from pkpd.pk import COLUMN_UNITS, TABLE_COLUMNS, simulate_pk
    from pkpd.units import parse_time, parse_weight

    try:
        if out is not None:
            table_format(out)
        if plot is not None:
            check_figure_path(plot)
        reg = build_regimen(dose=dose, route=route, regimen_file=regimen, infusion_time=infusion_time, salt=salt)
        duration_h = parse_time(duration, "duration", allow_zero=False)
        weight_kg = parse_weight(weight) if weight is not None else None
        t_eval = None
        if step is not None:
            dt = parse_time(step, "step", allow_zero=False)
            if dt > duration_h:
                raise ValueError(f"step: {step} is longer than the duration {duration}")
            t_eval = np.append(np.arange(0.0, duration_h - 1e-9, dt), duration_h)
        result = simulate_pk(reg, duration_h, species=species, pk_model=pk_model, weight_kg=weight_kg, sex=sex,
                             salt=salt, drug=drug, trapping=trapping, t_eval=t_eval, backend=backend)
    except ValueError as e:
        fail(str(e))
    meta = result.metadata
    for d in meta["doses"]:
        form = f"{d['salt']} " if d["salt"] else ""
        typer.echo(f"dose: {d['amount']:g} {d['unit']} ketamine {form}{d['route']} at {d['time_h']:g} h = "
                   f"{d['base_mg']:.4g} mg base = {d['base_umol']:.4g} umol "
                   f"({meta['species']}, {meta['weight_kg']:g} kg, {meta['pk_model']}, {meta['drug']})", err=True)
    if any(d["salt"] for d in meta["doses"]):
        if salt is None:
            typer.echo(f"salt: {meta['default_salt']}, the {meta['species']} default "
                       f"({meta['default_salt_rationale']}); change with --salt", err=True)
        else:
            typer.echo(f"salt: {meta['default_salt']} (from --salt)", err=True)
    table = result.table(TABLE_COLUMNS)
    if out is not None:
        try:
            write_pk_table(out, table, units={k: COLUMN_UNITS[k] for k in table}, metadata=meta)
        except ValueError as e:
            fail(str(e))
        typer.echo(f"wrote {out} ({len(result.t_h)} rows)", err=True)
    if plot is not None:
        try:
            plot_pk(result, plot, command=reproduce_command())
        except ValueError as e:
            fail(str(e))
        typer.echo(f"wrote {plot}", err=True)
    if summary:
        typer.echo(json.dumps(jsonable(result.summary()), indent=1))
    elif out is None:
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(TABLE_COLUMNS)
        for row in zip(*table.values()):
            w.writerow([f"{v:.10g}" for v in row])


@app.command()
def params(
    species: Annotated[Optional[str], typer.Option(help="Only this species (mouse or human).")] = None,
    pk_model: Annotated[Optional[str], typer.Option(help="Only this PK parameter set.")] = None,
    format: Annotated[str, typer.Option(help="Output: table, json or csv.")] = "table",
    circuit: Annotated[bool, typer.Option("--circuit", help="List the circuit model's parameters (mPFC, VTA, "
                                                            "plasticity, behaviour, protocol timing, "
                                                            "manipulations) instead of the PK sets.")] = False,
):
    """List every model parameter with its value, unit, kind (published/calibrated/assumed) and source."""
    import csv
    import json
    import sys

    from pkpd.pk_models import PK_MODELS, parameter_table
    from pkpd.species import get_species

    try:
        if species is not None:
            species = get_species(species).name
        if pk_model is not None and pk_model not in PK_MODELS:
            raise ValueError(f"pk-model: unknown PK model {pk_model!r}; expected one of {', '.join(PK_MODELS)}")
        if format not in ("table", "json", "csv"):
            raise ValueError(f"format: expected table, json or csv, got {format!r}")
    except ValueError as e:
        fail(str(e))
    if circuit:
        from circuits.model import parameter_rows

        rows = parameter_rows()
    else:
        rows = parameter_table(species, pk_model)
    if format == "json":
        typer.echo(json.dumps(rows, indent=1))
    elif format == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(["group", "name", "value", "unit", "kind", "source"])
        for r in rows:
            w.writerow([r["group"], r["name"], f"{r['value']:.6g}", r["unit"], r["kind"], r["source"]])
    else:
        group = None
        for r in rows:
            if r["group"] != group:
                group = r["group"]
                typer.echo(f"\n[{group}]")
            typer.echo(f"  {r['name']:<38} {r['value']:>12.6g} {r['unit']:<6} {r['kind']:<10} {r['source']}")


# ---- circuits: protocols and replications (issue 4) ----------------------------------------------------------
def _progress(description: str):
    """A rich progress bar on stderr and the ``progress(fraction)`` callback that advances it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task(description, total=1.0)
    return bar, lambda f: bar.update(task, completed=float(f))


@app.command()
def simulate(
    protocol: Annotated[str, typer.Option(help="Behavioural protocol: slh (strong learned helplessness) or wlh "
                                               "(weak).")] = "slh",
    dose: Annotated[Optional[str], typer.Option(help="Drug dose with unit, e.g. 10mg/kg (HCl salt for the mouse), "
                                                     "given at the protocol's drug time (sLH: 48 h after the last "
                                                     "induction; wLH: 4 h before test 5). Omit for saline.")]
    = None,
    route: Annotated[Optional[str], typer.Option(help="Route of --dose: ip (default), iv, iv-infusion, sc, im, "
                                                      "intranasal, oral.")] = None,
    regimen: Annotated[Optional[Path], typer.Option(help="Event table (.csv or .toml) as for `ketamine pk`, times "
                                                         "in h relative to the protocol's drug time; instead of "
                                                         "--dose.")] = None,
    infusion_time: Annotated[Optional[str], typer.Option(help="Infusion duration for iv-infusion, e.g. 40min.")]
    = None,
    manipulation: Annotated[Optional[list[str]], typer.Option(
        help="Manipulation (repeatable): da_silencing, cno_only, mpfc_silencing, vta_infusion, mpfc_infusion, "
             "drd1_activation, drd1_inhibition, mtor_block, spine_block.")] = None,
    subjects: Annotated[int, typer.Option(help="Number of mice: 1 = the typical mouse; more = a seeded virtual "
                                               "cohort.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the cohort's parameter variation.")] = 0,
    step: Annotated[str, typer.Option(help="Output time step with unit, e.g. 1h, 30min.")] = "1h",
    out: Annotated[Optional[Path], typer.Option(help="Write the time courses (occupancy, mPFC rates, DA rate and "
                                                     "response, plasticity states, P(failure)) to FILE (.csv, "
                                                     ".json or .parquet).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Draw the time courses to FILE (.png, .pdf, .svg; a .png "
                                                      "also gets an .svg twin).")] = None,
):
    """Simulate mice through a learned-helplessness protocol with any regimen and manipulation: PK, NMDA
    occupancy, mPFC, VTA dopamine, plasticity and escape behaviour. Prints one row per test (CSV).

    Example: ketamine simulate --protocol slh --dose 10mg/kg --route ip --out slh.csv --plot slh.png
    """
    from circuits.experiments import simulate_protocol
    from circuits.figures import plot_simulation
    from pkpd.dosing import Regimen, build_regimen
    from pkpd.figures import check_figure_path
    from pkpd.io import write_table
    from pkpd.units import parse_time

    try:
        if out is not None and out.suffix.lower() not in (".csv", ".json", ".parquet"):
            raise ValueError(f"out: {str(out)!r} must end in .csv, .json or .parquet")
        if plot is not None:
            check_figure_path(plot)
        if subjects < 1:
            raise ValueError(f"subjects: expected at least 1 mouse, got {subjects}")
        if dose is None and regimen is None:
            if route is not None or infusion_time is not None:
                raise ValueError("dose: --route/--infusion-time need --dose")
            reg = Regimen()
        else:
            reg = build_regimen(dose=dose, route=route if (route or regimen) else "ip", regimen_file=regimen,
                                infusion_time=infusion_time)
        step_h = parse_time(step, "step", allow_zero=False)
        bar, progress = _progress("simulating")
        with bar:
            progress(0.05)
            result = simulate_protocol(protocol, regimen=reg, manipulations=tuple(manipulation or ()), n=subjects,
                                       seed=seed, step_h=step_h)
            progress(1.0)
    except ValueError as e:
        fail(str(e))
    tests = result["tests"]
    typer.echo(",".join(tests))
    for row in zip(*tests.values()):
        typer.echo(",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row))
    if out is not None:
        write_table(result["timecourse"], out)
        typer.echo(f"wrote {out} ({len(result['timecourse']['time_h'])} rows)", err=True)
    if plot is not None:
        plot_simulation(result, plot, command=reproduce_command())
        typer.echo(f"wrote {plot}", err=True)


EXPERIMENTS = ("wu2021",)


@app.command()
def experiment(
    name: Annotated[str, typer.Argument(help="The replication to run: wu2021 (Wu et al. 2021 eLife 10:e64041, "
                                             "on the paper's protocols; literature experiments labelled).")],
    out: Annotated[Path, typer.Option(help="Directory for summary.json and the PNG figures (created if needed).")],
    n: Annotated[int, typer.Option(help="Virtual mice in the cohort (>= 1).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the cohort's per-mouse parameter variation.")] = 0,
):
    """Run a replication on a virtual cohort; write DIR/summary.json and figures with the paper's values beside
    the model's. Every number comes from integrating the model.

    Example: ketamine experiment wu2021 --out results/wu2021 --n 100 --seed 0
    """
    import json

    from circuits.replication import write_wu2021

    if name not in EXPERIMENTS:
        fail(f"unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)}")
    if n < 1:
        fail(f"n: expected a cohort of at least 1 mouse, got {n}")
    try:
        bar, progress = _progress(f"{name}: {n} mice")
        with bar:
            summary = write_wu2021(out, n=n, seed=seed, progress=progress)
    except ValueError as e:
        fail(str(e))
    record_command(out, inputs={"experiment": name, "n": n, "seed": seed})
    typer.echo(json.dumps(summary, indent=1))
    typer.echo(f"wrote {out / 'summary.json'} and figures", err=True)


# ---- virtual cohorts (issue 5) ---------------------------------------------------------------------------------
cohort_app = typer.Typer(help="Virtual cohorts at scale: run N subjects in chunks to a resumable run directory "
                              "(`ketamine cohort --n ... --out DIR`), or summarize one (`ketamine cohort summarize "
                              "DIR`).", no_args_is_help=False)
app.add_typer(cohort_app, name="cohort")

#: --protocol values: PK only, or the circuit protocols (registered by circuits/cohort.py).
COHORT_PROTOCOLS = {"none": "pk", "pk": "pk", "slh": "slh", "wlh": "wlh"}


def _cohort_progress():
    """A rich progress bar on stderr (subjects done, rate, time left) and its ``progress(done, total)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("subjects"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                   TextColumn("left"), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task("cohort", total=None, rate="")
    state = {}

    def progress(done: int, total: int):
        import time

        now = time.perf_counter()
        t0, d0 = state.setdefault("start", (now, done))
        rate = (done - d0) / (now - t0) if now > t0 and done > d0 else None
        bar.update(task, completed=done, total=total, rate=f"{rate:,.0f}/s" if rate else "")

    return bar, progress


@cohort_app.callback(invoke_without_command=True)
def cohort(
    ctx: typer.Context,
    n: Annotated[Optional[int], typer.Option("--n", help="Number of virtual subjects (> 0).")] = None,
    species: Annotated[str, typer.Option(help="mouse or human.")] = "mouse",
    dose: Annotated[Optional[str], typer.Option(help="Dose with unit, e.g. 10mg/kg (HCl salt for the mouse, base "
                                                     "for the human), given at time 0.")] = None,
    route: Annotated[Optional[str], typer.Option(help="Route of --dose: ip (default), iv, iv-infusion, sc, im, "
                                                      "intranasal, oral.")] = None,
    infusion_time: Annotated[Optional[str], typer.Option(help="Infusion duration for iv-infusion, e.g. 40min.")]
    = None,
    regimen: Annotated[Optional[Path], typer.Option(help="Event table (.csv or .toml) as for `ketamine pk`, "
                                                         "instead of --dose.")] = None,
    duration: Annotated[Optional[str], typer.Option(help="Simulated time with unit, e.g. 24h, 7d (default 24h; "
                                                         "slh/wlh: the protocol's own length).")] = None,
    pk_model: Annotated[Optional[str], typer.Option(help="PK parameter set (default: the species default: mouse, "
                                                         "kamp2020).")] = None,
    protocol: Annotated[str, typer.Option(help="What to simulate: pk (or none): PK and NMDA occupancy only; slh "
                                               "or wlh: strong / weak learned helplessness through the circuit "
                                               "model, the dose given at the protocol's drug time (sLH 96 h, wLH "
                                               "92 h), readouts at every test.")] = "pk",
    manipulation: Annotated[Optional[str], typer.Option(help="slh/wlh only: one manipulation for the whole cohort "
                                                             "(da_silencing, cno_only, mpfc_silencing, "
                                                             "vta_infusion, mpfc_infusion, drd1_activation, "
                                                             "drd1_inhibition, mtor_block, spine_block).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run directory (new or empty; or the run to continue with "
                                                     "--resume).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: a subject's parameters depend only on (seed, subject id).")] = 0,
    chunk_size: Annotated[int, typer.Option(help="Subjects per chunk: the unit of work, output part and "
                                                 "memory.")] = 5000,
    scheduler: Annotated[Optional[str], typer.Option(help="Omit: in this process on all cores. 'local': a Dask "
                                                          "LocalCluster. 'tcp://HOST:PORT': an existing Dask "
                                                          "cluster.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Worker processes of --scheduler local (default: one per "
                                                        "core).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (its manifest must match), skipping "
                                              "finished chunks.")] = False,
    trajectories: Annotated[bool, typer.Option(help="Also write every observable on the solve grid, chunk by "
                                                    "chunk (large).")] = False,
):
    """Run a virtual cohort: N subjects with inter-individual variability through a regimen, in chunks, to
    DIR/subjects/*.parquet (one row per subject), DIR/bands (percentile bands) and DIR/manifest.json.

    Example: ketamine cohort --n 100000 --species mouse --dose 10mg/kg --route ip --out runs/c1 --seed 7
    """
    if ctx.invoked_subcommand is not None:
        return
    import json

    from pkpd.cohort import CohortSpec, estimate_memory, run_cohort
    from pkpd.dosing import build_regimen
    from pkpd.units import parse_time

    try:
        if n is None or out is None:
            raise ValueError("expected --n and --out (see `ketamine cohort --help`)")
        if protocol not in COHORT_PROTOCOLS:
            raise ValueError(f"protocol: unknown {protocol!r}; expected one of {', '.join(COHORT_PROTOCOLS)}")
        proto = COHORT_PROTOCOLS[protocol]
        if manipulation is not None:
            from circuits.protocols import MANIPULATIONS

            if proto not in ("slh", "wlh"):
                raise ValueError(f"manipulation: only the circuit protocols slh and wlh take a manipulation; "
                                 f"protocol is {protocol!r}")
            if manipulation not in MANIPULATIONS:
                raise ValueError(f"manipulation: unknown {manipulation!r}; expected one of "
                                 f"{', '.join(MANIPULATIONS)}")
            if manipulation != "none":
                proto = f"{proto}+{manipulation}"
        if dose is None and regimen is None:
            raise ValueError("dose: expected --dose (e.g. 10mg/kg) or --regimen FILE")
        reg = build_regimen(dose=dose, route=route if (route or regimen) else "ip", regimen_file=regimen,
                            infusion_time=infusion_time)
        if duration is not None:
            duration_h = parse_time(duration, "duration", allow_zero=False)
        elif proto != "pk":
            from circuits.cohort import protocol_duration_h

            duration_h = protocol_duration_h(proto, reg)
        else:
            duration_h = 24.0
        spec = CohortSpec(n=n, regimen=reg, duration_h=duration_h,
                          species=species, pk_model=pk_model, seed=seed, protocol=proto,
                          trajectories=trajectories)
        if chunk_size <= 0:
            raise ValueError(f"chunk-size: expected a positive number of subjects per chunk, got {chunk_size}")
        import os

        at_once = (workers or os.cpu_count() or 1) if scheduler == "local" else 1
        est = estimate_memory(spec, chunk_size, at_once)
        typer.echo(f"memory estimate: {est['total_bytes'] / 2 ** 30:.2f} GiB ({est['per_subject_bytes'] / 1024:.1f} "
                   f"KiB per subject, chunk {min(chunk_size, n)}, {at_once} chunk(s) at a time)", err=True)
        bar, progress = _cohort_progress()
        with bar:
            run = run_cohort(spec, out, chunk_size=chunk_size, scheduler=scheduler, resume=resume,
                             n_workers=workers, progress=progress)
    except ValueError as e:
        fail(str(e))
    record_command(out, resume=resume)  # beside the manifest, not in it: resuming compares the manifest
    s = run.summary
    typer.echo(json.dumps({k: s[k] for k in ("n", "n_ok", "n_failed", "failures")} |
                          {"seconds": round(run.seconds, 2), "chunks_run": run.chunks_run,
                           "chunks_skipped": run.chunks_skipped}, indent=1))
    typer.echo(f"wrote {out} (see `ketamine cohort summarize {out}`)", err=True)


@cohort_app.command("summarize")
def cohort_summarize(
    run: Annotated[Path, typer.Argument(help="A cohort run directory.")],
    plot: Annotated[Optional[Path], typer.Option(help="Draw the percentile bands to FILE (.png, .pdf, .svg; "
                                                      "default DIR/bands.png, with an .svg twin).")] = None,
):
    """Print a run's population summary (5/50/95th percentiles of every readout, failures) and draw its
    percentile bands."""
    from pkpd.cohort import format_summary, plot_bands, summarize_run
    from pkpd.figures import check_figure_path

    try:
        if plot is not None:
            check_figure_path(plot)
        summary = summarize_run(run)
        typer.echo(format_summary(summary))
        path = plot_bands(run, plot or run / "bands.png")
    except ValueError as e:
        fail(str(e))
    typer.echo(f"wrote {path}", err=True)


# ---- reports (issue 6) -------------------------------------------------------------------------------------------
@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory: a cohort run (manifest.json), a replication "
                                                 "(`ketamine experiment wu2021 --out DIR`) or study records "
                                                 "(*.study.json).")],
    out: Annotated[Optional[Path], typer.Option(help="Write the page to FILE.html (default RUN_DIR/report.html).")]
    = None,
):
    """Write one self-contained HTML page summarizing a run: what was run, the exact command that reproduces it,
    the version, the inputs, the key results (the paper's values beside the model's) and every figure, embedded.

    Example: ketamine report runs/c1 --out c1.html
    """
    from pkpd.report import write_report

    try:
        path = write_report(run_dir, out)
    except ValueError as e:
        fail(str(e))
    typer.echo(f"wrote {path}", err=True)


# ---- dose-response study (issue 6) ------------------------------------------------------------------------------
def _dose_list(text: str) -> list[float]:
    """``"0.3,1,3"`` -> ``[0.3, 1.0, 3.0]`` (mg/kg); ``ValueError`` naming ``doses`` otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        return [float(p.removesuffix("mg/kg")) for p in parts]
    except ValueError:
        raise ValueError(f"doses: expected comma-separated numbers in mg/kg (e.g. 0.3,1,3,10), got {text!r}") \
            from None


@app.command("dose-response")
def dose_response_cmd(
    doses: Annotated[str, typer.Option(help="Dose grid in mg/kg, comma-separated, strictly increasing, >= 0 (0 = "
                                            "saline); mouse doses as HCl salt, human as base.")],
    species: Annotated[str, typer.Option(help="mouse (circuit protocol slh: behaviour, DA, mPFC, exposure) or "
                                              "human (PK only: exposure and occupancy).")] = "mouse",
    route: Annotated[str, typer.Option(help="ip, iv, iv-infusion, sc, im, intranasal, oral.")] = "ip",
    n: Annotated[int, typer.Option("--n", help="Virtual subjects per dose (the same subjects at every dose).")]
    = 1000,
    seed: Annotated[int, typer.Option(help="Seed: a subject's parameters depend only on (seed, subject id).")] = 0,
    readout: Annotated[Optional[list[str]], typer.Option(
        help="Readout(s), repeatable or comma-separated (default failure_4h for the mouse, occupancy_peak for the "
             "human): failure_<test>, da_response_<test>, latency_<test> (tests baseline, lh, 4h, 24h, 72h), "
             "mpfc_peak, occupancy_peak, occupancy_peak_interneuron, cmax, auc, brain_cmax, brain_auc.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Table (.csv, .json or .parquet): per dose and readout the "
                                                     "mean, SEM, 5/50/95th percentiles; also writes "
                                                     "<stem>.study.json beside it (fit, inputs, command).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Figure (.png with an .svg twin, .svg or .pdf).")] = None,
    work_dir: Annotated[Optional[Path], typer.Option(help="Directory of the per-dose cohort runs (default "
                                                          "<out stem>_runs beside --out; a temporary directory "
                                                          "without --out).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the per-dose runs in --work-dir (skipping finished "
                                              "chunks and doses).")] = False,
    chunk_size: Annotated[int, typer.Option(help="Subjects per chunk of each cohort run.")] = 1000,
    infusion_time: Annotated[Optional[str], typer.Option(help="Infusion duration for iv-infusion, e.g. 40min.")]
    = None,
    duration: Annotated[Optional[str], typer.Option(help="Human only: simulated time, e.g. 24h (default 24h; "
                                                         "AUC is over it).")] = None,
):
    """A dose-response study: one virtual cohort per dose, per readout the mean and 5/50/95th percentiles, and a
    Hill (Emax) fit with ED50 and its 95 % confidence interval — or, for an inverted U, the statement that the curve
    is non-monotonic with the dose of maximal effect.

    Example: ketamine dose-response --species mouse --route ip --doses 0.3,1,3,10,30,50,100,200 --n 1000
    --readout failure_4h --out dr.csv --plot dr.png
    """
    import os

    from circuits import studies
    from pkpd.figures import check_figure_path
    from pkpd.io import TABLE_FORMATS
    from pkpd.units import parse_time

    try:
        dose_values = _dose_list(doses)
        readouts = None if not readout else [r.strip() for item in readout for r in item.split(",") if r.strip()]
        if out is not None and out.suffix.lower() not in TABLE_FORMATS:
            raise ValueError(f"out: {str(out)!r} must end in one of {', '.join(TABLE_FORMATS)}")
        if plot is not None:
            check_figure_path(plot)
        if work_dir is None and out is not None:
            work_dir = out.parent / f"{out.stem}_runs"
        if resume and work_dir is None:
            raise ValueError("resume: expected --work-dir or --out (the per-dose runs to continue)")
        inf_h = None if infusion_time is None else parse_time(infusion_time, "infusion-time", allow_zero=False)
        dur_h = None if duration is None else parse_time(duration, "duration", allow_zero=False)
        bar, progress = _cohort_progress()
        with bar:
            result = studies.dose_response(dose_values, species=species, route=route, n=n, seed=seed,
                                           readouts=readouts, work_dir=work_dir, chunk_size=chunk_size,
                                           resume=resume, progress=progress, infusion_time_h=inf_h,
                                           duration_h=dur_h)
        figures = []
        if plot is not None:
            fig, figures = studies.plot_dose_response(result, plot)
            from pkpd.figures import pyplot

            pyplot().close(fig)
    except ValueError as e:
        fail(str(e))
    for r in result.readouts:
        ro = studies.READOUTS[r]
        typer.echo(f"{r}: {ro.label} ({ro.unit})")
        typer.echo(f"  {'dose mg/kg':>10} {'mean':>10} {'p5':>10} {'p50':>10} {'p95':>10} {'n':>6}")
        st = result.stats[r]
        for i, d in enumerate(result.doses):
            typer.echo(f"  {d:>10g} {st['mean'][i]:>10.4g} {st['p5'][i]:>10.4g} {st['p50'][i]:>10.4g} "
                       f"{st['p95'][i]:>10.4g} {int(st['n_solved'][i]):>6d}")
        typer.echo(f"  {result.analysis[r]['statement']}")
    if out is not None:
        from pkpd.io import write_json, write_table

        write_table(result.table(), out)
        record = result.to_json(reproduce_command())
        record["figures"] = [os.path.relpath(p, out.parent) for p in figures]
        study = write_json(record, out.parent / f"{out.stem}.study.json")
        typer.echo(f"wrote {out} and {study}", err=True)
    for p in figures:
        typer.echo(f"wrote {p}", err=True)


# ---- regimen comparison and human translation (issue 6) ---------------------------------------------------------
@app.command("regimens")
def regimens_cmd(
    preset: Annotated[Optional[list[str]], typer.Option(
        help="Preset regimen (repeatable): single, daily:N, bolus, infusion_40min, infusion_2h (mouse); "
             "human_single, human_bolus, human_infusion_2h, human_6x12d, esketamine_56, esketamine_84 (human). "
             "`--list` shows their doses. Default: the clinical set (human) or the mouse set.")] = None,
    regimen_file: Annotated[Optional[list[Path]], typer.Option(
        help="Event table (.csv or .toml, as for `ketamine pk`; repeatable), times in h from the start.")] = None,
    species: Annotated[str, typer.Option(help="Species of the event tables and of the default presets: human "
                                              "or mouse.")] = "human",
    pk_model: Annotated[Optional[str], typer.Option(help="PK model of the event tables (default: the species' "
                                                         "default, kamp2020 for human).")] = None,
    horizon: Annotated[Optional[str], typer.Option(help="Simulated time with unit, e.g. 21d (default: 21 d or the "
                                                        "last dose + 14 d, whichever is longer).")] = None,
    step: Annotated[str, typer.Option(help="Output step with unit (plus every 15 min for 12 h after each "
                                           "dose).")] = "1h",
    out: Annotated[Optional[Path], typer.Option(help="Directory for regimens.csv, regimens_timecourse.csv, "
                                                     "regimens.png/.svg and regimens.study.json.")] = None,
    list_presets: Annotated[bool, typer.Option("--list", help="Print the presets with their expanded doses and "
                                                              "exit.")] = False,
):
    """Compare dosing regimens side by side through the circuit: from a chronic-stress depressed state, the
    time course of circuit rescue (fraction of the stress-induced escape deficit restored) with onset, peak,
    duration and half-life of the effect, and exposure (Cmax, AUC, peak NMDA occupancy). Human regimens use human
    PK with the calibrated mouse circuit (the mouse-to-human assumptions are listed in regimens.study.json).

    Example: ketamine regimens --preset human_single --preset human_6x12d --preset esketamine_84 --out results/reg
    """
    from pkpd.units import format_hours, parse_time

    if list_presets:
        from circuits.regimens import PRESETS, expand_preset

        for p in PRESETS.values():
            name = f"{p.name}:N" if p.takes_count else p.name
            typer.echo(f"{name}  [{p.species}{', ' + p.pk_model if p.pk_model else ''}]  {p.description}")
            shown = f"{p.name}:{p.default_count}" if p.takes_count else p.name
            if p.takes_count:
                typer.echo(f"    (shown for N = {p.default_count})")
            for d in expand_preset(shown).describe():
                typer.echo(f"    {d}")
        return
    from circuits import regimens as reglib

    try:
        if out is None:
            raise ValueError("out: expected --out DIR (or --list)")
        if out.exists() and not out.is_dir():
            raise ValueError(f"out: {str(out)!r} exists and is not a directory")
        horizon_days = None if horizon is None else parse_time(horizon, "horizon", allow_zero=False) / 24.0
        step_h = parse_time(step, "step", allow_zero=False)
        items = list(preset or []) + list(regimen_file or [])
        if not items:
            items = list(reglib.default_presets(species))
        bar, progress = _progress("regimens")
        with bar:
            result = reglib.compare_regimens(items, species=species, horizon_days=horizon_days, pk_model=pk_model,
                                             step_h=step_h, progress=progress)
    except ValueError as e:
        fail(str(e))
    record = result.write(out, reproduce_command())
    rows = record["results"]["table"]
    fmt = lambda x: "—" if x is None else f"{x:.3g}"  # noqa: E731
    typer.echo("regimen, onset h, peak rescue, peak time h, duration h, half-life h, rescue 24h, rescue 7d, "
               "Cmax ng/mL, AUC uM*h, peak occupancy (interneuron)")
    for row in rows:
        typer.echo(", ".join([row["regimen"]] + [fmt(row[k]) for k in (
            "onset_h", "peak_rescue", "peak_time_h", "duration_h", "half_life_h", "rescue_24h", "rescue_7d",
            "cmax_plasma_ketamine_ng_per_ml", "auc_plasma_ketamine_uM_h", "peak_occupancy_interneuron")]))
    typer.echo(f"horizon {format_hours(result.horizon_h)}; wrote {out / 'regimens.csv'}, regimens_timecourse.csv, "
               f"regimens.png/.svg and regimens.study.json", err=True)


if __name__ == "__main__":  # pragma: no cover
    app()
