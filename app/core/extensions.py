"""What a later domain adds to an earlier domain's page, without the earlier one importing it.

The page asks `extend(page, session, **keys)` for the context to add; a later domain registers a
provider with `@extends(page)` in its `pages.py` (the issue page shows the countermeasures that address
the problem: a section of measures). Dependencies keep their one direction (see `app.domains`).

A provider's keys are its own, except `sections`: a list of `Section`s (a template of the providing
domain and its context) that `extend` joins from every provider and orders by `Section.order`, so a page
shows later domains' sections without naming them: `{% for section in sections %}{% include
section.template %}{% endfor %}`; the included template reads its own values from `section.context`
(the process page lists its initiatives, KPIs and event logs this way).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

Provider = Callable[..., dict[str, Any]]
_PROVIDERS: dict[str, list[Provider]] = defaultdict(list)


@dataclass(frozen=True)
class Section:
    """A section a later domain adds to a page: its template, that template's values, and its place
    (lowest first; equal orders keep the providers' registration order)."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


def extends(page: str) -> Callable[[Provider], Provider]:
    """Register `provider(session, **keys) -> context` for `page`."""
    def register(provider: Provider) -> Provider:
        _PROVIDERS[page].append(provider)
        return provider
    return register


def extend(page: str, session: Session, **keys: Any) -> dict[str, Any]:
    """The context every registered provider adds to `page`; their `sections` joined, in order."""
    context: dict[str, Any] = {}
    sections: list[Section] = []
    for provider in _PROVIDERS[page]:
        added = provider(session, **keys)
        sections += added.pop("sections", [])
        context.update(added)
    context["sections"] = sorted(sections, key=lambda s: s.order)
    return context
