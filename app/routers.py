"""Every router of the app, in one place: the JSON API (under `/api/v1`) and the pages.

Importing a domain's `api` and `pages` modules also loads `app.domains` (through their models), so the
gate criteria and page contributions of every domain are registered before the first request.
"""

from __future__ import annotations

from fastapi import APIRouter

from app import domains  # noqa: F401 - every table and gate criterion, before the routes use them
from app import pages as shell_pages
from app.auth import api as auth_api
from app.auth import pages as auth_pages
from app.core.logs import API_PREFIX
from app.departments import api as departments_api
from app.feedback import api as feedback_api
from app.feedback import pages as feedback_pages
from app.initiatives import api as initiatives_api
from app.initiatives import pages as initiatives_pages
from app.issues import api as issues_api
from app.issues import pages as issues_pages
from app.maps import api as maps_api
from app.maps import pages as maps_pages
from app.measures import api as measures_api
from app.measures import pages as measures_pages
from app.metrics import api as metrics_api
from app.metrics import pages as metrics_pages
from app.mining import api as mining_api
from app.mining import pages as mining_pages
from app.pilots import api as pilots_api
from app.pilots import pages as pilots_pages
from app.processes import api as processes_api
from app.processes import pages as processes_pages
from app.raci import api as raci_api
from app.raci import pages as raci_pages
from app.reviews import api as reviews_api
from app.reviews import pages as reviews_pages
from app.risks import api as risks_api
from app.risks import pages as risks_pages
from app.rollout import api as rollout_api
from app.rollout import pages as rollout_pages
from app.sops import api as sops_api
from app.sops import pages as sops_pages
from app.survey import api as survey_api
from app.survey import pages as survey_pages
from app.users import api as users_api
from app.users import pages as users_pages

# The order is OpenAPI's order of the tags and the order routes are matched in.
API = (processes_api, auth_api, users_api, departments_api, mining_api, metrics_api,
       initiatives_api, survey_api, issues_api, raci_api, measures_api, sops_api, maps_api, pilots_api, rollout_api,
       feedback_api, risks_api, reviews_api)
PAGES = (shell_pages, auth_pages, processes_pages, users_pages, mining_pages, metrics_pages,
         initiatives_pages, survey_pages, issues_pages, raci_pages, measures_pages,
         sops_pages, maps_pages, pilots_pages, rollout_pages, feedback_pages, risks_pages, reviews_pages)

api_router = APIRouter(prefix=API_PREFIX)
pages_router = APIRouter(include_in_schema=False)
for _module in API:
    api_router.include_router(_module.router)
for _module in PAGES:
    pages_router.include_router(_module.router)
