"""Validation of a commune workbook: every problem at once, as data.

    from xltools.validation import Issue, Report, validate_book
    report = validate_book(read_workbook(path, strict=False), "2023-03")
    report.errors, report.warnings, report.records()

Rules are registered by id in the family modules (structure, cells, references,
plan, milestones, budget, outliers); their severity, parameters and Vietnamese
messages live in ``workbook/rules.toml``.
"""
from __future__ import annotations

from . import budget, cells, feedback, milestones, outliers, plan, references, structure  # noqa: F401  (registers the rules)
from .catalogue import catalogue, rule_catalogue
from .core import FIELDS, RULES, SEVERITIES, Issue, Report, RuleConfigError, RuleRun, RuleSpec, rule, validate_book
from .render import render

__all__ = [
    "FIELDS", "RULES", "SEVERITIES", "Issue", "Report", "RuleConfigError", "RuleRun", "RuleSpec", "rule",
    "validate_book", "catalogue", "rule_catalogue", "render",
]
