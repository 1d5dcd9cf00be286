from . import waitlist  # noqa: F401
