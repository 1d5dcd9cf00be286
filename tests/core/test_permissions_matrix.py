# ruff: noqa: E501  (the matrix is a table: one row per route, one column per actor)
"""Who may open what: every URL of the site, for six kinds of visitor.

The tables below are the specification. `test_every_route_is_in_the_matrix` walks the URL
resolver (config/urls.py, with admin, allauth and the API) and fails for any route that
has no row here, so a new URL cannot ship without someone deciding who may open it.

Actors (columns): anonymous; customer (bought the booking, holds the certificate); other
customer; instructor (teaches the booking's session); support staff; admin (the admin
role, not a superuser). Cells:

    OK        200                      LOGIN     302 to the customer sign-in page
    ADMIN     302 to the admin login   TO(url)   302 somewhere else (prefix of Location)
    401/403/404/405/400/409            the status itself
"""

from dataclasses import dataclass
from datetime import date

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client, TestCase
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import TokenProxy

from apps.bookings.access import booking_link_token
from apps.bookings.models import Attendee, WaitingListEntry
from apps.certificates.models import Certificate
from apps.companies.models import Company, CompanyLinkRequest
from apps.companies.services import company_contact_link
from apps.core.models import Communication
from apps.invoicing.models import CreditNote, Invoice
from apps.legal.services import legal_document_create
from apps.payments.models import Dispute, PaymentEvent, StripeEvent
from apps.payments.services import payment_record_manual
from apps.pricing.models import DiscountCode, GroupDiscount
from apps.refunds.services import refund_create
from apps.users.models import ActivityLog, User
from apps.users.services import user_change_role, user_get_or_create
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "customer", "other_customer", "instructor", "support", "admin")


@dataclass(frozen=True)
class TO:
    """A redirect whose Location starts with `prefix`."""

    prefix: str


OK = 200
LOGIN = TO("/accounts/login/code/?next=")
ADMIN = TO("/admin/login/?next=")
HOME = TO("/admin/")  # the admin's "that object doesn't exist" redirect (nothing shown)
SET_PW = TO("/accounts/password/set/")
ON_SITE = TO("http://testserver/bookings/")
PAY = TO("/bookings/")  # the pay link opens the booking's payment page in this browser

