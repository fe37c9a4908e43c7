"""The one IO manager of the stage assets: each step's typed result is kept in the study's
run folder (``{archive}/_work/runs/{run_id}/steps/``), next to the Arrow files its tables
travel in, so a later step, in another process or a re-execution of a failed run, reads
them there; a committed run removes the folder, a failed run keeps it for a week (see
``RunContext.clean_run_dirs``).
"""

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext


class StageIOManager(ConfigurableIOManager):
    """Stage results (frozen dataclasses) of one study, pickled into its run folders."""

    work_dir: str  # the study's work folder (``Config.work_dir``)

    def _path(self, run_id: str, asset_key: Any) -> Path:
        return Path(self.work_dir) / "runs" / run_id / "steps" / f"{'__'.join(asset_key.path)}.pkl"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        target = self._path(context.run_id, context.asset_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)  # no empty temp file left in the run folder
            raise

    def load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        assert upstream is not None
        with self._path(upstream.run_id, context.asset_key).open("rb") as fh:
            return pickle.load(fh)
