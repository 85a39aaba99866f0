"""The library's one root error class."""


class LookalikeError(Exception):
    """Base class of every error raised on purpose by lookalike_udf."""


class RunValidationError(LookalikeError):
    """A run cannot be trained; the message names the run, the input and the fix."""
