"""Errors that reach users. Each message says what to fix, in one line."""

from __future__ import annotations


class BatchlakeError(Exception):
    """Base class: the CLI prints the message (no traceback unless --debug) and exits 1."""

    exit_code = 1


class ConfigError(BatchlakeError):
    """The project file or the environment is wrong."""

    exit_code = 2


class SourceError(BatchlakeError):
    """A source could not be read."""


class ModelError(BatchlakeError):
    """A model is invalid or failed to run."""


class QueryError(BatchlakeError):
    """A query could not be answered."""


class LockError(BatchlakeError):
    """Another run holds the project's lock."""

    exit_code = 3


class NotFoundError(BatchlakeError):
    """A table, run or entity does not exist."""
