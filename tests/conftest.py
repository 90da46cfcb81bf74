"""Test-wide settings: generated model files go to a per-checkout cache so that CI starts cold but reuses
compiled models across test files (numba's on-disk cache)."""

import os
from pathlib import Path

os.environ.setdefault("KETAMINE_QSP_CACHE", str(Path(__file__).resolve().parent.parent / ".cache" / "ketamine-qsp"))
