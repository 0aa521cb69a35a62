"""A package, so that one mypy run checks this handler as `availability_zones.app`.

Lambda still imports `app` from this folder, the code root."""
