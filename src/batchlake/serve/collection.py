"""The API as files: its OpenAPI document, and a Postman collection (format v2.1) made from it.

`batchlake api-spec --format openapi|postman -o FILE` writes them (cli/_api_spec.py). The
collection has one request per operation of the OpenAPI document, in one folder per tag,
with the server address and the API key as collection variables (`baseUrl`, `apiKey`):
requests of routes that need a key inherit the collection's bearer auth, so Postman sends
`Authorization: Bearer {{apiKey}}`; /health and /ready send none.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def postman_collection(
    openapi: dict[str, Any],
    base_url: str,
    *,
    path_values: dict[str, str] | None = None,
    body_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Postman v2.1 collection with every operation of `openapi`.

    `path_values` fill path variables (`zone`, `name`) and `body_values` the fields of
    example bodies (`sql`), so the requests work as imported on this lake.
    """
    filled = _Filled(path_values or {}, body_values or {})
    info = openapi.get("info", {})
    name = str(info.get("title", "batchlake API"))
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            tag = (operation.get("tags") or ["api"])[0]
            item = _request_item(openapi, path, method, operation, filled)
            folders.setdefault(tag, []).append(item)
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"batchlake:{name}")),
            "name": name,
            "description": str(info.get("description", "")),
            "schema": POSTMAN_SCHEMA,
        },
        "auth": _bearer(),
        "variable": [
            {
                "key": "baseUrl",
                "value": base_url.rstrip("/"),
                "type": "string",
                "description": "where 'batchlake serve' listens",
            },
            {
                "key": "apiKey",
                "value": "",
                "type": "string",
                "description": "a key from 'batchlake serve --new-key reader' (or operator, "
                "to start runs); sent as 'Authorization: Bearer <key>'",
            },
        ],
        "item": [{"name": tag, "item": items} for tag, items in folders.items()],
    }


def _bearer() -> dict[str, Any]:
    return {"type": "bearer", "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}]}


@dataclass(frozen=True)
class _Filled:
    path: dict[str, str]
    body: dict[str, Any]


def _request_item(
    openapi: dict[str, Any], path: str, method: str, operation: dict[str, Any], filled: _Filled
) -> dict[str, Any]:
    parameters = operation.get("parameters", [])
    segments = [_segment(s) for s in path.strip("/").split("/")]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}/" + "/".join(segments),
        "host": ["{{baseUrl}}"],
        "path": segments,
    }
    variables = [
        {
            "key": p["name"],
            "value": filled.path.get(p["name"], ""),
            "description": p.get("description", p["name"]),
        }
        for p in parameters
        if p.get("in") == "path"
    ]
    query = [
        {
            "key": p["name"],
            "value": _text(_example(openapi, p.get("schema", {}))),
            "description": p.get("description", ""),
            "disabled": not p.get("required", False),
        }
        for p in parameters
        if p.get("in") == "query"
    ]
    if variables:
        url["variable"] = variables
    if query:
        url["query"] = query
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [],
        "url": url,
        "description": operation.get("description") or operation.get("summary", ""),
    }
    if "401" not in operation.get("responses", {}):  # no key needed (health, ready)
        request["auth"] = {"type": "noauth"}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        example = _example(openapi, body.get("schema", {}))
        if isinstance(example, dict):
            example.update({k: v for k, v in filled.body.items() if k in example})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(example, indent=2),
            "options": {"raw": {"language": "json"}},
        }
    return {"name": operation.get("summary") or f"{method.upper()} {path}", "request": request}


def _segment(segment: str) -> str:
    """`{zone}` → `:zone`, Postman's path variable."""
    return f":{segment[1:-1]}" if segment.startswith("{") and segment.endswith("}") else segment


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _example(openapi: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """A small value of `schema`: its example or default, else a placeholder of its type."""
    if depth > 4:
        return None
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example(openapi, openapi["components"]["schemas"][name], depth + 1)
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [s for s in schema.get(key, []) if s.get("type") != "null"]
        if options:
            return _example(openapi, options[0], depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        return {
            name: _example(openapi, sub, depth + 1)
            for name, sub in schema.get("properties", {}).items()
            if name in required
        }
    if kind == "array":
        return []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    return "" if kind == "string" else None
