"""What a later domain adds to an earlier domain's page, without the earlier one importing it.

The page asks `extend(page, session, **keys)` for the context to add; a later domain registers a
provider with `@extends(page)` in its `pages.py` (the issue page shows the countermeasures that address
the problem: a section of measures). Dependencies keep their one direction (see `app.domains`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

Provider = Callable[..., dict[str, Any]]
_PROVIDERS: dict[str, list[Provider]] = defaultdict(list)


def extends(page: str) -> Callable[[Provider], Provider]:
    """Register `provider(session, **keys) -> context` for `page`."""
    def register(provider: Provider) -> Provider:
        _PROVIDERS[page].append(provider)
        return provider
    return register


def extend(page: str, session: Session, **keys: Any) -> dict[str, Any]:
    """The context every registered provider adds to `page`."""
    context: dict[str, Any] = {}
    for provider in _PROVIDERS[page]:
        context.update(provider(session, **keys))
    return context
