"""The waiting list's services (#17 item 6): joining, first-come offers that reserve seats,
claims through booking_create, expiry, leaving; and, on PostgreSQL with real threads, that
no seat is ever offered twice or oversold."""

import random
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from apps.bookings.models import (
    SEAT_HOLDING_STATUSES,
    Booking,
    WaitingListEntry,
    WaitingListOffer,
)
from apps.bookings.services import (
    AttendeeInput,
    BookingRequest,
    SoldOutError,
    booking_create,
    booking_expire_hold,
    booking_move,
    booking_transition,
)
from apps.bookings.session_changes import session_save_edit
from apps.bookings.waitlist import (
    waitlist_conversion,
    waitlist_entry_leave,
    waitlist_expire_offers,
    waitlist_join,
    waitlist_offer_entry,
    waitlist_offer_free_seats,
    waitlist_offer_from_token,
    waitlist_position,
)
from apps.core.errors import ConflictError, DomainError
from apps.core.models import Communication
from apps.refunds.cancellation import booking_cancel
from apps.sessions.models import CourseSession
from apps.users.models import ActivityLog
from tests.factories import SessionFactory, make_booking

Entry = WaitingListEntry
Offer = WaitingListOffer


def sold_out(capacity=2, *, seats_each=1):
    session = SessionFactory(capacity=capacity)
    bookings = [make_booking(session, email=f"holder{n}@example.com", seats=seats_each)
                for n in range(capacity // seats_each)]
    session.refresh_from_db()
    assert session.is_sold_out
    return session, bookings


def join(session, n, seats=1, **kwargs):
    return waitlist_join(session_id=session.pk, name=f"Waiter {n}",
                         email=f"waiter{n}@example.com", seats=seats, **kwargs)


def claim(offer, *, now=None, email=None):
    email = email or offer.entry.email
    return booking_create(request=BookingRequest(
        session_id=offer.session_id, purchaser_email=email, purchaser_first_name="Wait",
        purchaser_last_name="Er", terms_accepted=True,
        attendees=[AttendeeInput(name=f"Seat {n}", email=f"seat{n}.{email}")
                   for n in range(offer.seats)]), waitlist_offer_id=offer.pk, now=now)


def assert_seats_add_up(session):
    """seats_taken == seats of seat-holding bookings + seats of live offers; one live
    offer per entry at most, and an entry is "offered" exactly when it has one."""
    session.refresh_from_db()
    booked = Booking.objects.filter(session=session, status__in=SEAT_HOLDING_STATUSES
                                    ).aggregate(n=Sum("seats"))["n"] or 0
    offered = Offer.objects.filter(session=session, status=Offer.Status.LIVE
                                   ).aggregate(n=Sum("seats"))["n"] or 0
    assert session.seats_taken == booked + offered, (session.seats_taken, booked, offered)
    assert session.seats_taken <= session.capacity
    for entry in Entry.objects.filter(session=session):
        live = entry.offers.filter(status=Offer.Status.LIVE).count()
        assert live <= 1
        assert (live == 1) == (entry.status == Entry.Status.OFFERED), entry


@pytest.mark.django_db
class TestJoin:
    def test_joining_a_sold_out_session_records_the_entry_and_emails_a_leave_link(self):
        session, _ = sold_out()
        entry = waitlist_join(session_id=session.pk, name=" Ada Lovelace ",
                              email="Ada@Example.com", seats=2)
        assert (entry.name, entry.email, entry.seats, entry.status) == (
            "Ada Lovelace", "ada@example.com", 2, Entry.Status.WAITING)
        assert waitlist_position(entry) == 1
        email = Communication.objects.get(kind=Communication.Kind.WAITLIST_JOINED)
        assert email.recipient == "ada@example.com"
        assert "/waiting-list/leave/" in email.body and "Your place: 1" in email.body
        assert ActivityLog.objects.filter(action="waitlist.joined").exists()

    def test_joining_again_with_the_same_email_updates_the_entry_and_keeps_its_place(self):
        session, _ = sold_out()
        first = join(session, 1)
        join(session, 2)
        again = waitlist_join(session_id=session.pk, name="Waiter One", seats=2,
                              email="WAITER1@example.com")
        assert again.pk == first.pk
        assert Entry.objects.filter(session=session).count() == 2
        assert (again.seats, again.name, waitlist_position(again)) == (2, "Waiter One", 1)

    def test_no_joining_while_the_seats_wanted_are_free_or_beyond_capacity(self):
        session = SessionFactory(capacity=4)
        make_booking(session, email="a@example.com", seats=2)
        with pytest.raises(ConflictError, match="2 seats are free"):
            join(session, 1, seats=2)
        assert join(session, 1, seats=3).status == Entry.Status.WAITING  # 3 > 2 free
        with pytest.raises(DomainError, match="between 1 and 4"):
            join(session, 2, seats=5)


@pytest.mark.django_db
class TestOffers:
    def test_freed_seats_go_first_come_first_served_and_are_reserved(self):
        session, bookings = sold_out(capacity=2)
        first, second = join(session, 1), join(session, 2)
        booking_transition(booking_id=bookings[0].pk, to=Booking.Status.CANCELLED)
        offers = waitlist_offer_free_seats(session_id=session.pk)
        assert [o.entry_id for o in offers] == [first.pk]
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.status, second.status) == (Entry.Status.OFFERED, Entry.Status.WAITING)
        assert waitlist_position(second) == 1
        session.refresh_from_db()
        assert session.seats_taken == 2  # the offer holds the seat: nobody else takes it
        with pytest.raises(SoldOutError):
            make_booking(session, email="sniper@example.com")
        offer = offers[0]
        assert offer.expires_at - offer.created_at == timedelta(
            hours=settings.WAITLIST_OFFER_HOURS)
        email = Communication.objects.get(kind=Communication.Kind.WAITLIST_OFFER)
        assert email.recipient == "waiter1@example.com"
        token = email.body.split("/waiting-list/offer/")[1].split("/")[0]
        assert waitlist_offer_from_token(token).pk == offer.pk
        assert waitlist_offer_from_token(token + "x") is None
        assert_seats_add_up(session)

    def test_an_entry_wanting_more_than_is_free_is_skipped_and_keeps_its_place(self):
        session, bookings = sold_out(capacity=3)
        big, small = join(session, 1, seats=2), join(session, 2, seats=1)
        booking_transition(booking_id=bookings[0].pk, to=Booking.Status.CANCELLED)
        assert [o.entry_id for o in waitlist_offer_free_seats(session_id=session.pk)] == [
            small.pk]
        big.refresh_from_db()
        assert waitlist_position(big) == 1
        for booking in bookings[1:]:
            booking_transition(booking_id=booking.pk, to=Booking.Status.CANCELLED)
        assert [o.entry_id for o in waitlist_offer_free_seats(session_id=session.pk)] == [
            big.pk]
        assert_seats_add_up(session)

    def test_claiming_converts_the_reserved_seats_into_a_pending_booking(self):
        session, bookings = sold_out(capacity=2)
        join(session, 1, seats=2)
        for booking in bookings:
            booking_transition(booking_id=booking.pk, to=Booking.Status.CANCELLED)
        offer = waitlist_offer_free_seats(session_id=session.pk)[0]
        booking = claim(offer)
        assert booking.status == Booking.Status.PENDING and booking.seats == 2
        offer.refresh_from_db()
        assert (offer.status, offer.booking_id) == (Offer.Status.CLAIMED, booking.pk)
        assert Entry.objects.get(pk=offer.entry_id).status == Entry.Status.BOOKED
        session.refresh_from_db()
        assert session.seats_taken == 2
        assert_seats_add_up(session)
        with pytest.raises(ConflictError, match="already been claimed"):
            claim(offer, email="other@example.com")
        assert ActivityLog.objects.filter(action="waitlist.claimed").exists()
        # The claimed booking's hold lapsing gives the seats back like any other.
        booking_expire_hold(booking_id=booking.pk, now=timezone.now() + timedelta(hours=1))
        assert_seats_add_up(session)

    def test_an_unclaimed_offer_expires_and_its_seats_go_to_the_next_in_line(self):
        session, bookings = sold_out(capacity=1)
        first, second = join(session, 1), join(session, 2)
        booking_transition(booking_id=bookings[0].pk, to=Booking.Status.CANCELLED)
        offer = waitlist_offer_free_seats(session_id=session.pk)[0]
        later = offer.expires_at + timedelta(seconds=1)
        assert waitlist_expire_offers(now=offer.expires_at - timedelta(seconds=1)) == []
        assert waitlist_expire_offers(now=later) == [offer.pk]
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.status, second.status) == (Entry.Status.LAPSED, Entry.Status.OFFERED)
        with pytest.raises(ConflictError, match="expired"):
            claim(offer, now=later)
        assert_seats_add_up(session)
        # Nobody left: the next expiry gives the seat back to the public.
        waitlist_expire_offers(now=later + timedelta(days=2))
        session.refresh_from_db()
        assert session.seats_taken == 0

    def test_a_claim_after_the_expiry_time_is_refused_even_before_beat_runs(self):
        session, bookings = sold_out(capacity=1)
        join(session, 1)
        booking_transition(booking_id=bookings[0].pk, to=Booking.Status.CANCELLED)
        offer = waitlist_offer_free_seats(session_id=session.pk)[0]
        with pytest.raises(ConflictError, match="expired"):
            claim(offer, now=offer.expires_at)
        assert_seats_add_up(session)

    def test_leaving_withdraws_a_live_offer_and_passes_it_on(self):
        session, bookings = sold_out(capacity=1)
        first, second = join(session, 1), join(session, 2)
        booking_transition(booking_id=bookings[0].pk, to=Booking.Status.CANCELLED)
        waitlist_offer_free_seats(session_id=session.pk)
        assert waitlist_entry_leave(entry_id=first.pk) is True
        assert waitlist_entry_leave(entry_id=first.pk) is False
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.status, second.status) == (Entry.Status.LEFT, Entry.Status.OFFERED)
        assert Offer.objects.get(entry=first).status == Offer.Status.WITHDRAWN
        assert_seats_add_up(session)

    def test_staff_offer_now_and_remove(self):
        session, bookings = sold_out(capacity=2)
        first, second = join(session, 1), join(session, 2, seats=2)
        with pytest.raises(ConflictError, match="Only 0 seats"):
            waitlist_offer_entry(entry_id=second.pk)
        booking_transition(booking_id=bookings[0].pk, to=Booking.Status.CANCELLED)
        booking_transition(booking_id=bookings[1].pk, to=Booking.Status.CANCELLED)
        offer = waitlist_offer_entry(entry_id=second.pk)  # out of turn, staff's call
        assert offer.seats == 2
        assert waitlist_entry_leave(entry_id=second.pk, by_staff=True)
        assert Entry.objects.get(pk=second.pk).status == Entry.Status.REMOVED
        assert Entry.objects.get(pk=first.pk).status == Entry.Status.OFFERED
        assert ActivityLog.objects.filter(action="waitlist.removed").exists()
        assert_seats_add_up(session)

    def test_conversion_counts_offers_that_became_paid_bookings(self):
        session, bookings = sold_out(capacity=2)
        join(session, 1), join(session, 2)
        for booking in bookings:
            booking_transition(booking_id=booking.pk, to=Booking.Status.CANCELLED)
        first, second = waitlist_offer_free_seats(session_id=session.pk)
        booking_transition(booking_id=claim(first).pk, to=Booking.Status.PAID)
        claim(second)  # pending: not a conversion (yet)
        now = timezone.now()
        figures = waitlist_conversion(since=now - timedelta(days=1), until=now)
        assert figures == {"offers": 2, "booked": 1, "rate": 0.5}
        assert waitlist_conversion(since=now, until=now + timedelta(days=1))["rate"] is None

    def test_no_offers_for_a_cancelled_or_started_session(self):
        session, bookings = sold_out(capacity=1)
        join(session, 1)
        booking_transition(booking_id=bookings[0].pk, to=Booking.Status.CANCELLED)
        CourseSession.objects.filter(pk=session.pk).update(status=CourseSession.Status.CANCELLED)
        assert waitlist_offer_free_seats(session_id=session.pk) == []

    def test_beat_expires_offers_every_minute(self):
        entry = settings.CELERY_BEAT_SCHEDULE["expire-waitlist-offers"]
        assert entry["task"] == "apps.bookings.tasks.waitlist_expire_offers_task"
        assert entry["schedule"] == 60.0
        from config.celery import app

        app.loader.import_default_modules()
        assert entry["task"] in app.tasks


