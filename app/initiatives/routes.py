"""The routers of initiatives, the survey and issues, gathered for `app.main` (one include each)."""

from __future__ import annotations

from fastapi import APIRouter

from app.initiatives import api as initiatives_api
from app.initiatives import pages as initiatives_pages
from app.issues import api as issues_api
from app.issues import pages as issues_pages
from app.measures import api as measures_api
from app.measures import pages as measures_pages
from app.raci import api as raci_api
from app.raci import pages as raci_pages
from app.survey import api as survey_api
from app.survey import pages as survey_pages

api_router = APIRouter()
pages_router = APIRouter()

for _module in (initiatives_api, survey_api, issues_api, raci_api, measures_api):
    api_router.include_router(_module.router)
for _module in (initiatives_pages, survey_pages, issues_pages, raci_pages, measures_pages):
    pages_router.include_router(_module.router)
