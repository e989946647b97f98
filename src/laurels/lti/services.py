"""Every write of LTI launch points: tool registrations, the platform's keys, launches.

Laurels is the LTI 1.3 platform. A button press (`launch_start`) records a launch and
answers the tool's third-party-initiated login; the tool then sends the browser to
/lti/authorize (`launch_authorize`), which spends the launch and answers a signed
id_token. LTI 1.1 tools (an administrator's choice per tool) get one OAuth 1.0a signed
form instead, straight from the button.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from secrets import token_urlsafe
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_BODY
from oauthlib.oauth1 import Client as OAuth1Client

from laurels import __version__
from laurels.connect.models import Application, AuditEvent
from laurels.connect.oauth import LaurelsOAuth2Validator
from laurels.connect.scopes import expand_scopes
from laurels.connect.selectors import user_connected_app_of
from laurels.connect.services import audit_record
from laurels.core import secrets
from laurels.core.errors import DomainError, NotFound, PermissionDenied
from laurels.core.ids import ENTITY_ID_LENGTH
from laurels.issuing.models import Role
from laurels.lti import selectors
from laurels.lti.models import LtiLaunch, PlatformKey, ToolRegistration
from laurels.lti.selectors import LaunchPlace

if TYPE_CHECKING:
    from laurels.accounts.models import User

LTI_VERSIONS = ("1.3", "1.1")
ID_TOKEN_SECONDS = 300
LAUNCHES_KEPT = timedelta(days=1)
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LIS_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER = f"{LIS_MEMBERSHIP}Learner"
# LTI 1.3 roles (LIS v2 URIs) and LTI 1.1 ones (short context role names) per issuer role.
ISSUER_ROLES = {
    Role.OWNER: (f"{LIS_MEMBERSHIP}Administrator", "Administrator"),
    Role.EDITOR: (f"{LIS_MEMBERSHIP}Instructor", "Instructor"),
    Role.STAFF: (
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
        "TeachingAssistant",
    ),
}
GROUP_CONTEXT = "http://purl.imsglobal.org/vocab/lis/v2/course#Group"
MAX_PARAMETER_CHARS = 2000
CLIENT_ID_MAX_CHARS = ToolRegistration._meta.get_field("client_id").max_length


class LaunchRefused(DomainError):
    """A launch or authentication request that breaks the protocol or the launch's terms."""


# --- tool registrations -----------------------------------------------------------------------


@transaction.atomic
def registration_save(
    *,
    application: Application,
    actor: User | None,
    login_url: str,
    launch_url: str,
    jwks_url: str = "",
    public_key: str = "",
    locations: list[str],
    title: str = "",
    icon_url: str = "",
    custom: dict[str, str] | None = None,
    enabled: bool = True,
) -> ToolRegistration:
    """Register `application` as an LTI tool, or change its registration; the client and
    deployment ids stay. Raises ValidationError (`ToolRegistration.clean`)."""
    registration = (
        ToolRegistration.objects.select_for_update().filter(application=application).first()
    )
    created = registration is None
    if registration is None:
        registration = ToolRegistration(application=application)
    registration.login_url = login_url.strip()
    registration.launch_url = launch_url.strip()
    registration.jwks_url = jwks_url.strip()
    registration.public_key = public_key.strip()
    registration.locations = list(dict.fromkeys(locations))
    registration.title = title.strip()
    registration.icon_url = icon_url.strip()
    registration.custom = dict(custom or {})
    registration.enabled = enabled
    registration.full_clean()
    registration.save()
    audit_record(
        AuditEvent.Kind.APP_CHANGED,
        user=actor,
        application=application,
        detail={
            "lti": "registered" if created else "changed",
            "locations": registration.locations,
            "enabled": enabled,
        },
    )
    return registration


