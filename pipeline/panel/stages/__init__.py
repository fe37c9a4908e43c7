"""The stages of a panel night, one module each, in order: :mod:`fetch`, :mod:`normalize`,
:mod:`eligibility`, :mod:`ledger`, :mod:`lag`, :mod:`days` (with :mod:`render`) and
:mod:`publish`. Each reads the state database (never writes it) and stages its output
under the run's work folder; the last publishes and commits everything in one
transaction, so a crash anywhere leaves the ledger and the record of published files
untouched. The whole night: :func:`pipeline.panel.run.run_night`."""
