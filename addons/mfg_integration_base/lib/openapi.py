"""OpenAPI 3.1 document of the REST API, built from the contracts' JSON Schemas, and its HTML
rendering for humans. Pure Python, no ORM: the caller passes the contracts as plain dicts."""

import copy
import json

from markupsafe import Markup, escape

OPENAPI_VERSION = "3.1.0"
API_PREFIX = "/mfg/api/v1"
JSON = "application/json"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Machine-readable error code, e.g. forbidden_backend."},
        "detail": {"type": "string", "description": "What went wrong and what to do, in plain words."},
        "retry_after": {"type": "integer", "description": "429 only: seconds to wait (as Retry-After)."},
    },
}
ACCEPTED_SCHEMA = {
    "type": "object",
    "required": ["id", "state", "duplicate"],
    "properties": {
        "id": {"type": "integer", "description": "Id of the stored message in Odoo."},
        "state": {"type": "string", "description": "State of the message, e.g. queued."},
        "duplicate": {"type": "boolean", "description": "True: this message id was already received."},
    },
}
REJECTED_SCHEMA = {
    "type": "object",
    "required": ["id", "state", "duplicate", "errors"],
    "properties": {
        **ACCEPTED_SCHEMA["properties"],
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {
                    "path": {"type": "string", "description": "JSON pointer of the offending value."},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
HEALTH_SCHEMA = {
    "type": "object",
    "required": ["status", "time", "flows"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "late", "errors"]},
        "time": {"type": "string"},
        "flows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["backend", "exchange_type", "counts", "oldest_pending_seconds"],
                "properties": {
                    "backend": {"type": "string"},
                    "exchange_type": {"type": "string"},
                    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "oldest_pending_seconds": {"type": "integer"},
                    "sla_seconds": {"type": "integer"},
                },
            },
        },
    },
}

ERROR_RESPONSES = {
    "400": "The body is not a JSON object (nothing stored).",
    "401": "Missing, wrong, expired or rotated-out API key (nothing stored).",
    "403": "The key may not post here: another backend's key, an address outside the backend's IP "
    "allow-list, or an exchange type not enabled inbound on the backend (nothing stored).",
    "404": "Unknown backend or exchange type (nothing stored).",
    "413": "The body is larger than the server's max_payload_bytes (nothing stored).",
    "429": "The backend is above its rate limit; retry after Retry-After seconds (nothing stored).",
}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description, schema_name, headers=None):
    resp = {"description": description, "content": {JSON: {"schema": _ref(schema_name)}}}
    if headers:
        resp["headers"] = headers
    return resp


def contract_schema(schema):
    """The contract's JSON Schema as an OpenAPI 3.1 Schema Object (the dialect is declared once,
    at the top; ``$id`` is kept only when the schema refers to itself)."""
    schema = copy.deepcopy(schema) if schema else {"type": "object"}
    schema.pop("$schema", None)
    if "$ref" not in json.dumps(schema):
        schema.pop("$id", None)
    return schema


def request_body(item):
    """The request body of a contract's path: the JSON contract (unless every flow of the type
    takes another wire format) and, for each other wire format of its flows (``wire_formats``:
    code, name, content_types, description), its media types with a string body."""
    content = {}
    if item.get("json", True):
        content[JSON] = {"schema": _ref(item["contract"])}
    for wire in item.get("wire_formats") or ():
        for media in wire.get("content_types") or ():
            content.setdefault(
                media,
                {
                    "schema": {
                        "type": "string",
                        "description": f"{wire.get('name') or wire['code']}: {wire.get('description') or ''}".strip(),
                    },
                    "x-wire-format": wire["code"],
                },
            )
    if not content:
        content[JSON] = {"schema": _ref(item["contract"])}
    body = {"required": True, "content": content}
    if item.get("wire_formats"):
        body["description"] = (
            "The media type (Content-Type) must be the one of the backend's flow: "
            + "; ".join(
                f"{w.get('name') or w['code']} ({', '.join(w.get('content_types') or ())})"
                for w in item["wire_formats"]
            )
            + (" or the JSON contract (application/json)" if item.get("json", True) else "")
            + ", as set on the backend's flow of this exchange type."
        )
    return body