@transaction.atomic
def registration_delete(*, application: Application, actor: User | None) -> None:
    """The app is no LTI tool any more: its buttons and pending launches go."""
    deleted, _ = ToolRegistration.objects.filter(application=application).delete()
    if deleted:
        audit_record(
            AuditEvent.Kind.APP_CHANGED,
            user=actor,
            application=application,
            detail={"lti": "removed"},
        )


@transaction.atomic
def lti11_set(*, registration: ToolRegistration, enabled: bool, actor: User | None) -> str | None:
    """An administrator's switch (admin site, CLI) for LTI 1.1 launches of this tool.
    Enabling makes a consumer key and a shared secret and answers the secret in clear,
    this once (it is kept encrypted); enabling what is on already answers None. Disabling
    forgets both, so that turning it on again makes new ones."""
    registration = ToolRegistration.objects.select_for_update().get(pk=registration.pk)
    if enabled == registration.lti11_enabled:
        return None
    secret = None
    registration.lti11_enabled = enabled
    if enabled:
        secret = token_urlsafe(32)
        registration.lti11_consumer_key = f"laurels-{token_urlsafe(12)}"
        registration.lti11_secret = secrets.encrypt(secret)
    else:
        registration.lti11_consumer_key = ""
        registration.lti11_secret = ""
    registration.save(
        update_fields=["lti11_enabled", "lti11_consumer_key", "lti11_secret", "updated_at"]
    )
    audit_record(
        AuditEvent.Kind.APP_CHANGED,
        user=actor,
        application=registration.application,
        detail={"lti": "lti11 enabled" if enabled else "lti11 disabled"},
    )
    return secret


@transaction.atomic
def lti11_secret_rotate(*, registration: ToolRegistration, actor: User | None) -> str:
    """A new LTI 1.1 shared secret, answered in clear this once; the old one stops
    working at once."""
    registration = ToolRegistration.objects.select_for_update().get(pk=registration.pk)
    if not registration.lti11_enabled:
        raise DomainError("LTI 1.1 is off for this tool; turn it on first.")
    secret = token_urlsafe(32)
    registration.lti11_secret = secrets.encrypt(secret)
    registration.save(update_fields=["lti11_secret", "updated_at"])
    audit_record(
        AuditEvent.Kind.APP_CHANGED,
        user=actor,
        application=registration.application,
        detail={"lti": "lti11 secret rotated"},
    )
    return secret


# --- the platform's keys ------------------------------------------------------------------------


def _platform_key_make() -> PlatformKey:
    """A new RSA key pair; the private half is encrypted before it reaches the database."""
    key = jwk.JWK.generate(kty="RSA", size=2048)
    kid = key.thumbprint()
    public = {**key.export_public(as_dict=True), "kid": kid, "alg": "RS256", "use": "sig"}
    private_pem = key.export_to_pem(private_key=True, password=None).decode()
    return PlatformKey.objects.create(
        kid=kid, private_key=secrets.encrypt(private_pem), public_jwk=public
    )


def platform_signing_key() -> PlatformKey:
    """The key that signs launches now: the newest one not retired, made on first need."""
    key = PlatformKey.objects.filter(retired_at__isnull=True).order_by("-id").first()
    return key or _platform_key_make()


@transaction.atomic
def platform_key_rotate() -> PlatformKey:
    """A new key signs from now on; the previous one stays published (/lti/jwks lists
    the newest two) for the tokens it signed."""
    PlatformKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
    return _platform_key_make()


def secrets_reencrypt() -> int:
    """Encrypt the platform's private keys and the LTI 1.1 secrets anew with the newest of
    LAURELS_ENCRYPTION_KEYS (`laurels keys reencrypt`); how many were. All or none, and
    the old tokens overwritten, as `openbadges.services.signing_keys_reencrypt`."""
    with transaction.atomic():
        secrets.overwrite_deleted_content(connection)
        keys = [
            (pk, secrets.reencrypt(token))
            for pk, token in PlatformKey.objects.values_list("pk", "private_key")
        ]
        tools = [
            (pk, secrets.reencrypt(token))
            for pk, token in ToolRegistration.objects.exclude(lti11_secret="").values_list(
                "pk", "lti11_secret"
            )
        ]
        for pk, token in keys:
            PlatformKey.objects.filter(pk=pk).update(private_key=token)
        for pk, token in tools:
            ToolRegistration.objects.filter(pk=pk).update(lti11_secret=token)
    return len(keys) + len(tools)


