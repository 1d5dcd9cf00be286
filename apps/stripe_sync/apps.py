from django.apps import AppConfig


class StripeSyncConfig(AppConfig):
    name = "apps.stripe_sync"
    verbose_name = "Stripe sync"
