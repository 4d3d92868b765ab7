"""Errors the core raises; the CLI maps them to exit codes (usage → 2, everything else → 1)."""


class QAError(Exception):
    """A runtime failure with a one-line, user-facing message."""


class UsageError(QAError):
    """The user asked for something malformed (bad argument, empty question)."""


class InputError(QAError):
    """An input file cannot be used (unreadable, binary, empty, malformed)."""


class IndexMissingError(QAError):
    """No index at the given place."""


class IndexCorruptError(QAError):
    """Index files exist but cannot be read."""


class ManifestMismatchError(QAError):
    """The index was built with another model or chunker than the running one."""


class ModelError(QAError):
    """A pinned model is missing, or its files do not match models.lock."""
