"""The HTTP API as Markdown pages, generated from the server's OpenAPI document.

:func:`export_document` builds the reference server on a scratch SQLite database (in a
temporary directory, demo keys) and returns the document it serves at
``/api/v1/openapi.json``; :func:`pages` renders it with no JavaScript and nothing fetched
from elsewhere: an index, one page per tag with every operation (parameters, request body,
answers, links) and one page of schemas. The site also publishes the JSON document itself.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

__all__ = ["FOLDER", "export_document", "pages"]

#: Where the pages go in the site.
FOLDER: Final = "http-api"
_METHODS: Final = ("get", "put", "post", "patch", "delete")
_UNTAGGED: Final = "session-and-profile"

Document = Mapping[str, Any]


def export_document() -> dict[str, Any]:
    """The OpenAPI document of the reference server (the ``server`` extra), built on a
    scratch SQLite database that the server migrates itself, in demo mode."""
    from securebox_auth.crypto.hashing import PROFILE_TESTING  # noqa: PLC0415
    from securebox_server.app import create_app  # noqa: PLC0415
    from securebox_server.settings import Settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="securebox-openapi-") as folder:
        database = f"sqlite:///{Path(folder) / 'server.db'}"
        settings = Settings(database_url=database, public_url="http://127.0.0.1:8000", demo=True)
        app = create_app(settings, argon2=PROFILE_TESTING)
        try:
            document = app.openapi()
        finally:
            app.state.server.box.store.engine.dispose()
    plain: dict[str, Any] = json.loads(json.dumps(document))  # JSON values, detached
    return plain


def _text(value: object) -> str:
    """A description for Markdown: reStructuredText literals become code spans."""
    text = str(value or "").replace("``", "`")
    return " ".join(text.split())


def _cell(value: object) -> str:
    return _text(value).replace("|", "\\|")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _schema_name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _type(schema: Mapping[str, Any], here: str) -> str:
    """A schema in a few words, with links to the named schemas."""
    if "$ref" in schema:
        name = _schema_name(schema["$ref"])
        return f"[`{name}`]({here}schemas.md#{_slug('schema-' + name)})"
    for combiner, word in (("anyOf", " or "), ("oneOf", " or "), ("allOf", " and ")):
        if combiner in schema:
            parts = [_type(part, here) for part in schema[combiner]]
            return word.join(part for part in parts if part != "null") + (
                " or null" if "null" in parts else ""
            )
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array":
        return f"array of {_type(schema.get('items', {}), here)}"
    words = str(kind)
    if "format" in schema:
        words += f" ({schema['format']})"
    if "enum" in schema:
        words += ": " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        words += f": `{json.dumps(schema['const'])}`"
    return words


def _operations(document: Document) -> list[tuple[str, str, Mapping[str, Any]]]:
    found = []
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                found.append((path, method, item[method]))
    return found


def _anchor(operation: Mapping[str, Any]) -> str:
    """The operation's own anchor (summaries repeat: two operations are "End Session")."""
    return _slug(f"op-{operation.get('operationId', '')}")


def _tag(operation: Mapping[str, Any]) -> str:
    tags = operation.get("tags") or [_UNTAGGED]
    return str(tags[0])


def _title(tag: str) -> str:
    return tag.replace("-", " ").capitalize()