def build_document(contracts, server_url="", title="Manufacturing integration API", api_version="1"):
    """OpenAPI 3.1 document.

    ``contracts``: iterable of dicts with ``contract`` (code.vN), ``code``, ``version``, ``name``,
    ``description`` and ``schema`` (dict or None): the active inbound exchange types."""
    schemas = {
        "Error": ERROR_SCHEMA,
        "MessageAccepted": ACCEPTED_SCHEMA,
        "MessageRejected": REJECTED_SCHEMA,
        "Health": HEALTH_SCHEMA,
    }
    error_responses = {}
    for status, text in ERROR_RESPONSES.items():
        headers = None
        if status == "429":
            headers = {
                "Retry-After": {
                    "description": "Seconds to wait before the next request.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        elif status == "401":
            headers = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        error_responses[status] = _json_response(text, "Error", headers)
    backend_param = {
        "name": "backend",
        "in": "path",
        "required": True,
        "description": "Code of the backend (plant system) the message comes from, e.g. plant1-mes.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$", "minLength": 1},
    }
    header_params = [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Sender's unique id of the message (wins over X-Message-Id and the payload's "
            "message id): a repeated id is acknowledged with 200 and stored once.",
            "schema": {"type": "string", "maxLength": 255},
        },
        {
            "name": "X-Correlation-Id",
            "in": "header",
            "required": False,
            "description": "Correlation id kept on the message.",
            "schema": {"type": "string", "maxLength": 255},
        },
    ]
    paths = {}
    for item in sorted(contracts, key=lambda c: c["contract"]):
        name = item["contract"]
        schemas[name] = contract_schema(item.get("schema"))
        description = item.get("description") or ""
        paths[f"{API_PREFIX}/{{backend}}/{name}"] = {
            "post": {
                "operationId": "post_" + name.replace(".", "_"),
                "summary": f"{item.get('name') or name} ({name})",
                "description": (
                    f"{description}\n\nContract `{name}`, version {item['version']}. The message is stored "
                    f"and acknowledged (202), then validated and applied asynchronously. "
                    f"`{API_PREFIX}/{{backend}}/{item['code']}` (without `.v{item['version']}`) addresses "
                    "the latest active version of the contract."
                ).strip(),
                "tags": [item["code"].split(".", 1)[0]],
                "x-contract": name,
                "x-contract-version": item["version"],
                "parameters": [backend_param, *header_params],
                "requestBody": request_body(item),
                "responses": {
                    "202": _json_response("Stored: the message will be processed.", "MessageAccepted"),
                    "200": _json_response(
                        "Already received (same message id): nothing stored.", "MessageAccepted"
                    ),
                    "422": _json_response(
                        "Stored as rejected: the payload does not match the contract (never retried).",
                        "MessageRejected",
                    ),
                    **error_responses,
                },
            }
        }
    paths[f"{API_PREFIX}/health"] = {
        "get": {
            "operationId": "get_health",
            "summary": "Counts per state and oldest pending age, per backend and exchange type",
            "tags": ["monitoring"],
            "responses": {
                "200": _json_response("Health of the flows.", "Health"),
                "401": error_responses["401"],
                "403": _json_response("The user may not read the health.", "Error"),
            },
        }
    }
    doc = {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": title,
            "version": api_version,
            "description": "Canonical, versioned contracts of the plant systems (one path per contract "
            "version). Authenticate with the Odoo API key of the backend's service user.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Odoo API key of the backend's service user: `Authorization: Bearer <key>`.",
                }
            },
        },
        "security": [{"apiKey": []}],
    }
    if server_url:
        doc["servers"] = [{"url": server_url.rstrip("/")}]
    return doc


