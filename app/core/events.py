"""What a later domain does when something happens in an earlier one, without the earlier one importing it.

The earlier domain's service says that it happened: `emit("initiative_created", session, initiative=ini,
actor=actor)`, in its unit of work, after its own writes were flushed. A later domain registers a listener
with `@on("initiative_created")` (the risk register seeds the method's five risks of a new initiative:
`app.risks.seeds`), called as `listener(session, **keys)` in the same unit of work: what it writes is
committed, or rolled back, with what the event is about; its refusal (an error) refuses the whole change.
Dependencies keep their one direction (see `app.domains`, which imports every listening module, so the
listeners are registered before the first request).

Events and their keys, so far:
- `initiative_created`: `initiative` (flushed, with its phases and team) and `actor` (who created it).
- `phase_replanned`: `initiative`, `phase` (a `Phase`), `old_end` and `new_end` (its planned end before and
  after) and `actor`, when a phase's planned end moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

Listener = Callable[..., None]
_LISTENERS: dict[str, list[Listener]] = defaultdict(list)


def on(event: str) -> Callable[[Listener], Listener]:
    """Register `listener(session, **keys)` for `event`; listeners run in registration order."""
    def register(listener: Listener) -> Listener:
        if listener not in _LISTENERS[event]:
            _LISTENERS[event].append(listener)
        return listener
    return register


def emit(event: str, session: Session, **keys: Any) -> None:
    """Call every listener of `event` with the session and `keys`, in the caller's unit of work."""
    for listener in list(_LISTENERS[event]):
        listener(session, **keys)
