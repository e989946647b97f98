"""laurels.core.csp in-process: the per-route mechanism that later routes (LTI launches
posting to a tool, embeddable pages) will use. The live-server tests are in
tests/security/test_content_security_policy.py."""

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory

from laurels.core.csp import (
    IMAGE_POLICY,
    ContentSecurityPolicyMiddleware,
    allow_sources,
    origin_source,
    policy_allows,
    set_policy,
)


def answered(view) -> HttpResponse:
    return ContentSecurityPolicyMiddleware(view)(RequestFactory().get("/"))


def directives(response: HttpResponse) -> dict[str, list[str]]:
    parts = (d.split() for d in response["Content-Security-Policy"].split(";"))
    return {name: sources for name, *sources in parts}


def test_the_decorator_opens_a_directive_for_every_answer_of_a_view():
    @policy_allows(frame_ancestors=["https://lms.example"], form_action=["https://tool.example"])
    def embeddable(request):
        return HttpResponse("<p>framed</p>")

    policy = directives(answered(embeddable))
    assert policy["frame-ancestors"] == ["https://lms.example"]  # 'none' gave way
    assert policy["form-action"] == ["'self'", "https://tool.example"]
    assert policy["script-src"] == ["'self'"]


def test_a_view_adds_sources_known_only_per_request():
    def launch(request):
        return allow_sources(HttpResponse("<form>"), form_action=["https://tool.example:8443"])

    assert directives(answered(launch))["form-action"] == ["'self'", "https://tool.example:8443"]
    assert (
        "https://tool.example" not in directives(answered(lambda r: HttpResponse()))["form-action"]
    )


@pytest.mark.parametrize(
    "source", ["https://tool.example; script-src *", "https://a b", "'unsafe-eval'", "*", ""]
)
def test_a_source_that_could_add_a_directive_or_widen_the_policy_is_refused(source):
    with pytest.raises(ValueError):
        allow_sources(HttpResponse(), form_action=[source])


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://App.Example/callback?x=1", "https://app.example"),
        ("http://127.0.0.1:8765/cb", "http://127.0.0.1:8765"),
        ("https://bücher.example/", "https://xn--bcher-kva.example"),
        ("javascript:alert(1)", None),
        ("https://[::1]:8000/", None),
        ("https://a.example:99999/", None),
        ("/relative", None),
    ],
)
def test_origin_source(url, source):
    assert origin_source(url) == source


def test_non_html_answers_get_no_html_policy_and_own_policies_stay():
    assert "Content-Security-Policy" not in answered(lambda r: JsonResponse({}))
    image = answered(lambda r: set_policy(HttpResponse(content_type="image/svg+xml"), IMAGE_POLICY))
    assert (
        image["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
