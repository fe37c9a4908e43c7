"""Dagster resources: thin wrappers over ``pipeline`` (study configuration, SFTP settings)."""

from resources.sftp import SftpResource
from resources.study import StudyResource

__all__ = ["SftpResource", "StudyResource"]
