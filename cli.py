"""The ``ketamine`` command line: a thin layer over importable functions that return data.

Heavy modules (numba, sympy, the engine) are imported inside the commands so that ``ketamine --help`` and
``ketamine --version`` answer instantly; at import this module reads only the names the options offer (routes from
:mod:`pkpd.dosing`, protocols and manipulations from :mod:`circuits.protocols`, neither of which imports numpy's
heavy dependants).

Errors end at this boundary as one line on stderr (:func:`user_errors`): bad input (``ValueError``, including an
output path checked before the computation) exits 2; a fault during the run (``OSError`` such as a full disk,
``MemoryError``, a solver failure ``RuntimeError``) exits 1.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from circuits.protocols import MANIPULATIONS, PROTOCOLS
from circuits.registry import COHORT_PROTOCOL_NAMES, EXPERIMENTS
from pkpd.dosing import ROUTES


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit with ``code``: 2 for bad user input, 1 for a fault during the run."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=code)


def _os_message(e: OSError) -> str:
    """One line for an OS error: the path(s) and the system's reason (``'x/y.csv': No space left on device``)."""
    paths = " -> ".join(repr(str(f)) for f in (e.filename, e.filename2) if f is not None)
    reason = e.strerror or str(e) or type(e).__name__
    return f"{paths}: {reason}" if paths else reason


def user_errors(fn):
    """Wrap a command so that its errors end as one line without a traceback (exit 2 bad input, 1 a fault).

    ``ValueError`` is the library's bad-input contract. ``OSError``, ``MemoryError`` and ``RuntimeError`` (the
    solvers' failures) escaping a command happened after its inputs and outputs were checked, so they are faults of
    the run; writers are atomic (:func:`pkpd.io.atomic_path`), so nothing half-written is left. Anything else is a
    bug and keeps its traceback.
    """
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise
        except ValueError as e:
            fail(str(e))
        except OSError as e:
            fail(_os_message(e), code=1)
        except MemoryError as e:
            fail(f"out of memory{': ' + str(e) if str(e) else ''}; try a shorter --duration, a coarser --step or "
                 f"fewer subjects", code=1)
        except RuntimeError as e:
            fail(str(e), code=1)

    return run


class _Typer(typer.Typer):
    """A Typer app whose commands and callbacks are wrapped by :func:`user_errors`."""

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)
        return lambda fn: register(user_errors(fn))

    def callback(self, *args, **kwargs):
        register = super().callback(*args, **kwargs)
        return lambda fn: register(user_errors(fn))


app = _Typer(
    name="ketamine",
    help="ketamine-qsp: a mechanistic simulator of ketamine's antidepressant action (after Wu et al., eLife 2021).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


# ---- options shared by several commands, declared once --------------------------------------------------------
# Here and not in pkpd/ or circuits/: the libraries do not depend on typer, and the top-level layout is fixed, so
# the command line's vocabulary lives with the command line. The names offered come from the domain modules.
def _names(names):
    """A shell-completion callback offering ``names``."""
    return lambda incomplete: [n for n in names if n.startswith(incomplete)]


def _pk_model_names(incomplete: str) -> list[str]:
    from pkpd.pk_models import PK_MODELS  # numpy and scipy: only when completing

    return [n for n in PK_MODELS if n.startswith(incomplete)]


_MANIPULATION_NAMES = [m for m in MANIPULATIONS if m != "none"]

DoseOpt = Annotated[Optional[str], typer.Option(
    help="Dose with unit, e.g. 10mg/kg, 0.5mg/kg, 56mg, 12.5ug. Mass doses are of the salt form (mouse: HCl, "
         "human: base; `pk` also takes --salt).")]
RouteOpt = Annotated[Optional[str], typer.Option(
    help=f"Route of --dose: {', '.join(ROUTES)} (`pk` needs it; elsewhere ip by default).",
    autocompletion=_names(ROUTES))]
RegimenOpt = Annotated[Optional[Path], typer.Option(
    help="Event table (.csv or .toml) with columns time, amount, unit, route[, duration, salt, repeat, interval], "
         "times in h; instead of --dose.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the results as JSON (every value, full precision) "
                                                      "instead of a table.")]
AllowDuplicatesOpt = Annotated[bool, typer.Option(
    "--allow-duplicates", help="Let --regimen give two doses by one route at one time (they add up); without it "
                               "such rows are an error (a copied row would double a dose).")]
InfusionTimeOpt = Annotated[Optional[str], typer.Option(help="Infusion duration of an iv-infusion dose, e.g. "
                                                              "40min.")]
SeedOpt = Annotated[int, typer.Option(help="Seed: a subject's parameters depend only on (seed, subject id).")]
PkModelOpt = Annotated[Optional[str], typer.Option(
    help="PK parameter set: mouse; domino1982 (human default), kamp2020, fanta2015, perez-ruixo2021 (default: the "
         "species' own; `ketamine params` lists them).", autocompletion=_pk_model_names)]
PlotOpt = Annotated[Optional[Path], typer.Option(help="Draw the figure to FILE (.png, .pdf, .svg; a .png also gets "
                                                      "an .svg twin).")]
ManipulationsOpt = Annotated[Optional[list[str]], typer.Option(
    "--manipulation", help=f"Manipulation (repeatable): {', '.join(_MANIPULATION_NAMES)}.",
    autocompletion=_names(_MANIPULATION_NAMES))]
ManipulationOpt = Annotated[Optional[str], typer.Option(
    help=f"slh/wlh only: one manipulation for the whole cohort: {', '.join(_MANIPULATION_NAMES)}.",
    autocompletion=_names(_MANIPULATION_NAMES))]


def _version(value: bool):
    if value:
        from pkpd import __version__

        typer.echo(f"ketamine-qsp {__version__}")
        raise typer.Exit()


class _EchoHandler(logging.Handler):
    """Log records as plain lines on the current stderr (the library's announcements, such as a first compile)."""

    def emit(self, record):
        typer.echo(record.getMessage(), err=True)


def show_compiles() -> None:
    """Print the libraries' one-line announcements on stderr (a model's first, slow compile; a resumed cohort's
    repairs); idempotent."""
    for name in ("pkpd", "circuits"):
        log = logging.getLogger(name)
        if not any(isinstance(h, _EchoHandler) for h in log.handlers):
            log.addHandler(_EchoHandler(logging.INFO))
            log.setLevel(logging.INFO)


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
):
    """ketamine-qsp command line."""
    show_compiles()


#: ``--param NAME=VALUE[UNIT]`` and ``--params FILE.toml``: parameter overrides (:mod:`pkpd.overrides`), declared once
#: and shared by every command that simulates.
ObservedOpt = Annotated[Optional[Path], typer.Option(help="Observed data to draw as points: a tidy table (.csv "
                                                     "or .parquet: ID, TIME, NAME, VALUE[, UNIT]; NAME a simulated "
                                                     "column such as plasma_ketamine_uM) or a dataset's DV rows.")]
DvNameOpt = Annotated[str, typer.Option(help="--observed from a dataset: what its DV is (a column name such as "
                                             "plasma_ketamine_uM).")]
ParamOpt = Annotated[Optional[list[str]], typer.Option(
    "--param", help="Override a model parameter, NAME=VALUE[UNIT] (repeatable), e.g. cl_L_per_h=40L/h or "
                    "CL=666.7mL/min; names as `ketamine params` lists them (route.<route>.<field> for absorption). "
                    "Checked against the parameter's unit and bounds.")]
ParamsFileOpt = Annotated[Optional[Path], typer.Option(
    "--params", help="Parameter overrides from a TOML file (NAME = VALUE in the parameter's unit, or NAME = "
                     "\"VALUE UNIT\"); --param wins over the file.")]


def overrides(param: list[str] | None, params_file: Path | None) -> dict:
    """The raw overrides of ``--params FILE`` and ``--param NAME=VALUE`` (names are resolved by the model)."""
    from pkpd.overrides import collect_overrides

    return collect_overrides(param, params_file)


def circuit_overrides(param: list[str] | None, params_file: Path | None) -> tuple[dict, list[dict]]:
    """The raw overrides for the circuit model, checked against its names, units and bounds (``ValueError``
    before any computation), and their record for the run's outputs."""
    from circuits.overrides import resolve_circuit

    raw = overrides(param, params_file)
    return raw, resolve_circuit(raw)[2]


def echo_overrides(record: list[dict]) -> None:
    """One stderr line per parameter override (name, value, unit, default)."""
    for o in record:
        unit = "" if o["unit"] == "1" else f" {o['unit']}"
        typer.echo(f"override: {o['name']} = {o['value']:.6g}{unit} (default {o['default']:.6g}{unit})", err=True)


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


