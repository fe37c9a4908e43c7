"""Survey microdata pipeline: domain logic (no Dagster imports outside ``pipeline.definitions``)."""

import os

# Arrow's allocator in every process that imports the pipeline (set before pyarrow is first
# used; an operator's own choice stays). pyarrow's default, mimalloc, keeps the pages it
# frees for reuse, those of worker threads that have exited too: a first run of the reference
# fixture x50 peaked at 1,325-1,360 MB for the process tree with it, 1,155-1,220 MB with
# jemalloc, and was no faster (bench/README.md). ``pa.set_memory_pool`` is not enough: Arrow's
# C++ readers and kernels allocate from the pool this variable chooses.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

__version__ = "0.1.0"
