"""Survey microdata pipeline: domain logic (no Dagster imports outside ``pipeline.definitions``)."""

__version__ = "0.1.0"
