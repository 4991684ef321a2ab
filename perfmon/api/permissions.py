from rest_framework.permissions import SAFE_METHODS, BasePermission


class ReadAuthenticatedWriteStaff(BasePermission):
    """Reads need a signed-in user; anything that changes state needs staff."""

    message = "This action needs a staff account."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or bool(user.is_staff)
