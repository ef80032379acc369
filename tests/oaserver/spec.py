"""Validate responses against the official OpenAlex OpenAPI 3.1 spec's schemas.

The spec (``schema_openalex_openapi_2026-08-02.json``) is JSON Schema 2020-12 with
``$ref`` into ``#/components/schemas``; refs are resolved with ``referencing``.

Two readings of it:

``strict``
    The spec as written, with its OpenAPI-3.0 ``nullable: true`` (which JSON Schema
    2020-12 ignores) read as "null allowed", which is what it means.
``lenient`` (default)
    ``strict`` plus :data:`DEVIATIONS`: the ways the live API's recorded responses differ
    from the spec.  ``tests/test_oaserver.py`` checks that the recorded fixture
    responses fail ``strict`` and pass ``lenient``, so each deviation is shown to be the
    API's, not the server's.  The root object of each response schema stays strict.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .corpus import DATA_DIR

SPEC_FILE = DATA_DIR / "schema_openalex_openapi_2026-08-02.json"
SPEC_URI = "urn:openalex:openapi-2026-08-02"

#: How ``lenient`` departs from the spec, and the recorded evidence for each.
DEVIATIONS: tuple[str, ...] = (
    "Any field below the response's root object may be null (the API writes absent values "
    "as null: e.g. best_oa_location, primary_location.source, mesh[].qualifier_name, "
    "geo.region in recorded records; meta.page and meta.next_cursor in cursor-paged "
    "fixtures).",
    "ids.mag may be a string (recorded works and institutions carry it as a string; the "
    "spec says integer).",
    "Institution.type (and dehydrated institution type) may be 'funder' (recorded "
    "institution records; not in the spec's enum).",
)

_ROOTS = (
    "Work",
    "Institution",
    "Author",
    "Error",
    "Meta",
    "WorksListResponse",
    "InstitutionsListResponse",
    "AuthorsListResponse",
)


@functools.cache
def openapi_spec() -> dict[str, Any]:
    """The recorded official OpenAPI document."""
    spec: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return spec


def _with_null(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if isinstance(kind, str) and kind != "null":
        node["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        node["type"] = [*kind, "null"]
    if "enum" in node and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _strict(spec: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(spec)
    for node in _nodes(doc):
        if node.pop("nullable", False):
            if "$ref" in node:
                ref = node.pop("$ref")
                node["anyOf"] = [{"$ref": ref}, {"type": "null"}]
            else:
                _with_null(node)
    return doc


def _lenient(spec: dict[str, Any]) -> dict[str, Any]:
    doc = _strict(spec)
    schemas = doc["components"]["schemas"]
    roots = {f"#/components/schemas/{name}" for name in _ROOTS}
    for node in list(_nodes(schemas)):
        if "$ref" in node and node["$ref"] not in roots:
            ref = node.pop("$ref")
            extra = {k: node.pop(k) for k in list(node)}
            node["anyOf"] = [{"$ref": ref}, {"type": "null"}]
            node.update({k: v for k, v in extra.items() if k == "description"})
        _with_null(node)
    for name in ("Work", "Institution"):
        mag = schemas[name]["properties"]["ids"]["properties"]["mag"]
        mag["type"] = ["integer", "string", "null"]
    for holder in (
        schemas["Institution"]["properties"]["type"],
        schemas["DehydratedInstitution"]["properties"]["type"],
    ):
        if "enum" in holder and "funder" not in holder["enum"]:
            holder["enum"] = [*holder["enum"], "funder"]
    for name in _ROOTS:  # a response is never null itself
        root = schemas[name]
        if isinstance(root.get("type"), list):
            root["type"] = "object"
    return doc


@functools.cache
def _registry(lenient: bool) -> Registry:
    doc = _lenient(openapi_spec()) if lenient else _strict(openapi_spec())
    registry: Registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return registry


@functools.cache
def validator(schema: str, lenient: bool = True) -> Draft202012Validator:
    """Validator for ``#/components/schemas/<schema>`` of the spec.

    Examples
    --------
    >>> validator("Error").is_valid({"error": "Not Found", "message": "Work W1 not found"})
    True
    >>> validator("Error").is_valid({"error": 404})
    False
    """
    ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema}"}
    return Draft202012Validator(ref, registry=_registry(lenient))


def schema_errors(instance: Any, schema: str, lenient: bool = True) -> list[str]:
    """Readable validation errors (``path: message``); empty when valid."""
    out = []
    for error in validator(schema, lenient).iter_errors(instance):
        where = "/".join(str(p) for p in error.absolute_path) or "<root>"
        out.append(f"{where}: {error.message[:160]}")
    return out
