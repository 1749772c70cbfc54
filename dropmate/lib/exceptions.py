"""Domain errors. Pages turn them into messages; the API maps them to stable error codes."""


class DomainError(Exception):
    """Base class: a business rule refused the request. `code` is stable and public."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidTransition(DomainError):
    """The shipment cannot move to that status from where it is now."""

    code = "conflict"
    http_status = 409


class StaleVersion(DomainError):
    """The caller acted on an older version of the object; someone else changed it first."""

    code = "stale_version"
    http_status = 409


class NotAllowed(DomainError):
    """The actor's role may not do this (the object itself is visible to them)."""

    code = "forbidden"
    http_status = 403


class NotFound(DomainError):
    """The object does not exist or is not the actor's: the two are never told apart."""

    code = "not_found"
    http_status = 404


class Invalid(DomainError):
    """Input failed a business rule (missing reason, window in the past...)."""

    code = "invalid"
    http_status = 400
