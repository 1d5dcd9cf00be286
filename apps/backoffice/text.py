"""Messages staff read: plain English with correct counts ("1 booking", "3 bookings")."""


def counted(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
