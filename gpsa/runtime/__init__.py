"""Runtime: actor base classes, the threaded chain, run modes, signals and provenance."""
