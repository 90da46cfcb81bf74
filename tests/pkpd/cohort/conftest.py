"""The reference run every other way of running the cohort must reproduce bit for bit (once per session)."""

import pytest

from pkpd.cohort import run_cohort

from .common import N, make_spec


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The cohort in one chunk, in process: the oracle every other way of running it must reproduce bit for bit."""
    out = tmp_path_factory.mktemp("ref") / "run"
    run = run_cohort(make_spec(), out, chunk_size=N)
    return out, run
