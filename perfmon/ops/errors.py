from perfmon.errors import ActionError


class OpsError(ActionError):
    code = "ops_error"


class NotificationDeliveryError(Exception):
    """A notification could not be delivered this time; Celery retries it."""
