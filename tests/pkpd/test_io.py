"""Atomic table and JSON writers: values survive a round trip exactly; a failed write leaves the old file."""

import csv
import json

import numpy as np
import pytest

from pkpd.io import atomic_path, file_digest, run_lock, write_json, write_table

COLS = {"time_h": np.array([0.0, 0.5, 1.0]), "conc_uM": np.array([1.25, 0.1 + 0.2, 1e-300])}


def test_csv_round_trip_is_exact(tmp_path):
    p = write_table(COLS, tmp_path / "t.csv")
    rows = list(csv.reader(open(p)))
    assert rows[0] == ["time_h", "conc_uM"]
    # Python writes floats with repr, which round-trips exactly
    assert [float(r[1]) for r in rows[1:]] == COLS["conc_uM"].tolist()


def test_json_and_rows_input(tmp_path):
    rows = [{"a": 1, "b": 2.5}, {"a": 2, "b": -1.0}]
    p = write_table(rows, tmp_path / "t.json")
    assert json.loads(p.read_text()) == rows


def test_parquet_round_trip(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    p = write_table(COLS, tmp_path / "t.parquet")
    back = pq.read_table(p).to_pydict()
    assert back["conc_uM"] == COLS["conc_uM"].tolist()


def test_unknown_suffix_names_the_supported_formats(tmp_path):
    with pytest.raises(ValueError, match=r"must end in one of \.csv, \.json, \.parquet"):
        write_table(COLS, tmp_path / "t.xlsx")


def test_ragged_columns_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        write_table({"a": [1, 2], "b": [1]}, tmp_path / "t.csv")


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    write_json({"version": 1}, target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_written_files_get_the_permissions_of_a_normal_file(tmp_path):
    """The temporary file behind an atomic write is created 0600; the result must be readable like any file the
    user writes (0666 less the umask), e.g. by colleagues sharing a results directory."""
    import os

    mask = os.umask(0o022)
    try:
        path = write_json({"a": 1}, tmp_path / "x.json")
    finally:
        os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o644


# ---- one writer per run directory -------------------------------------------------------------------------------
def test_a_locked_run_directory_refuses_a_second_writer_and_names_the_first(tmp_path):
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    take = ("import sys; from pkpd.io import run_lock\n"
            "try:\n    with run_lock(sys.argv[1]): print('got it')\nexcept ValueError as e: print(e)\n")
    with run_lock(run):
        # another process (a second `ketamine cohort --out run`) is refused at once, told who holds the lock
        out = subprocess.run([sys.executable, "-c", take, str(run)], capture_output=True, text=True, timeout=60,
                             cwd=os.getcwd()).stdout
        assert f"is in use by another run (pid {os.getpid()} on " in out and "choose another directory" in out
        with pytest.raises(ValueError, match="is in use by another run"):  # also a second lock in this process
            with run_lock(run):
                pass
    out = subprocess.run([sys.executable, "-c", take, str(run)], capture_output=True, text=True, timeout=60,
                         cwd=os.getcwd()).stdout
    assert out.strip() == "got it"  # released on exit


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pkpd.io import run_lock\n"
                               "with run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)\n",
                               str(run)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match="in use"):
            with run_lock(run):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    t0 = time.monotonic()
    with run_lock(run):  # the kernel released the killed holder's lock: no manual clean-up
        assert time.monotonic() - t0 < 5


def test_file_digest_is_sha256_of_the_bytes(tmp_path):
    import hashlib

    p = tmp_path / "part.bin"
    data = bytes(range(256)) * 9000  # spans several read chunks
    p.write_bytes(data)
    assert file_digest(p, chunk_bytes=4096) == hashlib.sha256(data).hexdigest()

def test_json_is_strict_nan_and_infinities_become_null(tmp_path):
    """Every JSON writer of the package (write_json, write_table's .json, figure metadata) goes through one
    converter: NaN and ±inf (Python or NumPy, in arrays or scalars) are written as null, NumPy values as plain
    numbers, so that a strict parser (NaN is not JSON) reads every file."""
    import math

    from pkpd.figures import figure_metadata
    from pkpd.io import dumps_json

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))

    obj = {"nan": math.nan, "inf": np.float32(np.inf), "row": np.array([1.5, np.nan, -np.inf]),
           "n": np.int64(3), "ok": np.bool_(True), 2: (0.25, None)}
    want = {"nan": None, "inf": None, "row": [1.5, None, None], "n": 3, "ok": True, "2": [0.25, None]}
    assert strict(write_json(obj, tmp_path / "a.json").read_text()) == want
    assert strict(dumps_json(obj)) == want
    assert strict(write_table({"x": [1.0, np.nan]}, tmp_path / "t.json").read_text()) == [{"x": 1.0}, {"x": None}]
    assert strict(figure_metadata("t", {"p": np.nan})["Description"]) == {"p": None}
    with pytest.raises(TypeError, match="set"):
        dumps_json({"s": {1}})
