"""Run by the python of a fresh virtualenv that holds the graphrec wheel (test_wheel.py); no test imports it.

`wheel_probe.py where` prints where graphrec and its package data were found; `wheel_probe.py graphql QUERY`
prints the API's answer to one GraphQL query, the ASGI app (lifespan included) driven in-process.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import sysconfig
from typing import Any


def where() -> dict[str, Any]:
    """The files graphrec's modules and package data come from, and what else the interpreter could import."""
    from graphrec.config import package_file

    for name in ("graphrec.api.app", "graphrec.cli"):
        importlib.import_module(name)

    return {
        "site_packages": sysconfig.get_paths()["purelib"],
        "sys_path": sys.path,
        "modules": sorted(
            str(module.__file__)
            for name, module in sys.modules.items()
            if name.partition(".")[0] == "graphrec" and getattr(module, "__file__", None)
        ),
        "cypher": [str(path) for path in sorted(package_file("cypher").rglob("*.cypher"))],
        "pom": str(package_file("db", "pom.xml")),
        "schema": str(package_file("api", "schema.graphql")),
        "top_level_api": importlib.util.find_spec("api") is not None,
    }


def graphql(query: str) -> dict[str, Any]:
    """The status and body of one POST /graphql, settings (Neo4j's address) read from the environment, and the
    statuses of the page and one of its modules."""
    from starlette.testclient import TestClient

    from graphrec.api.app import create_app

    with TestClient(create_app()) as client:
        response = client.post("/graphql", json={"query": query})
        page = [client.get(path).status_code for path in ("/", "/page/app.js")]
    return {"status": response.status_code, "body": response.json(), "page": page}


if __name__ == "__main__":
    answer = where() if sys.argv[1] == "where" else graphql(sys.argv[2])
    print(json.dumps(answer))
