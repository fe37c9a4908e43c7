"""Session studies (SPEC §4): platform JSON responses, consent rulings, video lists.

Plain Python, no Dagster import. Modules:

- :mod:`.records`  -- parse raw inputs (responses JSON, consent rulings CSV, video lists)
- :mod:`.rules`    -- which responses publish, withdrawn video, the `for` day
- :mod:`.hashing`  -- study-specific hashed IDs and the collision check
- :mod:`.ages`     -- age in days and rounded age
- :mod:`.outputs`  -- the published files of SPEC §4.3 (a module each), the cross-study ID map
- :mod:`.formats`  -- the platform's value formats, deterministic CSV/JSON/ZIP/gzip bytes
- :mod:`.dictionaries` -- the data dictionaries and their redaction notes
- :mod:`.psychds`  -- the Psych-DS dataset zip
- :mod:`.process`  -- one call from raw drop files to published files
- :mod:`.synth`    -- deterministic realistic raw input
"""
