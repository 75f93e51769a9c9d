"""OpenAPI responses shared by the endpoints of several domains."""

from __future__ import annotations

# The endpoints on an initiative's content (survey, issues, RACI, measures, ...).
TEAM_PROBLEMS: dict[int | str, dict[str, str]] = {403: {"description": "Not on the initiative's team"},
                                                  404: {"description": "Not found"}}
TEAM_PATCH = {**TEAM_PROBLEMS, 412: {"description": "If-Match is stale"}, 428: {"description": "If-Match missing"}}
