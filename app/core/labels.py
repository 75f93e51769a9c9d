"""Translatable labels of enum values (roles, statuses, ...), shown in the user's language."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional marker name for extraction
    """Mark a string for translation without translating it here."""
    return message


LABELS: dict[str, dict[str, str]] = {
    "role": {
        "admin": N_("Administrator"),
        "lead": N_("Lead"),
        "member": N_("Member"),
        "viewer": N_("Viewer"),
    },
    "process_status": {
        "active": N_("Active"),
        "archived": N_("Archived"),
    },
    "audit_action": {
        "create": N_("Created"),
        "update": N_("Updated"),
        "archive": N_("Archived"),
        "restore": N_("Restored"),
        "revoke": N_("Revoked"),
    },
}

FLASH = {
    "logged_in": N_("Welcome back."),
    "logged_out": N_("You have been logged out."),
    "process_created": N_("Process created."),
    "process_updated": N_("Process saved."),
    "process_archived": N_("Process archived."),
    "process_restored": N_("Process restored."),
    "user_created": N_("Account created."),
    "user_updated": N_("Account saved."),
    "token_created": N_("Service token created. Copy the secret now: it is not shown again."),
    "token_revoked": N_("Service token revoked."),
}


def label(kind: str, value: object, gettext) -> str:  # noqa: ANN001
    raw = getattr(value, "value", value)
    msgid = LABELS.get(kind, {}).get(str(raw))
    return gettext(msgid) if msgid else str(raw)
