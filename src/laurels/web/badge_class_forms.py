"""Forms of the badge class pages (`web.badge_class_views`).

The rules are the API's: images go through `core.images` (the same check and SVG
cleaning as `PUT /v2/badgeclasses/{id}/image`), alignments through
`issuing.models.validate_alignments`, expiry and the rest through
`issuing.services.badge_class_create/update`, whose errors the views put back on these
forms. The bounds here (lengths, counts) only keep one request small.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.urls import reverse

from laurels.issuing.models import EXPIRY_LIMITS, BadgeClass, ExpiryUnit, validate_alignments
from laurels.web.account_forms import Described
from laurels.web.workspace import ImageUploadField

DESCRIPTION_MAX_LENGTH = 10_000
CRITERIA_MAX_LENGTH = 20_000  # also the Markdown preview's bound
TAGS_MAX = 50
TAG_MAX_LENGTH = 100
ALIGNMENTS_MAX = 20
WEB_URL = URLValidator(schemes=["http", "https"])


class BadgeClassForm(Described):
    name = forms.CharField(
        max_length=BadgeClass._meta.get_field("name").max_length,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    description = forms.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the badge stands for, in a sentence or two. Shown with every award.",
    )
    image = ImageUploadField(preview="badge-image-preview", label="Image", required=False)
    criteria_narrative = forms.CharField(
        label="Criteria",
        required=False,
        max_length=CRITERIA_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What an earner did to get it, in Markdown (**bold**, lists, links). "
        "A preview appears below as you type.",
    )
    criteria_url = forms.CharField(
        label="Criteria URL",
        required=False,
        max_length=BadgeClass._meta.get_field("criteria_url").max_length,
        widget=forms.URLInput(attrs={"inputmode": "url", "autocomplete": "off"}),
        help_text="Optional: a page of yours that describes the criteria (http or https).",
    )
    tags = forms.CharField(
        required=False,
        max_length=TAGS_MAX * (TAG_MAX_LENGTH + 2),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=f"Separated by commas, e.g. “sailing, safety”. At most {TAGS_MAX}.",
    )
    expires_amount = forms.IntegerField(
        label="Awards expire after",
        required=False,
        min_value=1,
        max_value=EXPIRY_LIMITS[ExpiryUnit.DAYS],
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text="Leave empty for awards that never expire; at most 100 years.",
    )
    expires_duration = forms.ChoiceField(
        label="Unit",
        required=False,
        choices=[("", "(no expiry)"), *ExpiryUnit.choices],
    )

    def __init__(self, *args, image_required: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # htmx: the preview under the field follows what is typed (badge_class_preview.html).
        self.fields["criteria_narrative"].widget.attrs.update(
            {
                "hx-post": reverse("web:badge_class_markdown_preview"),
                "hx-trigger": "input changed delay:400ms",
                "hx-target": "#criteria-preview",
                "hx-params": "criteria_narrative,csrfmiddlewaretoken",
                "hx-sync": "this:replace",
                "aria-controls": "criteria-preview",
            }
        )
        self.fields["image"].required = image_required
        if not image_required:
            self.fields["image"].help_text += " Leave empty to keep the current image."

    def clean_criteria_url(self) -> str:
        url = self.cleaned_data["criteria_url"].strip()
        if url:
            try:
                WEB_URL(url)
            except ValidationError:
                raise ValidationError("Give a web address (http or https).") from None
        return url

    def clean_tags(self) -> list[str]:
        tags = list(dict.fromkeys(t.strip() for t in self.cleaned_data["tags"].split(",")))
        tags = [t for t in tags if t]
        if len(tags) > TAGS_MAX:
            raise ValidationError(f"At most {TAGS_MAX} tags.")
        if any(len(t) > TAG_MAX_LENGTH for t in tags):
            raise ValidationError(f"A tag is at most {TAG_MAX_LENGTH} characters.")
        return tags

    def clean(self) -> dict:
        data = super().clean()
        amount, unit = data.get("expires_amount"), data.get("expires_duration")
        if "expires_amount" not in self.errors and bool(amount) != bool(unit):
            self.add_error("expires_amount", "Give both a number and a unit, or neither.")
        return data

    def changes(self) -> dict:
        """The keyword arguments of `badge_class_create`/`badge_class_update` (without
        `alignments`, which come from the formset)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "image": data["image"],
            "criteria_narrative": data["criteria_narrative"],
            "criteria_url": data["criteria_url"],
            "tags": data["tags"],
            "expires_amount": data["expires_amount"],
            "expires_duration": data["expires_duration"] or None,
        }

    @staticmethod
    def initial_of(badge_class: BadgeClass) -> dict:
        return {
            "name": badge_class.name,
            "description": badge_class.description,
            "criteria_narrative": badge_class.criteria_narrative,
            "criteria_url": badge_class.criteria_url,
            "tags": ", ".join(str(t) for t in badge_class.tags or []),
            "expires_amount": badge_class.expires_amount,
            "expires_duration": badge_class.expires_duration,
        }


