"""User-facing input errors: the CLI prints the message as one line and exits 2."""


class InputError(Exception):
    """Bad input from the user (missing/truncated/malformed file, bad option value).

    The message is one line that names the file (and line) and what is wrong."""
