# The refund admin tests use the refunds tests' card-paid booking.
from tests.refunds.conftest import paid_booking  # noqa: F401
