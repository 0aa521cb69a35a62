"""A package, so that one mypy run checks this handler as `flink_deployer.app`.

Lambda still imports `app` from this folder, the code root."""
