"""Query parameters read into a pydantic model by the handler itself, for hot paths.

`Annotated[Model, Query()]` costs FastAPI about as much per request as the rest of a small handler
(bench/api.py). A handler on a hot path declares no parameters, reads the model with `parse_query` and
documents it with `openapi_extra=query_parameters(Model)`; errors are the same 422 as FastAPI's.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_query(request: Request, model: type[M]) -> M:
    """The request's query string as `model` (a repeated name: its last value, as FastAPI reads it)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]) from None


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `parameters` of `model`'s fields (for a route's `openapi_extra`), schemas inlined."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                     "schema": _inline(field_schema, defs)}
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        parameters.append(parameter)
    return {"parameters": parameters}


def _inline(node: Any, defs: dict[str, Any]) -> Any:  # noqa: ANN401 - any JSON schema node
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return {**_inline(defs[ref.removeprefix("#/$defs/")], defs),
                    **{k: _inline(v, defs) for k, v in node.items() if k != "$ref"}}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node
