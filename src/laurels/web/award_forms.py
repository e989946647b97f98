"""Forms of the award pages (web/award_views.py): one award, a CSV upload, starting a
checked batch. They bound sizes and shapes only; what makes an award valid (the
recipient for its type, URLs, dates) is the award service's to say, so the pages and
the API refuse the same things."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms

from laurels.issuing.models import RecipientType
from laurels.web.account_forms import Described

EVIDENCE_ROWS = 3  # evidence items the single-award form offers
NARRATIVE_MAX = 10_000
URL_MAX = 2_000
MAX_CSV_BYTES = 5 * 1024 * 1024

RECIPIENT_TYPES = [
    (RecipientType.EMAIL.value, "Email address"),
    (RecipientType.URL.value, "Web address (URL)"),
    (RecipientType.TELEPHONE.value, "Telephone number"),
]


def _recipient_type(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(choices=RECIPIENT_TYPES, initial=RecipientType.EMAIL, label=label)


def _refuse_duplicates() -> forms.BooleanField:
    return forms.BooleanField(
        required=False,
        initial=True,
        label="Refuse anyone who already holds this badge",
        help_text="Unticked, a second award of the same badge to the same person is made.",
    )


class AwardForm(Described):
    """One award: the recipient, what they did, evidence, when, and whether to mail."""

    recipient_type = _recipient_type("Recipient type")
    identity = forms.CharField(
        label="Recipient",
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Their email address, web address or telephone number, as chosen above.",
    )
    name = forms.CharField(
        label="Name (optional)",
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    narrative = forms.CharField(
        label="Narrative (optional)",
        required=False,
        max_length=NARRATIVE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What this person did to earn it. Markdown: **bold**, *italic*, [links](https://…).",
    )
    issued_on = forms.DateField(
        label="Issued on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for today. Any date from 1900 on.",
    )
    notify = forms.BooleanField(label="Email the recipient about it", required=False, initial=True)
    refuse_duplicates = _refuse_duplicates()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, EVIDENCE_ROWS + 1):
            self.fields[f"evidence_url_{n}"] = forms.CharField(
                label=f"Evidence {n}: web address",
                required=False,
                max_length=URL_MAX,
                widget=forms.URLInput(attrs={"autocomplete": "off"}),
            )
            self.fields[f"evidence_narrative_{n}"] = forms.CharField(
                label=f"Evidence {n}: description",
                required=False,
                max_length=NARRATIVE_MAX,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def evidence_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"evidence_url_{n}"], self[f"evidence_narrative_{n}"])
            for n in range(1, EVIDENCE_ROWS + 1)
        ]

    def evidence(self) -> list[dict]:
        """The evidence rows given (an empty row is no evidence), as the service takes them."""
        data = self.cleaned_data
        items = []
        for n in range(1, EVIDENCE_ROWS + 1):
            url, narrative = data[f"evidence_url_{n}"], data[f"evidence_narrative_{n}"]
            if url or narrative:
                items.append({"url": url, "narrative": narrative})
        return items

    def issued_at(self) -> datetime | None:
        """The issue date as the start of that day in UTC (the service bounds it)."""
        day = self.cleaned_data["issued_on"]
        return datetime.combine(day, time(), tzinfo=UTC) if day else None


class CsvUploadForm(Described):
    """A CSV of awards to check (step 1 of a batch)."""

    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=(
            "One recipient a row: identity, name, narrative, evidence URL (only the "
            "first is needed; a header row is fine). UTF-8, at most 5 MB and 10,000 rows."
        ),
    )
    recipient_type = _recipient_type("The identities are")
    refuse_duplicates = _refuse_duplicates()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB; split it.")
        return upload


class BatchStartForm(forms.Form):
    """Step 2: award a checked batch."""

    notify = forms.BooleanField(label="Email each recipient about it", required=False, initial=True)
