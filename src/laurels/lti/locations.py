"""Where in Laurels a connected app's LTI button may show: the one registry of launch
locations. The developer portal lists them, registrations name them, the pages place
them (`{% lti_launch_buttons %}`) and a launch carries what its location says."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LaunchLocation:
    name: str
    label: str
    description: str
    # What the button is pressed on: "issuer", "badgeclass", "assertion" or "" (none).
    entity: str = ""
    # Pressed on the issuer's side (roles from the viewer's issuer role), else the
    # earner's own (Learner).
    issuer_side: bool = False


LOCATIONS: dict[str, LaunchLocation] = {
    location.name: location
    for location in (
        LaunchLocation(
            "issuer",
            "An issuer's dashboard",
            "Shown to the issuer's staff on its dashboard; the launch carries the issuer's id "
            "and the person's role on it.",
            entity="issuer",
            issuer_side=True,
        ),
        LaunchLocation(
            "badgeclass",
            "A badge class page",
            "Shown to the issuer's staff on a badge class's page; the launch carries the badge "
            "class's and its issuer's ids and the person's role on the issuer.",
            entity="badgeclass",
            issuer_side=True,
        ),
        LaunchLocation(
            "assertion",
            "An award's page (issuer side)",
            "Shown to the issuer's staff on one award's page; the launch carries the award's, "
            "its badge class's and its issuer's ids and the person's role on the issuer.",
            entity="assertion",
            issuer_side=True,
        ),
        LaunchLocation(
            "backpack",
            "The backpack",
            "Shown to earners on their backpack page; the launch carries no badge, the earner "
            "launches as Learner.",
        ),
        LaunchLocation(
            "backpack.assertion",
            "A badge in the backpack",
            "Shown to the earner on one badge of their backpack (awarded on this server); the "
            "launch carries the award's, its badge class's and its issuer's ids.",
            entity="assertion",
        ),
        LaunchLocation(
            "profile",
            "The account page",
            "Shown to the person on their account page; the launch carries no badge or issuer.",
        ),
    )
}
