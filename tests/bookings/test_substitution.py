"""Substituting an attendee (#17 item 3): the seat passes to a new person, both are told,
the certificate goes to whoever attended, the audit trail records it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from apps.bookings.models import Attendee, Booking
from apps.bookings.services import AlreadyBookedError, attendance_mark
from apps.bookings.substitution import attendee_correct_name, attendee_substitute
from apps.certificates.models import Certificate
from apps.certificates.services import certificates_issue_for_booking
from apps.core.errors import ConflictError, DomainError
from apps.core.models import Communication
from apps.users.models import ActivityLog, User
from tests.bookings.notify_helpers import book, pay
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db
KIND = Communication.Kind


@pytest.fixture
def paid(django_capture_on_commit_callbacks):
    session = SessionFactory(capacity=10)
    with django_capture_on_commit_callbacks(execute=False):
        booking = pay(book(session, purchaser=("Pat Buyer", "pat@example.com"),
                           attendees=[("Olive Old", "olive@example.com"),
                                      ("Ben Stays", "ben@example.com")]))
    return booking


def _seat(booking, email):
    return booking.attendees.get(email=email)


def _method(communication):
    (calendar,) = [Calendar.from_ical(a["content"]) for a in communication.attachments
                   if a["mimetype"].startswith("text/calendar")]
    return str(calendar["METHOD"])


def test_the_seat_passes_to_a_new_person_and_everyone_concerned_is_told(paid):
    purchaser = paid.purchaser
    seat = _seat(paid, "olive@example.com")
    old_user = seat.user
    before = set(Communication.objects.values_list("pk", flat=True))
    sequence = paid.calendar_sequence

    attendee_substitute(attendee_id=seat.pk, name="Nina  New", email="Nina@Example.com",
                        actor=purchaser)

    seat.refresh_from_db()
    nina = User.objects.get(email="nina@example.com")
    assert (seat.name, seat.email, seat.user) == ("Nina New", "nina@example.com", nina)
    paid.refresh_from_db()
    assert paid.seats == 2 and paid.attendees.count() == 2  # the seat stays
    assert paid.calendar_sequence == sequence + 1
    new = Communication.objects.exclude(pk__in=before)
    by = {(c.recipient, c.kind): c for c in new}
    assert set(by) == {("olive@example.com", KIND.BOOKING_CANCELLED),
                       ("nina@example.com", KIND.BOOKING_CONFIRMATION),
                       ("pat@example.com", KIND.BOOKING_CHANGED)}
    gone = by[("olive@example.com", KIND.BOOKING_CANCELLED)]
    assert _method(gone) == "CANCEL" and "no longer booked" in gone.body
    assert gone.user_id == old_user.pk
    assert "/portal/b/" not in gone.body  # nothing of the booking is hers any more
    welcome = by[("nina@example.com", KIND.BOOKING_CONFIRMATION)]
    assert _method(welcome) == "REQUEST" and "has booked a seat for you" in welcome.body
    notice = by[("pat@example.com", KIND.BOOKING_CHANGED)]
    assert "Olive Old" in notice.body and "Nina New" in notice.body
    # Ben is not bothered.
    assert not new.filter(recipient="ben@example.com").exists()
    # The old person's calendar entry and the new one are the same seat, a later version.
    for communication in (gone, welcome):
        (event,) = Calendar.from_ical(communication.attachments[0]["content"]).walk("VEVENT")
        assert event["UID"].startswith(f"{paid.reference}-seat-{seat.pk}@")
        assert event["SEQUENCE"] == sequence + 1


def test_the_audit_log_records_before_and_after(paid):
    seat = _seat(paid, "olive@example.com")
    old_user_id = seat.user_id
    attendee_substitute(attendee_id=seat.pk, name="Nina New", email="nina@example.com",
                        actor=paid.purchaser)
    entry = ActivityLog.objects.get(action="attendee.substituted")
    assert entry.actor_id == paid.purchaser_id and entry.target_id == str(paid.pk)
    assert entry.data["before"] == {"name": "Olive Old", "email": "olive@example.com",
                                    "user": old_user_id}
    assert entry.data["after"]["email"] == "nina@example.com"
    assert entry.data["by_staff"] is False


def test_an_existing_account_is_reused(paid):
    existing = User.objects.create_user(email="nina@example.com", first_name="Nina")
    seat = _seat(paid, "olive@example.com")
    attendee_substitute(attendee_id=seat.pk, name="Nina New", email="NINA@example.com",
                        actor=paid.purchaser)
    seat.refresh_from_db()
    assert seat.user == existing
    assert User.objects.filter(email__iexact="nina@example.com").count() == 1


def test_customers_stop_at_the_cut_off_staff_go_on_until_the_start(paid, settings):
    settings.SUBSTITUTION_CUTOFF_HOURS = 24
    seat = _seat(paid, "olive@example.com")
    starts = paid.session.starts_at
    with pytest.raises(ConflictError, match="24 hours before the start"):
        attendee_substitute(attendee_id=seat.pk, name="Nina New", email="nina@example.com",
                            actor=paid.purchaser, now=starts - timedelta(hours=23))
    attendee_substitute(attendee_id=seat.pk, name="Nina New", email="nina@example.com",
                        actor=paid.purchaser, now=starts - timedelta(hours=25))
    staff = User.objects.create_user(email="desk@example.com", is_staff=True)
    attendee_substitute(attendee_id=seat.pk, name="Omar Other", email="omar@example.com",
                        actor=staff, by_staff=True, now=starts - timedelta(hours=1))
    with pytest.raises(ConflictError, match="has started"):
        attendee_substitute(attendee_id=seat.pk, name="Pia Late", email="pia@example.com",
                            actor=staff, by_staff=True, now=starts + timedelta(minutes=1))
    seat.refresh_from_db()
    assert seat.email == "omar@example.com"


def test_only_paid_or_held_bookings_can_change_hands(django_capture_on_commit_callbacks):
    session = SessionFactory(capacity=10)
    pending = book(session, purchaser=("Pat Buyer", "pat@example.com"),
                   attendees=[("Olive Old", "olive@example.com")])
    seat = _seat(pending, "olive@example.com")
    # A pending booking whose hold stands: allowed, and nobody but the page is told
    # (its guests hear of it once it is paid).
    attendee_substitute(attendee_id=seat.pk, name="Nina New", email="nina@example.com",
                        actor=pending.purchaser)
    assert not Communication.objects.filter(recipient__in=["olive@example.com",
                                                           "nina@example.com"]).exists()
    Booking.objects.filter(pk=pending.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ConflictError, match="pending payment"):
        attendee_substitute(attendee_id=seat.pk, name="Omar Other", email="omar@example.com",
                            actor=pending.purchaser)
    Booking.objects.filter(pk=pending.pk).update(status=Booking.Status.CANCELLED)
    with pytest.raises(ConflictError, match="cancelled"):
        attendee_substitute(attendee_id=seat.pk, name="Omar Other", email="omar@example.com",
                            actor=pending.purchaser)


def test_someone_who_already_holds_a_seat_on_the_session_is_refused(paid):
    seat = _seat(paid, "olive@example.com")
    # Another attendee of the same booking.
    with pytest.raises(AlreadyBookedError, match="already has a seat on this session"):
        attendee_substitute(attendee_id=seat.pk, name="Ben Stays", email="ben@example.com",
                            actor=paid.purchaser)
    # Someone paid for on another booking of the same session.
    pay(book(paid.session, purchaser=("Zed Else", "zed@example.com"), purchaser_attends=True))
    with pytest.raises(AlreadyBookedError, match="Zed"):
        attendee_substitute(attendee_id=seat.pk, name="Zed Else", email="zed@example.com",
                            actor=paid.purchaser)
    # The same person again, and bad input.
    with pytest.raises(DomainError, match="already holds this seat"):
        attendee_substitute(attendee_id=seat.pk, name="Olive", email="OLIVE@example.com",
                            actor=paid.purchaser)
    with pytest.raises(DomainError, match="valid email"):
        attendee_substitute(attendee_id=seat.pk, name="Nina", email="not-an-address",
                            actor=paid.purchaser)
    with pytest.raises(DomainError, match="name"):
        attendee_substitute(attendee_id=seat.pk, name="  ", email="nina@example.com",
                            actor=paid.purchaser)
    seat.refresh_from_db()
    assert seat.email == "olive@example.com"
    assert not ActivityLog.objects.filter(action="attendee.substituted").exists()


def test_a_seat_that_changed_hands_meanwhile_is_not_changed_again(paid):
    seat = _seat(paid, "olive@example.com")
    attendee_substitute(attendee_id=seat.pk, name="Nina New", email="nina@example.com",
                        actor=paid.purchaser, replacing="olive@example.com")
    with pytest.raises(ConflictError, match="just been given to Nina New"):
        attendee_substitute(attendee_id=seat.pk, name="Omar Other", email="omar@example.com",
                            actor=paid.purchaser, replacing="olive@example.com")


def test_the_certificate_goes_to_whoever_attended(paid):
    seat = _seat(paid, "olive@example.com")
    olive = seat.user
    attendee_substitute(attendee_id=seat.pk, name="Nina New", email="nina@example.com",
                        actor=paid.purchaser)
    session = paid.session
    attendance_mark(attendee_ids=[a.pk for a in paid.attendees.all()],
                    attendance=Attendee.Attendance.ATTENDED,
                    now=session.ends_at + timedelta(hours=1))
    certificates_issue_for_booking(booking_id=paid.pk)
    certificate = Certificate.objects.get(attendee=seat)
    nina = User.objects.get(email="nina@example.com")
    assert (certificate.user, certificate.holder_name) == (nina, "Nina New")
    assert not Certificate.objects.filter(user=olive).exists()
    sent = Communication.objects.get(kind=KIND.CERTIFICATE_ISSUED, dedupe_key=certificate.number)
    assert sent.recipient == "nina@example.com" and sent.user_id == nina.pk


def test_staff_correct_a_misspelt_name_without_changing_the_person(paid):
    seat = _seat(paid, "olive@example.com")
    staff = User.objects.create_user(email="desk@example.com", is_staff=True)
    before = Communication.objects.count()
    attendee_correct_name(attendee_id=seat.pk, name="Olivia Old", actor=staff)
    seat.refresh_from_db()
    assert (seat.name, seat.email) == ("Olivia Old", "olive@example.com")
    assert Communication.objects.count() == before
    entry = ActivityLog.objects.get(action="attendee.name_corrected")
    assert entry.data == {"attendee": seat.pk, "before": "Olive Old", "after": "Olivia Old"}