# --- launches -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchStart:
    """What the button's interstitial page POSTs, and where: the tool's login initiation
    (LTI 1.3) or its launch URL with a signed form (LTI 1.1)."""

    registration: ToolRegistration
    launch: LtiLaunch
    version: str
    url: str
    fields: tuple[tuple[str, str], ...]
    method: str = "POST"

    @property
    def title(self) -> str:
        return self.registration.button_title


@dataclass(frozen=True)
class AuthorizedLaunch:
    """The answer to the tool's authentication request: a form POSTing the signed
    id_token (and the tool's state) to the registered launch URL."""

    registration: ToolRegistration
    launch: LtiLaunch
    redirect_uri: str
    state: str
    id_token: str

    @property
    def title(self) -> str:
        return self.registration.button_title

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return (("id_token", self.id_token),) + ((("state", self.state),) if self.state else ())


def launch_start(
    *,
    user: User,
    client_id: str,
    location: str,
    entity_id: str,
    version: str = "1.3",
    return_url: str = "",
) -> LaunchStart:
    """A press of a tool's button at `location` (on the entity `entity_id`, where the
    location has one): refused unless the tool is enabled, its app usable and connected
    for `user`, registered for this location, and the entity one `user` may use there.
    `return_url` is the path of the page the button was on."""
    if not user.is_authenticated:
        raise PermissionDenied("Log in to Laurels, then press the button again.")
    registration = _usable_registration(client_id)
    if location not in registration.locations:
        raise NotFound(f"{registration.button_title} has no button here.")
    if version not in LTI_VERSIONS:
        raise LaunchRefused("Unknown LTI version.")
    if version == "1.1" and not registration.lti11_enabled:
        raise LaunchRefused(f"{registration.button_title} takes LTI 1.3 launches only.")
    connected = user_connected_app_of(viewer=user, application=registration.application)
    if connected is None:
        raise PermissionDenied(
            f"You have not connected {registration.application.name} to your account "
            "(or took its access back), so it cannot be opened from here."
        )
    place = selectors.launch_place(viewer=user, location=location, entity_id=entity_id)
    now = timezone.now()
    launch = LtiLaunch.objects.create(
        registration=registration,
        user=user,
        location=location,
        issuer=place.issuer,
        badge_class=place.badge_class,
        assertion=place.assertion,
        return_url=_return_path(return_url),
        expires_at=now + timedelta(seconds=settings.LAURELS_LTI_LAUNCH_SECONDS),
        # An LTI 1.1 launch is the signed form itself: spent as it is made.
        used_at=now if version == "1.1" else None,
    )
    if version == "1.1":
        fields = _lti11_signed_form(registration, launch, place, user, frozenset(connected.scopes))
        return LaunchStart(registration, launch, version, registration.launch_url, fields)
    fields = (
        ("iss", settings.LAURELS_BASE_URL),
        ("login_hint", registration.subject_of(user)),
        ("target_link_uri", registration.launch_url),
        ("lti_message_hint", launch.entity_id),
        ("client_id", registration.client_id),
        ("lti_deployment_id", registration.deployment_id),
    )
    return LaunchStart(registration, launch, version, registration.login_url, fields)


