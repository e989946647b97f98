"""`{% add_to_collection_form entity_id %}`: the badge page's "Add to collection" form
(web/collection_picker.html), which needs the person's collections; a tag keeps that
query out of the badge page's view."""

from __future__ import annotations

from django import template

from laurels.backpack import selectors

register = template.Library()


@register.inclusion_tag("web/collection_picker.html", takes_context=True)
def add_to_collection_form(context: template.Context, entity_id: str) -> dict:
    user = context["request"].user
    choices = (
        selectors.user_collections(user=user)
        .select_related(None)
        .prefetch_related(None)
        .values_list("entity_id", "name")
    )
    return {"entity_id": entity_id, "choices": list(choices)}