#: Bytes one subject holds per output time point: ~64 float64 values (states, observables, the table and its
#: copies while it is built and written). An order-of-magnitude allowance for refusing absurd grids before they are
#: allocated, not a measurement; cohorts use :func:`pkpd.cohort.estimate_memory` instead.
BYTES_PER_POINT = 64 * 8
#: Most time points one subject's time course may have: 1e7 rows is a CSV of ~1 GB, and the exact PK solver steps
#: through every point in Python. A ceiling against typing slips (``--duration 1e9h``), assumed.
MAX_POINTS = 10 ** 7


def check_grid_size(span_h: float, step_h: float, field: str, subjects: int = 1) -> None:
    """``ValueError`` naming ``field`` (with the estimate) if ``span_h / step_h`` output times are more than
    :data:`MAX_POINTS` or, for ``subjects``, would not fit in the memory available now; called before anything of
    that size is allocated."""
    from pkpd.cohort import available_memory_bytes

    points = span_h / step_h + 1
    need = points * subjects * BYTES_PER_POINT
    limit = available_memory_bytes()
    grid = f"{span_h:g} h in steps of {step_h:.3g} h is {points:.3g} time points"
    if points > MAX_POINTS:
        raise ValueError(f"{field}: {grid}; expected at most {MAX_POINTS:.0e} (a shorter duration or a coarser "
                         f"step)")
    if need > limit:
        hint = "fewer subjects" if field == "n" else "a shorter duration or a coarser step"
        raise ValueError(f"{field}: {grid}{f' for {subjects} subjects' if subjects > 1 else ''}, an estimated "
                         f"{need / 2 ** 30:.3g} GiB, more than the {limit / 2 ** 30:.2f} GiB available; expected "
                         f"{hint}")


# ---- engine commands -----------------------------------------------------------------------------------------
def _models() -> dict:
    """Every model ``ketamine equations`` can print: name -> zero-argument factory of an OdeSystem."""
    from pkpd.ode import examples
    from pkpd.pk import ketamine_system

    return {"ketamine_pk": ketamine_system, "ketamine_pk_trapping": lambda: ketamine_system(True),
            "ketamine_chiral_pk": lambda: ketamine_system(False, True),
            "ketamine_chiral_pk_trapping": lambda: ketamine_system(True, True), **examples.SYSTEMS}


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
    out: Annotated[Optional[Path], typer.Option(help="Also write the table as .csv, .json or .parquet.")] = None,
):
    """Benchmark the engine against its peers (scipy solve_ivp loops, numbalsoda): accuracy and speed together."""
    from benchmarks.bench_engine import format_table, run_benchmark

    from pkpd.io import TABLE_FORMATS, check_output, write_table

    if out is not None:
        check_output(out, formats=TABLE_FORMATS)
    rows = run_benchmark(subjects=subjects, quick=quick)
    typer.echo(format_table(rows))
    if out:
        write_table(rows, out)


# ---- pharmacokinetics -------------------------------------------------------------------------------------
@app.command()
def pk(
    species: Annotated[str, typer.Option(help="Species: mouse or human.")] = "mouse",
    dose: DoseOpt = None,
    route: RouteOpt = None,
    regimen: RegimenOpt = None,
    allow_duplicates: AllowDuplicatesOpt = False,
    duration: Annotated[str, typer.Option(help="Simulated time with unit, e.g. 4h, 90min, 14d.")] = "4h",
    infusion_time: InfusionTimeOpt = None,
    pk_model: PkModelOpt = None,
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
                                                            "occupancy) as tables; with --json as JSON.")] = False,
    as_json: JsonOpt = False,
    param: ParamOpt = None,
    params_file: ParamsFileOpt = None,
    validate: Annotated[bool, typer.Option("--validate", help="Print every PK set against the published profiles "
                                                              "(validation data, then fitting data) and exit.")]
    = False,
    data: Annotated[Optional[Path], typer.Option(help="A NONMEM-style dataset (.csv or .parquet: ID, TIME, AMT, "
                                                      "EVID, CMT or ROUTE, RATE/DUR, ADDL, II, SS, MDV, DV, WT, "
                                                      "SEX): simulate every ID at its observation times, instead "
                                                      "of --dose/--regimen.")] = None,
    data_time_unit: Annotated[Optional[str], typer.Option(help="--data: unit of TIME, II and DUR (default h, or "
                                                               "the header's, e.g. TIME(min)).")] = None,
    data_amount_unit: Annotated[Optional[str], typer.Option(help="--data: unit of AMT, e.g. mg or mg/kg (or the "
                                                                 "header's, e.g. AMT(mg)).")] = None,
    long: Annotated[bool, typer.Option("--long", help="Write the table long: one row per time and column (ID with "
                                                      "--data, TIME, NAME, VALUE, UNIT).")] = False,
    times: Annotated[Optional[str], typer.Option(help="Output times instead of --step: a list (0,0.5,1,2h), a "
                                                      "range (0:24h:30min) or a file with one time per line; a bare "
                                                      "number is hours.")] = None,
    steady_state: Annotated[Optional[str], typer.Option(help="Dosing interval, e.g. 12h: the regimen has been "
                                                             "given every interval since long before 0 and goes "
                                                             "on (steady state; exact for the linear model).")]
    = None,
    observed: ObservedOpt = None,
    dv_name: DvNameOpt = "plasma_ketamine_uM",
    columns: Annotated[Optional[str], typer.Option(help="Output columns, comma-separated (default: the standard "
                                                        "ones, plus S/R and hydroxynorketamine columns for an "
                                                        "enantiomer-resolved set such as hasan2021).")] = None,
):
    """Simulate one subject's ketamine and norketamine PK (plasma, brain; µM and ng/mL) and NMDA occupancy.

    Example: ketamine pk --species mouse --route ip --dose 10mg/kg --duration 4h --out pk.csv
    """
    import json
    import sys

    import numpy as np

    from pkpd.dosing import build_regimen
    from pkpd.figures import FIGURE_FORMATS
    from pkpd.io import check_output
    from pkpd.output import jsonable, plot_pk, print_summary, table_format, write_pk_table
    from pkpd.pk import COLUMN_UNITS, simulate_pk
    from pkpd.units import parse_time, parse_weight

    if validate:
        from pkpd.validation import format_rows, validation_rows

        if dose is not None or regimen is not None or route is not None:
            fail("validate: --validate runs the published protocols; expected no --dose, --route or --regimen")
        typer.echo(format_rows(validation_rows()), nl=False)
        return
    if data is not None:
        return _pk_data(data, data_time_unit, data_amount_unit, out, long, conflicts={
            "dose": dose, "route": route, "regimen": regimen, "infusion-time": infusion_time, "step": step,
            "plot": plot, "summary": summary or None, "steady-state": steady_state, "times": times,
            "observed": observed, "columns": columns},
            species=species, pk_model=pk_model, weight=weight, sex=sex, salt=salt, drug=drug, trapping=trapping,
            backend=backend, params=overrides(param, params_file))
    try:
        if out is not None:
            table_format(out)
            check_output(out)
        if plot is not None:
            check_output(plot, "plot", formats=FIGURE_FORMATS)
        obs = None
        if observed is not None:
            from pkpd.observed import read_observed
            from pkpd.output import PK_FIGURE_PANELS

            if plot is None:
                raise ValueError("observed: the observed points are drawn on the figure; expected --plot FILE too")
            obs = read_observed(observed, units={k: COLUMN_UNITS[k] for k in PK_FIGURE_PANELS}, dv_name=dv_name)
        names = None
        if columns is not None:
            from pkpd.pk import check_columns

            names = check_columns(columns.split(","), pk_model, species)
        reg = build_regimen(dose=dose, route=route, regimen_file=regimen, infusion_time=infusion_time, salt=salt,
                            allow_duplicates=allow_duplicates)
        duration_h = parse_time(duration, "duration", allow_zero=False)
        weight_kg = parse_weight(weight) if weight is not None else None
        t_eval = None
        if step is None:  # the default grid (pkpd.pk.default_time_grid) steps at most 24 h
            check_grid_size(duration_h, 24.0, "duration")
        else:
            dt = parse_time(step, "step", allow_zero=False)
            if dt > duration_h:
                raise ValueError(f"step: {step} is longer than the duration {duration}")
            check_grid_size(duration_h, dt, "step")
            t_eval = np.append(np.arange(0.0, duration_h - 1e-9, dt), duration_h)
        rows = None
        if times is not None:
            from pkpd.output import parse_times

            if step is not None:
                raise ValueError("times: give --times or --step, not both")
            want = parse_times(times)
            if want[-1] > duration_h + 1e-12:
                raise ValueError(f"times: {want[-1]:g} h is after the end of the simulation ({duration}); expected "
                                 "times within the duration")
            t_eval = np.unique(np.concatenate([[0.0], want, [duration_h]]))
            rows = np.searchsorted(t_eval, want)
        extra = {} if steady_state is None else {
            "steady_state_h": parse_time(steady_state, "steady-state", allow_zero=False)}
        result = simulate_pk(reg, duration_h, species=species, pk_model=pk_model, weight_kg=weight_kg, sex=sex,
                             salt=salt, drug=drug, trapping=trapping, t_eval=t_eval, backend=backend,
                             params=overrides(param, params_file), **extra)
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
    table = result.table(names)
    if rows is not None:
        table = {k: v[rows] for k, v in table.items()}
    units = {k: COLUMN_UNITS[k] for k in table}
    if long:
        from pkpd.output import long_table

        table, units = long_table(table, units)
    if out is not None:
        try:
            write_pk_table(out, table, units=units, metadata=meta)
        except ValueError as e:
            fail(str(e))
        typer.echo(f"wrote {out} ({len(next(iter(table.values())))} rows)", err=True)
    if plot is not None:
        try:
            plot_pk(result, plot, command=reproduce_command(), observed=obs)
        except ValueError as e:
            fail(str(e))
        typer.echo(f"wrote {plot}", err=True)
    echo_overrides(meta["overrides"])
    if summary or as_json:
        full = result.summary() | {"overrides": meta["overrides"]}
        if as_json:
            typer.echo(json.dumps(jsonable(full), indent=1))
        else:
            print_summary(full)
    elif out is None:
        import csv

        _write_csv_stdout(table)


