"""Which buttons a page shows: only apps the viewer connected, registered at the place."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import RequestContext, Template
from django.test import RequestFactory

from laurels.backpack.models import ImportedBadge
from laurels.connect import services as connect_services
from laurels.lti import services
from laurels.lti.selectors import launch_buttons
from tests.lti.helpers import connect, register_tool


def rendered(user, location, entity):
    request = RequestFactory().get("/issuers/x/")
    request.user = user
    template = Template("{% load lti %}{% lti_launch_buttons location entity %}")
    return request, template.render(
        RequestContext(request, {"location": location, "entity": entity})
    )


@pytest.mark.django_db
class TestLaunchButtons:
    def test_only_for_connected_apps(self, user, tool, badge_class):
        assert launch_buttons(viewer=user, location="badgeclass", entity=badge_class) == []
        connect(user, tool)
        (button,) = launch_buttons(viewer=user, location="badgeclass", entity=badge_class)
        assert (button.client_id, button.title, button.entity_id, button.version) == (
            tool.client_id,
            "Course Tool",
            badge_class.entity_id,
            "1.3",
        )
        connect_services.app_access_revoke(user=user, application=tool.application)
        assert launch_buttons(viewer=user, location="badgeclass", entity=badge_class) == []

    def test_anonymous_viewer(self, connected_tool):
        assert launch_buttons(viewer=AnonymousUser(), location="backpack") == []

    def test_only_at_registered_locations(self, user):
        connect(user, register_tool(locations=["backpack"]))
        assert len(launch_buttons(viewer=user, location="backpack")) == 1
        assert launch_buttons(viewer=user, location="profile") == []

    def test_disabled_tool_or_app(self, user, connected_tool):
        connected_tool.enabled = False
        connected_tool.save()
        assert launch_buttons(viewer=user, location="backpack") == []
        connected_tool.enabled = True
        connected_tool.save()
        connect_services.application_set_enabled(
            application=connected_tool.application, enabled=False
        )
        assert launch_buttons(viewer=user, location="backpack") == []

    def test_entity_of_another_kind(self, user, connected_tool, issuer):
        assert launch_buttons(viewer=user, location="badgeclass", entity=issuer) == []
        assert (
            launch_buttons(viewer=user, location="backpack.assertion", entity=ImportedBadge()) == []
        )

    def test_lti11_tool_launches_with_1_1(self, user, connected_tool):
        services.lti11_set(registration=connected_tool, enabled=True, actor=None)
        assert launch_buttons(viewer=user, location="profile")[0].version == "1.1"

    def test_unknown_location_is_a_bug(self, user):
        with pytest.raises(ValueError):
            launch_buttons(viewer=user, location="nowhere")

    def test_template_tag(self, user, connected_tool, badge_class):
        _, html = rendered(user, "badgeclass", badge_class)
        assert 'action="/lti/launch"' in html
        assert 'aria-label="Open in Course Tool"' in html
        assert f'name="entity" value="{badge_class.entity_id}"' in html
        assert 'name="csrfmiddlewaretoken"' in html
        assert 'name="return_to" value="/issuers/x/"' in html

    def test_template_tag_renders_nothing_without_buttons(self, user, tool, badge_class):
        assert rendered(user, "badgeclass", badge_class)[1].strip() == ""

    def test_icon_opens_img_src_to_its_origin(self, user, badge_class, client_logged_in):
        registration = register_tool(icon_url="https://cdn.tool.example.org/icon.png")
        connect(user, registration)
        request, html = rendered(user, "badgeclass", badge_class)
        assert 'src="https://cdn.tool.example.org/icon.png"' in html
        assert request.laurels_csp_sources == {"img-src": ["https://cdn.tool.example.org"]}


def test_request_sources_reach_the_policy(rf):
    from django.http import HttpResponse

    from laurels.core.csp import ContentSecurityPolicyMiddleware, allow_request_sources

    def page(request):
        allow_request_sources(request, img_src=["https://cdn.tool.example.org"])
        return HttpResponse("<p>page</p>")

    response = ContentSecurityPolicyMiddleware(page)(rf.get("/"))
    assert "https://cdn.tool.example.org" in response["Content-Security-Policy"]
    with pytest.raises(ValueError):
        allow_request_sources(rf.get("/"), img_src=["https://x.example; script-src *"])
