"""User-facing errors: raised for bad input, printed as one line by the CLI."""


class RlsightError(Exception):
    """A mistake in what the user asked for. The CLI prints it without a traceback."""


class ConfigError(RlsightError):
    """An unknown key, a wrong type or an out-of-range value in a config."""


class RunDirError(RlsightError):
    """A run directory that is missing, incomplete, corrupted or already taken."""


class SystemLibraryError(RlsightError):
    """A system library that a dependency loads at run time is missing."""


class MissingExtraError(RlsightError):
    """An optional part of rlsight (an extra such as ``rlsight[procgen]``) is used but not installed."""


class ConfigWarning(UserWarning):
    """A config that loads but has something the user should know (e.g. a removed key)."""


class DiskFullError(RunDirError):
    """A write failed because its disk is full (ENOSPC) or the user's quota is used up (EDQUOT)."""