def _write_csv_stdout(table) -> None:
    """A table as CSV on stdout: numbers with 10 significant digits, text as is."""
    import csv
    import sys

    w = csv.writer(sys.stdout)
    w.writerow(list(table))
    for row in zip(*table.values()):
        w.writerow([v if isinstance(v, str) else f"{v:.10g}" for v in row])


def _pk_data(path: Path, time_unit, amount_unit, out, long: bool, *, conflicts: dict, weight, **pk_options) -> None:
    """``ketamine pk --data``: every ID of a dataset at its output rows, one table (ID, row, the pk columns, DV)."""
    import numpy as np

    from pkpd.dataset import read_dataset, simulate_dataset
    from pkpd.output import long_table, table_format, write_pk_table
    from pkpd.pk import COLUMN_UNITS
    from pkpd.units import parse_weight

    try:
        given = [k for k, v in conflicts.items() if v is not None]
        if given:
            raise ValueError(f"{given[0]}: --data gives the doses and output times; --{given[0]} cannot be "
                             "combined with it")
        if out is not None:
            table_format(out)
        if weight is not None:
            pk_options["weight_kg"] = parse_weight(weight)
        ds = read_dataset(path, time_unit=time_unit, amount_unit=amount_unit)
        table = simulate_dataset(ds, **pk_options)
    except ValueError as e:
        fail(str(e))
    table["ID"] = np.array(table["ID"], dtype=object).astype(str)
    units = {k: COLUMN_UNITS.get(k, "") for k in table} | {"DV": "as in the dataset", "row": "data row"}
    if long:
        table, units = long_table(table, units)
    n = len(table["ID"])
    if out is not None:
        write_pk_table(out, table, units=units, metadata={"data": str(path), "time_unit": ds.time_unit,
                                                          "amount_unit": ds.amount_unit} | pk_options)
        typer.echo(f"wrote {out} ({len(ds.subjects)} subjects, {n} rows)", err=True)
    else:
        _write_csv_stdout(table)


@app.command()
def params(
    species: Annotated[Optional[str], typer.Option(help="Only this species (mouse or human).")] = None,
    pk_model: Annotated[Optional[str], typer.Option(help="Only this PK parameter set.")] = None,
    format: Annotated[str, typer.Option(help="Output: table, json or csv.")] = "table",
    circuit: Annotated[bool, typer.Option("--circuit", help="List the circuit model's parameters (mPFC, VTA, "
                                                            "plasticity, behaviour, protocol timing, "
                                                            "manipulations) instead of the PK sets.")] = False,
):
    """List every model parameter with its value, unit, kind (published/calibrated/assumed) and source.

    Each one with bounds can be overridden by name with --param NAME=VALUE[UNIT] on the simulating commands (a
    route's fields as route.<route>.<field>, e.g. route.ip.ka_per_h; not the brain.* physiology, the protocol
    timing or the manipulation switches).
    """
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


# ---- circuits: protocols and replications --------------------------------------------------------------------
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
    protocol: Annotated[str, typer.Option(
        help=f"Behavioural protocol: {' or '.join(PROTOCOLS)} (strong or weak learned helplessness).",
        autocompletion=_names(PROTOCOLS))] = "slh",
    dose: DoseOpt = None,
    route: RouteOpt = None,
    regimen: RegimenOpt = None,
    allow_duplicates: AllowDuplicatesOpt = False,
    infusion_time: InfusionTimeOpt = None,
    manipulation: ManipulationsOpt = None,
    subjects: Annotated[int, typer.Option(help="Number of mice: 1 = the typical mouse; more = a seeded virtual "
                                               "cohort.")] = 1,
    seed: SeedOpt = 0,
    step: Annotated[str, typer.Option(help="Output time step with unit, e.g. 1h, 30min.")] = "1h",
    out: Annotated[Optional[Path], typer.Option(help="Write the time courses (occupancy, mPFC rates, DA rate and "
                                                     "response, plasticity states, P(failure)) to FILE (.csv, "
                                                     ".json or .parquet).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Draw the time courses to FILE (.png, .pdf, .svg; a .png "
                                                      "also gets an .svg twin).")] = None,
    param: ParamOpt = None,
    params_file: ParamsFileOpt = None,
):
    """Simulate mice through a learned-helplessness protocol with any regimen and manipulation: PK, NMDA
    occupancy, mPFC, VTA dopamine, plasticity and escape behaviour. Prints one row per test (CSV).

    The dose (or the regimen's time 0) is given at the protocol's drug time (sLH: 48 h after the last induction;
    wLH: 4 h before test 5); without --dose or --regimen the mice get saline.

    Example: ketamine simulate --protocol slh --dose 10mg/kg --route ip --out slh.csv --plot slh.png
    """
    from circuits.experiments import simulate_protocol
    from circuits.figures import plot_simulation
    from circuits.protocols import build_protocol
    from pkpd.dosing import Regimen, build_regimen
    from pkpd.figures import FIGURE_FORMATS
    from pkpd.io import TABLE_FORMATS, check_output, write_table
    from pkpd.units import parse_time

    try:
        if out is not None:
            check_output(out, formats=TABLE_FORMATS)
        if plot is not None:
            check_output(plot, "plot", formats=FIGURE_FORMATS)
        if subjects < 1:
            raise ValueError(f"subjects: expected at least 1 mouse, got {subjects}")
        if dose is None and regimen is None:
            if route is not None or infusion_time is not None:
                raise ValueError("dose: --route/--infusion-time need --dose")
            reg = Regimen()
        else:
            reg = build_regimen(dose=dose, route=route if (route or regimen) else "ip", regimen_file=regimen,
                                infusion_time=infusion_time, allow_duplicates=allow_duplicates)
        step_h = parse_time(step, "step", allow_zero=False)
        span_h = build_protocol(protocol, regimen=reg, manipulations=tuple(manipulation or ())).duration_h
        check_grid_size(span_h, step_h, "step", subjects)
        raw, record = circuit_overrides(param, params_file)
        bar, progress = _progress("simulating")
        with bar:
            progress(0.05)
            result = simulate_protocol(protocol, regimen=reg, manipulations=tuple(manipulation or ()), n=subjects,
                                       seed=seed, step_h=step_h, params=raw)
            progress(1.0)
    except ValueError as e:
        fail(str(e))
    echo_overrides(record)
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


PosteriorOpt = Annotated[Optional[bool], typer.Option(
    "--posterior/--no-posterior",
    help="Report every readout as the median with a 90 % interval over parameter sets of the calibration's "
         "posterior (circuits/data/posterior.json). Default: on when the stored posterior matches this model "
         "version, else the point estimate with a note; --posterior with no matching file exits 2.")]
PosteriorDrawsOpt = Annotated[int, typer.Option(help="Posterior parameter sets drawn (K).")]
PosteriorFileOpt = Annotated[Optional[Path], typer.Option(help="A posterior file instead of the package's "
                                                               "(`python -m circuits.posterior --out FILE`).")]


