"""A package, so that one mypy run checks this handler as `topic_provisioner.app`.

Lambda still imports `app` from this folder, the code root."""
