"""Run by .venv-flink's Python (PyFlink): a Flink table as a Hive catalog stores it, read back by Flink.

Input (a JSON file named by the first argument): `jar` (pipeline.jars), `name`, `deployed` and `local` (the
table's properties, the flink. prefix taken off: as deployed, and with local connection options), `query`.
Flink's CatalogPropertiesUtil deserialises each into a catalog table, as Flink's Hive catalog does; the
deployed one is registered and the query planned (the Kafka connector checks its options), the local one
registered and the query run to its bounded end. Output (stdout, one JSON object): `stored`, the deployed
table as Flink serialises it again; `plan`, the deployed query's plan; `rows`, the local query's rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pyflink.java_gateway import get_gateway
from pyflink.table import EnvironmentSettings, TableEnvironment


def _register(env: TableEnvironment, name: str, properties: dict[str, str]) -> Any:
    """Deserialise the properties into a catalog table, register it, and return it resolved."""
    jvm = get_gateway().jvm
    catalog_package = jvm.org.apache.flink.table.catalog
    java_properties = jvm.java.util.HashMap()
    for key, value in properties.items():
        java_properties.put(key, value)
    table = catalog_package.CatalogPropertiesUtil.deserializeCatalogTable(java_properties)
    manager = env._j_tenv.getCatalogManager()
    catalog = manager.getCatalog(env.get_current_catalog()).get()
    catalog.createTable(catalog_package.ObjectPath(env.get_current_database(), name), table, False)
    identifier = catalog_package.ObjectIdentifier.of(
        env.get_current_catalog(), env.get_current_database(), name
    )
    return manager.getTable(identifier).get().getResolvedTable()


def _environment(jar: str) -> TableEnvironment:
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.jars", jar)
    env.get_config().set("table.local-time-zone", "UTC")
    env.get_config().set("parallelism.default", "1")
    return env


def main(request_file: str) -> None:
    """Plan the deployed table's query, run the local table's, print what Flink stores and returns."""
    request = json.loads(Path(request_file).read_text(encoding="utf-8"))
    deployed_env = _environment(request["jar"])
    resolved = _register(deployed_env, request["name"], request["deployed"])
    util = get_gateway().jvm.org.apache.flink.table.catalog.CatalogPropertiesUtil
    stored = util.serializeCatalogTable(resolved)
    plan = deployed_env.explain_sql(request["query"])

    local_env = _environment(request["jar"])
    _register(local_env, request["name"], request["local"])
    with local_env.execute_sql(request["query"]).collect() as results:
        rows = [list(row) for row in results]
    json.dump(
        {"stored": {key: stored.get(key) for key in stored.keySet()}, "plan": plan, "rows": rows}, sys.stdout
    )


if __name__ == "__main__":
    main(sys.argv[1])
