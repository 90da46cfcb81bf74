"""Per-subject curve metrics of a chunk against the NCA reference (pkpd.exposure)."""

import numpy as np


def test_vectorised_auc_is_the_nca_auc():
    """The chunk-wide AUC does the same floating-point operations as pkpd.exposure.auc (linear up, log down);
    only the summation of a row may group differently: rtol 1e-13."""
    from pkpd.cohort import auc_linear_up_log_down
    from pkpd.exposure import auc

    rng = np.random.default_rng(0)
    t = np.sort(rng.random(60)) * 10
    c = np.abs(rng.standard_normal((12, 60)))
    c[3] = 0.0
    c[4, 10:] = 0.0  # falls to zero: linear, not log
    ref = np.array([auc(t, ci) for ci in c])
    np.testing.assert_allclose(auc_linear_up_log_down(t, c), ref, rtol=1e-13, atol=0)
