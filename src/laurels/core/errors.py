"""Domain errors raised by services and selectors.

Services never build HTTP responses. They raise one of these (or Django's
ValidationError), and each entry point translates them once: the /v2 API in
`laurels.api.errors`, pages by showing the message, the CLI by printing it.
"""


class DomainError(Exception):
    """A request that cannot be carried out. `status` is the HTTP status it maps to."""

    status = 400
    default_message = "The request cannot be carried out."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(DomainError):
    status = 404
    default_message = "Not found."


class PermissionDenied(DomainError):
    status = 403
    default_message = "You do not have permission to do that."


class Conflict(DomainError):
    status = 409
    default_message = "The request conflicts with the current state."


class RateLimited(DomainError):
    status = 429
    default_message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
