from django.shortcuts import redirect

from .staff_auth import SETUP_PENDING_SESSION_KEY, must_set_up_second_factor

# What a staff member who still has to set up their second factor may open.
SETUP_PATHS = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/",
               "/static/")


class StaffSecondFactorMiddleware:
    """Admin and support who signed in with a password but have no second factor yet (the
    adapter marks the session) are sent to set one up, whatever they open, until they do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(SETUP_PENDING_SESSION_KEY):
            user = request.user
            if not user.is_authenticated or not must_set_up_second_factor(user):
                del session[SETUP_PENDING_SESSION_KEY]
            elif not request.path.startswith(SETUP_PATHS):
                return redirect("mfa_activate_totp")
        return self.get_response(request)
