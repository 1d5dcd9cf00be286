"""The back office: Django admin for every model, one module per domain app.

Django's admin autodiscovery imports this package (`apps.backoffice.admin`); importing the
modules below registers each model's admin exactly once."""

from . import (  # noqa: F401
    bookings,
    certificates,
    companies,
    core,
    invoicing,
    legal,
    payments,
    pricing,
    refunds,
    sessions,
    users,
    waitlist,
)
