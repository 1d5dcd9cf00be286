"""The staff back office: Django admin for every model."""
