from django.urls import path

from . import views

app_name = "payments"  # the URL names stay payments:stripe-webhook

urlpatterns = [
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
]
