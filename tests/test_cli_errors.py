"""Faults at the command-line boundary: every class ends as one line on stderr without a traceback, exit 2 for
bad input (checked before any long computation) and 1 for a fault during the run, with nothing half-written.

The output-path faults use a path below a regular file (``NotADirectoryError`` whoever runs the tests: as root,
permission bits do not stop a write), and a failing probe file or ``os.replace`` for a read-only file system and a
full disk.
"""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
PK = ["pk", "--species", "mouse", "--route", "ip", "--dose", "10mg/kg", "--duration", "4h"]


def assert_one_line_error(res, code: int, *needles: str) -> None:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    # one error line, the last thing said (a fault mid-run may follow the run's own progress lines)
    assert len(errors) == 1 and lines[-1] == errors[0], res.stderr
    for n in needles:
        assert n in errors[0], errors[0]


@pytest.fixture
def no_compute(monkeypatch):
    """Every long computation fails the test if reached: a refused input must be refused before it."""
    import benchmarks.bench_engine
    import circuits.experiments
    import circuits.figures
    import circuits.regimens
    import circuits.studies
    import pkpd.cohort
    import pkpd.pk

    def reached(*a, **k):
        raise AssertionError("the computation started before the input was refused")

    for mod, name in [(pkpd.pk, "simulate_pk"), (circuits.experiments, "simulate_protocol"),
                      (circuits.figures, "write_wu2021"), (pkpd.cohort, "run_cohort"),
                      (circuits.studies, "dose_response"), (circuits.regimens, "compare_regimens"),
                      (benchmarks.bench_engine, "run_benchmark")]:
        monkeypatch.setattr(mod, name, reached)


def _commands(out: Path) -> dict[str, list[str]]:
    """Every command that writes, with ``out`` as its file or directory output."""
    return {
        "pk --out": [*PK, "--out", str(out / "pk.csv")],
        "pk --plot": [*PK, "--plot", str(out / "pk.png")],
        "simulate --out": ["simulate", "--out", str(out / "s.csv")],
        "simulate --plot": ["simulate", "--plot", str(out / "s.png")],
        "experiment": ["experiment", "wu2021", "--out", str(out / "wu")],
        "cohort": ["cohort", "--n", "10", "--dose", "10mg/kg", "--out", str(out / "run")],
        "cohort summarize": ["cohort", "summarize", str(out / "run"), "--plot", str(out / "b.png")],
        "report": ["report", str(out / "run"), "--out", str(out / "r.html")],
        "dose-response": ["dose-response", "--doses", "1,3", "--out", str(out / "dr.csv")],
        "regimens": ["regimens", "--out", str(out / "reg")],
        "bench": ["bench", "--out", str(out / "b.csv")],
    }


@pytest.mark.parametrize("command", list(_commands(Path("x"))))
def test_an_output_below_a_regular_file_is_refused_before_computing(command, tmp_path, no_compute):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    res = runner.invoke(cli.app, _commands(afile)[command])
    assert_one_line_error(res, 2, "is not a directory", str(afile))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("args, needle", [
    ([*PK, "--out", "pk.xlsx"], ".csv, .json, .parquet"),
    ([*PK, "--plot", "pk.gif"], ".png"),
    (["simulate", "--out", "s.txt"], ".csv"),
    (["simulate", "--plot", "s.jpg"], ".png"),
    (["dose-response", "--doses", "1,3", "--out", "dr.xlsx"], ".csv"),
    (["dose-response", "--doses", "1,3", "--plot", "dr.gif"], ".png"),
    (["bench", "--out", "b.xlsx"], ".csv"),
    (["report", "somewhere", "--out", "r.txt"], ".html"),
    (["cohort", "summarize", "somewhere", "--plot", "b.gif"], ".png"),
])
def test_a_wrong_output_extension_is_refused_before_computing(args, needle, tmp_path, monkeypatch, no_compute):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(runner.invoke(cli.app, args), 2, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, needle", [
    (["experiment", "wu2021", "--out", "{f}"], "exists and is not a directory"),
    (["cohort", "--n", "10", "--dose", "10mg/kg", "--out", "{f}"], "exists and is not a directory"),
    (["regimens", "--out", "{f}"], "exists and is not a directory"),
    ([*PK, "--out", "{d}"], "exists and is a directory"),
])
def test_a_file_where_a_directory_is_needed_and_the_reverse(args, needle, tmp_path, no_compute):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d.csv").mkdir()
    args = [a.format(f=tmp_path / "f", d=tmp_path / "d.csv") for a in args]
    assert_one_line_error(runner.invoke(cli.app, args), 2, needle)


