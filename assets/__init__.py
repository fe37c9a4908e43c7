"""Dagster assets and checks: thin wiring over the stages in ``pipeline``."""
