from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from .selectors import catalogue_filter_options, catalogue_sessions, session_for_page

CATALOGUE_PAGE_SIZE = 24


@require_GET
@vary_on_headers("HX-Request")
def catalogue(request):
    course = request.GET.get("course", "")
    location = request.GET.get("location", "")
    paginator = Paginator(
        catalogue_sessions(course_slug=course, location_id=location), CATALOGUE_PAGE_SIZE
    )
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "page": page,
        "sessions": page.object_list,
        "selected_course": course,
        "selected_location": location,
    }
    if request.htmx:
        return render(request, "sessions/_session_list.html", context)
    context.update(catalogue_filter_options())
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
