"""Session studies (SPEC §4): platform JSON responses, consent rulings, video lists.

Plain Python, no Dagster import. Modules:

- :mod:`.records`  -- parse raw inputs (responses JSON, consent rulings CSV, video lists)
- :mod:`.response_file` -- a responses file judged record by record (bad records set aside)
- :mod:`.inputs`   -- what the inputs share: the record type, the error naming the place
- :mod:`.reports`  -- OUTAGES notices on records set aside and rulings without a response
- :mod:`.rules`    -- which responses publish, withdrawn video, the `for` day
- :mod:`.hashing`  -- study-specific hashed IDs and the collision check
- :mod:`.ages`     -- age in days and rounded age
- :mod:`.outputs`  -- the published files of SPEC §4.3 (a module each), the cross-study ID map
- :mod:`.formats`  -- the platform's value formats, deterministic CSV/JSON/ZIP/gzip bytes
- :mod:`.dictionaries` -- the data dictionaries and their redaction notes
- :mod:`.psychds`  -- Psych-DS datasets: keyword names, metadata documents, the zip
- :mod:`.process`  -- one call from raw drop files to published files
- :mod:`.synth`    -- deterministic realistic raw input
"""
