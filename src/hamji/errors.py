"""User-facing errors: a mistake in the user's input, reported as one line with exit code 2."""


class UserError(Exception):
    """A problem with the user's input (scenario file, parameter, path), never a bug in hamji.

    The CLI prints ``str(err)`` on one line and exits with code 2; nothing is written.
    """
