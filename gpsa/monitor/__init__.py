"""Monitoring: observed variables (:mod:`.observe`), what the runtime feeds them
(:mod:`.meter`), publishing on ``/metrics`` and to the Central Memory (:mod:`.publish`),
snapshots (:mod:`.snapshot`), alarms (:mod:`.alarms`), the per-process session tying them
together (:mod:`.session`) and what ``gpsa monitor`` shows (:mod:`.view`). See
``docs/monitoring.md``."""
