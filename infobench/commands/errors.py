"""The one exception type of the command line (its own module so that ``cli`` and
the sub-command modules need not import each other)."""


class UsageError(Exception):
    """A user error that the CLI reports as one line with exit status 2."""
