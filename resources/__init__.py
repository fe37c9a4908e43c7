"""Dagster resources: thin wrappers over ``pipeline`` (a study's configuration, clock, lock)."""

from resources.study import StudyResource

__all__ = ["StudyResource"]
