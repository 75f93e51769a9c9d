"""Pilots (phase 4): an approved SOP version run by one team, its KPIs before, during and after, the daily log,
weekly retrospectives, the satisfaction survey, the unmet problems and the decision."""
