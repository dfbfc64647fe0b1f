"""Command-line interface (``gpsa``)."""