def launch_authorize(*, user: User, params: Mapping[str, Any]) -> AuthorizedLaunch:
    """The tool's OpenID Connect authentication request (LTI 1.3 core §5.1.1.2), made
    after `launch_start`: checked in full before anything is sent, and never answered to
    a redirect_uri other than the tool's registered launch URL. Spends the launch and
    its nonce (each single-use) and answers the signed id_token."""
    if not user.is_authenticated:
        raise PermissionDenied("Log in to Laurels, then press the button again.")

    def param(name: str) -> str:
        """The parameter as sent, or a refusal: never cut short (a `state` must come back
        to the tool exactly as it left)."""
        value = params.get(name)
        if not isinstance(value, str):
            return ""
        if len(value) > MAX_PARAMETER_CHARS:
            raise LaunchRefused(
                f"The {name[:32]} parameter is longer than {MAX_PARAMETER_CHARS} characters."
            )
        return value

    state = param("state")  # read (and refused if over-long) before the launch is spent
    registration = _usable_registration(param("client_id"))
    redirect_uri = param("redirect_uri")
    if redirect_uri != registration.launch_url:
        raise LaunchRefused(
            "The redirect_uri is not the launch URL registered for this tool; "
            "nothing was sent to it."
        )
    if "openid" not in param("scope").split():
        raise LaunchRefused("The scope must include openid.")
    if param("response_type") != "id_token":
        raise LaunchRefused("The response_type must be id_token.")
    if param("response_mode") != "form_post":
        raise LaunchRefused("The response_mode must be form_post.")
    if param("prompt") != "none":
        raise LaunchRefused("The prompt must be none.")
    nonce = param("nonce")
    if not nonce or len(nonce) > 255:
        raise LaunchRefused("A nonce (at most 255 characters) is required.")
    if param("login_hint") != registration.subject_of(user):
        raise PermissionDenied(
            "This launch was started by another account than the one logged in here."
        )
    with transaction.atomic():
        launch = _launch_to_spend(registration, user, param("lti_message_hint"))
        connected = user_connected_app_of(viewer=user, application=registration.application)
        if connected is None:
            raise PermissionDenied(
                f"You took {registration.application.name}'s access back since pressing "
                "its button, so it cannot be opened."
            )
        place = selectors.launch_place(
            viewer=user, location=launch.location, entity_id=_launch_entity_id(launch)
        )
        now = timezone.now()
        try:
            with transaction.atomic():
                spent = LtiLaunch.objects.filter(pk=launch.pk, used_at__isnull=True).update(
                    nonce=nonce, used_at=now
                )
        except IntegrityError:
            raise LaunchRefused("This nonce was used before: a launch is never replayed.") from None
        if not spent:
            raise LaunchRefused("This launch was used already; press the button again.")
    id_token = _id_token(registration, launch, place, user, frozenset(connected.scopes), nonce)
    return AuthorizedLaunch(registration, launch, redirect_uri, state, id_token)


def launches_prune() -> dict[str, int]:
    """Delete launches older than a day (the daily `lti-launches-prune` job): each lives
    minutes, and a spent one's nonce guards against replays only while the id_token
    it answered could still be accepted."""
    deleted, _ = LtiLaunch.objects.filter(created_at__lt=timezone.now() - LAUNCHES_KEPT).delete()
    return {"launches": deleted}


def _usable_registration(client_id: str) -> ToolRegistration:
    registration = (
        ToolRegistration.objects.select_related("application")
        .filter(client_id=client_id, enabled=True)
        .first()
        if 0 < len(client_id) <= CLIENT_ID_MAX_CHARS
        else None
    )
    if registration is None:
        raise NotFound("No app is registered here under this LTI client id.")
    if not registration.application.is_usable(None):
        raise PermissionDenied(
            f"{registration.application.name} is turned off or waits for review by this "
            "server's administrators."
        )
    return registration


