"""Messages of the RACI check, marked with `N_` for `make i18n` and translated per request."""

from __future__ import annotations

from app.core.labels import N_

CHECK_MESSAGES: dict[str, str] = {
    "no_accountable": N_("“{activity}” has no A (accountable): give exactly one role the A."),
    "multiple_accountable": N_("“{activity}” has {count} A (accountable): exactly one role may hold the A."),
    "no_responsible": N_("“{activity}” has no R (responsible): at least one role must do the work."),
    "invalid_cell": N_("“{activity}” gives “{role}” {letters}: a cell holds one of R, A, C, I, or RA."),
    "too_many_consulted": N_("“{activity}” consults {count} roles: more than 3 C slows the work down."),
    "everyone_involved": N_("Every role is involved in “{activity}”: inform fewer, keep the work focused."),
    "role_idle": N_("“{role}” is neither R nor A anywhere: is the role needed?"),
}
