"""Model fields that belong to no domain."""

from encrypted_fields.fields import EncryptedTextField


class EncryptedOptionalText(EncryptedTextField):
    """Free text that may hold health data, encrypted at rest (Fernet, a key derived from
    SECRET_KEY; see SALT_KEY in settings). Empty text is stored as NULL and read back as
    "", so code and templates never see None. Queries cannot compare the text: to find
    rows that have some, filter on `<field>__isnull=False`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs["null"] = True
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        value = super().from_db_value(value, expression, connection)
        return "" if value is None else value