def _operation(path: str, method: str, operation: Mapping[str, Any]) -> list[str]:
    here = ""
    lines = [
        f"## {operation.get('summary') or operation.get('operationId')} {{#{_anchor(operation)}}}",
        "",
        f"`{method.upper()} {path}`",
        "",
    ]
    if operation.get("description"):
        lines += [_text(operation["description"]), ""]
    security = operation.get("security")
    if security:
        names = sorted({name for requirement in security for name in requirement})
        lines += ["Authentication: " + ", ".join(f"`{name}`" for name in names) + ".", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += [
            "| parameter | in | required | type | meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for parameter in parameters:
            schema = parameter.get("schema", {})
            meaning = parameter.get("description") or schema.get("description", "")
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} "
                f"| {'yes' if parameter.get('required') else 'no'} "
                f"| {_type(schema, here)} | {_cell(meaning)} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        required = "required" if body.get("required") else "optional"
        lines += [f"Request body ({required}):", ""]
        for media, content in body.get("content", {}).items():
            lines.append(f"- `{media}`: {_type(content.get('schema', {}), here)}")
        lines.append("")
    lines += ["| answer | meaning | body |", "| --- | --- | --- |"]
    for status, answer in operation.get("responses", {}).items():
        contents = answer.get("content", {})
        bodies = "; ".join(
            f"`{media}` {_type(content.get('schema', {}), here)}"
            for media, content in contents.items()
        )
        lines.append(f"| {status} | {_cell(answer.get('description', ''))} | {bodies} |")
    lines.append("")
    links = {
        name: link
        for answer in operation.get("responses", {}).values()
        for name, link in answer.get("links", {}).items()
    }
    if links:
        lines += ["Links (OpenAPI links from the answer to the next operations):", ""]
        lines += [
            f"- `{name}`: {_text(link.get('description', ''))}" for name, link in links.items()
        ]
        lines.append("")
    return lines


def _schemas(document: Document) -> str:
    schemas = document.get("components", {}).get("schemas", {})
    lines = [
        "# HTTP API: schemas",
        "",
        "The bodies of the operations, from the OpenAPI document's `components.schemas`.",
    ]
    for name in sorted(schemas):
        schema = schemas[name]
        lines += ["", f"## {name} {{#{_slug('schema-' + name)}}}", ""]
        if schema.get("description"):
            lines += [_text(schema["description"]), ""]
        properties = schema.get("properties", {})
        if not properties:
            lines.append(f"Type: {_type(schema, '')}.")
            continue
        required = set(schema.get("required", []))
        lines += ["| member | type | required | meaning |", "| --- | --- | --- | --- |"]
        for member, definition in properties.items():
            lines.append(
                f"| `{member}` | {_type(definition, '')} | {'yes' if member in required else 'no'} "
                f"| {_cell(definition.get('description', ''))} |"
            )
    return "\n".join(lines) + "\n"


def pages(document: Document) -> dict[str, str]:
    """``{path in the site: Markdown}``: the index, one page per tag, the schemas."""
    info = document.get("info", {})
    by_tag: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {}
    for entry in _operations(document):
        by_tag.setdefault(_tag(entry[2]), []).append(entry)
    index = [
        "# HTTP API",
        "",
        f"{info.get('title', 'API')}, version {info.get('version', '?')}: "
        f"{_text(info.get('summary', ''))}.",
        "",
        "Generated when the site is built from the OpenAPI "
        f"{document.get('openapi', '3.1')} document the reference server serves at",
        "`/api/v1/openapi.json` ([the document itself](openapi.json)). Errors are RFC 9457",
        "problem details with a stable `code` ([error codes](../reference/error-codes.md));",
        "[the JSON API](../api.md) explains the flows, the bearer sessions and the RFC 9470",
        "challenges, and [the box's APIs](../box-api.md) the senders' and receivers' clients.",
        "",
        "| operation | method and path | group |",
        "| --- | --- | --- |",
    ]
    out: dict[str, str] = {}
    for tag in sorted(by_tag):
        page = [f"# HTTP API: {_title(tag)}", ""]
        for path, method, operation in by_tag[tag]:
            page += _operation(path, method, operation)
            title = operation.get("summary") or operation.get("operationId")
            index.append(
                f"| [{title}]({tag}.md#{_anchor(operation)}) | `{method.upper()} {path}` "
                f"| {_title(tag)} |"
            )
        out[f"{FOLDER}/{tag}.md"] = "\n".join(page)
    out[f"{FOLDER}/index.md"] = "\n".join(index) + "\n"
    out[f"{FOLDER}/schemas.md"] = _schemas(document)
    return out
