"""Dagster resources: thin wrappers over ``pipeline`` (study configuration, SFTP settings)."""

from resources.study import StudyResource

__all__ = ["StudyResource"]
