from django import forms

from apps.core.money import format_money
from apps.core.money_forms import MoneyField


class RefundForm(forms.Form):
    amount = MoneyField(label="Amount to refund", min_amount=1)
    reason = forms.CharField(max_length=500, label="Reason (the customer sees it)")

    def __init__(self, *args, payment, available: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.available = available
        self.fields["amount"].currency = payment.currency
        self.fields["amount"].help_text = (
            f"In {payment.currency}, e.g. 50.00. At most "
            f"{format_money(available, payment.currency)} can still be refunded."
        )
        if not self.is_bound:
            self.fields["amount"].initial = available

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount > self.available:
            raise forms.ValidationError(
                f"At most {format_money(self.available, self.payment.currency)} can still be "
                "refunded on this payment."
            )
        return amount
