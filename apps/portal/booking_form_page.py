"""The booking form as every anonymous visitor first sees it, rendered once per state of
the session and shared (issue #22: rendering it was most of a GET's CPU).

For one session, the page an anonymous visitor gets from a plain GET (no query string,
no messages waiting, not an HTMX request) is the same for everyone except three values:
the CSRF token, the form's submission token (the double-submit guard: one per page
served, never shared) and the "N seats left" hint. The page is rendered with a marker in
each of their places, cached, and the markers are replaced per response.

The cache key is made from what the page shows, as read by this very request: every
field of the session (except the seat counter), its course and location, whether it is
bookable, started or sold out, how many seats the form offers, the cancellation policy's
text (its tiers pass with time), the settings the page prints and the templates'
source. So a change staff make, the last seat going or a policy tier passing is a new
key at once, with no invalidation to forget; a stale entry is simply never asked for
again and expires. The sold-out page (also what a booking refused as sold out shows) is
one of these states.

Signed-in visitors (their details prefilled, "pay by invoice" for a company contact),
"book again" (`?from=`), `?seats=` and pages with messages are rendered for the request,
as before. With Redis down every request renders (django-redis ignores the errors).
"""

import hashlib
import uuid
from functools import cache

import django
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache as page_cache
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.utils import timezone

from apps.legal.policy import session_cancellation_policy_text

from .forms import BookingForm

PAGE_TTL_SECONDS = 300
# Plain ASCII, so escaping leaves them as they are; never shown to anyone.
CSRF_MARK = "booking-form-fill-in-csrf-token"
SUBMISSION_MARK = "booking-form-fill-in-submission-token"
SEATS_LEFT_MARK = "booking-form-fill-in-seats-left"
# Every template the page is made of (book.html and what it extends and includes).
PAGE_TEMPLATES = ("base.html", "bookings/book.html", "bookings/_booking_form_fields.html",
                  "bookings/_field.html", "sessions/_availability.html",
                  "pricing/_price_breakdown.html", "legal/_cancellation_policy.html")
PAGE_ASSETS = ("favicon.svg", "css/site.css", "js/htmx.min.js")


def seats_left_text(seats_left: int) -> str:
    return f"{seats_left} seat{'' if seats_left == 1 else 's'} left"


def shared_booking_form(request, *, session, status: int = 200) -> HttpResponse | None:
    """The shared page for this request, or None when the request needs its own render.

    A POST gets it only when the session is no longer bookable: the page then shows the
    session's availability and no form, the same for every anonymous visitor."""
    now = timezone.now()
    bookable = session.is_bookable(now)
    if request.user.is_authenticated or request.htmx or get_messages(request):
        return None
    if (request.method == "GET" and request.GET) or (request.method != "GET" and bookable):
        return None
    most = _seats_offered(session)
    key = _page_key(session, bookable=bookable, most=most, now=now)
    page = page_cache.get(key)
    if page is None:
        page = _render(request, session=session, bookable=bookable)
        page_cache.set(key, page, PAGE_TTL_SECONDS)
    page = (page.replace(CSRF_MARK, get_token(request))
            .replace(SUBMISSION_MARK, str(uuid.uuid4()))
            .replace(SEATS_LEFT_MARK, seats_left_text(session.seats_left)))
    return HttpResponse(page, status=status)


def _seats_offered(session) -> int:
    """The highest choice of the form's seat list (BookingForm offers the same)."""
    return max(1, min(settings.BOOKING_MAX_SEATS, session.seats_left or 1))


def _render(request, *, session, bookable: bool) -> str:
    form = BookingForm(initial={"seats": 1}, session=session)
    form.fields["submission_token"].initial = SUBMISSION_MARK
    return render_to_string("bookings/book.html", {
        "session": session, "form": form, "bookable": bookable,
        # Given here, the context's own csrf_token (the request's) is not used.
        "csrf_token": CSRF_MARK, "seats_left_text": SEATS_LEFT_MARK,
    }, request=request)


def _page_key(session, *, bookable: bool, most: int, now) -> str:
    shown = [_render_id(), bookable, session.has_started(now), session.is_sold_out, most,
             session_cancellation_policy_text(session=session, now=now),
             settings.SITE_NAME, settings.BOOKING_HOLD_MINUTES, settings.TIME_ZONE]
    for instance, skip in ((session, "seats_taken"), (session.course, ""),
                           (session.location, "")):
        shown += [getattr(instance, f.attname) for f in instance._meta.concrete_fields
                  if f.name != skip]
    digest = hashlib.sha256(repr(shown).encode()).hexdigest()[:32]
    return f"booking-form:{session.pk}:{digest}"


@cache
def _render_id() -> str:
    """What a deploy can change in the page without changing its data: the templates, the
    form's fields (labels, help texts), Django's widgets and the static files' (hashed)
    addresses. Fixed for the life of a process; whatever else a deploy changes in the page
    (the attendee rows' labels, built in BookingForm.__init__) is gone within the TTL."""
    parts = [get_template(name).template.source for name in PAGE_TEMPLATES]
    parts += [static(asset) for asset in PAGE_ASSETS]
    parts += [repr([(name, field.label, field.help_text, field.required,
                     type(field.widget).__name__, field.widget.attrs)
                    for name, field in BookingForm.base_fields.items()]),
              django.get_version()]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
