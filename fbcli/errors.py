"""The errors fbcli raises, as one small tree.

::

    FbcliError                  anything fbcli reports to the user and exits on
    ├── MappingFileError        the mapping file is unreadable or wrong (exit 2)
    │   └── CaseFileError       a ``fbcli test`` case file is unreadable or wrong (exit 2)
    ├── ConfigError             a bad option, path or environment value (exit 2)
    └── ApiError                MAPI answered with an error or could not be reached
        └── AuthError           MAPI refused the credentials (exit 3)

Per-event problems are not exceptions: they are values (``LineError``,
``Violation``, ``Rejection``) collected in result objects.  Errors carry their
context (file, line, column, URL, status) but never a header, token or secret.
"""

from __future__ import annotations

from enum import IntEnum


class FbcliError(Exception):
    """Base of every error fbcli reports to the user."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message


class MappingFileError(FbcliError):
    """The mapping file cannot be used: YAML syntax, schema, trigger or directive."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ):
        where = path
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(message, where=where, hint=hint)
        self.path = path
        self.line = line
        self.column = column


class CaseFileError(MappingFileError):
    """A ``fbcli test`` case file is unreadable or wrong (exit 2)."""


class ConfigError(FbcliError):
    """A bad command-line option, input path or environment value."""


class ApiError(FbcliError):
    """MAPI answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ):
        where = url if status is None else f"{url}, HTTP {status}"
        super().__init__(message, where=where, hint=hint)
        self.url = url
        self.status = status


class AuthError(ApiError):
    """MAPI refused the credentials."""


class ExitCode(IntEnum):
    """fbcli's exit codes, the same for every command."""

    OK = 0
    """Success."""
    DATA = 1
    """Data problems: invalid or malformed events; calls failed for good or unknown."""
    USAGE = 2
    """A usage or mapping-file error."""
    AUTH = 3
    """Authentication with MAPI failed."""
    SKIPPED = 4
    """``replay --skip-invalid`` delivered every call it could send; invalid or malformed
    events were left out (the count is in the summary)."""
    HANGUP = 129
    """Stopped by SIGHUP (128 + 1), after a clean stop."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C, SIGINT = 128 + 2), after a clean stop."""
    TERMINATED = 143
    """Stopped by SIGTERM (128 + 15), after a clean stop."""
