"""Issue #28.7: /api/sessions/ pages with a cursor over a total order (start, then id), so
a session inserted before the current page never repeats on the next one; customer
bookings have a total order too."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.refunds.selectors import customer_bookings
from tests.api.conftest import client_for
from tests.factories import SessionFactory, UserFactory, make_booking

pytestmark = pytest.mark.django_db


def _page(client, url):
    body = client.get(url).json()
    return [row["id"] for row in body["results"]], body["next"]


def test_a_session_inserted_before_the_current_page_does_not_repeat_on_the_next():
    start = timezone.now() + timedelta(days=10)
    # 60 sessions, many starting at the very same moment (ties across page boundaries).
    sessions = [SessionFactory(starts_at=start + timedelta(hours=n // 4)) for n in range(60)]
    client = client_for()
    seen, url = [], "/api/sessions/"
    first, url = _page(client, url)
    seen += first
    # A session is added before everything already read: it must not push a row already
    # seen onto the next page.
    SessionFactory(starts_at=start - timedelta(days=1))
    while url:
        ids, url = _page(client, url)
        seen += ids
    assert len(seen) == len(set(seen)), "a session came twice"
    assert seen == [s.pk for s in sorted(sessions, key=lambda s: (s.starts_at, s.pk))]


def test_a_session_removed_while_paging_skips_nothing():
    start = timezone.now() + timedelta(days=10)
    sessions = [SessionFactory(starts_at=start) for _ in range(30)]  # all tied
    client = client_for()
    first, url = _page(client, "/api/sessions/")
    assert len(first) == 25 and url
    SessionFactory._meta.model.objects.filter(pk=first[0]).update(status="cancelled")
    rest, url = _page(client, url)
    assert url is None
    assert first + rest == sorted(s.pk for s in sessions)


def test_customer_bookings_have_a_total_order():
    customer = UserFactory(email="many@example.com")
    start = timezone.now() + timedelta(days=5)
    for _ in range(3):
        session = SessionFactory(starts_at=start)  # three sessions starting together
        make_booking(session, email=customer.email)
        make_booking(session, email=customer.email)
    query = str(customer_bookings(user=customer).query)
    assert query.rstrip().endswith('ASC')
    ordering = customer_bookings(user=customer).query.order_by
    assert ordering[-1] == "pk"
    listed = [row["reference"] for row in
              client_for(customer).get("/api/customer/bookings").json()["results"]]
    expected = [b.reference for b in sorted(customer_bookings(user=customer),
                                            key=lambda b: (b.session.starts_at,
                                                           b.session_id, b.created_at, b.pk))]
    assert listed == expected
