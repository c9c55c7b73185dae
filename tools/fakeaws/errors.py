"""Error type shared by the handlers: becomes a restJson1 error response."""

BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"


class ApiError(Exception):
    """status + error type + message; extra members go into the JSON body."""

    def __init__(self, status, error_type, message, **extra):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.extra = extra


def validation(message):
    return ApiError(400, "ValidationException", message)


def malformed(detail):
    # InvokeModel schema failures read like this on the real service.
    return validation("Malformed input request: %s, please reformat your input and try again."
                      % detail)
