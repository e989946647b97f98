"""Forms of the issuer's award list (`web.awards_list_views`): its query (recipient,
status, issue dates, the page's cursor) and revoking one award or the ticked ones."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from django import forms

from laurels.api.inputs import BadInput
from laurels.api.pagination import MAX_CURSOR_LENGTH, cursor_parts, cursor_row_id
from laurels.issuing.models import EARLIEST_INSTANT, LATEST_INSTANT, OUT_OF_RANGE, Assertion
from laurels.issuing.selectors import AWARD_STATUSES
from laurels.web.account_forms import Described

MAX_REVOKE = 100  # awards one "Revoke selected" may name (a page shows PAGE_SIZE)
ENTITY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
FIRST_DAY = EARLIEST_INSTANT.date()
LAST_DAY = LATEST_INSTANT.date()

STATUS_LABELS = {"valid": "Valid", "revoked": "Revoked", "expired": "Expired"}


class AwardsFilter(Described):
    """The list's query; `after` / `before` are the opaque cursors of its Next and
    Previous links (a row id, read as strictly as the API reads its cursors)."""

    recipient = forms.CharField(
        label="Recipient",
        required=False,
        max_length=Assertion._meta.get_field("recipient_plaintext").max_length,
        help_text="The start of an email address (or URL, telephone, id), or all of it.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    match = forms.ChoiceField(
        label="Match",
        required=False,
        choices=[("prefix", "Starts with"), ("exact", "Is exactly")],
    )
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status")] + [(s, STATUS_LABELS[s]) for s in AWARD_STATUSES],
    )
    issued_from = forms.DateField(
        label="Issued from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    issued_to = forms.DateField(
        label="Issued until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    after = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=MAX_CURSOR_LENGTH, widget=forms.HiddenInput)

    def _day(self, name: str) -> date | None:
        day = self.cleaned_data.get(name)
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(OUT_OF_RANGE)
        return day

    def clean_issued_from(self) -> date | None:
        return self._day("issued_from")

    def clean_issued_to(self) -> date | None:
        return self._day("issued_to")

    def _cursor(self, name: str) -> int | None:
        text = self.cleaned_data.get(name)
        if not text:
            return None
        try:
            (row_id,) = cursor_parts(text, 1)
            return cursor_row_id(row_id)
        except BadInput:
            raise forms.ValidationError(
                "This page link is broken; start from the first page."
            ) from None

    def clean_after(self) -> int | None:
        return self._cursor("after")

    def clean_before(self) -> int | None:
        return self._cursor("before")

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("issued_from"), data.get("issued_to")
        if start and end and start > end:
            self.add_error("issued_to", "Give a day on or after “Issued from”.")
        if data.get("after") and data.get("before"):
            raise forms.ValidationError("Page forwards or backwards, not both.")
        return data

    def criteria(self) -> dict:
        """What `issuing.selectors.awards_listed` takes, from a valid (or unbound) form."""
        data = self.cleaned_data if self.is_bound else {}
        start, end = data.get("issued_from"), data.get("issued_to")
        until = None
        if end is not None:
            until = (
                LATEST_INSTANT
                if end >= LAST_DAY
                else datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
            )
        return {
            "recipient": data.get("recipient", ""),
            "exact": data.get("match") == "exact",
            "status": data.get("status", ""),
            "issued_since": datetime.combine(start, time.min, tzinfo=UTC) if start else None,
            "issued_until": until,
        }

    def kept(self) -> dict[str, str]:
        """The query as typed, without paging: for the paging and export links."""
        if not self.is_bound:
            return {}
        return {
            name: str(self.data.get(name))
            for name in ("recipient", "match", "status", "issued_from", "issued_to")
            if self.data.get(name)
        }

    @property
    def filtered(self) -> bool:
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return any(data.get(n) for n in ("recipient", "status", "issued_from", "issued_to"))


class RevokeForm(Described):
    """Revoking: the reason is required, kept with the award and shown on its public page."""

    revocation_reason = forms.CharField(
        label="Reason",
        max_length=Assertion._meta.get_field("revocation_reason").max_length,
        help_text="Shown on the award's public page, and to anyone who checks it.",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say why the award is revoked."},
    )


class EntityIdsField(forms.Field):
    """Repeated entity ids (ticked checkboxes): at least one, at most MAX_REVOKE,
    each shaped like an entity id; repeats are dropped, order kept."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": "Tick the awards to revoke first."}

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        return list(dict.fromkeys(str(v) for v in value))

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > MAX_REVOKE:
            raise forms.ValidationError(f"Revoke at most {MAX_REVOKE} awards at a time.")
        if not all(ENTITY_ID.fullmatch(v) for v in value):
            raise forms.ValidationError("That is not a list of awards.")


class RevokeSelectedForm(RevokeForm):
    award = EntityIdsField(label="Awards")
