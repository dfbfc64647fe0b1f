from runtime.conftest import toy_plugins  # noqa: F401
