"""The maps domain's page labels: its flash messages."""

from __future__ import annotations

from app.core.labels import FLASH, N_

MAPS_FLASH: dict[str, str] = {
    "sop_steps_imported": N_("The steps were replaced by the BPMN file's."),
}


def register() -> None:
    for key, msgid in MAPS_FLASH.items():
        FLASH.setdefault(key, msgid)
