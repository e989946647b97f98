"""Reads of LTI launch points that depend on who is asking: which buttons a page shows
them, and whether they may launch at a place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from laurels.backpack.selectors import local_awards
from laurels.connect.models import Application
from laurels.connect.selectors import connected_for
from laurels.core.errors import NotFound, PermissionDenied
from laurels.issuing.models import Assertion, BadgeClass, Issuer
from laurels.issuing.selectors import (
    assertion_with_role,
    badge_class_with_role,
    issuer_with_role,
)
from laurels.lti.locations import LOCATIONS, LaunchLocation
from laurels.lti.models import PlatformKey, ToolRegistration

if TYPE_CHECKING:
    from laurels.accounts.models import User

# The model of the entity a location's button is pressed on.
ENTITY_MODELS = {"issuer": Issuer, "badgeclass": BadgeClass, "assertion": Assertion}
PUBLISHED_KEYS = 2


@dataclass(frozen=True)
class LaunchButton:
    """One tool's button at one place: what `lti/launch_buttons.html` posts to /lti/launch."""

    client_id: str
    title: str
    icon_url: str
    location: str
    entity_id: str
    version: str  # "1.3", or "1.1" for a tool an administrator switched to LTI 1.1


@dataclass(frozen=True)
class LaunchPlace:
    """Where a launch happens, as the viewer may use it: the entities it carries and, on
    the issuer's side, the viewer's role on the issuer."""

    location: LaunchLocation
    issuer: Issuer | None = None
    badge_class: BadgeClass | None = None
    assertion: Assertion | None = None
    role: str | None = None


def launch_buttons(*, viewer: User, location: str, entity=None) -> list[LaunchButton]:
    """The buttons of the tools registered at `location` whose apps are usable and
    connected for the viewer, in one query; none for an anonymous viewer, or for an
    entity this location does not take (an imported badge in the backpack). The page
    showing them has already decided that the viewer may see `entity`."""
    where = LOCATIONS.get(location)
    if where is None:
        raise ValueError(f"Unknown LTI launch location: {location!r}")
    if not viewer.is_authenticated:
        return []
    entity_id = ""
    if where.entity:
        if not isinstance(entity, ENTITY_MODELS[where.entity]):
            return []
        entity_id = entity.entity_id
    tools = (
        ToolRegistration.objects.filter(
            enabled=True,
            application__in=Application.objects.filter(connected_for(viewer)).values("pk"),
        )
        .select_related("application")
        .order_by("title", "application__name", "pk")
    )
    # JSON containment is no lookup on SQLite: the few tools a person connected are
    # sorted out here, and so are apps turned off or not approved (`is_usable`, the rule
    # /lti/launch applies).
    return [
        LaunchButton(
            client_id=tool.client_id,
            title=tool.button_title,
            icon_url=tool.icon_url,
            location=location,
            entity_id=entity_id,
            version="1.1" if tool.lti11_enabled else "1.3",
        )
        for tool in tools
        if location in tool.locations and tool.application.is_usable(None)
    ]


def launch_place(*, viewer: User, location: str, entity_id: str) -> LaunchPlace:
    """The place a launch names, if the viewer may launch there: the issuer's staff (any
    role) on the issuer's side, the earner on a badge of their own backpack. Raises
    NotFound or PermissionDenied."""
    where = LOCATIONS.get(location)
    if where is None:
        raise NotFound("There is no such launch location.")
    if not where.entity:
        if entity_id:
            raise NotFound("This launch location takes no badge or issuer.")
        return LaunchPlace(where)
    if not entity_id:
        raise NotFound("Which one? The launch names no badge or issuer.")
    if where.issuer_side:
        return _issuer_side_place(viewer, where, entity_id)
    award = (
        local_awards(user=viewer, include_revoked=True, include_rejected=True, whole=True)
        .filter(entity_id=entity_id)
        .first()
    )
    if award is None:
        raise NotFound("There is no such badge in your backpack.")
    return LaunchPlace(where, award.issuer, award.badge_class, award)


def _issuer_side_place(viewer: User, where: LaunchLocation, entity_id: str) -> LaunchPlace:
    if where.entity == "issuer":
        issuer, role = issuer_with_role(entity_id=entity_id, user=viewer)
        place = LaunchPlace(where, issuer, role=role)
    elif where.entity == "badgeclass":
        badge_class, role = badge_class_with_role(entity_id=entity_id, user=viewer)
        issuer = badge_class.issuer if badge_class is not None else None
        place = LaunchPlace(where, issuer, badge_class, role=role)
    else:
        assertion, role = assertion_with_role(entity_id=entity_id, user=viewer)
        if assertion is None:
            issuer = badge_class = None
        else:
            issuer, badge_class = assertion.issuer, assertion.badge_class
        place = LaunchPlace(where, issuer, badge_class, assertion, role=role)
    if place.issuer is None:
        raise NotFound("There is no such issuer, badge class or award.")
    if place.role is None:
        raise PermissionDenied("Only the issuer's staff may open apps here.")
    return place


def published_keys() -> list[dict]:
    """The platform's public keys as /lti/jwks lists them: the newest two, so that what
    the previous key signed still verifies after a rotation."""
    keys = PlatformKey.objects.order_by("-id").values_list("public_jwk", flat=True)
    return list(keys[:PUBLISHED_KEYS])
