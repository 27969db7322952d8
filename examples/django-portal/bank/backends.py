"""The authentication backend: a customer is who securebox's login flow says.

``authenticate(request, securebox_session=ID)`` accepts only the identifier of a live
securebox session (opened by the login flow, so after every factor the policy asked for)
and returns the portal's active user whose ``username`` is that session's principal. It
checks nothing else itself: the rules are securebox's.
"""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest
from securebox_auth import SecureboxError

from .models import User
from .securebox import portal_box


class SecureboxBackend(BaseBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        securebox_session: str | None = None,
        **credentials: object,
    ) -> User | None:
        if not isinstance(securebox_session, str) or credentials:
            return None  # not for this backend (a staff password goes to ModelBackend)
        try:
            session = portal_box().touch(securebox_session)
        except SecureboxError:
            return None
        return User.objects.filter(username=session.principal.key, is_active=True).first()

    def get_user(self, user_id: int) -> User | None:
        return User.objects.filter(pk=user_id, is_active=True).first()