def posterior_record(posterior: bool | None, path: Path | None, draws: int) -> dict | None:
    """The posterior a command uses: None for --no-posterior; the stored one if it matches the model (default:
    else a note and None; --posterior: else exit 2); ``draws`` checked against it."""
    if posterior is False:
        return None
    from circuits.posterior import load_posterior, posterior_status

    if posterior:
        try:
            rec = load_posterior(path, required=True)
        except ValueError as e:
            fail(str(e))
    else:
        rec, why = posterior_status(path)
        if rec is None:
            typer.echo(f"note: point estimate only ({why})", err=True)
            return None
    if not 1 <= draws <= len(rec["sets"]):
        fail(f"posterior_draws: expected 1 to {len(rec['sets'])} (the stored parameter sets), got {draws}")
    return rec


@app.command()
def experiment(
    name: Annotated[str, typer.Argument(help="The replication to run: " + "; ".join(
        f"{k} ({v})" for k, v in EXPERIMENTS.items()) + ".", autocompletion=_names(EXPERIMENTS))],
    out: Annotated[Path, typer.Option(help="Directory for summary.json and the PNG figures (created if needed).")],
    n: Annotated[int, typer.Option(help="Virtual mice in the cohort (>= 1).")] = 100,
    seed: SeedOpt = 0,
    param: ParamOpt = None,
    params_file: ParamsFileOpt = None,
    as_json: JsonOpt = False,
    posterior: PosteriorOpt = None,
    posterior_draws: Annotated[int, typer.Option(help="Posterior parameter sets drawn (at most n); each gets n/K "
                                                      "of the mice, all in one batched run.")] = 20,
    posterior_file: PosteriorFileOpt = None,
):
    """Run a replication on a virtual cohort; write DIR/summary.json and figures with the paper's values beside
    the model's. Every number comes from integrating the model.

    Example: ketamine experiment wu2021 --out results/wu2021 --n 100 --seed 0
    """
    from circuits.protocols import build_protocol
    from circuits.registry import check_experiment, run_experiment
    from pkpd.io import check_output, dumps_json

    check_experiment(name)
    if n < 1:
        fail(f"n: expected a cohort of at least 1 mouse, got {n}")
    record_post = posterior_record(posterior, posterior_file, posterior_draws)
    posterior_draws = min(posterior_draws, n)  # at most one draw per mouse
    try:
        check_output(out, directory=True)
        # every group runs all n mice at once: one hourly sLH time course per mouse is a lower bound of its memory
        check_grid_size(build_protocol("slh").duration_h, 1.0, "n", subjects=n)
        raw, record = circuit_overrides(param, params_file)
        bar, progress = _progress(f"{name}: {n} mice")
        with bar:
            post = {} if record_post is None else {"posterior": record_post, "draws": posterior_draws}
            summary = run_experiment(name, out, n=n, seed=seed, progress=progress, params=raw, **post)
    except ValueError as e:
        fail(str(e))
    post_rec = {} if record_post is None else {"posterior": {"draws": posterior_draws,
                                                             "model_version": record_post["model_version"]}}
    record_command(out, inputs={"experiment": name, "n": n, "seed": seed, "overrides": record, **post_rec})
    if as_json:
        typer.echo(dumps_json(summary, indent=1))
    else:
        from rich.console import Console
        from rich.markdown import Markdown

        from circuits.replication import replication_table

        Console().print(Markdown(replication_table(summary)))
    typer.echo(f"wrote {out / 'summary.json'} and figures", err=True)


# ---- global sensitivity ---------------------------------------------------------------------------------------
@app.command()
def sensitivity(
    readout: Annotated[Optional[list[str]], typer.Option(
        help="Readout (repeatable or comma-separated): a dotted key of the PK summary (`ketamine pk --summary`), "
             "e.g. plasma_ketamine.cmax_uM; a circuit readout <group>.<metric>.<test>, e.g. slh.failure_rate.4h; "
             "or a key of a replication's summary.json, e.g. wu2021.slh.failure_rate.ket_4h. `--list` prints "
             "them.")] = None,
    method: Annotated[str, typer.Option(help="sobol (S1, ST with bootstrap CIs; N·(D+2) runs) or morris (mu*, "
                                             "sigma; N·(D+1) runs).")] = "sobol",
    params: Annotated[str, typer.Option("--params", help="Parameters to vary: assumed, calibrated, published, all, "
                                                        "or comma-separated names. Ranges: each parameter's "
                                                        "declared bounds, log-uniform where they span more than a "
                                                        "decade (or --ranges).")] = "calibrated",
    ranges: Annotated[Optional[Path], typer.Option(help="Ranges FILE (.toml: NAME = [lo, hi]; .csv: name,lo,hi) "
                                                        "replacing declared bounds, within them.")] = None,
    n: Annotated[int, typer.Option("--n", help="Base sample size (sobol: a power of 2 >= 8) or number of "
                                              "trajectories (morris: >= 4).")] = 1024,
    seed: Annotated[int, typer.Option(help="Seed of the sample and of the bootstrap.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Run directory: indices.csv, summary.json (with the "
                                                     "convergence check at N/2), indices.png, chunks/.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out, skipping its finished chunks.")] = False,
    chunk_size: Annotated[int, typer.Option(help="Model runs per batched evaluation and per chunk file.")] = 256,
    species: Annotated[str, typer.Option(help="Species of the PK readouts (circuit readouts: mouse).")] = "mouse",
    pk_model: Annotated[Optional[str], typer.Option(help="PK parameter set (default: the species default).")]
    = None,
    dose: Annotated[str, typer.Option(help="Dose of the PK readouts, e.g. 10mg/kg (circuit readouts: 10 mg/kg "
                                           "i.p. at the protocol's drug time).")] = "10mg/kg",
    route: Annotated[str, typer.Option(help="Route of the PK readouts' dose.")] = "ip",
    duration: Annotated[str, typer.Option(help="Simulated time of the PK readouts.")] = "4h",
    experiment_n: Annotated[int, typer.Option(help="Mice per evaluation of the experiment readouts (wu2021.<key>: "
                                                   "one whole replication per sample, on the same mice of "
                                                   "--seed).")] = 1,
    param: ParamOpt = None,
    list_: Annotated[bool, typer.Option("--list", help="Print every readout and parameter group, and exit.")]
    = False,
    scheduler: Annotated[Optional[str], typer.Option(help="Evaluate the chunks on Dask: 'local' (a LocalCluster, "
                                                          "one worker per core) or a scheduler address "
                                                          "tcp://HOST:PORT; default in this process.")] = None,
):
    """Global sensitivity of readouts to parameters (SALib: Sobol or Morris), evaluated in batched, resumable
    chunks.

    Example: ketamine sensitivity --readout slh.failure_rate.4h --params calibrated --n 256 --out runs/sens
    """
    import json

    from circuits.sensitivity import parameter_groups, sensitivity_problem
    from pkpd.dosing import build_regimen
    from pkpd.units import parse_time

    try:
        reg = build_regimen(dose=dose, route=route)
        duration_h = parse_time(duration, "duration", allow_zero=False)
        if list_:
            from circuits.sensitivity import CircuitReadouts
            from pkpd.pk_readouts import PkReadouts

            pk = PkReadouts(reg, duration_h, species=species, pk_model=pk_model)
            typer.echo(f"# PK readouts ({pk.model.name}, {dose} {route}, {duration})")
            for k in pk.available():
                typer.echo(f"  {k}")
            if pk.model.name == "mouse":
                from circuits.sensitivity import ExperimentReadouts

                typer.echo("# circuit readouts (typical mouse; slh/wlh: 10 mg/kg i.p. ketamine, slh_saline: saline)")
                for k in CircuitReadouts.keys():
                    typer.echo(f"  {k}")
                typer.echo(f"# experiment readouts (`ketamine experiment wu2021` summary keys; {experiment_n} "
                           f"mouse/mice of seed {seed} per sample)")
                for k in ExperimentReadouts("wu2021", n=experiment_n, seed=seed).available():
                    typer.echo(f"  {k}")
            typer.echo("# parameter groups (name, kind, bounds, unit; * = log-uniform)")
            for group, specs in parameter_groups(species, pk_model).items():
                typer.echo(f"[{group}]")
                for sp in specs:
                    lo, hi = sp.bounds
                    star = "*" if lo > 0 and hi > 10 * lo else " "
                    typer.echo(f"  {sp.name:<36} {sp.kind:<10} [{lo:g}, {hi:g}]{star} {sp.unit}")
            return
        if out is None:
            raise ValueError("out: expected --out DIR (or --list)")
        from pkpd.sensitivity import check_request, read_ranges, run_sensitivity

        readouts = [r.strip() for item in (readout or []) for r in item.split(",") if r.strip()]
        model, factors, readouts, info = sensitivity_problem(
            readouts, params, ranges=read_ranges(ranges) if ranges is not None else None,
            fixed=overrides(param, None), species=species, pk_model=pk_model, regimen=reg, duration_h=duration_h,
            experiment_n=experiment_n, seed=seed)
        check_request(method, n, factors)
        runs = n * (len(factors) + (2 if method == "sobol" else 1))
        logs = [f.name for f in factors if f.log]
        typer.echo(f"{method}: {len(factors)} parameters, {len(readouts)} readouts, {runs} model runs; "
                   f"log-uniform: {', '.join(logs) or 'none'}", err=True)
        bar, progress = _cohort_progress()
        with bar:
            res = run_sensitivity(model, factors, readouts, method=method, n=n, seed=seed, out=out,
                                  chunk_size=chunk_size, resume=resume, progress=progress, model_info=info,
                                  scheduler=scheduler)
    except ValueError as e:
        fail(str(e))
    record_command(out, inputs={"method": method, "n": n, "seed": seed, "params": params, "readouts": readouts,
                                "models": info}, resume=resume)
    key = "ST" if method == "sobol" else "mu_star"
    names = [f.name for f in res.factors]
    for r in readouts:
        top = res.summary["ranking"][r][:5]
        typer.echo(f"{r} ({key}): " + ", ".join(f"{p} {res.indices[r][key][names.index(p)]:.3g}" for p in top))
        if res.n_failed[r]:
            h = res.summary["failures"][r]
            lo, hi = h["narrowest_failed_range"]
            typer.echo(f"  {r}: {h['n']} of {res.n_runs} runs failed (the model rejects those parameter sets), so "
                       f"no indices; they crowd into {h['narrowest_factor']} in [{lo:.3g}, {hi:.3g}]: narrow it "
                       f"with --ranges", err=True)
    typer.echo(json.dumps({"convergence": {r: c["max_abs_change"] for r, c in res.summary["convergence"].items()}},
                          indent=1))
    typer.echo(f"wrote {out / 'indices.csv'}, summary.json and indices.png", err=True)


