"""factory_boy factories for the test suite; parameters name the states tests need."""

import factory
from django.utils import timezone

from laurels.accounts.models import EmailAddress, User

DEFAULT_PASSWORD = "correct horse battery staple"


class EmailAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailAddress

    email = factory.Sequence(lambda n: f"address{n}@example.org")
    verified = True
    primary = False


class UserFactory(factory.django.DjangoModelFactory):
    """A user with a primary email address; `UserFactory(verified=False)` for a new sign-up."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        verified = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(DEFAULT_PASSWORD)
    primary_address = factory.RelatedFactory(
        EmailAddressFactory,
        factory_related_name="user",
        email=factory.SelfAttribute("..email"),
        verified=factory.SelfAttribute("..verified"),
        primary=True,
    )


def png_bytes(size: tuple[int, int] = (64, 64), color: str = "gold") -> bytes:
    """A real PNG made with Pillow."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_uri(size: tuple[int, int] = (64, 64)) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes(size)).decode()


class IssuerFactory(factory.django.DjangoModelFactory):
    """An issuer; `IssuerFactory(owner=user)` makes that user its owner."""

    class Meta:
        model = "issuing.Issuer"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Issuer {n}")
    url = "https://issuer.example.org"
    email = "badges@issuer.example.org"
    description = "Awards badges."

    @factory.post_generation
    def owner(self, create, extracted, **kwargs):
        if create and extracted is not None:
            from laurels.issuing.models import IssuerStaff

            IssuerStaff.objects.create(issuer=self, user=extracted, role="owner")


class BadgeClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "issuing.BadgeClass"

    issuer = factory.SubFactory(IssuerFactory)
    name = factory.Sequence(lambda n: f"Badge {n}")
    description = "For doing the thing."
    criteria_narrative = "Do the thing."
    image = factory.django.FileField(filename="badge.png", data=png_bytes())


class AssertionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "issuing.Assertion"

    badge_class = factory.SubFactory(BadgeClassFactory)
    issuer = factory.SelfAttribute("badge_class.issuer")
    recipient_type = "email"
    recipient_plaintext = factory.Sequence(lambda n: f"earner{n}@example.org")
    recipient_identity = factory.LazyAttribute(lambda a: a.recipient_plaintext)
    recipient_hashed = False
    issued_on = factory.LazyFunction(timezone.now)

    class Params:
        revoked_for = factory.Trait(revoked=True, revocation_reason="Issued in error")


def award_to(badge, recipient: str = "sam@example.org", **fields):
    """An award of `badge` to the email address `recipient` (an AssertionFactory)."""
    return AssertionFactory(
        badge_class=badge, recipient_plaintext=recipient, recipient_identity=recipient, **fields
    )
