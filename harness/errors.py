"""Errors that stop the harness itself (exit status 2), as opposed to a failed check."""


class HarnessError(Exception):
    """The harness cannot run: bad arguments, a broken spec, an unreadable file.

    The message is one line a user can act on; the CLI prints it without a
    traceback unless --debug is given.
    """


class SpecError(HarnessError):
    """A lab spec is invalid. The message names the file, the line and the key."""
