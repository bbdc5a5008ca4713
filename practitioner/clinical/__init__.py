"""The medicine: pure rules with no Flask and no database."""
