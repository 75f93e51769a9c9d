"""Files as answers: the response that sends one as a download, and its OpenAPI description."""

from __future__ import annotations

from fastapi import Response


def attachment(body: bytes, media: str, name: str) -> Response:
    """`body` as a download named `name` (ASCII: the callers build names from codes and numbers)."""
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def file_answer(*media_types: str, description: str) -> dict[int | str, dict]:
    """A file as the 200 answer (and only a file: the routes send `response_class=Response`)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"content": dict.fromkeys(media_types, binary), "description": description}}
