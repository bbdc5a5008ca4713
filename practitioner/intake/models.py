"""Intake records (filled in by the intake core engineer)."""