# ---------------------------------------------------------------------------- HTML for humans
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:70rem;
padding:0 1rem;color:#222;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.5rem}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f6f8fa;padding: .8rem;overflow:auto;border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}.req{color:#b00;font-weight:bold}.muted{color:#666}
.badge{display:inline-block;background:#375a7f;color:#fff;border-radius:3px;padding:0 .4rem;font-size:.85em}
"""


def _type_of(prop):
    if not isinstance(prop, dict):
        return ""
    kind = prop.get("type", "")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array" and isinstance(prop.get("items"), dict):
        kind = f"array of {_type_of(prop['items']) or 'any'}"
    if "enum" in prop:
        kind = f"{kind} one of {', '.join(json.dumps(v) for v in prop['enum'])}".strip()
    if prop.get("format"):
        kind += f" ({prop['format']})"
    return kind


def _fields_rows(schema, prefix=""):
    rows = []
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        rows.append((prefix + name, _type_of(prop), name in required, prop.get("description", "")))
        if prop.get("type") == "object" and prop.get("properties"):
            rows.extend(_fields_rows(prop, prefix + name + "."))
        items = prop.get("items")
        if prop.get("type") == "array" and isinstance(items, dict) and items.get("properties"):
            rows.extend(_fields_rows(items, prefix + name + "[]."))
    return rows


def render_html(doc):
    """A self-contained HTML page (no script, no CDN) listing the contracts of ``doc``."""
    out = [
        Markup("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"),
        escape(doc["info"]["title"]),
        Markup("</title><style>"),
        Markup(_CSS),
        Markup("</style></head><body><h1>"),
        escape(doc["info"]["title"]),
        Markup("</h1><p class='muted'>"),
        escape(doc["info"]["description"]),
        Markup(
            "</p><p>Machine-readable: <a href='openapi.json'>openapi.json</a> (OpenAPI 3.1). "
            "Authentication: <code>Authorization: Bearer &lt;API key&gt;</code> (the backend's service "
            "user).</p><h2>Answers</h2><table><tr><th>Status</th><th>Meaning</th></tr>"
            "<tr><td>202</td><td>Stored; processed asynchronously.</td></tr>"
            "<tr><td>200</td><td>Already received (same message id); stored once.</td></tr>"
            "<tr><td>422</td><td>Stored as rejected: does not match the contract (errors listed).</td></tr>"
        ),
    ]
    for status, text in ERROR_RESPONSES.items():
        out += [Markup("<tr><td>"), status, Markup("</td><td>"), escape(text), Markup("</td></tr>")]
    out.append(Markup("</table><h2>Contracts</h2><ul>"))
    operations = [
        (path, op["post"])
        for path, op in sorted(doc["paths"].items())
        if "post" in op and "x-contract" in op["post"]
    ]
    for _path, op in operations:
        name = op["x-contract"]
        out += [
            Markup("<li><a href='#"),
            escape(name),
            Markup("'>"),
            escape(name),
            Markup("</a> — "),
            escape(op["summary"]),
            Markup("</li>"),
        ]
    out.append(Markup("</ul>"))
    schemas = doc["components"]["schemas"]
    for path, op in operations:
        name = op["x-contract"]
        schema = schemas.get(name, {})
        out += [
            Markup("<h2 id='"),
            escape(name),
            Markup("'>"),
            escape(name),
            Markup(" <span class='badge'>version "),
            escape(str(op["x-contract-version"])),
            Markup("</span></h2><p><code>POST "),
            escape(path),
            Markup("</code></p><p>"),
            escape(op.get("description", "")),
            Markup("</p>"),
        ]
        media = sorted(op.get("requestBody", {}).get("content", {}))
        if media != [JSON]:
            out += [
                Markup("<p>Request body: "),
                escape(", ".join(media)),
                Markup(". "),
                escape(op.get("requestBody", {}).get("description", "")),
                Markup("</p>"),
            ]
        rows = _fields_rows(schema)
        if rows:
            out.append(
                Markup("<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr>")
            )
            for field, kind, required, description in rows:
                out += [
                    Markup("<tr><td><code>"),
                    escape(field),
                    Markup("</code></td><td>"),
                    escape(kind),
                    Markup("</td><td>"),
                    Markup("<span class='req'>required</span>") if required else "",
                    Markup("</td><td>"),
                    escape(description),
                    Markup("</td></tr>"),
                ]
            out.append(Markup("</table>"))
        else:
            out.append(Markup("<p class='muted'>Any JSON object.</p>"))
        out += [
            Markup("<details><summary>JSON Schema</summary><pre>"),
            escape(json.dumps(schema, indent=2)),
            Markup("</pre></details>"),
        ]
    out.append(Markup("</body></html>"))
    return "".join(str(escape(part)) if not isinstance(part, Markup) else str(part) for part in out)
