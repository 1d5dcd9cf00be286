"""A person's data, as they may ask for it (GDPR right of access): everything kept about
them across the domain, in one JSON-ready dict. Erasure is in apps.operations.erasure."""

from apps.bookings.models import Attendee
from apps.certificates.models import Certificate
from apps.companies.models import CompanyContact, CompanyLinkRequest
from apps.core.models import Communication
from apps.refunds.selectors import bookings_naming_person
from apps.users.models import ActivityLog, User


def _iso(value):
    return value.isoformat() if value else None


def user_export_data(*, user: User) -> dict:
    """Everything we hold about one person, as JSON-ready data (GDPR right of access):
    profile and marketing consent history, bookings (as purchaser: the names and emails they
    entered for their attendees; as attendee: their own seat), payments, refunds,
    certificates, the emails sent to them, staff notes about them and the activity log
    entries about them."""
    bookings = []
    for booking in bookings_naming_person(user=user):
        own = booking.purchaser_id == user.pk
        bookings.append({
            "reference": booking.reference,
            "role": "purchaser" if own else "attendee",
            "course": booking.session.course.title,
            "starts_at": booking.session.starts_at.isoformat(),
            "location": booking.session.location.name,
            "status": booking.status,
            "seats": booking.seats if own else 1,
            "total": booking.total_amount if own else None,
            "currency": booking.currency,
            "company_name": booking.company_name if own else "",
            "special_requirements": booking.special_requirements if own else "",
            "created_at": booking.created_at.isoformat(),
            "terms_accepted": ({"version": booking.terms_document.version,
                                "at": _iso(booking.terms_accepted_at)}
                               if own and booking.terms_document_id else None),
            "attendees": [
                {"name": a.name, "email": a.email, "attendance": a.attendance,
                 "cancelled_at": _iso(a.cancelled_at)}
                # Cancelled places too: the export holds everything kept about them.
                for a in Attendee.all_objects.filter(booking=booking)
                if own or a.user_id == user.pk
            ],
            "payments": [
                {"amount": p.amount, "currency": p.currency, "status": p.status,
                 "method": p.method, "card_brand": p.card_brand, "card_last4": p.card_last4,
                 "created_at": p.created_at.isoformat(),
                 "refunds": [{"amount": r.amount, "currency": r.currency, "status": r.status,
                              "reason": r.reason, "created_at": r.created_at.isoformat()}
                             for r in p.refunds.all()],
                 "disputes": [{"amount": d.amount, "currency": d.currency, "reason": d.reason,
                               "status": d.status, "money_lost": d.money_lost}
                              for d in p.disputes.all()]}
                for p in booking.payments.all()
            ] if own else [],
        })
    return {
        "profile": {
            "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
            "phone": user.phone, "company_name": user.company_name,
            "marketing_consent": user.marketing_consent,
            "date_joined": user.date_joined.isoformat(),
            "last_login": _iso(user.last_login),
            "total_bookings": user.total_bookings, "total_spent": user.total_spent,
        },
        "marketing_consent_history": [
            {"given": change.given, "at": change.created_at.isoformat(),
             "how": change.get_source_display()}
            for change in user.consent_changes.all()
        ],
        "bookings": bookings,
        "certificates": [
            {"number": c.number, "course": c.course.title, "holder_name": c.holder_name,
             "issued_on": c.issued_on.isoformat(), "expires_on": _iso(c.expires_on),
             "revoked_at": _iso(c.revoked_at), "revoked_reason": c.revoked_reason}
            for c in Certificate.objects.filter(user=user).select_related("course")
        ],
        "emails": [
            {"kind": c.kind, "recipient": c.recipient, "subject": c.subject, "body": c.body,
             "attachments": [a.get("filename", "") for a in c.attachments or []
                             if isinstance(a, dict)],
             "status": c.status, "created_at": _iso(c.created_at), "sent_at": _iso(c.sent_at)}
            for c in Communication.objects.filter(user=user).order_by("created_at", "pk")
        ],
        "companies": [
            {"company": c.company.name, "role": c.get_role_display(),
             "since": c.created_at.isoformat()}
            for c in CompanyContact.objects.filter(user=user).select_related("company")
        ],
        "company_link_requests": [
            {"company_name": r.company_name, "message": r.message,
             "status": r.get_status_display(), "at": r.created_at.isoformat()}
            for r in CompanyLinkRequest.objects.filter(user=user).order_by("created_at", "pk")
        ],
        "staff_notes": [
            {"written_at": note.created_at.isoformat(), "text": note.text}
            for note in user.notes.order_by("created_at", "pk")
        ],
        "activity": [
            {"at": entry.created_at.isoformat(), "action": entry.action,
             "about": f"{entry.target_type}:{entry.target_id}" if entry.target_type else "",
             "data": entry.data}
            for entry in ActivityLog.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }
