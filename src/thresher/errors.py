"""The error hierarchy.

Every message names the parameter, the bad value (never document text) and the fix.
"""


class ThresherError(Exception):
    """Base class of every error thresher raises on purpose."""


class ConfigError(ThresherError):
    """A recipe, a ``--set`` override or a command-line argument is invalid."""


class InputError(ThresherError):
    """An input path or file cannot be used (matched nothing, unreadable, bad format)."""


class OutputError(ThresherError):
    """The output location cannot be used (exists and is not empty, not writable)."""


class AccountingError(ThresherError):
    """The run's books do not balance: some input record is unaccounted for."""


class RunFailedError(ThresherError):
    """The pipeline finished but a run-level limit was exceeded (e.g. dead-letter fraction)."""


class RecordError(ThresherError):
    """One record cannot be processed. Carries a message that never quotes the record's text.

    Raised inside readers and stages; turned into a dead-letter record, never logged.
    """

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
