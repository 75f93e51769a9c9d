"""OpenAPI responses shared by the endpoints of several domains, and `finish`: what the document FastAPI
builds from the routes cannot know (the headers the handlers read and set, the errors' media type)."""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable, Iterable
from typing import Any

import fastapi.routing
from fastapi import FastAPI

# The endpoints on an initiative's content (survey, issues, RACI, measures, ...).
TEAM_PROBLEMS: dict[int | str, dict[str, str]] = {403: {"description": "Not on the initiative's team"},
                                                  404: {"description": "Not found"}}
TEAM_PATCH = {**TEAM_PROBLEMS, 412: {"description": "If-Match is stale"}, 428: {"description": "If-Match missing"}}


# ---------------------------------------------------------------- what every operation really sends
# `finish` completes the document FastAPI builds from the routes with what the routes cannot say about
# themselves: the handlers read `If-Match` from the request and set `ETag` and `Link` on the response, and
# every error under `/api` is a problem document (`app.core.http_errors`), the 422 of validation included.

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "title": "Problem",
        "type": "object",
        "description": "An RFC 9457 problem document: every error under `/api` is one, sent as "
                       "`application/problem+json`.",
        "properties": {
            "type": {"type": "string", "format": "uri-reference", "examples": ["/problems/validation-error"],
                     "description": "What kind of problem: `/problems/<code>`."},
            "title": {"type": "string", "examples": ["Validation error"]},
            "status": {"type": "integer", "examples": [422]},
            "detail": {"type": "string", "description": "What went wrong with this request, for people."},
            "instance": {"type": "string", "format": "uri-reference",
                         "description": "The request's path, percent-encoded."},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemError"},
                       "description": "On 422: each field (or file row) that is not valid."},
        },
        "required": ["type", "title", "status", "detail"],
    },
    "ProblemError": {
        "title": "ProblemError",
        "type": "object",
        "description": "One invalid field. Imports add `row` (and `column` or `line`) of the file.",
        "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]},
                    "examples": [["body", "name"]], "description": "Where: `body`, `query`, `path`, ... then the field."},
            "field": {"type": "string", "examples": ["name"]},
            "message": {"type": "string"},
            "type": {"type": "string", "examples": ["string_too_long"]},
        },
        "required": ["loc", "field", "message", "type"],
        "additionalProperties": True,
    },
}
IF_MATCH = "If-Match"
IF_MATCH_REQUIRED = {
    "name": IF_MATCH, "in": "header", "required": True, "schema": {"type": "string"},
    "description": "The `ETag` of the record as last read: `428` without it, `412` when the record has "
                   "changed since.",
}
IF_MATCH_OPTIONAL = {
    "name": IF_MATCH, "in": "header", "required": False, "schema": {"type": "string"},
    "description": "Optional: the `ETag` of the record as last read; when sent, `412` if the record has "
                   "changed since.",
}
ETAG_HEADER = {"description": "The record's version, for `If-Match` on a later change.",
               "schema": {"type": "string"}}
LINK_HEADER = {"description": 'The next page, when there is one: `</api/v1/...?...&cursor=...>; rel="next"` '
                              "(RFC 8288), a reference relative to the request's URL.",
               "schema": {"type": "string"}}
UNAUTHORIZED = "Missing or invalid credentials"
# Names a handler (or a helper of its own module that it calls) uses to read or set these headers.
READS_IF_MATCH, MAY_READ_IF_MATCH = "required_version", "optional_version"
SETS_ETAG, SETS_LINK = "set_etag", "set_link_header"


def _names(fn: Callable[..., Any], depth: int = 3) -> set[str]:
    """The global and attribute names `fn` uses, with those of the functions of its own module it calls
    (`_one`, `_measure`, ...): which of `required_version`, `set_etag`, ... a handler reaches."""
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return set()
    found: set[str] = set()
    codes = [code]
    while codes:  # the function and its nested code (comprehensions, lambdas)
        c = codes.pop()
        found.update(c.co_names)
        codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    if depth:
        module_globals = getattr(fn, "__globals__", {})
        for name in list(found):
            target = module_globals.get(name)
            if inspect.isfunction(target) and target.__module__ == fn.__module__ and target is not fn:
                found |= _names(target, depth - 1)
    return found


def _routes(app: FastAPI) -> Iterable[Any]:
    """Every route of the app with its full path. FastAPI 0.16x keeps included routers as routes of their
    own (`app.routes` lists five); `iter_route_contexts`, which FastAPI's own OpenAPI uses, opens them."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    return iterate(app.routes) if iterate is not None else app.routes


def _wants_problem(path: str) -> bool:
    return path.startswith("/api/")  # as `app.core.http_errors.wants_problem`: the probes answer JSON of their own


def _success(responses: dict[str, Any]) -> dict[str, Any] | None:
    codes = sorted(c for c in responses if c.startswith("2"))
    return responses[codes[0]] if codes else None


def finish(app: FastAPI, schema: dict[str, Any], public: Callable[[str], bool]) -> None:
    """Complete `schema` (FastAPI's document of `app`) in place: `If-Match` parameters, `ETag` and `Link`
    response headers, `401` on operations that need a credential, and problem+json on every error."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(PROBLEM_SCHEMAS)
    paths = schema.get("paths", {})
    for route in _routes(app):
        path, endpoint = getattr(route, "path_format", None), getattr(route, "endpoint", None)
        if endpoint is None or path not in paths or not getattr(route, "include_in_schema", False):
            continue
        names = _names(endpoint)
        for method in getattr(route, "methods", None) or ():
            operation = paths[path].get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if READS_IF_MATCH in names or MAY_READ_IF_MATCH in names:
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
                    parameters.append(dict(IF_MATCH_REQUIRED if READS_IF_MATCH in names else IF_MATCH_OPTIONAL))
                responses.setdefault("412", {"description": "If-Match names another version: someone changed the "
                                                            "record since it was read"})
                if READS_IF_MATCH in names:
                    responses.setdefault("428", {"description": "If-Match missing"})
            if "{" in path:  # an id in the path may name no record
                responses.setdefault("404", {"description": "Not found"})
            success = _success(operation.get("responses", {}))
            if success is not None:
                if SETS_ETAG in names:
                    success.setdefault("headers", {})["ETag"] = ETAG_HEADER
                if SETS_LINK in names:
                    success.setdefault("headers", {})["Link"] = LINK_HEADER
    for path, operations in paths.items():
        if not _wants_problem(path):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if not public(path) and "401" not in responses:
                responses["401"] = {"description": UNAUTHORIZED}
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    if code == "422" and response.get("description") == "Validation Error":
                        response["description"] = "Validation error: `errors[]` names each field that is not valid"
                    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    _drop_unused(components["schemas"], schema, ("HTTPValidationError", "ValidationError"))


def _drop_unused(schemas: dict[str, Any], schema: dict[str, Any], names: tuple[str, ...]) -> None:
    """FastAPI's own 422 schemas, once no operation refers to them any more."""
    for name in names:
        if name in schemas:
            others = {k: v for k, v in schemas.items() if k != name}
            text = json.dumps({"paths": schema.get("paths", {}), "schemas": others})
            if f'"#/components/schemas/{name}"' not in text:
                del schemas[name]
