"""The one error type a user can cause.

A :class:`ClassifykitError` message names the file, row or option at fault and says what to do;
the CLI prints it without a stack trace (a stack trace is for our bugs only).
"""


class ClassifykitError(Exception):
    """A problem with the user's input, options or files, with a message that says how to fix it."""
