"""Virtual cohorts: N subjects through a protocol, in chunks, to a resumable run directory of Parquet parts.

One module per job, each importing only those before it::

    contract     CohortProtocol (what the runner needs of a protocol) and the records it exchanges
    pk_protocol  PkProtocol: ketamine PK and NMDA occupancy, its engine inputs and ``exposure`` readout
    spec         CohortSpec: everything that determines a cohort's results
    store        the run directory: manifest, atomic Parquet parts, resume bookkeeping, readers
    percentiles  exact percentile bands, out of core
    summary      the population summary, its text and its band figure
    runner       run_chunk (one chunk, any process) and run_cohort (in process or on Dask)

The runner knows protocols only through :class:`CohortProtocol`; a protocol of a model built on the PK lives with
that model, and whoever sits above both hands the protocol object to :class:`CohortSpec`.
"""

from .contract import ChunkInputs, ChunkSolution, CohortProtocol, Readout, ReadoutContext, label_with_unit
from .percentiles import BAND_BLOCK_BYTES, compute_percentiles, read_percentiles
from .pk_protocol import PkEngineInputs, PkProtocol, cohort_time_grid, exposure_readout, param_bounds, pk_parameters
from .runner import (BASE_MEMORY_BYTES, ENV_KILL_WORKER, ENV_STOP_AFTER, CohortRun, available_memory_bytes,
                     chunk_bounds, estimate_memory, run_chunk, run_cohort)
from .spec import CohortSpec
from .store import BAND_PERCENTILES, MANIFEST_FORMAT, read_bands, read_manifest, read_subjects
from .summary import bands_figure, format_summary, plot_bands, summarize_run

__all__ = ["CohortSpec", "CohortRun", "run_cohort", "run_chunk", "chunk_bounds", "estimate_memory",
           "available_memory_bytes", "summarize_run", "read_subjects", "read_manifest", "read_percentiles",
           "read_bands", "compute_percentiles", "format_summary", "bands_figure", "plot_bands", "CohortProtocol",
           "ChunkInputs", "ChunkSolution", "ReadoutContext", "Readout", "label_with_unit", "PkProtocol",
           "PkEngineInputs", "pk_parameters", "param_bounds", "cohort_time_grid", "exposure_readout",
           "BAND_PERCENTILES", "BAND_BLOCK_BYTES", "BASE_MEMORY_BYTES",
           "MANIFEST_FORMAT", "ENV_STOP_AFTER", "ENV_KILL_WORKER"]
