"""Development-time generator of ``data/api_table.json``: the fields and query parameters of the Engine API.

Run by hand (``python3 tests/hostile/make_api_table.py SPEC.yaml``, with PyYAML) when the API the suite
covers grows; the tests read only the committed JSON (facts: names and types, no descriptions), never the spec.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

#: (key, method, path): the request bodies whose fields the suite sends wrong types in
BODIES = [
    ("container_create", "post", "/containers/create"),
    ("container_update", "post", "/containers/{id}/update"),
    ("exec_create", "post", "/containers/{id}/exec"),
    ("exec_start", "post", "/exec/{id}/start"),
    ("network_create", "post", "/networks/create"),
    ("network_connect", "post", "/networks/{id}/connect"),
    ("network_disconnect", "post", "/networks/{id}/disconnect"),
    ("volume_create", "post", "/volumes/create"),
]
#: how deep nested objects are followed (HostConfig.RestartPolicy.Name is depth 3)
MAX_DEPTH = 3
#: the API areas moor serves (swarm, plugins, build, ... are not)
SERVED = ("/containers", "/exec", "/images", "/networks", "/volumes", "/events", "/system", "/info",
          "/version", "/_ping", "/commit")


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its ``$ref`` followed and its ``allOf`` merged into one object schema."""
    if "$ref" in schema:
        return resolve(spec, spec["definitions"][schema["$ref"].split("/")[-1]])
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(resolve(spec, part).get("properties", {}))
        return merged
    return schema


def fields(spec: dict[str, Any], schema: dict[str, Any], prefix: list[str], depth: int) -> list[dict[str, Any]]:
    """One row per field (path, JSON type, item or value type), nested objects followed to MAX_DEPTH."""
    rows = []
    for name, raw in sorted(resolve(spec, schema).get("properties", {}).items()):
        sub = resolve(spec, raw)
        kind = sub.get("type", "object" if "properties" in sub else "any")
        row: dict[str, Any] = {"path": [*prefix, name], "type": kind}
        if kind == "integer":
            row["format"] = sub.get("format", "int")
        if kind == "array":
            items = resolve(spec, sub.get("items", {}))
            row["items"] = items.get("type", "object" if "properties" in items else "any")
        if kind == "object" and isinstance(sub.get("additionalProperties"), dict):
            values = resolve(spec, sub["additionalProperties"])
            row["values"] = values.get("type", "object" if "properties" in values else "any")
        rows.append(row)
        if kind == "object" and "properties" in sub and depth < MAX_DEPTH:
            rows.extend(fields(spec, sub, [*prefix, name], depth + 1))
    return rows


def main(spec_path: str) -> None:
    import yaml  # development only: the tests never import this module

    spec = yaml.safe_load(pathlib.Path(spec_path).read_text())
    table: dict[str, Any] = {"bodies": {}, "queries": []}
    for key, method, path in BODIES:
        body = next(p for p in spec["paths"][path][method]["parameters"] if p["in"] == "body")
        table["bodies"][key] = {"method": method.upper(), "path": path, "fields": fields(spec, body["schema"], [], 1)}
    for path, operations in sorted(spec["paths"].items()):
        if not path.startswith(SERVED):
            continue
        for method, operation in sorted(operations.items()):
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    table["queries"].append({"method": method.upper(), "path": path, "name": parameter["name"],
                                             "type": parameter.get("type", "string")})
    out = pathlib.Path(__file__).with_name("data") / "api_table.json"
    out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"{out}: {sum(len(b['fields']) for b in table['bodies'].values())} fields, {len(table['queries'])} queries")


if __name__ == "__main__":
    main(sys.argv[1])