# fmt: off
# route name (or pattern of an unnamed route) → (method, URL, one cell per actor).
# A note in brackets after the name marks a second row for the same route.
ROUTES = {
    #                                                                        anon   cust   other  instr  supp   admin
    "healthz":                        ("GET",  "/healthz",                     OK,    OK,    OK,    OK,    OK,    OK),
    # Public catalogue and booking pages
    "sessions:catalogue":             ("GET",  "/",                            OK,    OK,    OK,    OK,    OK,    OK),
    "sessions:detail":                ("GET",  "/sessions/{session}/",         OK,    OK,    OK,    OK,    OK,    OK),
    "bookings:book":                  ("GET",  "/sessions/{session}/book/",    OK,    OK,    OK,    OK,    OK,    OK),
    # The waiting list: anyone may join a session's list; an offer or leave link works only
    # with its signed token (a made-up one is refused).
    "waitlist:join":                  ("GET",  "/sessions/{session}/waiting-list/", OK,  OK,    OK,    OK,    OK,    OK),
    "waitlist:offer":                 ("GET",  "/waiting-list/offer/not-a-token/", 404,  404,   404,   404,   404,   404),
    "waitlist:leave":                 ("GET",  "/waiting-list/leave/not-a-token/", 404,  404,   404,   404,   404,   404),
    "legal:terms":                    ("GET",  "/terms/",                      OK,    OK,    OK,    OK,    OK,    OK),
    "legal:privacy":                  ("GET",  "/privacy/",                    OK,    OK,    OK,    OK,    OK,    OK),
    # A booking's payment page: the purchaser's and staff's who may view bookings; a
    # reference alone is not a key. Past that check, paying with no payment details (no
    # ConfirmationToken) is a bad request.
    "bookings:detail":                ("GET",  "/bookings/{booking}/",         404,   OK,    404,   404,   OK,    OK),
    "bookings:pay":                   ("POST", "/bookings/{booking}/pay/",     404,   400,   404,   404,   400,   400),
    # Paying what a paid booking still owes (a move to a dearer date): the same people.
    "bookings:balance":               ("GET",  "/bookings/{booking}/balance/", 404,   OK,    404,   404,   OK,    OK),
    "bookings:pay-balance":           ("POST", "/bookings/{booking}/balance/pay/", 404, 400, 404,   404,   400,   400),
    # Stripe webhooks: a signature or nothing, whoever sends it.
    "payments:stripe-webhook":        ("POST", "/webhooks/stripe/",            400,   400,   400,   400,   400,   400),
    # Certificates: public verification by code; the PDF for its holder and certificate staff.
    "certificates:verify":            ("GET",  "/certificates/verify/{verification}/", OK, OK, OK, OK,  OK,    OK),
    "certificates:pdf":               ("GET",  "/portal/certificates/{certificate}.pdf", LOGIN, OK, 404, 404, OK, OK),
    # The customer portal: everyone signed in has their own; other people's bookings are 404.
    "portal:home":                    ("GET",  "/portal/",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    "portal:booking":                 ("GET",  "/portal/bookings/{booking}/",  LOGIN, OK,    404,   404,   404,   404),
    "portal:cancel":                  ("GET",  "/portal/bookings/{booking}/cancel/", LOGIN, OK, 404, 404,  404,   404),
    "portal:transfer":                ("GET",  "/portal/bookings/{booking}/change-date/", LOGIN, OK, 404, 404, 404, 404),
    "portal:cancel-attendee":         ("GET",  "/portal/bookings/{booking}/places/{attendee}/cancel/", LOGIN, OK, 404, 404, 404, 404),
    "portal:receipt":                 ("GET",  "/portal/bookings/{booking}/receipt/", LOGIN, OK, 404, 404, 404,   404),
    "portal:receipt-pdf":             ("GET",  "/portal/bookings/{booking}/receipt.pdf", LOGIN, OK, 404, 404, 404, 404),
    "portal:substitute":              ("GET",  "/portal/bookings/{booking}/substitute/{attendee_id}/", LOGIN, OK, 404, 404, 404, 404),
    # An emailed link: the key (here the purchaser's) decides, whoever is signed in.
    "portal:access":                  ("GET",  "/portal/b/{purchaser_link}/",   OK,    OK,    OK,    OK,    OK,    OK),
    "portal:access [a broken key]":   ("GET",  "/portal/b/not-a-key/",          404,   404,   404,   404,   404,   404),
    "portal:access [not on the booking]": ("GET", "/portal/b/{stranger_link}/",  410,   410,   410,   410,   410,   410),
    "portal:access-cancel":           ("GET",  "/portal/b/{purchaser_link}/cancel/", OK, OK,   OK,    OK,    OK,    OK),
    # Invoices and credit notes: the purchaser's own, as for the receipt.
    "portal:document-pdf":            ("GET",  "/portal/bookings/{booking}/documents/{invoice_number}.pdf", LOGIN, OK, 404, 404, 404, 404),
    # (this booking's invoice is partly credited, so its purchaser is sent back to the booking)
    "portal:invoice-company":         ("GET",  "/portal/bookings/{booking}/invoice/company/", LOGIN, TO("/portal/bookings/"), 404, 404, 404, 404),
    "portal:access-receipt":          ("GET",  "/portal/b/{purchaser_link}/receipt/", OK, OK,  OK,    OK,    OK,    OK),
    "portal:access-receipt-pdf":      ("GET",  "/portal/b/{purchaser_link}/receipt.pdf", OK, OK, OK,  OK,    OK,    OK),
    "portal:access-calendar":         ("GET",  "/portal/b/{purchaser_link}/calendar.ics", OK, OK, OK, OK,    OK,    OK),
    "portal:access-certificate":      ("GET",  "/portal/b/{purchaser_link}/certificates/{certificate}.pdf", OK, OK, OK, OK, OK, OK),
    "portal:access-substitute":       ("GET",  "/portal/b/{purchaser_link}/substitute/{attendee_id}/", OK, OK, OK, OK, OK, OK),
    "portal:access-pay":              ("GET",  "/portal/b/{purchaser_link}/pay/", PAY,  PAY,   PAY,   PAY,   PAY,   PAY),
    "portal:access-pay [not on the booking]": ("GET", "/portal/b/{stranger_link}/pay/", 410, 410, 410, 410,  410,   410),
    "portal:access-fresh":            ("POST", "/portal/link/",                 400,   400,   400,   400,   400,   400),
    "portal:profile":                 ("GET",  "/portal/profile/",             LOGIN, OK,    OK,    OK,    OK,    OK),
    "portal:companies":               ("GET",  "/portal/companies/",           LOGIN, OK,    OK,    OK,    OK,    OK),
    # The customer is a contact of the company; nobody else sees it, staff included
    # (they use the back office).
    "portal:company":                 ("GET",  "/portal/companies/{company}/", LOGIN, OK,    404,   404,   404,   404),
    "portal:export":                  ("GET",  "/portal/data.json",            LOGIN, OK,    OK,    OK,    OK,    OK),
    "portal:delete":                  ("GET",  "/portal/delete/",              LOGIN, OK,    OK,    OK,    OK,    OK),
    # Sign-in (allauth): pages for visitors; signed-in people are sent on.
    "account_request_login_code":     ("GET",  "/accounts/login/code/",        OK,    TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/")),
    "account_confirm_login_code":     ("GET",  "/accounts/login/code/confirm/", TO("/accounts/login/"), TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/")),
    "account_login":                  ("GET",  "/accounts/login/",             OK,    TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/")),
    "account_logout":                 ("GET",  "/accounts/logout/",            TO("/"), OK,  OK,    OK,    OK,    OK),
    "account_inactive":               ("GET",  "/accounts/inactive/",          OK,    OK,    OK,    OK,    OK,    OK),
    "account_signup":                 ("GET",  "/accounts/signup/",            OK,    TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/")),
    # Nobody here has a password to confirm (customers sign in by code; staff in the fixture
    # have none): re-authenticating by password is refused, changing one means setting one.
    "account_reauthenticate":         ("GET",  "/accounts/reauthenticate/",    LOGIN, 403,   403,   403,   403,   403),
    # allauth 65.22 (upgraded on purpose): re-authenticating by an emailed code. Refused like
    # the password form above (nothing here needs a fresh sign-in to be proven again); its
    # confirm page without a code asked for first sends back to the request page.
    "account_request_reauthentication_code": ("GET", "/accounts/reauthenticate/code/", LOGIN, 403, 403, 403, 403, 403),
    "account_confirm_reauthentication_code": ("GET", "/accounts/reauthenticate/code/confirm/", LOGIN,
                                              TO("/accounts/reauthenticate/code/"), TO("/accounts/reauthenticate/code/"),
                                              TO("/accounts/reauthenticate/code/"), TO("/accounts/reauthenticate/code/"),
                                              TO("/accounts/reauthenticate/code/")),
    "account_email":                  ("GET",  "/accounts/email/",             LOGIN, OK,    OK,    OK,    OK,    OK),
    "account_email_verification_sent": ("GET", "/accounts/confirm-email/",     OK,    OK,    OK,    OK,    OK,    OK),
    "account_confirm_email":          ("GET",  "/accounts/confirm-email/not-a-key/", OK, OK,  OK,    OK,    OK,    OK),
    "account_change_password":        ("GET",  "/accounts/password/change/",   LOGIN, SET_PW, SET_PW, SET_PW, SET_PW, SET_PW),
    "account_set_password":           ("GET",  "/accounts/password/set/",      LOGIN, OK,    OK,    OK,    OK,    OK),
    "account_reset_password":         ("GET",  "/accounts/password/reset/",    OK,    OK,    OK,    OK,    OK,    OK),
    "account_reset_password_done":    ("GET",  "/accounts/password/reset/done/", OK,  OK,    OK,    OK,    OK,    OK),
    "account_reset_password_from_key": ("GET", "/accounts/password/reset/key/1-not-a-key/", OK, OK, OK, OK, OK,    OK),
    "account_reset_password_from_key_done": ("GET", "/accounts/password/reset/key/done/", OK, OK, OK, OK, OK,  OK),
    # Second factor (allauth MFA): staff's TOTP and recovery codes. Set-up and changes ask
    # for the password again first (nobody in the fixture has signed in by password, so
    # every change is sent to re-authenticate); the authenticate steps belong to a sign-in
    # in progress (none here).
    "mfa_index":                      ("GET",  "/accounts/2fa/",               LOGIN, OK,    OK,    OK,    OK,    OK),
    "mfa_authenticate":               ("GET",  "/accounts/2fa/authenticate/",  TO("/accounts/login/"), TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/"), TO("/portal/")),
    "mfa_reauthenticate":             ("GET",  "/accounts/2fa/reauthenticate/", LOGIN, 403,  403,   403,   403,   403),
    # Adding a second factor needs a verified address (nobody's is, in the fixture).
    "mfa_activate_totp":              ("GET",  "/accounts/2fa/totp/activate/", TO("/accounts/login/?next="), TO("/accounts/2fa/"), TO("/accounts/2fa/"), TO("/accounts/2fa/"), TO("/accounts/2fa/"), TO("/accounts/2fa/")),
    # Nobody here has a second factor to remove or recovery codes to see.
    "mfa_deactivate_totp":            ("GET",  "/accounts/2fa/totp/deactivate/", LOGIN, 404, 404,   404,   404,   404),
    "mfa_view_recovery_codes":        ("GET",  "/accounts/2fa/recovery-codes/", LOGIN, 404,  404,   404,   404,   404),
    "mfa_generate_recovery_codes":    ("GET",  "/accounts/2fa/recovery-codes/generate/", TO("/accounts/login/?next="), 403, 403, 403, 403, 403),
    "mfa_download_recovery_codes":    ("GET",  "/accounts/2fa/recovery-codes/download/", LOGIN, 404, 404, 404, 404, 404),
    # JSON API: 401 without credentials; a customer's own data only; staff endpoints for
    # admin and support. Empty bodies reach validation (400) only past the permission check.
    "api:sessions":                   ("GET",  "/api/sessions/",               OK,    OK,    OK,    OK,    OK,    OK),
    "api:session":                    ("GET",  "/api/sessions/{session}/",     OK,    OK,    OK,    OK,    OK,    OK),
    "api:customer-me":                ("GET",  "/api/customer/me",             401,   OK,    OK,    OK,    OK,    OK),
    "api:customer-bookings":          ("GET",  "/api/customer/bookings",       401,   OK,    OK,    OK,    OK,    OK),
    "api:customer-booking":           ("GET",  "/api/customer/bookings/{booking}", 401, OK,  404,   404,   404,   404),
    "api:admin-users":                ("GET",  "/api/admin/users/",            401,   403,   403,   403,   OK,    OK),
    "api:admin-user":                 ("GET",  "/api/admin/users/{customer}",  401,   403,   403,   403,   OK,    OK),
    "api:admin-bookings":             ("POST", "/api/admin/bookings",          401,   403,   403,   403,   400,   400),
    "api:admin-refunds":              ("POST", "/api/admin/payments/{payment}/refunds", 401, 403, 403, 403, 400, 400),
    "api:schema":                     ("GET",  "/api/schema/",                 OK,    OK,    OK,    OK,    OK,    OK),
    "api:docs":                       ("GET",  "/api/docs/",                   OK,    OK,    OK,    OK,    OK,    OK),
    "api:not-found":                  ("GET",  "/api/nothing-here",            404,   404,   404,   404,   404,   404),
    # Staff pages outside the model admins. Instructors are staff but see no money.
    "staff-dashboard":                ("GET",  "/admin/dashboard/",            ADMIN, ADMIN, ADMIN, 403,   OK,    OK),
    "admin:index":                    ("GET",  "/admin/",                      ADMIN, ADMIN, ADMIN, OK,    OK,    OK),
    # Staff sign in at /accounts/login/ (password, then the second factor), not on this form.
    "admin:login":                    ("GET",  "/admin/login/",                TO("/accounts/login/?next="), TO("/accounts/login/?next="), TO("/accounts/login/?next="), HOME, HOME, HOME),
    "admin:logout":                   ("POST", "/admin/logout/",               HOME,  HOME,  HOME,  OK,    OK,    OK),
    "admin:password_change":          ("GET",  "/admin/password_change/",      ADMIN, ADMIN, ADMIN, OK,    OK,    OK),
    "admin:password_change_done":     ("GET",  "/admin/password_change/done/", ADMIN, ADMIN, ADMIN, OK,    OK,    OK),
    "admin:jsi18n":                   ("GET",  "/admin/jsi18n/",               ADMIN, ADMIN, ADMIN, OK,    OK,    OK),
    # The session form's trainer picker searches users: not for instructors.
    "admin:autocomplete":             ("GET",  "/admin/autocomplete/?app_label=course_sessions&model_name=coursesession&field_name=trainer&term=a",
                                                                               ADMIN, ADMIN, ADMIN, 403,   OK,    OK),
    # "View on site" only for staff who may see the object (it reveals a booking's reference).
    "staff-view-on-site":             ("GET",  "/admin/r/{booking_type}/{booking_id}/", ADMIN, ADMIN, ADMIN, 404, ON_SITE, ON_SITE),
    "staff-view-on-site [own session]": ("GET", "/admin/r/{session_type}/{session}/", ADMIN, ADMIN, ADMIN, TO("http://testserver/sessions/"), TO("http://testserver/sessions/"), TO("http://testserver/sessions/")),
    "admin:view_on_site":             ("GET",  "/admin/r/{booking_type}/{booking_id}/", ADMIN, ADMIN, ADMIN, 404, ON_SITE, ON_SITE),
    "admin:app_list":                 ("GET",  "/admin/payments/",             ADMIN, ADMIN, ADMIN, 404,   OK,    OK),
    "admin:app_list [instructor's app]": ("GET", "/admin/course_sessions/",    ADMIN, ADMIN, ADMIN, OK,    OK,    OK),
    "admin/(?P<url>.*)$":             ("GET",  "/admin/no-such-page/",         ADMIN, ADMIN, ADMIN, 404,   404,   404),
    # Custom admin views: phone booking (admins), move, transfer, cancel a place and refund (support and admins).
    "admin:bookings_booking_phone":   ("GET",  "/admin/bookings/booking/phone/", ADMIN, ADMIN, ADMIN, 403,  403,   OK),
    "admin:bookings_booking_substitute": ("GET", "/admin/bookings/booking/attendees/{attendee_id}/substitute/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:bookings_booking_move":    ("GET",  "/admin/bookings/booking/{booking_id}/move/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:bookings_booking_transfer": ("GET", "/admin/bookings/booking/{booking_id}/transfer/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:bookings_booking_cancel_attendee": ("GET", "/admin/bookings/booking/attendee/{attendee}/cancel/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    # An email's HTML, shown in a sandboxed frame on its admin page: whoever may read the log.
    "admin:core_communication_html":  ("GET",  "/admin/core/communication/{communication}/html/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    # Invoices' and credit notes' PDFs and the finance export: whoever may view invoices.
    "admin:invoicing_invoice_pdf":    ("GET",  "/admin/invoicing/invoice/{invoice_id}/pdf/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:invoicing_creditnote_pdf": ("GET",  "/admin/invoicing/creditnote/{credit_note_id}/pdf/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:invoicing_finance_export": ("GET",  "/admin/invoicing/invoice/export/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    # A payment's refund link leads to its booking's refund step (with the confirmation).
    "admin:payments_payment_refund":  ("GET",  "/admin/payments/payment/{payment}/refund/", ADMIN, ADMIN, ADMIN, 403, TO("/admin/bookings/booking/"), TO("/admin/bookings/booking/")),
    # The booking hub's actions (support and admins), each a page stating its consequence.
    "admin:bookings_booking_refund":  ("GET",  "/admin/bookings/booking/{booking_id}/refund/{payment}/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:bookings_booking_cancel":  ("GET",  "/admin/bookings/booking/{booking_id}/cancel/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:bookings_booking_resend":  ("GET",  "/admin/bookings/booking/{booking_id}/resend/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:bookings_booking_balance_link": ("GET", "/admin/bookings/booking/{booking_id}/balance-link/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:bookings_booking_bank_transfer": ("GET", "/admin/bookings/booking/{booking_id}/bank-transfer/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    # The trainer's day: the register and the attendance page of a session they may see.
    "admin:course_sessions_coursesession_register": ("GET", "/admin/course_sessions/coursesession/{session}/register.pdf", ADMIN, ADMIN, ADMIN, OK, OK, OK),
    "admin:course_sessions_coursesession_attendance": ("GET", "/admin/course_sessions/coursesession/{session}/attendance/", ADMIN, ADMIN, ADMIN, OK, OK, OK),
    "admin:course_sessions_coursesession_attendance [another trainer's]": ("GET", "/admin/course_sessions/coursesession/{other_session}/attendance/", ADMIN, ADMIN, ADMIN, 404, OK, OK),
    # Passwords: support may not set a staff member's password (that would be a way in).
    "admin:auth_user_password_change": ("GET", "/admin/users/user/{customer}/password/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    "admin:auth_user_password_change [an admin's]": ("GET", "/admin/users/user/{admin}/password/", ADMIN, ADMIN, ADMIN, 403, 403, OK),
    "admin:users_user_change [an admin's]": ("GET", "/admin/users/user/{admin}/change/", ADMIN, ADMIN, ADMIN, 403, OK, OK),
    # An instructor's admin shows only the sessions they teach and those attendees.
    "admin:course_sessions_coursesession_change [another trainer's]": ("GET", "/admin/course_sessions/coursesession/{other_session}/change/",
                                                                               ADMIN, ADMIN, ADMIN, HOME,  OK,    OK),
    "admin:course_sessions_coursesession_history [another trainer's]": ("GET", "/admin/course_sessions/coursesession/{other_session}/history/",
                                                                               ADMIN, ADMIN, ADMIN, HOME,  OK,    OK),
    "admin:bookings_attendee_change [another trainer's]": ("GET", "/admin/bookings/attendee/{other_attendee}/change/",
                                                                               ADMIN, ADMIN, ADMIN, HOME,  OK,    OK),
}

# Every model registered in admin: what each staff role may do there (v view, a add,
# c change, d delete). Anonymous visitors and customers are always sent to the admin login.
# Its changelist, change, history and delete pages and the bare object URL are checked
# for every actor against this table.
ADMIN_MODELS = {
    #  model                          instructor  support  admin
    "auth.group":                     ("",        "",      "vacd"),
    "authtoken.tokenproxy":           ("",        "",      "vacd"),
    "account.emailaddress":           ("",        "",      "vacd"),
    # A lost authenticator is removed by an admin (who never sees its secret).
    "mfa.authenticator":              ("",        "",      "vd"),
    "axes.accessattempt":             ("",        "",      "vcd"),
    "axes.accesslog":                 ("",        "",      "vcd"),
    "axes.accessfailurelog":          ("",        "",      "vcd"),
    "core.communication":             ("",        "v",     "vc"),
    "users.user":                     ("",        "vc",    "vacd"),
    "users.activitylog":              ("",        "v",     "v"),
    "course_sessions.course":         ("",        "v",     "vacd"),
    "course_sessions.location":       ("",        "v",     "vacd"),
    "course_sessions.coursesession":  ("v",       "v",     "vacd"),
    "bookings.booking":               ("",        "vc",    "vacd"),
    # Seats come with bookings (no add); the person on one changes through "Substitute".
    "bookings.attendee":              ("vc",      "vc",    "vcd"),
    # Support manages waiting lists; nobody adds or deletes an entry by hand (people join
    # on the site; staff remove them, which is recorded).
    "bookings.waitinglistentry":      ("",        "vc",    "vc"),
    # Money records are never deleted, by anyone (apps/core/ledger.py).
    "payments.payment":               ("",        "vc",    "vac"),
    "payments.stripeevent":           ("",        "v",     "vc"),
    "payments.paymentevent":          ("",        "v",     "vc"),
    "payments.dispute":               ("",        "v",     "v"),
    "refunds.refund":                 ("",        "v",     "v"),
    # Issued documents never change and are never deleted (apps/invoicing/models.py).
    "invoicing.invoice":              ("",        "v",     "v"),
    "invoicing.creditnote":           ("",        "v",     "v"),
    "certificates.certificate":       ("",        "v",     "vcd"),
    "legal.legaldocument":            ("",        "v",     "vac"),
    # Codes and group prices are switched off, never deleted (bookings point at them).
    "pricing.discountcode":           ("",        "v",     "vac"),
    "pricing.groupdiscount":          ("",        "v",     "vac"),
    # Support keeps company accounts and decides link requests; requests come from customers.
    "companies.company":              ("",        "vc",    "vacd"),
    "companies.companylinkrequest":   ("",        "vc",    "vcd"),
}
# fmt: on
ADMIN_PAGES = ("changelist", "add", "change", "history", "delete")
# Bookings are never added as a raw form: "add" sends staff to the phone-booking page,
# which checks the add permission itself (its own row above).
PHONE = TO("/admin/bookings/booking/phone/")
ADMIN_PAGE_EXCEPTIONS = {
    ("bookings.booking", "add"): (ADMIN, ADMIN, ADMIN, PHONE, PHONE, PHONE),
    # Money has moved on them: kept, and an admin is pointed at erasure on the change page.
    ("bookings.booking", "delete"): (ADMIN, ADMIN, ADMIN, 403, 403,
                                     TO("/admin/bookings/booking/")),
    ("users.user", "delete"): (ADMIN, ADMIN, ADMIN, 403, 403, TO("/admin/users/user/")),
}


def admin_model_expectations(label: str, page: str) -> tuple:
    if (label, page) in ADMIN_PAGE_EXCEPTIONS:
        return ADMIN_PAGE_EXCEPTIONS[label, page]
    instructor, support, admin_ = ADMIN_MODELS[label]

    def cell(may: str):
        if page in ("changelist", "change", "history"):
            return OK if {"v", "c"} & set(may) else 403
        if page == "add":
            return OK if "a" in may else 403
        if page == "delete":
            return OK if "d" in may else 403
        return TO(f"/admin/{label.replace('.', '/')}/")  # bare object URL → its change page

    return (ADMIN, ADMIN, ADMIN, cell(instructor), cell(support), cell(admin_))


# --- The world the requests run against --------------------------------------------------


def staff(role: str, email: str) -> User:
    return user_change_role(user=user_get_or_create(email=email), role=role, actor=None)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction rolled back at its end; each test runs
    in its own savepoint, so whatever a request changes is undone before the next."""
    with django_db_blocker.unblock(), transaction.atomic():
        with TestCase.captureOnCommitCallbacks(execute=True):  # emails, as in real life
            data = build_world()
        yield data
        transaction.set_rollback(True)


def build_world():
    instructor = staff("instructor", "trainer@example.com")
    other_trainer = staff("instructor", "other.trainer@example.com")
    actors = {
        "anonymous": None,
        "customer": user_get_or_create(email="customer@example.com"),
        "other_customer": user_get_or_create(email="other@example.com"),
        "instructor": instructor,
        "support": staff("support", "support@example.com"),
        "admin": staff("admin", "boss@example.com"),
    }
    session = SessionFactory(trainer=instructor, price=5000)
    other_session = SessionFactory(trainer=other_trainer, course=session.course)
    booking = make_booking(session, email="customer@example.com")
    payment = payment_record_manual(booking=booking, actor=None)
    refund_create(payment=payment, amount=1000, initiator="staff", actor=None)
    other_booking = make_booking(other_session, email="other@example.com")
    attendee = Attendee.objects.get(booking=booking)
    certificate = Certificate.objects.create(
        attendee=attendee, user=actors["customer"], course=session.course, session=session,
        holder_name=attendee.name, issued_on=date(2026, 1, 5), number="CERT-MATRIX01")
    stripe_event = StripeEvent.objects.create(stripe_id="evt_matrix", type="charge.refunded",
                                              payload={})
    dispute = Dispute.objects.create(payment=payment, stripe_dispute_id="du_matrix",
                                     amount=1000, status="needs_response")
    token = TokenProxy.objects.create(user=actors["admin"])
    attempt = AccessAttempt.objects.create(username="x@example.com", ip_address="192.0.2.1",
                                           user_agent="test", failures_since_start=1)
    access_log = AccessLog.objects.create(username="x@example.com", ip_address="192.0.2.1",
                                          user_agent="test")
    failure_log = AccessFailureLog.objects.create(username="x@example.com",
                                                  ip_address="192.0.2.1", user_agent="test")
    # One object per admin model, for its change/history/delete pages.
    objects = {
        "auth.group": Group.objects.get(name="Support"),
        "authtoken.tokenproxy": token,
        "account.emailaddress": EmailAddress.objects.get(email="customer@example.com"),
        "mfa.authenticator": TOTP.activate(other_trainer, "JBSWY3DPEHPK3PXP").instance,
        "axes.accessattempt": attempt,
        "axes.accesslog": access_log,
        "axes.accessfailurelog": failure_log,
        "core.communication": Communication.objects.filter(booking=booking).first(),
        "users.user": actors["customer"],
        "users.activitylog": ActivityLog.objects.filter(user=actors["customer"]).first(),
        "course_sessions.course": session.course,
        "course_sessions.location": session.location,
        "course_sessions.coursesession": session,
        "bookings.booking": booking,
        "bookings.attendee": attendee,
        "bookings.waitinglistentry": WaitingListEntry.objects.create(
            session=session, name="Wanda Waiting", email="wanda@example.com", seats=1,
            consent_at=timezone.now(), joined_at=timezone.now()),
        "payments.payment": payment,
        "payments.stripeevent": stripe_event,
        "payments.paymentevent": PaymentEvent.objects.filter(payment=payment).first(),
        "payments.dispute": dispute,
        "refunds.refund": payment.refunds.get(),
        "invoicing.invoice": Invoice.objects.get(booking=booking),
        "invoicing.creditnote": CreditNote.objects.get(invoice__booking=booking),
        "certificates.certificate": certificate,
        "legal.legaldocument": legal_document_create(kind="terms", body="Matrix terms.",
                                                     published_at=timezone.now()),
    }
    company = Company.objects.create(name="Matrix Ltd", approved_for_invoice=True)
    company_contact_link(company=company, user=actors["customer"], actor=None)
    objects.update({
        "pricing.discountcode": DiscountCode.objects.create(code="MATRIX10", percent=10),
        "pricing.groupdiscount": GroupDiscount.objects.create(min_seats=4, percent=10),
        "companies.company": company,
        "companies.companylinkrequest": CompanyLinkRequest.objects.create(
            user=actors["other_customer"], company_name="Other Ltd"),
    })
    assert all(obj is not None for obj in objects.values()), objects
    values = {
        "session": session.pk, "other_session": other_session.pk,
        "booking": booking.reference, "booking_id": booking.pk, "payment": payment.pk,
        "certificate": certificate.number, "verification": certificate.verification_code,
        "customer": actors["customer"].pk, "admin": actors["admin"].pk,
        "communication": objects["core.communication"].pk,
        "other_attendee": other_booking.attendees.get().pk, "attendee": attendee.pk,
        "booking_type": ContentType.objects.get_for_model(booking).pk,
        "session_type": ContentType.objects.get_for_model(session).pk,
        "attendee_id": attendee.pk, "company": company.pk,
        "invoice_number": objects["invoicing.invoice"].number,
        "invoice_id": objects["invoicing.invoice"].pk,
        "credit_note_id": objects["invoicing.creditnote"].pk,
        "purchaser_link": booking_link_token(booking=booking, email="customer@example.com"),
        # A genuine key for an address that is not on the booking: it opens nothing.
        "stranger_link": booking_link_token(booking=booking, email="other@example.com"),
    }
    return {"actors": actors, "objects": objects, "values": values}


# --- Checking -----------------------------------------------------------------------------


def request_as(actor, method: str, url: str):
    client = Client()
    if actor is not None:
        client.force_login(actor)
    return client.post(url) if method == "POST" else client.get(url)


def mismatch(response, expected) -> str | None:
    if isinstance(expected, TO):
        location = response.get("Location", "")
        if response.status_code == 302 and location.startswith(expected.prefix):
            return None
        return f"{response.status_code} {location}".strip()
    if response.status_code == expected:
        return None
    return f"{response.status_code} {response.get('Location', '')}".strip()


def check_row(world, method: str, url: str, cells: tuple) -> None:
    assert len(cells) == len(ACTORS)
    url = url.format(**world["values"])
    wrong = []
    for actor_name, expected in zip(ACTORS, cells, strict=True):
        got = mismatch(request_as(world["actors"][actor_name], method, url), expected)
        if got is not None:
            wrong.append(f"{actor_name}: expected {expected}, got {got}")
    assert not wrong, f"{method} {url}\n  " + "\n  ".join(wrong)


@pytest.mark.parametrize("route", list(ROUTES))
def test_route(world, route):
    method, url, *cells = ROUTES[route]
    check_row(world, method, url, tuple(cells))


@pytest.mark.parametrize("label", list(ADMIN_MODELS))
@pytest.mark.parametrize("page", (*ADMIN_PAGES, "object"))
def test_admin_model_page(world, label, page):
    obj = world["objects"][label]
    base = f"/admin/{label.replace('.', '/')}/"
    url = {"changelist": base, "add": f"{base}add/", "change": f"{base}{obj.pk}/change/",
           "history": f"{base}{obj.pk}/history/", "delete": f"{base}{obj.pk}/delete/",
           "object": f"{base}{obj.pk}/"}[page]
    check_row(world, "GET", url, admin_model_expectations(label, page))


# --- Completeness --------------------------------------------------------------------------


def resolver_routes(patterns=None, prefix="", namespace="") -> set[str]:
    """Every route of the site: its namespaced name, or its full pattern when unnamed."""
    routes = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            routes |= resolver_routes(pattern.url_patterns, prefix + str(pattern.pattern),
                                      inner)
        else:
            routes.add(f"{namespace}{pattern.name}" if pattern.name
                       else prefix + str(pattern.pattern))
    return routes


def admin_model_routes() -> set[str]:
    routes = set()
    for model in admin.site._registry:
        app, name = model._meta.app_label, model._meta.model_name
        routes |= {f"admin:{app}_{name}_{page}" for page in ADMIN_PAGES}
        routes.add(f"admin/{app}/{name}/<path:object_id>/")
    return routes


def test_every_admin_model_is_in_the_matrix():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered - set(ADMIN_MODELS) == set(), "admin models with no matrix row"
    assert set(ADMIN_MODELS) - registered == set(), "matrix rows for unregistered models"


def test_every_route_is_in_the_matrix():
    covered = {route.split(" [")[0] for route in ROUTES} | admin_model_routes()
    site = resolver_routes()
    missing = sorted(site - covered)
    assert not missing, ("These routes have no row in the permission matrix; add one saying "
                         f"who may open them: {missing}")
    assert sorted(covered - site) == [], "matrix rows for routes that no longer exist"


def test_the_route_walk_sees_routes_added_later(settings):
    """The completeness check itself: a URLconf with one extra view is caught."""
    from django.urls import clear_url_caches, include, path

    import config.urls

    extra = type("urls", (), {"urlpatterns": [
        *config.urls.urlpatterns,
        path("brand-new/", include(([path("", lambda r: None, name="page")], "new"))),
        path("unnamed/", lambda r: None),
    ]})
    settings.ROOT_URLCONF = extra
    clear_url_caches()
    try:
        routes = resolver_routes()
    finally:
        clear_url_caches()
    assert {"new:page", "unnamed/"} <= routes
    covered = {route.split(" [")[0] for route in ROUTES} | admin_model_routes()
    assert routes - covered == {"new:page", "unnamed/"}
