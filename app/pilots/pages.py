"""Pilot pages (phase 4): the initiative's pilots, one pilot with its log, retrospectives, survey, evaluation,
unmet problems, decision and Table 3."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