# ---- identifiability ---------------------------------------------------------------------------------------------
@app.command()
def identifiability(
    out: Annotated[Path, typer.Option(help="Directory for identifiability.csv, profiles.csv, summary.json and "
                                           "identifiability.png.")],
    with_: Annotated[Optional[str], typer.Option("--with", help="Also profile these circuit parameters "
                                                                "(comma-separated), e.g. k_rho_per_h,g_p,tau_a_h "
                                                                "(set before the calibration, not fitted).")]
    = None,
    grid: Annotated[int, typer.Option(help="Points of each profile (>= 5).")] = 21,
):
    """Identifiability of the calibrated circuit parameters against the calibration targets and the paper's
    standard errors: profile likelihoods and the SVD of the weighted residual Jacobian (the parameter combinations
    the data do not determine).

    Example: ketamine identifiability --out runs/ident
    """
    from circuits.calibration import FITTED
    from circuits.identifiability import identifiability as run, write_identifiability
    from circuits.model import CircuitParams
    from pkpd.io import check_output

    try:
        check_output(out, directory=True)
        if grid < 5:
            raise ValueError(f"grid: expected at least 5 points per profile, got {grid}")
        extra = [x.strip() for x in (with_ or "").split(",") if x.strip()]
        for x in extra:
            CircuitParams().value(x)  # unknown names: ValueError naming them
            if x in FITTED:
                raise ValueError(f"with: {x} is already a calibrated parameter ({', '.join(FITTED)})")
        names = tuple(FITTED) + tuple(dict.fromkeys(extra))
        bar, progress = _progress(f"profiles of {len(names)} parameters")
        with bar:
            result = run(names, n_grid=grid, progress=progress)
        write_identifiability(result, out)
    except ValueError as e:
        fail(str(e))
    record_command(out, inputs={"parameters": list(names), "grid": grid})
    for r in result["parameters"]:
        lo, hi = r["ci95_lo"], r["ci95_hi"]
        ci = f"[{'—' if lo is None else f'{lo:.3g}'}, {'—' if hi is None else f'{hi:.3g}'}]"
        typer.echo(f"{r['parameter']:<14} {r['value']:<10.4g} profile 95 % {ci:<22} "
                   f"{'identifiable' if r['identifiable'] else 'NOT identifiable'}")
    sv = ", ".join(f"{v:.3g}" for v in result["singular_values"])
    typer.echo(f"singular values: {sv} (condition {result['condition']:.3g})")
    for u in result["undetermined"]:
        typer.echo(f"undetermined (σ = {u['sigma']:.2g}): {u['combination']}")
    typer.echo(f"wrote {out / 'identifiability.csv'}, profiles.csv, summary.json and identifiability.png", err=True)


# ---- virtual cohorts -------------------------------------------------------------------------------------------
cohort_app = _Typer(help="Virtual cohorts at scale: run N subjects in chunks to a resumable run directory "
                              "(`ketamine cohort --n ... --out DIR`), or summarize one (`ketamine cohort summarize "
                              "DIR`).", no_args_is_help=False)
app.add_typer(cohort_app, name="cohort")

#: Bytes on disk each cohort subject takes at the least (its id, status and a few float64 readouts, compressed):
#: a floor for refusing absurd --n before the run, not an estimate of the real size (bands add more)
MIN_DISK_BYTES_PER_SUBJECT = 64


def check_cohort_size(n: int, duration_h: float, chunk: int, out: Path) -> None:
    """``ValueError`` (with the estimate) for a cohort whose solve grid cannot fit one chunk in memory or whose
    results cannot fit on the disk of ``out``; before :func:`pkpd.cohort.estimate_memory`, which builds the grid."""
    import shutil

    if n >= 1 and chunk >= 1:
        check_grid_size(duration_h, 0.25, "duration", subjects=chunk)  # the cohort solve grid steps 15 min at most
        parent = Path(out)
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        need, free = n * MIN_DISK_BYTES_PER_SUBJECT, shutil.disk_usage(parent).free
        if need > free:
            raise ValueError(f"n: {n} subjects need at least {need / 2 ** 30:.3g} GiB on disk "
                             f"({MIN_DISK_BYTES_PER_SUBJECT} bytes each), more than the {free / 2 ** 30:.3g} GiB free "
                             f"at {str(parent)!r}; expected a smaller --n")


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
    dose: DoseOpt = None,
    route: RouteOpt = None,
    infusion_time: InfusionTimeOpt = None,
    regimen: RegimenOpt = None,
    allow_duplicates: AllowDuplicatesOpt = False,
    duration: Annotated[Optional[str], typer.Option(help="Simulated time with unit, e.g. 24h, 7d (default 24h; "
                                                         "slh/wlh: the protocol's own length).")] = None,
    pk_model: PkModelOpt = None,
    protocol: Annotated[str, typer.Option(
        help=f"What to simulate: pk (or none): PK and NMDA occupancy only; {' or '.join(PROTOCOLS)}: strong / weak "
             "learned helplessness through the circuit model, the dose given at the protocol's drug time (sLH 96 h, "
             "wLH 92 h), readouts at every test.", autocompletion=_names(COHORT_PROTOCOL_NAMES))] = "pk",
    manipulation: ManipulationOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="Run directory (new or empty; or the run to continue with "
                                                     "--resume).")] = None,
    seed: SeedOpt = 0,
    chunk_size: Annotated[int, typer.Option(help="Subjects per chunk: the unit of work, output part and "
                                                 "memory.")] = 5000,
    scheduler: Annotated[Optional[str], typer.Option(help="Omit: in this process on all cores. 'local': a Dask "
                                                          "LocalCluster. 'tcp://HOST:PORT': an existing Dask "
                                                          "cluster.")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Worker processes of --scheduler local (default: "
                                                               "one per core).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (its manifest must match), skipping "
                                              "finished chunks.")] = False,
    trajectories: Annotated[bool, typer.Option(help="Also write every observable on the solve grid, chunk by "
                                                    "chunk (large).")] = False,
    param: ParamOpt = None,
    params_file: ParamsFileOpt = None,
    data: Annotated[Optional[Path], typer.Option(help="A NONMEM-style dataset (.csv or .parquet, as for `pk "
                                                      "--data`): one subject per ID with its doses and WT/SEX; its "
                                                      "observation rows set the output times. Instead of --n, "
                                                      "--dose, --regimen and --duration.")] = None,
    data_time_unit: Annotated[Optional[str], typer.Option(help="--data: unit of TIME, II and DUR (default h, or "
                                                               "the header's).")] = None,
    data_amount_unit: Annotated[Optional[str], typer.Option(help="--data: unit of AMT, e.g. mg or mg/kg (or the "
                                                                 "header's).")] = None,
    no_iiv: Annotated[bool, typer.Option("--no-iiv", help="No inter-individual variability of the PK parameters "
                                                          "(every subject has the typical values; covariates "
                                                          "still as given or drawn).")] = False,
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
    from pkpd.io import check_output
    from pkpd.units import parse_time

    try:
        if (n is None and data is None) or out is None:
            raise ValueError("expected --n (or --data) and --out (see `ketamine cohort --help`)")
        from circuits.registry import cohort_protocol

        check_output(out, directory=True)

        proto = cohort_protocol(protocol, manipulation)
        design = None
        if data is not None:
            from pkpd.cohort.design import SubjectDesign
            from pkpd.dataset import read_dataset
            from pkpd.dosing import Regimen

            given = [k for k, v in {"dose": dose, "route": route, "regimen": regimen, "infusion-time": infusion_time,
                                    "duration": duration}.items() if v is not None]
            if given:
                raise ValueError(f"{given[0]}: --data gives the doses and output times; --{given[0]} cannot be "
                                 "combined with it")
            if protocol not in ("pk", "none") or manipulation is not None:
                raise ValueError(f"protocol: --data runs the pk protocol only, not {protocol!r}")
            design = SubjectDesign.from_dataset(read_dataset(data, time_unit=data_time_unit,
                                                             amount_unit=data_amount_unit))
            if n is not None and n != design.n:
                raise ValueError(f"n: {data.name} holds {design.n} subjects, not {n}; omit --n with --data")
            n, reg, duration_h = design.n, Regimen(), design.end_h or 1.0
        else:
            if dose is None and regimen is None:
                raise ValueError("dose: expected --dose (e.g. 10mg/kg) or --regimen FILE")
            reg = build_regimen(dose=dose, route=route if (route or regimen) else "ip", regimen_file=regimen,
                                infusion_time=infusion_time, allow_duplicates=allow_duplicates)
            duration_h = (parse_time(duration, "duration", allow_zero=False) if duration is not None
                          else proto.default_duration_h(reg))
        check_cohort_size(n, duration_h, min(chunk_size, n), out)
        population = None
        if no_iiv:
            from pkpd.pk_models import get_pk_model
            from pkpd.species import get_species

            sp = get_species(species).name
            population = proto.default_population(sp, get_pk_model(pk_model, sp).name).without_iiv()
        spec = CohortSpec(n=n, regimen=reg, duration_h=duration_h,
                          species=species, pk_model=pk_model, seed=seed, protocol=proto, population=population,
                          trajectories=trajectories, params=tuple(overrides(param, params_file).items()),
                          design=design)
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
    observed: ObservedOpt = None,
    dv_name: DvNameOpt = "plasma_ketamine_uM",
):
    """Print a run's population summary (5/50/95th percentiles of every readout, failures) and draw its
    percentile bands (with observed points on their series' panels with --observed)."""
    from pkpd.cohort import format_summary, plot_bands, summarize_run
    from pkpd.figures import FIGURE_FORMATS
    from pkpd.io import check_output

    try:
        check_output(plot or run / "bands.png", "plot", formats=FIGURE_FORMATS)
        obs = _run_observed(run, observed, dv_name) if observed is not None else None
        summary = summarize_run(run)
        typer.echo(format_summary(summary))
        path = plot_bands(run, plot or run / "bands.png", observed=obs)
    except ValueError as e:
        fail(str(e))
    typer.echo(f"wrote {path}", err=True)


