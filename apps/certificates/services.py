"""Certificate writes."""

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction

from apps.core.audit import log_action

from .models import Certificate


def certificate_issue(*, attendee, issued_on=None) -> Certificate:
    """Issue the certificate of one attendee of a completed booking, at most once (the
    one-to-one on attendee decides, whoever races)."""
    existing = Certificate.objects.filter(attendee=attendee).first()
    if existing:
        return existing
    session = attendee.booking.session
    issued_on = issued_on or session.ends_at.date()
    months = session.course.validity_months
    try:
        with transaction.atomic():
            certificate = Certificate.objects.create(
                attendee=attendee, user_id=attendee.user_id, course_id=session.course_id,
                session=session, holder_name=attendee.name, issued_on=issued_on,
                expires_on=issued_on + relativedelta(months=months) if months else None,
            )
            log_action("certificate.issued", target=certificate, user=attendee.user_id)
            return certificate
    except IntegrityError:
        return Certificate.objects.get(attendee=attendee)
