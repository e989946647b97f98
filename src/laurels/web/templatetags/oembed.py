"""`{% oembed_discovery url title %}`: the `<link>` by which oEmbed consumers find the
embed of a public page (`laurels.web.oembed`); used by the public collection and award
pages, which extend web/base.html already."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from laurels.web.oembed import endpoint_url

register = template.Library()


@register.simple_tag
def oembed_discovery(page_url: str, title: str) -> SafeString:
    return format_html(
        '<link rel="alternate" type="application/json+oembed" href="{}" title="{}">',
        endpoint_url(page_url),
        title,
    )
