"""Portal forms: shape and length checks only; the services decide the rest
(password rules, tier limits, phone numbers) and their errors land on these fields."""

from __future__ import annotations

from django import forms


class SignupForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=150, required=False)
    email = forms.EmailField(label="E-mail", max_length=254)
    password = forms.CharField(
        label="Password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not only digits, not a common password.",
    )


class LoginForm(forms.Form):
    email = forms.CharField(
        label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        label="Password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class InstanceForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="For example “Shop support”.")
    description = forms.CharField(
        label="Description", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class SendTestForm(forms.Form):
    to = forms.CharField(
        label="To (phone number)",
        max_length=32,
        help_text="E.164 like +15551234567, or digits only.",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    text = forms.CharField(label="Message", max_length=4096, widget=forms.Textarea(attrs={"rows": 2}))


class PairingCodeForm(forms.Form):
    phone = forms.CharField(
        label="Your WhatsApp phone number",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Key name", max_length=100, help_text="Where you will use it, e.g. “CRM”.")


EVENT_CHOICES = [
    ("session.status", "session.status — an instance's status changed"),
    ("session.qr", "session.qr — a new QR code to scan"),
    ("message.received", "message.received — a message came in"),
    ("message.sent", "message.sent — WhatsApp accepted a message"),
    ("message.failed", "message.failed — a message could not be sent"),
    ("message.ack", "message.ack — delivered / read receipts"),
]


class WebhookForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/wagate/events"}),
        help_text="We POST each event as JSON, signed with the secret (X-Wagate-Signature).",
    )
    events = forms.MultipleChoiceField(
        label="Events", choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    session = forms.ChoiceField(label="Instance", required=False)
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=200,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="At least 16 characters; leave empty and we generate one.",
    )

    def __init__(self, *args: object, sessions: object = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session"].choices = [("", "All instances")] + [(s.id, s.name) for s in sessions]
