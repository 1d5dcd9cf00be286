from django import forms

from .models import User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "phone", "company_name", "marketing_consent"]
        labels = {
            "company_name": "Company",
            "marketing_consent": "Email me about new courses and certificate renewals",
        }
