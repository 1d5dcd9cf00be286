"""The HTML part of every email, made from its plain-text part.

The text template stays the one source of an email's words; this turns the rendered text
into safe HTML (every character of it escaped, links made clickable, "Label:   value" lines
as a details table, "  - " lines as a list) and wraps it in the branded layout
(templates/emails/layout.html: table-based with inline CSS, as Gmail and Outlook need).
"""

import re

from django.conf import settings
from django.template.loader import get_template
from django.utils.html import escape, urlize
from django.utils.safestring import mark_safe

from .models import Communication

DEFAULT_COLOUR = "#0f766e"
HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
DETAIL = re.compile(r"^([A-Z][\w ]{0,24}):\s{2,}(\S.*)$")
BULLET = re.compile(r"^\s+- (.*)$")
CODE = re.compile(r"^[A-Z0-9]{3,}(?:-[A-Z0-9]{3,})+$")  # a sign-in code on its own line

KIND = Communication.Kind
REASONS = {
    KIND.ACCOUNT: "You received this email because it was asked for on your {site} account "
                  "(sign-in, email address or password).",
    KIND.STAFF_ALERT: "You received this email because you are on {site}'s staff.",
    KIND.WAITLIST_JOINED: "You received this email because you joined a waiting list at {site}.",
    KIND.WAITLIST_OFFER: "You received this email because you joined a waiting list at {site}.",
    KIND.CERTIFICATE_ISSUED: "You received this email because you attended a course "
                             "with {site}.",
    KIND.CERTIFICATE_EXPIRY: "You received this email because you hold a certificate "
                             "from {site}.",
    KIND.EMAIL_CHANGED: "You received this email because the email address of your {site} "
                        "account was changed.",
}
DEFAULT_REASON = "You received this email because of a booking with {site}."


def brand() -> dict:
    colour = settings.BRAND_COLOUR
    return {
        "name": settings.SITE_NAME,
        "url": settings.SITE_URL,
        "logo_url": settings.BRAND_LOGO_URL,
        # The colour lands in CSS: anything but a hex colour would be a way out of it.
        "colour": colour if HEX_COLOUR.match(colour or "") else DEFAULT_COLOUR,
        "address": settings.BRAND_ADDRESS,
    }


def _inline(text: str, link_style: str) -> str:
    """One line of text as HTML: escaped, with its URLs and addresses as links."""
    html = urlize(text, autoescape=True, nofollow=False)
    return html.replace("<a href=", f'<a style="{link_style}" href=')


def _runs(lines: list[str]):
    """Consecutive lines grouped by what they are: ("detail"|"bullet"|"text", lines)."""
    run_kind, run = None, []
    for line in lines:
        kind = "detail" if DETAIL.match(line) else "bullet" if BULLET.match(line) else "text"
        if kind != run_kind and run:
            yield run_kind, run
            run = []
        run_kind = kind
        run.append(line)
    if run:
        yield run_kind, run


def text_to_html(text: str, *, colour: str = DEFAULT_COLOUR) -> str:
    link = f"color:{colour};text-decoration:underline;word-break:break-all;"
    parts = []
    for block in re.split(r"\n\s*\n", text.strip()):
        for kind, lines in _runs(block.splitlines()):
            if kind == "detail":
                rows = "".join(
                    '<tr><td style="padding:4px 12px 4px 0;color:#57606a;vertical-align:top;'
                    f'white-space:nowrap;">{escape(m[1])}</td>'
                    '<td style="padding:4px 0;color:#1f2328;vertical-align:top;">'
                    f'{_inline(m[2], link)}</td></tr>'
                    for m in (DETAIL.match(line) for line in lines))
                parts.append('<table role="presentation" cellpadding="0" cellspacing="0" '
                             'border="0" style="margin:0 0 16px 0;font-size:15px;'
                             f'line-height:1.5;">{rows}</table>')
            elif kind == "bullet":
                items = "".join(f'<li style="margin:0 0 4px 0;">'
                                f'{_inline(BULLET.match(line)[1], link)}</li>'
                                for line in lines)
                parts.append(f'<ul style="margin:0 0 16px 0;padding:0 0 0 20px;">{items}</ul>')
            elif len(lines) == 1 and CODE.match(lines[0].strip()):
                parts.append('<p style="margin:0 0 16px 0;"><span style="display:inline-block;'
                             'padding:10px 16px;border:1px solid #d0d7de;border-radius:6px;'
                             'background-color:#f6f8fa;font-family:Consolas,Menlo,monospace;'
                             'font-size:24px;letter-spacing:3px;font-weight:bold;">'
                             f'{escape(lines[0].strip())}</span></p>')
            else:
                body = "<br>".join(_inline(line.strip(), link) for line in lines)
                parts.append(f'<p style="margin:0 0 16px 0;">{body}</p>')
    return "\n".join(parts)


def email_html(*, kind: str, subject: str, text: str) -> str:
    """The whole HTML document of an email whose plain text is `text`."""
    values = brand()
    reason = REASONS.get(kind, DEFAULT_REASON).format(site=values["name"])
    return get_template("emails/layout.html").render({
        "brand": values,
        "subject": subject,
        # allauth's subjects start "[Site name] "; under the branded header that repeats it.
        "heading": subject.removeprefix(f"[{values['name']}] "),
        # Safe: text_to_html escapes every character of the text it is given.
        "content": mark_safe(text_to_html(text, colour=values["colour"])),  # noqa: S308
        "reason": reason,
    })
