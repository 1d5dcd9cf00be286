class DomainError(Exception):
    """A business rule said no. `message` is written for the person who asked.

    `code` is a stable machine-readable name; `status` is the HTTP status an API
    answer should carry (409 for conflicts such as sold out or a forbidden transition).
    """

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class ConflictError(DomainError):
    code = "conflict"
    status = 409
