"""`issuing.models.validate_alignments`: the one alignment validator. By default (the API,
the model field) an alignment's `targetUrl` is optional but a web address when given;
`complete=True` (a Badgr server's rows brought over) also needs `targetName` and
`targetUrl`, as Open Badges 2.0 does. The error's code says which rule failed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from laurels.issuing.models import validate_alignments

WEB = {"targetName": "Safety", "targetUrl": "https://skills.example.org/safety"}


def code_of(value, **options) -> str:
    with pytest.raises(ValidationError) as refused:
        validate_alignments(value, **options)
    return refused.value.code


@pytest.mark.parametrize("alignments", [[], [WEB], [{"targetName": "X"}], [{"targetUrl": ""}]])
def test_partial_alignments_pass_by_default(alignments):
    validate_alignments(alignments)


@pytest.mark.parametrize("complete", [False, True])
@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "ftp://x.example"])
def test_a_target_url_that_is_not_a_web_address_is_refused(complete, url):
    assert code_of([{**WEB, "targetUrl": url}], complete=complete) == "target_url"


def test_complete_needs_a_target_name_and_a_target_url():
    validate_alignments([WEB], complete=True)
    assert code_of([{"targetUrl": WEB["targetUrl"]}], complete=True) == "target_name"
    assert code_of([{**WEB, "targetName": ""}], complete=True) == "target_name"
    assert code_of([{"targetName": "Safety"}], complete=True) == "target_url"
    assert code_of([{**WEB, "targetUrl": ""}], complete=True) == "target_url"


@pytest.mark.parametrize("value", [None, {}, "x", [1], [WEB, "x"]])
def test_anything_but_a_list_of_objects_is_refused(value):
    assert code_of(value) == "alignments"
