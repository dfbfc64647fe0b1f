"""Built-in plugins: the actors, PSA algorithm, codecs and basis reader gpsa ships, registered
through the same hooks as third-party plugins (see gpsa.plugins.manager.BUILTIN_PLUGINS)."""