def _launch_to_spend(registration: ToolRegistration, user: User, entity_id: str) -> LtiLaunch:
    launch = (
        LtiLaunch.objects.select_for_update(of=("self",))
        .select_related("issuer", "badge_class", "assertion")
        .filter(registration=registration, entity_id=entity_id)
        .first()
        if 0 < len(entity_id) <= ENTITY_ID_LENGTH
        else None
    )
    if launch is None:
        raise LaunchRefused("There is no such launch of this tool; press the button again.")
    if launch.user_id != user.pk:
        raise PermissionDenied("This launch was started by another account.")
    if launch.used_at is not None:
        raise LaunchRefused("This launch was used already; press the button again.")
    if launch.expires_at <= timezone.now():
        raise LaunchRefused("This launch has expired; press the button again.")
    return launch


def _launch_entity_id(launch: LtiLaunch) -> str:
    entity = launch.assertion or launch.badge_class or launch.issuer
    return entity.entity_id if entity is not None else ""


def _return_path(path: str) -> str:
    """The page the button was on, as a path of this server (anything else: none)."""
    if (
        not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or len(path) > MAX_PARAMETER_CHARS
        or any(ord(character) < 32 for character in path)
    ):
        return ""
    return path


# --- what a launch says ---------------------------------------------------------------------


def _roles(place: LaunchPlace) -> tuple[str, str]:
    """The person's role at this place: (LTI 1.3 URI, LTI 1.1 name)."""
    if place.location.issuer_side:
        return ISSUER_ROLES[Role(place.role)]
    return LEARNER, "Learner"


def _resource_link(place: LaunchPlace, subject: str) -> tuple[str, str]:
    """(id, title): stable per location and entity (the person's `subject` for this tool,
    where there is none)."""
    entity = place.assertion or place.badge_class or place.issuer
    if entity is None or place.location.entity == "":
        return f"{place.location.name}:{subject}", place.location.label
    title = place.issuer.name if entity is place.issuer else place.badge_class.name
    return f"{place.location.name}:{entity.entity_id}", title


def _context(place: LaunchPlace, subject: str) -> dict | None:
    """The issuer, or the backpack of the person (`subject`: their id for this tool)."""
    if place.location.name == "profile":
        return None
    if place.location.issuer_side:
        return {"id": place.issuer.entity_id, "title": place.issuer.name, "type": [GROUP_CONTEXT]}
    return {"id": f"backpack:{subject}", "title": "Backpack", "type": [GROUP_CONTEXT]}


def _custom(registration: ToolRegistration, place: LaunchPlace) -> dict[str, str]:
    ids = {
        "laurels_issuer_id": place.issuer,
        "laurels_badgeclass_id": place.badge_class,
        "laurels_assertion_id": place.assertion,
    }
    return {
        **{str(key): str(value) for key, value in registration.custom.items()},
        "laurels_location": place.location.name,
        **{key: entity.entity_id for key, entity in ids.items() if entity is not None},
    }


def _person_claims(user: User, scopes: frozenset[str]) -> dict[str, Any]:
    """Name and email as far as the person's grant to this app releases them: the claims
    of this server's OpenID id_tokens, under the same scopes (`oidc_claim_scope`), with
    what the granted scopes imply (`rw:profile` holds `r:profile`)."""
    validator = LaurelsOAuth2Validator()
    claims = validator.get_additional_claims(SimpleNamespace(user=user))
    granted = expand_scopes(scopes)
    return {
        claim: value
        for claim, value in claims.items()
        if claim != "sub" and validator.oidc_claim_scope.get(claim) in granted
    }


def _tool_platform() -> dict[str, str]:
    return {
        "guid": urlsplit(settings.LAURELS_BASE_URL).hostname or "",
        "name": settings.LAURELS_SITE_NAME,
        "product_family_code": "laurels",
        "version": __version__,
    }


def _return_url(launch: LtiLaunch) -> str:
    return settings.LAURELS_BASE_URL.rstrip("/") + (launch.return_url or "/")