# --- concurrency ---------------------------------------------------------------------------


def run_in_threads(works):
    barrier = threading.Barrier(len(works))
    results = [None] * len(works)

    def runner(index):
        try:
            barrier.wait()
            results[index] = ("ok", works[index]())
        except Exception as error:
            results[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_claims_and_expiries_never_offer_a_seat_twice_or_oversell():
    assert connection.vendor == "postgresql"
    rng = random.Random(17)
    session = SessionFactory(capacity=10)
    holders = [make_booking(session, email=f"holder{n}@example.com") for n in range(10)]
    entries = [join(session, n, seats=rng.choice([1, 1, 2, 3])) for n in range(14)]
    assert_seats_add_up(session)

    # Round 1: eight seats freed at once (cancellations and lapsed holds), each followed
    # by the offer run its hook would queue; plus offer runs racing on their own.
    def release(booking, how):
        def work():
            if how == "cancel":
                booking_transition(booking_id=booking.pk, to=Booking.Status.CANCELLED)
            else:
                booking_expire_hold(booking_id=booking.pk,
                                    now=timezone.now() + timedelta(hours=1))
            return waitlist_offer_free_seats(session_id=session.pk)
        return work

    works = [release(b, "cancel" if n % 2 else "expire") for n, b in enumerate(holders[:8])]
    works += [lambda: waitlist_offer_free_seats(session_id=session.pk)] * 3
    results = run_in_threads(works)
    assert all(outcome == "ok" for outcome, _ in results), results
    assert_seats_add_up(session)
    live = list(Offer.objects.filter(session=session, status=Offer.Status.LIVE))
    assert live
    assert len({o.entry_id for o in live}) == len(live)

    # Round 2: every live offer is claimed twice at once (two tabs) while expiries past
    # every offer's time race them, and the last holders free their seats.
    later = max(o.expires_at for o in live) + timedelta(seconds=1)
    works = []
    for offer in live:
        works += [lambda o=offer: claim(o).pk,
                  lambda o=offer: claim(o, email=f"tab2.{o.entry.email}").pk]
    works += [lambda: waitlist_expire_offers(now=later)] * 3
    works += [release(b, "cancel") for b in holders[8:]]
    results = run_in_threads(works)
    errors = [value for outcome, value in results if outcome == "error"]
    assert all(isinstance(e, ConflictError) for e in errors), errors
    assert len(errors) >= len(live)  # at least the second tab of every offer lost
    assert_seats_add_up(session)
    claimed = Offer.objects.filter(session=session, status=Offer.Status.CLAIMED)
    assert claimed.exists()
    for offer in claimed:  # one booking per claimed offer, never two
        assert Booking.objects.filter(session=session, waitlist_offer=offer).count() == 1
    waiting_bookings = Booking.objects.filter(
        session=session, status=Booking.Status.PENDING, created_at__gt=live[0].created_at)
    assert waiting_bookings.count() == claimed.count()

    # Round 3: whatever is still live expires, concurrently, a month on (the session has
    # started by then, so nothing is offered again and every reserved seat comes back).
    for _ in range(3):
        results = run_in_threads([lambda: waitlist_expire_offers(
            now=timezone.now() + timedelta(days=30))] * 3)
        assert all(outcome == "ok" for outcome, _ in results), results
        assert_seats_add_up(session)
    assert not Offer.objects.filter(session=session, status=Offer.Status.LIVE).exists()
    assert len(entries) == Entry.objects.filter(session=session).count()


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["cancel", "hold_expired", "moved", "capacity_raised"])
def test_seats_freed_anywhere_are_offered_after_commit(how, django_capture_on_commit_callbacks):
    session, bookings = sold_out(capacity=1)
    entry = join(session, 1)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "cancel":
            booking_cancel(booking_id=bookings[0].pk, reason="test")
        elif how == "hold_expired":
            booking_expire_hold(booking_id=bookings[0].pk,
                                now=timezone.now() + timedelta(hours=1))
        elif how == "moved":
            other = SessionFactory(course=session.course, capacity=5)
            booking_move(booking_id=bookings[0].pk, to_session_id=other.pk)
        else:
            session.refresh_from_db()
            session.capacity = 2
            session_save_edit(session=session)
    entry.refresh_from_db()
    assert entry.status == Entry.Status.OFFERED
    assert_seats_add_up(session)
