import csv
import io

import pytest

from apps.bookings.models import Attendee, Booking
from apps.payments.services import payment_record_manual
from tests.factories import SessionFactory, make_booking

pytestmark = pytest.mark.django_db


def test_the_attendee_csv_escapes_names_that_a_spreadsheet_would_run(admin_client):
    session = SessionFactory()
    booking = make_booking(session, email="lead@example.com", seats=2)
    Attendee.objects.filter(booking=booking, email="lead@example.com").update(
        name='=HYPERLINK("http://evil.example","Click")')
    Booking.objects.filter(pk=booking.pk).update(company_name="@SUM(1+1)",
                                                 special_requirements="-1+2")
    payment_record_manual(booking=booking, actor=None)
    response = admin_client.post("/admin/course_sessions/coursesession/", {
        "action": "export_attendees_csv", "_selected_action": [session.pk]})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    lead = next(r for r in rows if r["email"] == "lead@example.com")
    assert lead["name"] == '\'=HYPERLINK("http://evil.example","Click")'
    assert lead["company"] == "'@SUM(1+1)"
    assert lead["special requirements"] == "'-1+2"
