"""A package, so that one mypy run checks this handler as `bootstrap_brokers.app`.

Lambda still imports `app` from this folder, the code root."""
