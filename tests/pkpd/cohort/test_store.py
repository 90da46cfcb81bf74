"""The run directory: a directory holding another run (or anything else) is refused; resuming needs the same
manifest."""

import pytest

from pkpd.cohort import run_cohort

from .common import N, make_spec


def test_a_directory_holding_another_run_is_refused(reference, tmp_path):
    out, _ = reference
    with pytest.raises(ValueError, match="already holds a cohort run; pass resume"):
        run_cohort(make_spec(), out, chunk_size=N)
    with pytest.raises(ValueError, match=r"holds a different run \(manifest differs in spec.seed\)"):
        run_cohort(make_spec(seed=8), out, chunk_size=N, resume=True)
    with pytest.raises(ValueError, match="chunking.chunk_size"):
        run_cohort(make_spec(), out, chunk_size=5, resume=True)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty and holds no cohort manifest"):
        run_cohort(make_spec(), tmp_path / "junk")
