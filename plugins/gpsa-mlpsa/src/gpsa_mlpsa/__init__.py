"""gpsa-mlpsa: a machine-learning PSA for gpsa, and the template for plugin authors."""

__version__ = "0.1.0"