def _id_token(
    registration: ToolRegistration,
    launch: LtiLaunch,
    place: LaunchPlace,
    user: User,
    scopes: frozenset[str],
    nonce: str,
) -> str:
    """The LTI 1.3 resource link launch as an RS256 id_token signed with the platform key
    (its `kid` in the header, published at /lti/jwks). `sub` is the person's pairwise id
    for this tool (`ToolRegistration.subject_of`), not the entityId the app's OpenID
    id_tokens carry: a launch alone never lets tools link a person across each other."""
    now = int(time.time())
    subject = registration.subject_of(user)
    link_id, link_title = _resource_link(place, subject)
    claims: dict[str, Any] = {
        "iss": settings.LAURELS_BASE_URL,
        "aud": registration.client_id,
        "azp": registration.client_id,
        "sub": subject,
        "iat": now,
        "exp": now + ID_TOKEN_SECONDS,
        "nonce": nonce,
        **_person_claims(user, scopes),
        f"{CLAIM}message_type": "LtiResourceLinkRequest",
        f"{CLAIM}version": "1.3.0",
        f"{CLAIM}deployment_id": registration.deployment_id,
        f"{CLAIM}target_link_uri": registration.launch_url,
        f"{CLAIM}resource_link": {"id": link_id, "title": link_title},
        f"{CLAIM}roles": [_roles(place)[0]],
        f"{CLAIM}tool_platform": _tool_platform(),
        f"{CLAIM}launch_presentation": {
            "document_target": "window",
            "return_url": _return_url(launch),
        },
        f"{CLAIM}custom": _custom(registration, place),
    }
    if (context := _context(place, subject)) is not None:
        claims[f"{CLAIM}context"] = context
    key = platform_signing_key()
    token = jwt.JWT(header={"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims=claims)
    token.make_signed_token(jwk.JWK.from_pem(secrets.decrypt(key.private_key).encode()))
    return token.serialize()


def _lti11_signed_form(
    registration: ToolRegistration,
    launch: LtiLaunch,
    place: LaunchPlace,
    user: User,
    scopes: frozenset[str],
) -> tuple[tuple[str, str], ...]:
    """The LTI 1.1 basic launch, signed with OAuth 1.0a HMAC-SHA1 in the body (oauthlib)
    with the tool's consumer key and shared secret. `user_id` is the same pairwise id as
    an LTI 1.3 launch's `sub`."""
    subject = registration.subject_of(user)
    link_id, link_title = _resource_link(place, subject)
    platform = _tool_platform()
    fields: dict[str, str] = {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        "resource_link_id": link_id,
        "resource_link_title": link_title,
        "user_id": subject,
        "roles": _roles(place)[1],
        "launch_presentation_document_target": "window",
        "launch_presentation_return_url": _return_url(launch),
        "tool_consumer_info_product_family_code": platform["product_family_code"],
        "tool_consumer_info_version": platform["version"],
        "tool_consumer_instance_guid": platform["guid"],
        "tool_consumer_instance_name": platform["name"],
        **{f"custom_{key}": value for key, value in _custom(registration, place).items()},
    }
    if (context := _context(place, subject)) is not None:
        fields.update(context_id=context["id"], context_title=context["title"])
    person = _person_claims(user, scopes)
    names = {
        "name": "lis_person_name_full",
        "given_name": "lis_person_name_given",
        "family_name": "lis_person_name_family",
        "email": "lis_person_contact_email_primary",
    }
    fields.update({field: str(person[claim]) for claim, field in names.items() if claim in person})
    client = OAuth1Client(
        registration.lti11_consumer_key,
        client_secret=secrets.decrypt(registration.lti11_secret),
        signature_method=SIGNATURE_HMAC_SHA1,
        signature_type=SIGNATURE_TYPE_BODY,
    )
    try:
        _, _, body = client.sign(
            registration.launch_url,
            http_method="POST",
            body=list(fields.items()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    except ValueError:  # a launch URL saved before ToolRegistration.clean refused its port
        raise LaunchRefused(
            "This tool's launch URL cannot be signed; its developer must correct it."
        ) from None
    return tuple(parse_qsl(body, keep_blank_values=True))
