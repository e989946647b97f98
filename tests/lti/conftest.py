import pytest

from tests.factories import BadgeClassFactory, IssuerFactory
from tests.lti.helpers import connect, register_tool


@pytest.fixture
def tool(db):
    return register_tool()


@pytest.fixture
def connected_tool(user, tool):
    connect(user, tool)
    return tool


@pytest.fixture
def issuer(user):
    return IssuerFactory(owner=user, name="Maths Dept")


@pytest.fixture
def badge_class(issuer):
    return BadgeClassFactory(issuer=issuer, name="Algebra")
