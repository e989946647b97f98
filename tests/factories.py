"""factory_boy factories for the test suite; parameters name the states tests need."""

import factory

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
