from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from dispatch.models import Role


def role_of(user) -> str | None:
    if not user or not user.is_authenticated or user.organization_id is None:
        return None
    return user.role


class IsCoordinator(BasePermission):
    message = "Only dispatch coordinators may do this."

    def has_permission(self, request, view) -> bool:
        return role_of(request.user) == Role.COORDINATOR


class IsCoordinatorOrReadOnly(BasePermission):
    message = "Only dispatch coordinators may change this."

    def has_permission(self, request, view) -> bool:
        if role_of(request.user) is None:
            return False
        return request.method in SAFE_METHODS or role_of(request.user) == Role.COORDINATOR


class RoleAllowed(BasePermission):
    """``view.roles`` maps a ViewSet action (or an APIView's lower-case method) to the roles that may do it."""

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if role is None:
            return False
        if not hasattr(view, request.method.lower()):
            return True  # no role may: the view answers 405 naming the methods it takes, not "your role"
        key = getattr(view, "action", None) or request.method.lower()
        return role in view.roles.get(key, ())


COORDINATOR = frozenset({Role.COORDINATOR})
STAFF = frozenset({Role.COORDINATOR, Role.FACILITY_STAFF})
ANY_ROLE = frozenset(Role)
