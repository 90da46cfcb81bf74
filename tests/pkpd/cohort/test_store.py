"""The run directory: a directory holding another run (or anything else) is refused; resuming needs the same
manifest; one writer at a time; a resume verifies every part (checksums) and recomputes what is damaged."""

import pytest

from pkpd.cohort import run_cohort, summarize_run

from .common import N, make_spec, same_run


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


# ---- one writer, verified resume --------------------------------------------------------------------------------
# A finished run of 5 chunks (10, 10, 10, 10, 8 subjects), made once; each fault test damages a copy and resumes
# it. Oracle: the uninterrupted one-chunk reference run, bit for bit (tests/pkpd/cohort/common.same_run).
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "run"
    run_cohort(make_spec(), out, chunk_size=10)
    return out


def _copy(finished, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def _flip_a_bit(path, offset=200):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage,why", [
    (lambda d: _flip_a_bit(d / "subjects" / "part-00002.parquet"), "subjects part differs"),
    (lambda d: (d / "bands" / "part-00001.parquet").unlink(), "bands part is missing"),
    (lambda d: (d / "subjects" / "part-00003.parquet").write_bytes(
        (d / "subjects" / "part-00003.parquet").read_bytes()[:100]), "subjects part differs"),  # truncated
    (lambda d: (d / "subjects" / "part-00004.parquet").write_bytes(
        (d / "subjects" / "part-00000.parquet").read_bytes()), "subjects part differs"),  # copied from chunk 0
    (lambda d: (d / "done" / "chunk-00001.json").write_text((d / "done" / "chunk-00000.json").read_text()),
     "record belongs to another chunk"),
])
def test_resume_recomputes_damaged_chunks_and_gives_the_uninterrupted_result(reference, finished, tmp_path,
                                                                            damage, why, caplog):
    out = _copy(finished, tmp_path)
    damage(out)
    with pytest.raises(ValueError, match=f"1 of 5 chunks are not finished or intact .*{why}"):
        summarize_run(out)  # read without resuming: refused, naming the chunk
    with caplog.at_level("WARNING", logger="pkpd.cohort.store"):
        run = run_cohort(make_spec(), out, chunk_size=10, resume=True)
    assert run.chunks_run == 1 and why in caplog.text
    same_run(reference[0], out)


def test_a_stray_part_is_refused_and_temporaries_of_a_killed_run_are_removed(reference, finished, tmp_path):
    out = _copy(finished, tmp_path)
    (out / "subjects" / ".part-00002.parquet.x1y2.tmp").write_bytes(b"half written")  # atomic_path's temporary
    (out / ".bands-by-time-abc.tmp").write_bytes(b"\0" * 1000)  # an interrupted percentile pass's scratch file
    (out / "subjects" / "part-00007.parquet").write_bytes((out / "subjects" / "part-00000.parquet").read_bytes())
    with pytest.raises(ValueError, match=r"holds files no run wrote there \(subjects/part-00007.parquet\)"):
        run_cohort(make_spec(), out, chunk_size=10, resume=True)
    with pytest.raises(ValueError, match="holds files no run wrote there"):
        summarize_run(out)
    (out / "subjects" / "part-00007.parquet").unlink()
    run = run_cohort(make_spec(), out, chunk_size=10, resume=True)
    assert run.chunks_run == 0 and not list(out.rglob("*.tmp"))
    same_run(reference[0], out)


def test_a_second_run_into_a_locked_directory_is_refused_at_once(tmp_path):
    from pkpd.io import run_lock

    out = tmp_path / "run"
    with run_lock(out):  # a run in progress (another process in practice: tests/pkpd/test_io.py)
        with pytest.raises(ValueError, match="is in use by another run"):
            run_cohort(make_spec(), out, chunk_size=10)
        with pytest.raises(ValueError, match="is in use by another run"):
            run_cohort(make_spec(), out, chunk_size=10, resume=True)
    assert [p.name for p in out.iterdir()] == [".lock"]  # nothing written by the refused runs
