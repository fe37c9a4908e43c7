"""The one IO manager of the stage assets: each step's typed result is kept in the study's
run folder (``{archive}/_work/runs/{run_id}/steps/``), next to the Arrow files its tables
travel in, so a later step, in another process or a re-execution of a failed run, reads
them there; a committed run removes the folder, a failed run keeps it for a week (see
``RunContext.clean_run_dirs``).
"""

import pickle
from pathlib import Path
from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext

from pipeline.staging import write_bytes_atomic


class StageIOManager(ConfigurableIOManager):
    """Stage results (frozen dataclasses) of one study, pickled into its run folders."""

    work_dir: str  # the study's work folder (``Config.work_dir``)

    def _path(self, context: OutputContext) -> Path:
        """An asset's result by its key; an op's inside a graph-backed asset (the day
        rendering's fan-out) by its step, output and mapping key."""
        steps = Path(self.work_dir) / "runs" / context.run_id / "steps"
        if context.has_asset_key:
            return steps / f"{'__'.join(context.asset_key.path)}.pkl"
        return steps / f"{'__'.join(context.get_identifier()[1:])}.pkl"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        write_bytes_atomic(self._path(context), pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))

    def load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        assert upstream is not None
        with self._path(upstream).open("rb") as fh:
            return pickle.load(fh)
