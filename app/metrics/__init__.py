"""KPI metrics: observation aggregation, before/after comparison and alert rules."""
