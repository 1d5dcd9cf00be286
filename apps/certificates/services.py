"""Certificate writes."""

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.bookings.models import Attendee, Booking
from apps.bookings.notifications import booking_portal_url
from apps.core.emails import binary_attachment, communication_queue
from apps.core.models import Communication
from apps.users.audit import log_action

from .models import Certificate
from .pdf import certificate_pdf, certificate_verify_url


def certificate_issue(*, attendee, issued_on=None) -> Certificate:
    """Issue the certificate of one attendee of a completed booking, at most once (the
    one-to-one on attendee decides, whoever races)."""
    existing = Certificate.objects.filter(attendee=attendee).first()
    if existing:
        return existing
    session = attendee.booking.session
    # The date a person reads on it: the day the session ended in London, not in UTC.
    issued_on = issued_on or timezone.localdate(session.ends_at)
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


def certificates_issue_for_booking(*, booking_id: int) -> list[Certificate]:
    """One certificate for each attendee who attended a completed booking, each emailed
    once with its PDF. Safe to run any number of times."""
    booking = Booking.objects.select_related("session__course", "session__trainer").get(
        pk=booking_id)
    if booking.status != Booking.Status.COMPLETED:
        return []
    issued = []
    for attendee in booking.attendees.filter(attendance=Attendee.Attendance.ATTENDED):
        certificate = certificate_issue(attendee=attendee)
        issued.append(certificate)
        if Communication.objects.filter(kind=Communication.Kind.CERTIFICATE_ISSUED,
                                        dedupe_key=certificate.number).exists():
            continue
        communication_queue(
            kind=Communication.Kind.CERTIFICATE_ISSUED,
            recipient=attendee.email,
            template="emails/certificate_issued.txt",
            context={"certificate": certificate, "attendee": attendee,
                     "verify_url": certificate_verify_url(certificate=certificate),
                     "link": booking_portal_url(booking, attendee.email)},
            user_id=attendee.user_id,
            booking=booking,
            dedupe_key=certificate.number,
            attachments=[binary_attachment(filename=f"certificate-{certificate.number}.pdf",
                                           mimetype="application/pdf",
                                           content=certificate_pdf(certificate=certificate))],
        )
    return issued


def certificate_revoke(*, certificate: Certificate, reason: str, actor=None) -> Certificate:
    """Revoke a certificate: the public verify page then says so. Audited."""
    Certificate.objects.filter(pk=certificate.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason[:500])
    certificate.refresh_from_db()
    log_action("certificate.revoked", actor=actor, target=certificate, user=certificate.user_id,
               data={"reason": reason})
    return certificate
