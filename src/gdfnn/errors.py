"""Exceptions whose message is a complete, one-line explanation for the user.

The CLI prints ``gdfnn: error: <message>`` for these and exits with status 2, without a
traceback. Everything else is a bug and keeps its traceback.
"""


class GdfnnError(Exception):
    """Base class of every error gdfnn reports to the user."""


class InputError(GdfnnError):
    """Bad input data: the message names the file and, where known, the frame."""


class ConfigError(GdfnnError):
    """Invalid configuration: unknown key, wrong type or out-of-range value."""
