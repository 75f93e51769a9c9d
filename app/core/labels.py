"""Translatable labels of enum values (roles, statuses, ...), shown in the user's language.

Strings here are only marked (`N_`); they are translated where shown, with the request's locale.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional marker name for extraction
    """Mark a string for translation without translating it here."""
    return message


class ContextualMessage(str):
    """A msgid with its translation context; `gettext` translates it as `pgettext(context, msgid)`."""

    context: str


def NC_(context: str, message: str) -> str:  # noqa: N802
    """Mark a string for translation in a context (`msgctxt`), for words whose translation depends on
    what they describe."""
    marked = ContextualMessage(message)
    marked.context = context
    return marked


LABELS: dict[str, dict[str, str]] = {
    "role": {
        "admin": N_("Administrator"),
        "lead": N_("Lead"),
        "member": N_("Member"),
        "viewer": N_("Viewer"),
    },
    "process_status": {
        "active": NC_("process status", "Active"),
        "archived": N_("Archived"),
    },
    "audit_action": {
        "create": N_("Created"),
        "update": N_("Updated"),
        "archive": N_("Archived"),
        "restore": N_("Restored"),
        "revoke": N_("Revoked"),
    },
    # Field names as shown in a record's history.
    "field": {
        "code": N_("Code"),
        "name": N_("Name"),
        "description": N_("Description"),
        "owner": N_("Owner"),
        "owner_id": N_("Owner"),
        "owner_department": N_("Owner department"),
        "departments": N_("Departments involved"),
        "status": N_("Status"),
        "email": N_("Email"),
        "display_name": N_("Display name"),
        "department": N_("Department"),
        "role": N_("Role"),
        "is_active": NC_("account", "Active"),
    },
}

FLASH = {
    "eventlog_imported": N_("Event log imported."),
    "eventlog_deleted": N_("Event log deleted."),
    "eventlog_published": N_("The log's weekly KPIs were published."),
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

# Titles of the error classes (app/core/errors.py), shown as `_(error.title)` on error pages.
ERROR_TITLES = [
    N_("Bad request"),
    N_("Not authenticated"),
    N_("Forbidden"),
    N_("Not found"),
    N_("Method not allowed"),
    N_("Conflict"),
    N_("Precondition failed"),
    N_("Payload too large"),
    N_("Validation error"),
    N_("Precondition required"),
    N_("Too many requests"),
    N_("Internal server error"),
    N_("Error"),
]

# Fixed error details that reach pages, shown as `_(error.detail)`; details built with values
# (e.g. "Process 7 not found.") are shown as given.
ERROR_DETAILS = [
    N_("No such resource."),
    N_("Missing or invalid credentials."),
    N_("Missing or invalid CSRF token."),
    N_("Something went wrong on our side; it has been logged."),
    N_("Only administrators manage accounts."),
    N_("Only administrators manage service tokens."),
    N_("Only administrators and leads see other accounts."),
    N_("Only administrators and leads see the history."),
    N_("Viewers cannot create processes."),
    N_("Only the process owner, leads and administrators may change this process."),
    N_("Only leads and administrators may make someone else the owner."),
    N_("The owner must be an active user."),
    N_("You cannot remove your own administrator rights or disable yourself."),
    N_("Your role does not allow this."),
    N_("The cursor is not valid."),
]


def label(kind: str, value: object, gettext) -> str:  # noqa: ANN001
    raw = getattr(value, "value", value)
    msgid = LABELS.get(kind, {}).get(str(raw))
    return gettext(msgid) if msgid else str(raw)
