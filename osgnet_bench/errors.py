"""The one exception type that the CLI turns into a clean, one-paragraph error message."""


class UserError(Exception):
    """Bad input from the user (a file, a key, a line, an option).

    The message must be one readable paragraph that names the file, key or line at fault.
    The CLI prints it without a traceback and exits with ``exit_code``.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
