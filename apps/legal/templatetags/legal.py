from django import template

from ..policy import session_cancellation_policy_text

register = template.Library()


@register.filter
def cancellation_policy_text(session) -> str:
    """The policy with this session's dates as plain text (emails)."""
    return session_cancellation_policy_text(session=session)


@register.inclusion_tag("legal/_cancellation_policy.html")
def cancellation_policy(session, heading="Cancellation policy"):
    """The policy with this session's dates, as a page fragment (pages and, later, emails
    use the same text: apps.legal.policy.booking_cancellation_policy_text)."""
    return {"heading": heading,
            "policy_text": session_cancellation_policy_text(session=session)}
