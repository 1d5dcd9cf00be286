from tests.api.conftest import staff_client  # noqa: F401  (the staff API client fixture)
