"""A package, so that one mypy run checks this handler as `archive_replay.app`.

Lambda still imports `app` from this folder, the code root."""
