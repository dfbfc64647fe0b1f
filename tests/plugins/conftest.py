from actors.conftest import basis_file  # noqa: E402, F401
from runtime.conftest import toy_plugins  # noqa: F401
