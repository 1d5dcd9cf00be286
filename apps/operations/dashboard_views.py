"""The staff business dashboard: figures from apps.operations.dashboard (cached five minutes),
charts drawn here as inline SVG (apps.operations.charts), inside the admin's layout."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateformat import format as format_date

from apps.certificates.selectors import RENEWAL_DEFINITION
from apps.core.money import CURRENCY_SYMBOLS, format_money, minor_units_per_major
from apps.operations import charts
from apps.operations.dashboard import dashboard_figures_cached

# Revenue is on the page: only staff who may see payments (admins, support) open it.
# Instructors are staff too but must not see payments.
DASHBOARD_PERMISSION = "payments.view_payment"


def can_view_dashboard(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(DASHBOARD_PERMISSION))


def _whole_money(amount: int, currency: str) -> str:
    """Headline figure: rounded to whole pounds (the chart's hover titles are exact)."""
    per_major = minor_units_per_major(currency)
    return format_money(round(amount / per_major) * per_major, currency).removesuffix(".00")


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def dashboard_charts(figures: dict) -> dict:
    currency = figures["currency"]

    def money(value):
        return format_money(int(value), currency)

    def money_axis(value):
        symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
        major = abs(value) / minor_units_per_major(currency)
        return ("-" if value < 0 else "") + symbol + charts.compact_number(major)

    days = figures["bookings_per_day"]
    weeks = figures["revenue_per_week"]
    months = figures["new_customers_per_month"]
    return {
        "bookings": charts.line_chart(
            [(format_date(point["day"], "j M"), point["count"]) for point in days],
            hints=[format_date(point["day"], "D j M Y") for point in days],
            title="Bookings per day, last 90 days", chart_id="chart-bookings",
            label_every=14, width=960, height=280,
        ),
        "revenue": charts.bar_chart(
            [(format_date(point["week_start"], "j M"), point["net"]) for point in weeks],
            hints=[
                f"Week of {format_date(point['week_start'], 'j M Y')} "
                f"({money(point['gross'])} taken, {money(point['refunds'])} refunded, "
                f"{money(point.get('disputes', 0))} lost to disputes)"
                for point in weeks
            ],
            title="Revenue per week net of refunds and disputes, last 13 weeks",
            chart_id="chart-revenue",
            value_format=money, axis_format=money_axis, label_every=2, width=520, height=280,
        ),
        "customers": charts.bar_chart(
            [(format_date(point["month"], "M y"), point["count"]) for point in months],
            hints=[format_date(point["month"], "F Y") for point in months],
            title="New customers per month, last 12 months", chart_id="chart-customers",
            label_every=2, width=520, height=280,
        ),
        "payment_success": charts.ring(
            figures["payment_success"]["rate"], title="Card payment success rate",
            chart_id="ring-payments",
        ),
        "fill": charts.ring(
            figures["fill"]["rate"], title="Upcoming sessions' fill rate", chart_id="ring-fill"
        ),
        "renewal": charts.ring(
            figures["renewal"]["rate"], title="Renewal rate of expired certificates",
            chart_id="ring-renewal",
        ),
    }


@staff_member_required
def staff_dashboard(request):
    if not can_view_dashboard(request.user):
        raise PermissionDenied
    figures = dashboard_figures_cached()
    next_sessions = [
        {**session, "meter": charts.meter(
            session["rate"],
            label=f"{session['seats_taken']} of {session['capacity']} seats taken")}
        for session in figures["fill"]["next_sessions"]
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Business dashboard",
        "figures": figures,
        "charts": dashboard_charts(figures),
        "next_sessions": next_sessions,
        "revenue_net_total": _whole_money(figures["revenue_net_total"], figures["currency"]),
        "payment_success_rate": _percent(figures["payment_success"]["rate"]),
        "fill_rate": _percent(figures["fill"]["rate"]),
        "renewal_rate": _percent(figures["renewal"]["rate"]),
        "waitlist_rate": _percent(figures.get("waitlist", {}).get("rate")),
        "renewal_definition": RENEWAL_DEFINITION,
        "generated_at": timezone.localtime(figures["generated_at"]),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
