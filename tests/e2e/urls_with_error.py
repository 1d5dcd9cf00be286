"""The site's URLs plus one that fails, so the browser tests can see the real 500 page
(Django's handler500 renders templates/500.html). Used only through settings.ROOT_URLCONF
in a test."""

from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def broken_view(request):
    raise RuntimeError("a deliberate failure for the 500 page test")


urlpatterns = [path("e2e-broken/", broken_view), *site_urlpatterns]
