"""ETag / If-Match for optimistic concurrency: records carry a `version`."""

from __future__ import annotations

from fastapi import Request, Response

from app.core.errors import PreconditionFailed, PreconditionRequired
from app.core.ids import parse_id


def etag(entity: str, entity_id: int, version: int) -> str:
    return f'"{entity}-{entity_id}-v{version}"'


def set_etag(response: Response, entity: str, entity_id: int, version: int) -> None:
    response.headers["ETag"] = etag(entity, entity_id, version)


def required_version(request: Request, entity: str, entity_id: int) -> int:
    """The version named by `If-Match`: 428 without the header, 412 when it names another record."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired("Send If-Match with the ETag you read, so concurrent edits are not lost.")
    return _parse(header, entity, entity_id)


def optional_version(request: Request, entity: str, entity_id: int) -> int | None:
    header = request.headers.get("if-match")
    return _parse(header, entity, entity_id) if header else None


def _parse(header: str, entity: str, entity_id: int) -> int:
    prefix = f'"{entity}-{entity_id}-v'
    for tag in (t.strip().removeprefix("W/") for t in header.split(",")):
        if tag.startswith(prefix) and tag.endswith('"') and (version := parse_id(tag[len(prefix):-1])) is not None:
            return version
    raise PreconditionFailed("If-Match does not name a version of this record.")
