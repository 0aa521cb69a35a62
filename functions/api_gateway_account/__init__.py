"""A package, so that one mypy run checks this handler as `api_gateway_account.app`.

Lambda still imports `app` from this folder, the code root."""