def test_a_read_only_destination_is_refused_before_computing(tmp_path, monkeypatch, no_compute):
    import pkpd.io

    def read_only(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(pkpd.io.tempfile, "TemporaryFile", read_only)
    res = runner.invoke(cli.app, [*PK, "--out", str(tmp_path / "pk.csv")])
    assert_one_line_error(res, 2, "Read-only file system", "pk.csv")


def test_missing_output_directories_are_created(tmp_path):
    out = tmp_path / "new" / "sub" / "pk.csv"
    res = runner.invoke(cli.app, [*PK, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("time_h,")


def _full_disk(monkeypatch, tmp_path):
    """``os.replace`` into ``tmp_path`` fails with ENOSPC, as a write onto a full disk would."""
    real = os.replace

    def replace(src, dst, *a, **k):
        if str(dst).startswith(str(tmp_path)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)


def test_a_full_disk_mid_run_is_exit_1_and_leaves_nothing(tmp_path, monkeypatch):
    _full_disk(monkeypatch, tmp_path)
    res = runner.invoke(cli.app, [*PK, "--out", str(tmp_path / "pk.csv")])
    assert_one_line_error(res, 1, "No space left on device", "pk.csv")
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_a_full_disk_while_writing_a_benchmark_table(tmp_path, monkeypatch):
    import benchmarks.bench_engine as be

    monkeypatch.setattr(be, "run_benchmark", lambda **k: [{"problem": "p", "solver": "s", "subjects_per_s": 1.0}])
    monkeypatch.setattr(be, "format_table", lambda rows: "TABLE")
    _full_disk(monkeypatch, tmp_path)
    res = runner.invoke(cli.app, ["bench", "--out", str(tmp_path / "b.csv")])
    assert_one_line_error(res, 1, "No space left on device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exc, code, needle", [
    (MemoryError(), 1, "out of memory"),
    (RuntimeError("the ODE solver failed: too many steps"), 1, "the ODE solver failed"),
    (PermissionError(errno.EACCES, "Permission denied", "/some/file"), 1, "'/some/file': Permission denied"),
])
def test_faults_during_the_run_are_one_line_exit_1(exc, code, needle, monkeypatch):
    import pkpd.pk

    def fault(*a, **k):
        raise exc

    monkeypatch.setattr(pkpd.pk, "simulate_pk", fault)
    assert_one_line_error(runner.invoke(cli.app, [*PK, "--summary"]), code, needle)


def test_a_bug_keeps_its_traceback(monkeypatch):
    # only the documented fault classes are turned into one line; anything else is a bug to be reported
    import pkpd.pk

    def bug(*a, **k):
        raise KeyError("oops")

    monkeypatch.setattr(pkpd.pk, "simulate_pk", bug)
    res = runner.invoke(cli.app, [*PK, "--summary"])
    assert res.exit_code == 1 and isinstance(res.exception, KeyError)


@pytest.mark.parametrize("args, needle", [
    ([*PK[:-2], "--duration", "1e9h", "--summary"], "expected at most 1e+07"),
    ([*PK, "--step", "1e-6s", "--summary"], "step: 4 h in steps of"),
    (["simulate", "--step", "1e-6s"], "step:"),
    (["regimens", "--out", "{tmp}/r", "--step", "1e-6s"], "step:"),
    (["experiment", "wu2021", "--out", "{tmp}/wu", "--n", "1000000000000"], "GiB"),
    (["cohort", "--n", "1000000000000", "--dose", "10mg/kg", "--out", "{tmp}/run"], "GiB on disk"),
    (["cohort", "--n", "10", "--dose", "10mg/kg", "--duration", "1e9h", "--out", "{tmp}/run"], "duration:"),
    (["dose-response", "--doses", "1,3", "--n", "1000000000000", "--species", "human"], "GiB on disk"),
])
def test_absurd_sizes_are_refused_up_front_with_the_estimate(args, needle, tmp_path, no_compute):
    args = [a.format(tmp=tmp_path) for a in args]
    assert_one_line_error(runner.invoke(cli.app, args), 2, needle)


def test_a_huge_repeat_in_a_regimen_file_is_refused(tmp_path, no_compute):
    f = tmp_path / "r.csv"
    f.write_text("time,amount,unit,route,repeat,interval\n0h,10,mg/kg,ip,1e9,1h\n")
    assert_one_line_error(runner.invoke(cli.app, ["pk", "--regimen", str(f), "--summary"]), 2,
                   "row 1, column 'repeat'", "at most 10000")


def test_workers_must_be_at_least_one(tmp_path, no_compute):
    res = runner.invoke(cli.app, ["cohort", "--n", "10", "--dose", "10mg/kg", "--out", str(tmp_path / "r"),
                                  "--scheduler", "local", "--workers", "0"])
    assert res.exit_code == 2 and "--workers" in res.output and "Traceback" not in res.output


def test_version_from_a_directory_with_an_unrelated_cli_py(tmp_path):
    # The distribution installs the top-level module `cli`. The console script must find it, not a cli.py that
    # happens to lie in the working directory. Run the installed script (or pip's template of it) with this
    # checkout first on the path, from a directory holding a decoy.
    (tmp_path / "cli.py").write_text("raise SystemExit('decoy cli.py was imported')\n")
    script = Path(sys.executable).parent / "ketamine"  # what pip installed for this interpreter, if it did
    if not script.is_file() or "python" not in script.read_text(errors="replace").split("\n", 1)[0]:
        script = tmp_path / "bin" / "ketamine"
        script.parent.mkdir()
        script.write_text("import sys\nfrom cli import app\nsys.exit(app())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, str(script), "--version"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    from pkpd import __version__

    assert res.returncode == 0 and res.stdout.strip() == f"ketamine-qsp {__version__}", res.stdout + res.stderr


def test_shell_completion_offers_the_domains_names():
    from pkpd.dosing import ROUTES

    env = {**os.environ, "_KETAMINE_COMPLETE": "complete_bash", "COMP_WORDS": "ketamine pk --route i",
           "COMP_CWORD": "3", "PYTHONPATH": str(ROOT)}
    code = "import sys; sys.argv[0] = 'ketamine'; from cli import app; app(prog_name='ketamine')"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    offered = set(res.stdout.split())
    assert offered == {r for r in ROUTES if r.startswith("i")}, res.stdout + res.stderr
