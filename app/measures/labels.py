"""Labels of measure types and statuses, table 2's columns, and the page's flash messages."""

from __future__ import annotations

from app.core.labels import FLASH, LABELS, N_

MEASURE_LABELS: dict[str, dict[str, str]] = {
    "measure_type": {
        "remove_step": N_("Remove a step"),
        "automate": N_("Automate"),
        "parallelize": N_("Run in parallel"),
        "standard": N_("Standard"),
        "validation": N_("Validation"),
        "training": N_("Training / SOP"),
        "raci": N_("RACI / responsibility"),
        "communication": N_("Communication"),
        "compliance_clause": N_("Compliance clause"),
        "alert": N_("Alert"),
    },
    "measure_status": {
        "planned": N_("Planned"),
        "in_progress": N_("In progress"),
        "done": N_("Done"),
        "dropped": N_("Dropped"),
    },
    "effect_direction": {
        "lower_is_better": N_("Lower is better"),
        "higher_is_better": N_("Higher is better"),
    },
}

MEASURE_FLASH = {
    "measure_created": N_("Countermeasure added."),
    "measure_deleted": N_("Countermeasure deleted."),
}

# Form messages of this domain, by error type.
FORM_MESSAGES = {
    "unknown_issue": N_("Choose problems of this initiative."),
    "unknown_department": N_("Unknown department."),
}


def register() -> None:
    for kind, values in MEASURE_LABELS.items():
        target = LABELS.setdefault(kind, {})
        for key, msgid in values.items():
            target.setdefault(key, msgid)
    for key, msgid in MEASURE_FLASH.items():
        FLASH.setdefault(key, msgid)
