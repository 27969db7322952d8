"""The portal's forms. Values are checked by securebox's own types (``Principal``,
``Siren``, ``normalise_payee``): the portal has no format rule of its own."""

from __future__ import annotations

from django import forms
from securebox_auth import SecureboxError, Siren, normalise_payee


class IdentifyForm(forms.Form):
    client_id = forms.CharField(label="Client identifier", max_length=20)
    user_number = forms.CharField(label="User number", max_length=4)


class CodeForm(forms.Form):
    code = forms.CharField(label="Code", max_length=64, widget=forms.PasswordInput)


class ChangeCodeForm(forms.Form):
    current = forms.CharField(label="Code received by mail", widget=forms.PasswordInput)
    new = forms.CharField(label="New confidential code", widget=forms.PasswordInput)


class PayeeForm(forms.Form):
    company = forms.CharField(label="Company (SIREN)", max_length=11)
    iban = forms.CharField(label="IBAN", max_length=42)
    label = forms.CharField(label="Name", max_length=70)

    def clean_company(self) -> str:
        try:
            return Siren.parse(self.cleaned_data["company"]).value
        except SecureboxError as exc:
            raise forms.ValidationError("not a SIREN") from exc

    def clean_iban(self) -> str:
        try:
            return normalise_payee("IBAN:" + self.cleaned_data["iban"])
        except SecureboxError as exc:
            raise forms.ValidationError("not an IBAN") from exc
