"""Translatable labels of the initiative, survey and issue enums (phases, categories, quadrants, ...).

`register()` adds them to the shared label table (`app.core.labels.LABELS`) so templates show
them with `label(kind, value)`; the strings are marked with `N_` for `make i18n`.
"""

from __future__ import annotations

from app.core.labels import FLASH, LABELS, N_, NC_

INITIATIVE_LABELS: dict[str, dict[str, str]] = {
    "trigger": {
        "new_launch": N_("New business or feature launch"),
        "inefficiency": N_("Inefficient process"),
        "inconsistent_execution": N_("Inconsistent execution"),
        "compliance": N_("Compliance or risk-control requirement"),
        "customer_feedback": N_("Poor customer feedback"),
    },
    "initiative_status": {
        "active": NC_("initiative status", "Active"),
        "on_hold": N_("On hold"),
        "completed": N_("Completed"),
        "cancelled": N_("Cancelled"),
    },
    "phase": {
        "diagnosis": N_("Diagnosis and current state"),
        "root_cause": N_("Root cause and focus"),
        "design": N_("Design and standard output"),
        "pilot": N_("Pilot and evaluation"),
        "rollout": N_("Rollout"),
        "monitoring": N_("Monitoring and iteration"),
    },
    "phase_short": {
        "diagnosis": N_("Diagnosis"),
        "root_cause": N_("Root cause"),
        "design": N_("Design"),
        "pilot": N_("Pilot"),
        "rollout": N_("Rollout"),
        "monitoring": N_("Monitoring"),
    },
    "project_role": {
        "leader": N_("Leader"),
        "business": N_("Business"),
        "it": N_("IT support"),
        "compliance": N_("Compliance"),
    },
    "step_kind": {
        "input": N_("Input"),
        "activity": N_("Activity"),
        "decision": N_("Decision"),
        "output": N_("Output"),
    },
    "problem_category": {
        "efficiency": N_("Efficiency"),
        "quality": N_("Quality"),
        "collaboration": N_("Collaboration"),
        "risk": N_("Risk"),
    },
    # Table 1's multiple-choice problem column, as the method words it.
    "problem_flag": {
        "efficiency": N_("Low efficiency"),
        "quality": N_("Poor quality"),
        "collaboration": N_("Hard collaboration"),
        "risk": N_("High risk"),
    },
    "research_method": {
        "interview": N_("Interview"),
        "observation": N_("Observation"),
        "questionnaire": N_("Questionnaire"),
        "data_analysis": N_("Data analysis"),
    },
    "issue_source": {
        "interview": N_("Interview"),
        "observation": N_("Observation"),
        "data": N_("Data analysis"),
        "feedback": N_("Feedback"),
    },
    "issue_status": {
        "open": N_("Open"),
        "analysing": N_("Analysing"),
        "countermeasure_planned": N_("Countermeasure planned"),
        "resolved": N_("Resolved"),
        "deferred": N_("Deferred"),
    },
    "cause_category": {
        "man": N_("Man"),
        "machine": N_("Machine"),
        "material": N_("Material"),
        "method": N_("Method"),
        "environment": N_("Environment"),
    },
    "quadrant": {
        "do_first": N_("Do first"),
        "schedule": N_("Schedule"),
        "quick_fix": N_("Quick fix"),
        "defer": N_("Defer"),
        "unscored": N_("Not scored yet"),
    },
    "quadrant_hint": {
        "do_first": N_("High impact, high urgency"),
        "schedule": N_("High impact, low urgency"),
        "quick_fix": N_("Low impact, high urgency"),
        "defer": N_("Low impact, low urgency"),
        "unscored": N_("Score impact and urgency to place these"),
    },
    "audit_action": {
        "advance": N_("Phase advanced"),
        "advance_override": N_("Phase advanced by override"),
        "back_to_design": N_("Returned to design"),
        "delete": N_("Deleted"),
        "add_member": N_("Member added"),
        "remove_member": N_("Member removed"),
        "reorder": N_("Reordered"),
        "import": N_("Imported"),
    },
}

INITIATIVE_FLASH: dict[str, str] = {
    "initiative_created": N_("Initiative created."),
    "initiative_updated": N_("Initiative saved."),
    "phase_advanced": N_("Moved to the next phase."),
    "phase_back_to_design": N_("Returned to the design phase."),
    "issue_created": N_("Problem recorded."),
    "issue_updated": N_("Problem saved."),
    "issue_deleted": N_("Problem deleted."),
    "survey_imported": N_("Survey imported."),
}


def register() -> None:
    """Add these labels to the shared tables (idempotent; existing kinds are extended, never replaced)."""
    for kind, values in INITIATIVE_LABELS.items():
        target = LABELS.setdefault(kind, {})
        for key, msgid in values.items():
            target.setdefault(key, msgid)
    for key, msgid in INITIATIVE_FLASH.items():
        FLASH.setdefault(key, msgid)

# Fixed error details of these domains that reach pages (shown with `_(error.detail)`).
ERROR_DETAILS = [
    N_("Only the initiative's team members and administrators may change its content."),
    N_("Only the initiative's leader and administrators may do this."),
    N_("Only leads and administrators start initiatives."),
    N_("Only the team, leads and administrators see the history."),
]
