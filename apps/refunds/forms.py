from decimal import Decimal

from django import forms

from apps.core.money import format_money, to_minor_units


class RefundForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), decimal_places=2, max_digits=10,
                                label="Amount to refund")
    reason = forms.CharField(max_length=500, label="Reason (the customer sees it)")

    def __init__(self, *args, payment, available: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.available = available
        self.fields["amount"].help_text = (
            f"At most {format_money(available, payment.currency)} can still be refunded."
        )
        if not self.is_bound:
            self.fields["amount"].initial = Decimal(available) / 100

    def clean_amount(self):
        amount = to_minor_units(self.cleaned_data["amount"], self.payment.currency)
        if amount > self.available:
            raise forms.ValidationError(
                f"At most {format_money(self.available, self.payment.currency)} can still be "
                "refunded on this payment."
            )
        return amount
