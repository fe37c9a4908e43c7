"""pipeline/gcpause.py: the collector paused around a block, then as it was."""

from __future__ import annotations

import gc

import pytest

from pipeline.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _restore_gc():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_enabled_after_and_what_exists_frozen():
    gc.enable()
    gc.unfreeze()
    with gc_paused():
        assert not gc.isenabled()
        built = [[i] for i in range(1000)]  # tracked objects, made while paused
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(built)
    assert not any(gc.is_finalized(x) for x in built[:3])  # still alive, merely frozen


def test_a_caller_that_had_it_off_keeps_it_off():
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_collector_comes_back_after_an_error():
    gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
