"""The command line: instant help, the version, and the engine commands reaching the library."""

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import cli
from pkpd import __version__

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_help_and_version_import_nothing_heavy():
    # `ketamine --help` must be instant: importing the CLI may not pull in numba, sympy or scipy
    code = ("import sys, cli\n"
            "heavy = [m for m in ('numba', 'sympy', 'scipy', 'matplotlib') if m in sys.modules]\n"
            "print(','.join(heavy))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""


def test_version():
    res = runner.invoke(cli.app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"ketamine-qsp {__version__}"


def test_equations_prints_the_generated_model():
    res = runner.invoke(cli.app, ["equations", "two_compartment"])
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0] == "# two_compartment: 3 states, 5 parameters"
    assert "dcentral/dt = -central*(k10 + k12) + depot*ka + k21*peripheral" in lines


def test_unknown_system_is_a_clear_error_with_exit_code_2():
    res = runner.invoke(cli.app, ["equations", "nope"])
    assert res.exit_code == 2
    assert "unknown system 'nope'" in res.output and "Traceback" not in res.output


def test_bench_passes_its_options_to_the_library(monkeypatch, tmp_path):
    import benchmarks.bench_engine as be

    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return [{"problem": "pollu", "solver": "engine", "subjects_per_s": 123.0}]

    monkeypatch.setattr(be, "run_benchmark", fake)
    monkeypatch.setattr(be, "format_table", lambda rows: f"TABLE {len(rows)}")
    res = runner.invoke(cli.app, ["bench", "--subjects", "50", "--quick", "--out", str(tmp_path / "b.csv")])
    assert res.exit_code == 0, res.output
    assert calls == [{"subjects": 50, "quick": True}]
    assert res.stdout.strip() == "TABLE 1"
    assert (tmp_path / "b.csv").read_text().splitlines() == ["problem,solver,subjects_per_s", "pollu,engine,123.0"]


def test_the_engines_announcements_reach_stderr(capsys):
    # the libraries log a first compile (pkpd.ode.codegen) or a resumed run's repairs (pkpd.cohort.store); the
    # command line shows them as plain stderr lines, through one handler on each package's logger
    import logging

    res = runner.invoke(cli.app, ["equations", "--list"])
    assert res.exit_code == 0
    handlers = [h for h in logging.getLogger("pkpd").handlers if isinstance(h, cli._EchoHandler)]
    assert len(handlers) == 1  # installed once however many commands run
    runner.invoke(cli.app, ["equations", "--list"])
    assert len([h for h in logging.getLogger("pkpd").handlers if isinstance(h, cli._EchoHandler)]) == 1
    handlers[0].handle(logging.makeLogRecord({"msg": "compiling x (stiff solver kernels)", "levelno": 20}))
    assert capsys.readouterr().err == "compiling x (stiff solver kernels)\n"
