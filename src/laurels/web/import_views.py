"""The Import page: bring a badge from another issuer into the backpack, in two steps.

Step 1 (`check`) takes one of a URL, a baked PNG/SVG or pasted JSON/JWS, runs every check
an import makes (`importing.badge_preview`) and shows the result without keeping anything.
Step 2 (`save`) imports it. The save never trusts step 1's answer: the page carries only
the source (the assertion URL or the JWS, in a salted, signed, short-lived field) and the
save verifies it again through `importing.badge_import`, so a revocation in between is
caught and a forged form can at most ask to import a badge that still verifies as
the person's. Each step is a plain form POST; no transaction spans the fetches. Both
steps fetch, so both count in the import limits every way in shares
(`services.badge_import_rate_check`): beyond them the page says when to come back (429).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from laurels.backpack import importing, services
from laurels.core.clients import client_address
from laurels.core.errors import DomainError, RateLimited
from laurels.core.untrusted import shown_url
from laurels.web.account_forms import Described

TEMPLATE = "web/import.html"
SOURCE_SALT = "laurels.web.import.source"
SOURCE_MAX_AGE = 15 * 60  # long enough to read the result, short enough to go stale
MAX_PASTE = 256 * 1024  # an assertion or a JWS is a few KB
WAYS_IN = ("url", "image", "assertion")


class ImportForm(Described):
    """The three ways in; exactly one must be used."""

    url = forms.CharField(
        label="Assertion URL",
        max_length=importing.MAX_KEPT_URL_LENGTH,
        required=False,
        help_text="The address of a hosted badge, such as its “verify” link.",
        widget=forms.URLInput(attrs={"inputmode": "url", "autocomplete": "off"}),
    )
    image = forms.FileField(
        label="Baked badge image (PNG or SVG)",
        required=False,
        help_text="A badge image downloaded from its issuer carries the badge inside it.",
        widget=forms.ClearableFileInput(attrs={"accept": ".png,.svg,image/png,image/svg+xml"}),
    )
    assertion = forms.CharField(
        label="Assertion JSON or signed badge (JWS)",
        max_length=MAX_PASTE,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )

    def clean_image(self) -> bytes | None:
        upload = self.cleaned_data.get("image")
        if not upload:
            return None
        cap = settings.LAURELS_IMAGE_MAX_BYTES
        if upload.size > cap:
            raise forms.ValidationError(f"The image is larger than {cap // 1024} KB.")
        return upload.read()

    def clean(self) -> dict:
        data = super().clean()
        given = [name for name in WAYS_IN if data.get(name)]
        if not self.errors and len(given) != 1:
            raise forms.ValidationError("Give exactly one: a URL, an image or a pasted badge.")
        return data

    def given(self) -> str:
        """The name of the one way in that was used (once the form is valid)."""
        return next(name for name in WAYS_IN if self.cleaned_data.get(name))

    def source(self) -> dict:
        """The keyword arguments of `importing.badge_preview` for what was given (a paste
        is parsed there, within its size and nesting bounds)."""
        data = self.cleaned_data
        return {
            "url": data.get("url") or "",
            "assertion": data.get("assertion") or None,
            "baked_image": data.get("image"),
        }


def _signed_source(preview: importing.Preview) -> str:
    return signing.dumps({"url": preview.url, "token": preview.token}, salt=SOURCE_SALT)


def _unsigned_source(value: str) -> dict:
    try:
        source = signing.loads(value, salt=SOURCE_SALT, max_age=SOURCE_MAX_AGE)
    except signing.SignatureExpired:
        raise DomainError("This check is too old: check the badge again.") from None
    except signing.BadSignature:
        raise DomainError("This form was changed: check the badge again.") from None
    return source


def _shown(verified: importing.Verified) -> dict:
    """What the result shows of a verified badge (remote text is escaped by the template;
    links only where they are http(s))."""
    return {
        "name": str(verified.badge_class.get("name", "")),
        "description": str(verified.badge_class.get("description") or ""),
        "issuer": str(verified.issuer.get("name", "")),
        "issuer_url": shown_url(verified.issuer.get("url")) or shown_url(verified.issuer["id"]),
        "recipient": verified.recipient_identity,
        "issued_on": verified.issued_on,
        "expires": verified.expires,
        "source_url": shown_url(verified.source_id),
        "signed": bool(verified.signed_jws),
    }


def _too_many(request: HttpRequest, context: dict, error: RateLimited) -> HttpResponse:
    """The page refused by the import limits: 429 (503 when they cannot be counted), with
    Retry-After."""
    response = render(request, TEMPLATE, context, status=error.status)
    response["Retry-After"] = str(error.retry_after)
    return response


def _count(request: HttpRequest) -> None:
    """Count one fetching step against the import limits (RateLimited beyond them)."""
    services.badge_import_rate_check(user=request.user, client_ip=client_address(request))


def _check(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, TEMPLATE, {"form": form}, status=400)
    try:
        _count(request)
    except RateLimited as error:
        form.add_error(None, error.message)  # about no one input: the form keeps what was given
        return _too_many(request, {"form": form}, error)
    try:
        preview = importing.badge_preview(user=request.user, **form.source())
    except DomainError as error:
        form.add_error(form.given(), error.message)  # tied to the input it is about
        return render(request, TEMPLATE, {"form": form, "problem": error.message}, status=400)
    context = {"form": ImportForm(), "preview": preview}
    if preview.verified is not None and preview.existing is None:
        context |= {"badge": _shown(preview.verified), "source": _signed_source(preview)}
    return render(request, TEMPLATE, context)


def _save(request: HttpRequest) -> HttpResponse:
    try:
        source = _unsigned_source(request.POST["source"])
        _count(request)
        badge, _ = importing.badge_import(
            user=request.user, url=source["url"], assertion=source["token"] or None
        )
    except RateLimited as error:
        return _too_many(request, {"form": ImportForm(), "problem": error.message}, error)
    except DomainError as error:
        return render(
            request, TEMPLATE, {"form": ImportForm(), "problem": error.message}, status=400
        )
    return redirect("web:backpack_badge", entity_id=badge.entity_id)


@login_required
@require_http_methods(["GET", "POST"])
def backpack_import(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST with `source`: save (step 2); any other POST: check (step 1)."""
    if request.method == "GET":
        return render(request, TEMPLATE, {"form": ImportForm()})
    if "source" in request.POST:
        return _save(request)
    return _check(request)
