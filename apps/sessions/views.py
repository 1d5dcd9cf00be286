from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from .catalogue_cache import LIST_TTL_SECONDS, catalogue_list_key
from .selectors import catalogue_filter_options, catalogue_sessions, session_for_page

CATALOGUE_PAGE_SIZE = 24


@require_GET
@vary_on_headers("HX-Request")
def catalogue(request):
    course = request.GET.get("course", "")[:100]
    location = request.GET.get("location", "")[:20]
    location = location if location.isdigit() else ""  # the selector ignores anything else
    page_number = request.GET.get("page", "")[:10]
    page_number = page_number if page_number.isdigit() else ""  # get_page: the first page
    key = catalogue_list_key(course=course, location=location, page=page_number)
    session_list = cache.get(key)
    if session_list is None:
        paginator = Paginator(
            catalogue_sessions(course_slug=course, location_id=location), CATALOGUE_PAGE_SIZE
        )
        page = paginator.get_page(page_number)
        session_list = render_to_string("sessions/_session_list.html", {
            "page": page, "sessions": page.object_list,
            "selected_course": course, "selected_location": location,
        })
        cache.set(key, session_list, LIST_TTL_SECONDS)
    session_list = mark_safe(session_list)  # noqa: S308 (our own template's output)
    if request.htmx:
        return HttpResponse(session_list)
    context = {"session_list": session_list, "selected_course": course,
               "selected_location": location, **catalogue_filter_options()}
    return render(request, "sessions/catalogue.html", context)


@require_GET
@vary_on_headers("HX-Request")
def session_detail(request, session_id):
    session = session_for_page(session_id=session_id)
    if session is None:
        raise Http404("No such session.")
    context = {"session": session, "bookable": session.is_bookable()}
    if request.htmx:
        return render(request, "sessions/_availability.html", context)
    return render(request, "sessions/detail.html", context)
