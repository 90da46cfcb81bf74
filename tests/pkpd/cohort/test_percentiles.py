"""Percentile bands: exact percentiles of all subjects, the same bits whatever the memory or disk budget."""

import numpy as np

from pkpd.cohort import read_percentiles

from .common import N


def test_percentile_bands_are_exact_percentiles_of_all_subjects(reference):
    out, _ = reference
    from pkpd.cohort import read_bands

    t, occ = read_bands(out, "nmda_occupancy_pyramidal")
    assert occ.shape == (N, t.size) and occ.dtype == np.float32
    p = read_percentiles(out)
    sel = [i for i, s in enumerate(p["series"]) if s == "nmda_occupancy_pyramidal"]
    np.testing.assert_array_equal(np.asarray(p["time_h"])[sel], t)
    # numpy's linear-interpolation percentiles of the stored float32 values: identical
    np.testing.assert_array_equal(np.asarray(p["p50"])[sel], np.percentile(occ.astype(float), 50, axis=0))
    np.testing.assert_array_equal(np.asarray(p["p95"])[sel], np.percentile(occ.astype(float), 95, axis=0))
    assert np.all(np.asarray(p["n"])[sel] == N)
    # reading one band time at a time (the smallest memory budget) gives the same numbers bit for bit
    from pkpd.cohort import compute_percentiles

    a, b = compute_percentiles(out), compute_percentiles(out, block_bytes=1)
    for name in ("plasma_ketamine_uM", "nmda_occupancy_pyramidal"):
        assert np.array_equal(a[name]["p"], b[name]["p"]) and np.array_equal(a[name]["n"], b[name]["n"])
    assert not list(out.glob(".bands-by-time*"))  # the time-major scratch file is removed


def test_percentiles_in_groups_of_band_times_when_the_disk_is_short(reference, monkeypatch):
    # with too little free disk for the whole time-major scratch file, it is filled and read a group of band times
    # at a time (here: 3 band times, 2 per block): the same numbers, bit for bit
    import shutil
    import types

    from pkpd.cohort import compute_percentiles

    out, _ = reference
    whole = compute_percentiles(out)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: types.SimpleNamespace(free=2 * 3 * 4 * N))
    grouped = compute_percentiles(out, block_bytes=2 * 5 * 4 * N)
    assert list(grouped) == list(whole)
    for name in whole:
        if name != "time_h":
            assert np.array_equal(grouped[name]["p"], whole[name]["p"])
            assert np.array_equal(grouped[name]["n"], whole[name]["n"])
