"""Survey microdata pipeline: domain logic (no Dagster imports; ``assets/`` wires it)."""

__version__ = "0.1.0"