def _run_protocol(run: Path):
    """The protocol object of a run directory's manifest (its units and labels)."""
    from circuits.registry import get_protocol
    from pkpd.cohort import read_manifest

    return get_protocol(read_manifest(run)["spec"]["protocol"])


def _run_observed(run: Path, observed: Path, dv_name: str):
    """Observed data checked against a run's band series and their units."""
    from pkpd.cohort import read_manifest
    from pkpd.observed import read_observed

    proto = _run_protocol(run)
    return read_observed(observed, units={b: proto.unit(b) for b in read_manifest(run)["spec"]["bands"]},
                         dv_name=dv_name)


@app.command("vpc")
def vpc_cmd(
    run: Annotated[Path, typer.Argument(help="A finished cohort run directory.")],
    observed: Annotated[Path, typer.Option(help="Observed data: a tidy table (ID, TIME, NAME, VALUE[, UNIT]) or a "
                                                "dataset's DV rows.")] = ...,
    name: Annotated[Optional[str], typer.Option(help="The band series compared (default: the observed data's "
                                                     "only NAME).")] = None,
    dv_name: DvNameOpt = "plasma_ketamine_uM",
    out: Annotated[Optional[Path], typer.Option(help="Draw the VPC to FILE (.png, .pdf, .svg; a .png also gets an "
                                                     ".svg twin).")] = None,
    as_json: JsonOpt = False,
):
    """Visual predictive check: observed 5/50/95th percentiles over the model's 90 % prediction intervals of
    them, binned by time, and the fraction of observed points outside the model's 90 % interval (10 % expected).

    Example: ketamine vpc runs/c1 --observed obs.csv --out vpc.png
    """
    import json

    from pkpd.cohort.vpc import plot_vpc, vpc
    from pkpd.figures import FIGURE_FORMATS
    from pkpd.io import check_output
    from pkpd.output import jsonable

    try:
        if out is not None:
            check_output(out, "out", formats=FIGURE_FORMATS)
        obs = _run_observed(run, observed, dv_name)
        result = vpc(run, obs, name=name)
        if out is not None:
            plot_vpc(result, out, parameters={"run": str(run), "observed": str(observed),
                                              "command": reproduce_command()})
    except ValueError as e:
        fail(str(e))
    if as_json:
        typer.echo(json.dumps(jsonable({k: v for k, v in result.items() if k != "points"}), indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("time (h)", "n", "percentile", "observed", "model 90 % PI", title=f"VPC of {result['label']}",
                      title_justify="left")
        for b in result["bins"]:
            t = f"{b['t_mid']:.4g}" if b["t_lo"] == b["t_hi"] else f"{b['t_lo']:.4g}–{b['t_hi']:.4g}"
            for j, k in enumerate(("p5", "p50", "p95")):
                lo, hi = b["model"][k][0], b["model"][k][2]
                table.add_row(t if j == 0 else "", str(b["n"]) if j == 0 else "", k[1:], f"{b['observed'][j]:.4g}",
                              f"{lo:.4g}–{hi:.4g}", style="red" if not lo <= b["observed"][j] <= hi else None)
        console = Console(soft_wrap=True)
        console.print(table)
        lo, hi = result["binomial_95"]
        console.print(f"outside the model's 90 % interval: {result['n_outside']} of {result['n_observed']} points "
                      f"({100 * result['fraction_outside']:.1f} %; data from the model give {100 * lo:.1f}–"
                      f"{100 * hi:.1f} % 95 % of the time). --json prints every value.")
    if out is not None:
        typer.echo(f"wrote {out}", err=True)


@cohort_app.command("table")
def cohort_table(
    run: Annotated[Path, typer.Argument(help="A finished cohort run directory.")],
    what: Annotated[str, typer.Option(help="trajectories (needs a run with --trajectories) or bands (the "
                                           "percentile bands).")] = "bands",
    out: Annotated[Path, typer.Option(help="The table (.csv with a .csv.json sidecar of units, .json or "
                                           ".parquet with units in its schema metadata).")] = ...,
    long: Annotated[bool, typer.Option("--long", help="Long (tidy) rows: ID, TIME, NAME, VALUE, UNIT for "
                                                      "trajectories; NAME, PERCENTILE, TIME, VALUE, UNIT for "
                                                      "bands.")] = False,
):
    """Write a run's trajectories or percentile bands as one flat table, wide or long, with units."""
    from pkpd.cohort import read_manifest
    from pkpd.cohort.tables import band_table, trajectory_table
    from pkpd.io import check_output
    from pkpd.output import table_format, write_pk_table

    try:
        if what not in ("trajectories", "bands"):
            raise ValueError(f"what: expected trajectories or bands, got {what!r}")
        table_format(out)
        check_output(out)
        proto = _run_protocol(run)
        names = proto.observable_names(None) if what == "trajectories" else read_manifest(run)["spec"]["bands"]
        units = {n: proto.unit(n) for n in names}
        cols, col_units = (trajectory_table if what == "trajectories" else band_table)(run, units, long=long)
        write_pk_table(out, cols, units=col_units, metadata={"run": str(run), "what": what,
                                                             "spec": read_manifest(run)["spec"]})
    except ValueError as e:
        fail(str(e))
    typer.echo(f"wrote {out} ({len(next(iter(cols.values())))} rows)", err=True)


# ---- reports -----------------------------------------------------------------------------------------------------
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
    from circuits.report import write_report
    from pkpd.io import check_output

    try:
        check_output(out or run_dir / "report.html", formats=(".html", ".htm"))
        path = write_report(run_dir, out)
    except ValueError as e:
        fail(str(e))
    typer.echo(f"wrote {path}", err=True)


# ---- dose-response study ----------------------------------------------------------------------------------------
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
    route: RouteOpt = None,
    n: Annotated[int, typer.Option("--n", help="Virtual subjects per dose (the same subjects at every dose).")]
    = 1000,
    seed: SeedOpt = 0,
    readout: Annotated[Optional[list[str]], typer.Option(
        help="Readout(s), repeatable or comma-separated (default failure_4h for the mouse, occupancy_peak for the "
             "human): failure_<test>, da_response_<test>, latency_<test> (tests baseline, lh, 4h, 24h, 72h), "
             "mpfc_peak, occupancy_peak, occupancy_peak_interneuron, cmax, auc, brain_cmax, brain_auc.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Table (.csv, .json or .parquet): per dose and readout the "
                                                     "mean, SEM, 5/50/95th percentiles; also writes "
                                                     "<stem>.study.json beside it (fit, inputs, command).")] = None,
    plot: PlotOpt = None,
    work_dir: Annotated[Optional[Path], typer.Option(help="Directory of the per-dose cohort runs (default "
                                                          "<out stem>_runs beside --out; a temporary directory "
                                                          "without --out).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the per-dose runs in --work-dir (skipping finished "
                                              "chunks and doses).")] = False,
    chunk_size: Annotated[int, typer.Option(help="Subjects per chunk of each cohort run.")] = 1000,
    infusion_time: InfusionTimeOpt = None,
    duration: Annotated[Optional[str], typer.Option(help="Human only: simulated time, e.g. 24h (default 24h; "
                                                         "AUC is over it).")] = None,
    param: ParamOpt = None,
    params_file: ParamsFileOpt = None,
    posterior: PosteriorOpt = None,
    posterior_draws: Annotated[int, typer.Option(help="Mouse: posterior parameter sets drawn (at most n); each "
                                                      "runs n/K subjects per dose.")] = 20,
    posterior_file: PosteriorFileOpt = None,
):
    """A dose-response study: one virtual cohort per dose, per readout the mean and 5/50/95th percentiles, and a
    Hill (Emax) fit with ED50 and its 95 % confidence interval — or, for an inverted U, the statement that the curve
    is non-monotonic with the dose of maximal effect. Mouse, with the posterior: every statistic the median over
    K parameter sets with its 90 % interval.

    Example: ketamine dose-response --species mouse --route ip --doses 0.3,1,3,10,30,50,100,200 --n 1000
    --readout failure_4h --out dr.csv --plot dr.png
    """
    import os

    from circuits import studies
    from pkpd.figures import FIGURE_FORMATS
    from pkpd.io import TABLE_FORMATS, check_output
    from pkpd.units import parse_time

    try:
        dose_values = _dose_list(doses)
        readouts = None if not readout else [r.strip() for item in readout for r in item.split(",") if r.strip()]
        if out is not None:
            check_output(out, formats=TABLE_FORMATS)
        if plot is not None:
            check_output(plot, "plot", formats=FIGURE_FORMATS)
        if work_dir is None and out is not None:
            work_dir = out.parent / f"{out.stem}_runs"
        if work_dir is not None:
            check_output(work_dir, "work-dir", directory=True)
        if resume and work_dir is None:
            raise ValueError("resume: expected --work-dir or --out (the per-dose runs to continue)")
        route = route or "ip"
        inf_h = None if infusion_time is None else parse_time(infusion_time, "infusion-time", allow_zero=False)
        dur_h = None if duration is None else parse_time(duration, "duration", allow_zero=False)
        check_cohort_size(n * len(dose_values), dur_h or 24.0, min(chunk_size, n), work_dir or Path("."))
        from pkpd.species import get_species

        if get_species(species).name != "mouse" and posterior is None:
            posterior = False  # the posterior is of circuit parameters: the human study is PK only
        rec = posterior_record(posterior, posterior_file, posterior_draws)
        post = {} if rec is None else {"posterior": rec, "posterior_draws": min(posterior_draws, n)}
        bar, progress = _cohort_progress()
        with bar:
            result = studies.dose_response(dose_values, species=species, route=route, n=n, seed=seed,
                                           readouts=readouts, work_dir=work_dir, chunk_size=chunk_size,
                                           resume=resume, progress=progress, infusion_time_h=inf_h,
                                           duration_h=dur_h, params=overrides(param, params_file), **post)
        figures = []
        if plot is not None:
            fig, figures = studies.plot_dose_response(result, plot)
            from pkpd.figures import pyplot

            pyplot().close(fig)
    except ValueError as e:
        fail(str(e))
    if result.posterior:
        typer.echo(f"# medians over {result.posterior['draws']} posterior parameter sets "
                   f"({result.posterior['mice_per_draw']} subjects each) [90 % interval of the mean]")
    for r in result.readouts:
        ro = studies.READOUTS[r]
        typer.echo(f"{r}: {ro.label} ({ro.unit})")
        ci = result.posterior["ci90"][r]["mean"] if result.posterior else None
        typer.echo(f"  {'dose mg/kg':>10} {'mean':>10} {'p5':>10} {'p50':>10} {'p95':>10} {'n':>6}"
                   + (f" {'mean 90 % interval':>22}" if ci else ""))
        st = result.stats[r]
        for i, d in enumerate(result.doses):
            typer.echo(f"  {d:>10g} {st['mean'][i]:>10.4g} {st['p5'][i]:>10.4g} {st['p50'][i]:>10.4g} "
                       f"{st['p95'][i]:>10.4g} {int(st['n_solved'][i]):>6d}"
                       + (f" {f'[{ci[0][i]:.4g}, {ci[1][i]:.4g}]':>22}" if ci else ""))
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


# ---- regimen comparison and human translation -------------------------------------------------------------------
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
    pk_model: PkModelOpt = None,
    horizon: Annotated[Optional[str], typer.Option(help="Simulated time with unit, e.g. 21d (default: 21 d or the "
                                                        "last dose + 14 d, whichever is longer).")] = None,
    step: Annotated[str, typer.Option(help="Output step with unit (plus every 15 min for 12 h after each "
                                           "dose).")] = "1h",
    out: Annotated[Optional[Path], typer.Option(help="Directory for regimens.csv, regimens_timecourse.csv, "
                                                     "regimens.png/.svg and regimens.study.json.")] = None,
    list_presets: Annotated[bool, typer.Option("--list", help="Print the presets with their expanded doses and "
                                                              "exit.")] = False,
    param: ParamOpt = None,
    params_file: ParamsFileOpt = None,
    posterior: PosteriorOpt = None,
    posterior_draws: Annotated[int, typer.Option(help="Posterior parameter sets drawn (K): one comparison each, "
                                                      "after the point estimate.")] = 20,
    posterior_file: PosteriorFileOpt = None,
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
    from pkpd.io import check_output

    try:
        if out is None:
            raise ValueError("out: expected --out DIR (or --list)")
        check_output(out, directory=True)
        horizon_days = None if horizon is None else parse_time(horizon, "horizon", allow_zero=False) / 24.0
        step_h = parse_time(step, "step", allow_zero=False)
        check_grid_size(horizon_days * 24.0 if horizon_days else reglib.default_horizon_h([]), step_h, "step")
        items = list(preset or []) + list(regimen_file or [])
        if not items:
            items = list(reglib.default_presets(species))
        raw = overrides(param, params_file)
        rec = posterior_record(posterior, posterior_file, posterior_draws)
        options = dict(species=species, horizon_days=horizon_days, pk_model=pk_model, step_h=step_h)
        bar, progress = _progress("regimens" if rec is None else f"regimens: point + {posterior_draws} posterior draws")
        with bar:
            if rec is None:
                result = reglib.compare_regimens(items, progress=progress, params=raw, **options)
            else:
                from circuits.posterior import regimens_posterior

                result = regimens_posterior(items, rec, posterior_draws, params=raw, progress=progress, **options)
    except ValueError as e:
        fail(str(e))
    record = result.write(out, reproduce_command())
    rows = record["results"]["table"]
    fmt = lambda x: "—" if x is None else f"{x:.3g}"  # noqa: E731
    typer.echo("regimen, onset h, peak rescue, peak time h, duration h, half-life h, rescue 24h, rescue 7d, "
               "Cmax ng/mL, AUC uM*h, peak occupancy (interneuron)")
    def cell(row, k):
        if f"{k}_ci90_lo" in row:
            return f"{fmt(row[k])} [{fmt(row[k + '_ci90_lo'])}, {fmt(row[k + '_ci90_hi'])}]"
        return fmt(row[k])

    if result.posterior:
        typer.echo(f"# medians over {result.posterior['draws']} posterior parameter sets [90 % interval]")
    for row in rows:
        typer.echo(", ".join([row["regimen"]] + [cell(row, k) for k in (
            "onset_h", "peak_rescue", "peak_time_h", "duration_h", "half_life_h", "rescue_24h", "rescue_7d",
            "cmax_plasma_ketamine_ng_per_ml", "auc_plasma_ketamine_uM_h", "peak_occupancy_interneuron")]))
    typer.echo(f"horizon {format_hours(result.horizon_h)}; wrote {out / 'regimens.csv'}, regimens_timecourse.csv, "
               f"regimens.png/.svg and regimens.study.json", err=True)


# ---- SBML export and import --------------------------------------------------------------------------------------
export_app = _Typer(help="Write a model to a file another tool reads (SBML).", no_args_is_help=True)
import_app = _Typer(help="Simulate a model written by another tool (SBML).", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")

_SbmlOut = Annotated[Path, typer.Option(help="Write the SBML document to FILE (.xml or .sbml).")]


@export_app.command("sbml")
def export_sbml(
    out: _SbmlOut,
    model: Annotated[str, typer.Option(help="pk (the ketamine PK model of one subject, with the regimen as "
                                            "events), circuit (the circuit model of one mouse on its PK, from the "
                                            "drug-free fixed point) or an engine test problem: rober, hires, "
                                            "pollu, vdpol, plei, lorenz96.")] = "pk",
    species: Annotated[str, typer.Option(help="pk: mouse or human.")] = "mouse",
    pk_model: PkModelOpt = None,
    dose: DoseOpt = None,
    route: RouteOpt = None,
    regimen: RegimenOpt = None,
    infusion_time: InfusionTimeOpt = None,
    weight: Annotated[Optional[str], typer.Option(help="pk: body weight with unit, e.g. 70kg.")] = None,
    sex: Annotated[str, typer.Option(help="pk: male or female.")] = "male",
    salt: Annotated[Optional[str], typer.Option(help="pk: hcl or base, the form mass doses were weighed in.")]
    = None,
    drug: Annotated[Optional[str], typer.Option(help="pk: racemic, esketamine or arketamine.")] = None,
    trapping: Annotated[bool, typer.Option(help="pk: include the NMDA trapping states.")] = False,
):
    """Write a model as SBML Level 3 Version 2: parameters with values, units and provenance, doses as events, the
    pk table's columns as assignment rules (plasma_ketamine_uM, ...).

    Example: ketamine export sbml --model pk --species human --dose 0.5mg/kg --route iv-infusion
    --infusion-time 40min --out ketamine.xml
    """
    from pkpd.io import atomic_path

    try:
        if out.suffix.lower() not in (".xml", ".sbml"):
            raise ValueError(f"out: {str(out)!r} must end in .xml or .sbml")
        if model == "pk":
            from pkpd.dosing import build_regimen
            from pkpd.pk import pk_sbml
            from pkpd.units import parse_weight

            reg = None
            if dose is not None or regimen is not None or route is not None:
                reg = build_regimen(dose=dose, route=route, regimen_file=regimen, infusion_time=infusion_time,
                                    salt=salt)
            text = pk_sbml(reg, species=species, pk_model=pk_model,
                           weight_kg=parse_weight(weight) if weight is not None else None, sex=sex, salt=salt,
                           drug=drug, trapping=trapping)
        elif model == "circuit":
            from circuits.sbml import circuit_sbml
            from pkpd.dosing import build_regimen
            from pkpd.units import parse_weight

            if species != "mouse":
                raise ValueError(f"species: the circuit model is a mouse's; got {species!r}")
            given = [n for n, v in (("pk-model", pk_model), ("drug", drug), ("trapping", trapping or None))
                     if v is not None]
            if given:
                raise ValueError(f"{given[0]}: the circuit model uses the mouse PK set; --{given[0]} is for --model "
                                 "pk")
            reg = None
            if dose is not None or regimen is not None or route is not None:
                reg = build_regimen(dose=dose, route=route, regimen_file=regimen, infusion_time=infusion_time,
                                    salt=salt)
            text = circuit_sbml(reg, weight_kg=parse_weight(weight) if weight is not None else None, salt=salt)
        else:
            from pkpd.ode.sbml import export

            from pkpd.ode.examples import PROBLEMS as problems

            if model not in problems:
                raise ValueError(f"model: unknown model {model!r}; expected pk, circuit or one of "
                                 f"{', '.join(problems)}")
            given = [n for n, v in (("dose", dose), ("route", route), ("regimen", regimen)) if v is not None]
            if given:
                raise ValueError(f"{given[0]}: only --model pk takes doses")
            pr = problems[model]
            text = export(pr.system, pr.y0, pr.params, notes=[f"{pr.name}: {pr.source}"])
    except ValueError as e:
        fail(str(e))
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    typer.echo(f"wrote {out}", err=True)


@import_app.command("sbml")
def import_sbml(
    file: Annotated[Path, typer.Argument(help="An SBML file (Level 2 or 3, core).")],
    duration: Annotated[float, typer.Option(help="Simulated time, in the model's own time unit.")],
    out: Annotated[Path, typer.Option(help="Write the table to FILE (.csv, .json or .parquet): time, every state "
                                           "(species as amounts) and every assignment-rule variable; with --n > 1 "
                                           "one row per subject and time, with a subject column.")],
    n: Annotated[int, typer.Option("--n", help="Subjects; with more than one, every positive parameter varies "
                                               "log-normally (median: the file's value, --cv).")] = 1,
    cv: Annotated[float, typer.Option(help="Coefficient of variation of the log-normal parameter variability "
                                           "(assumed default 0.3).")] = 0.3,
    seed: Annotated[int, typer.Option(help="Random seed of the variability.")] = 0,
    points: Annotated[int, typer.Option(help="Output times: this many, evenly spaced from 0 to --duration.")]
    = 201,
    rtol: Annotated[float, typer.Option(help="Relative tolerance of the solver.")] = 1e-8,
):
    """Simulate an SBML model on the batched engine (one subject, or a cohort with log-normal variability).

    Example: ketamine import sbml model.xml --duration 24 --n 100 --out cohort.parquet
    """
    import numpy as np

    from pkpd.io import TABLE_FORMATS
    from pkpd.ode import solve
    from pkpd.ode.sbml import load

    try:
        if out.suffix.lower() not in TABLE_FORMATS:
            raise ValueError(f"out: {str(out)!r} must end in one of {', '.join(TABLE_FORMATS)}")
        if not (np.isfinite(duration) and duration > 0):
            raise ValueError(f"duration: expected a positive time, got {duration!r}")
        if n < 1:
            raise ValueError(f"n: expected at least one subject, got {n}")
        if not (np.isfinite(cv) and cv >= 0):
            raise ValueError(f"cv: expected a coefficient of variation >= 0, got {cv!r}")
        if points < 2:
            raise ValueError(f"points: expected at least 2 output times, got {points}")
        model = load(file)
        t = np.linspace(0.0, duration, points)
        params = np.tile(model.params, (n, 1))
        if n > 1 and cv > 0 and params.size:
            omega = np.sqrt(np.log1p(cv ** 2))
            z = np.random.default_rng(seed).standard_normal(params.shape)
            params = np.where(params > 0, params * np.exp(omega * z), params)
        sol = solve(model.system, model.y0, t, params if params.size else None,
                    schedule=model.events_within(duration), rtol=rtol, atol=1e-12)
    except ValueError as e:
        fail(str(e))
    for i, why in sol.failures:
        typer.echo(f"warning: subject {i} did not finish: {why}", err=True)
    cols = {}
    if n > 1:
        cols["subject"] = np.repeat(np.arange(n), t.size)
    cols["time"] = np.tile(t, n)
    for j, name in enumerate(model.system.state_names):
        cols[name] = sol.y[:, :, j].reshape(-1)
    for name, v in sol.observables.items():
        cols[name] = np.asarray(v).reshape(-1)
    from pkpd.output import write_pk_table

    units = {k: model.units[k] for k in cols if k in model.units} | {"time": model.units.get("time", "")}
    write_pk_table(out, cols, units=units, metadata={"sbml": str(file), "model_id": model.model_id, "n": n,
                                                     "cv": cv if n > 1 else None, "seed": seed, "rtol": rtol})
    typer.echo(f"wrote {out} ({n} subject{'s' if n > 1 else ''}, {t.size} times; model {model.model_id!r}, "
               f"{model.system.n_states} states)", err=True)


if __name__ == "__main__":  # pragma: no cover
    app()
