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
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
):
    """ketamine-qsp command line."""


def fail(message: str) -> None:
    """Print a one-line error for bad user input and exit with code 2 (no traceback)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


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


if __name__ == "__main__":  # pragma: no cover
    app()