# Open Badges' alignment properties, as the API keeps them, and their form fields.
ALIGNMENT_FIELDS = {
    "target_name": "targetName",
    "target_url": "targetUrl",
    "target_description": "targetDescription",
    "target_framework": "targetFramework",
    "target_code": "targetCode",
}


class AlignmentForm(Described):
    """One alignment row; a row left empty is no alignment."""

    target_name = forms.CharField(label="Name", required=False, max_length=255)
    target_url = forms.CharField(
        label="URL",
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"inputmode": "url", "autocomplete": "off"}),
    )
    target_description = forms.CharField(label="Description", required=False, max_length=1000)
    target_framework = forms.CharField(label="Framework", required=False, max_length=255)
    target_code = forms.CharField(label="Code", required=False, max_length=255)

    def clean(self) -> dict:
        data = super().clean()
        item = self.alignment()
        if item is None or self.errors:
            return data
        if not item.get("targetName"):
            self.add_error("target_name", "Give the name of what the badge aligns to.")
        try:
            validate_alignments([item])
        except ValidationError as error:
            self.add_error("target_url", error.messages[0])
        return data

    def alignment(self) -> dict | None:
        """The row as the API keeps an alignment, or None for an empty row."""
        data = getattr(self, "cleaned_data", {})
        item = {
            key: data[name].strip()
            for name, key in ALIGNMENT_FIELDS.items()
            if (data.get(name) or "").strip()
        }
        return item or None

    @staticmethod
    def initial_of(item: dict) -> dict:
        return {name: str(item.get(key) or "") for name, key in ALIGNMENT_FIELDS.items()}


class BaseAlignmentFormSet(forms.BaseFormSet):
    def alignments(self) -> list[dict]:
        return [item for form in self.forms if (item := form.alignment()) is not None]


AlignmentFormSet = forms.formset_factory(
    AlignmentForm,
    formset=BaseAlignmentFormSet,
    extra=0,
    max_num=ALIGNMENTS_MAX,
    absolute_max=ALIGNMENTS_MAX,
    validate_max=True,
)


def alignment_formset(data=None, *, rows: list[dict] = ()) -> BaseAlignmentFormSet:
    """The alignment rows: bound to `data`, or showing `rows` (`AlignmentForm.initial_of`)
    and one empty row to add another (never more than ALIGNMENTS_MAX in all)."""
    if data is not None:
        return AlignmentFormSet(data, prefix="alignments")
    return AlignmentFormSet(initial=[*rows, {}][:ALIGNMENTS_MAX], prefix="alignments")


class MarkdownPreviewForm(forms.Form):
    """The criteria's Markdown, as the badge class form sends it for a preview."""

    criteria_narrative = forms.CharField(required=False, max_length=CRITERIA_MAX_LENGTH)
