"""The CLI's errors: one message a person can act on, and an exit code a script can test."""

# Exit codes (the README lists them). Click itself exits 2 on a usage error.
OK = 0
FAILED = 1  # the command ran and the thing it reports failed (a run that ended failed, a 5XX)
USAGE = 2
INVALID_DATASET = 3  # the dataset would be rejected: nothing was uploaded
NOT_FOUND = 4  # an unknown run, model or stack
NOT_CONFIGURED = 5  # no credentials, no stack outputs, the sandbox is not running
REFUSED = 6  # the API refused the call: no permission (403), or not now (409)


class CliError(Exception):
    """What went wrong, what to do about it, and the exit code."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
