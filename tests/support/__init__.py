"""Helpers shared by test modules (and bench scripts): not tests themselves."""
