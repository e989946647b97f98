"""SVG badge images: what got through the old deny-list (an XHTML meta refresh,
animations that write href, CSS escapes) is uploaded through /v2 on a live server and
fetched back from its public URL; Chromium opens the served image and goes nowhere.
And what drawing programs make survives, looking the same.
"""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ValidationError

from laurels.core.images import image_from_upload
from laurels.openbadges import baking
from tests.servers import issuer_with_badge

EARNER = "svg-issuer@example.org"
RECT = '<rect id="body" width="100" height="100" fill="gold"/>'


def hostile_svgs(hostile_url: str) -> dict[str, str]:
    """Each bypass of the old sanitizer, reaching for `hostile_url` if it works."""
    svg = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    return {
        "meta refresh": (
            f'{svg} width="100" height="100">{RECT}'
            '<meta xmlns="http://www.w3.org/1999/xhtml" http-equiv="refresh"'
            f' content="0;url={hostile_url}/navigated"/>'
            '<h:meta xmlns:h="http://www.w3.org/1999/xhtml" http-equiv="refresh"'
            f' content="0;url={hostile_url}/navigated"/></svg>'
        ),
        "animation writes href": (
            f'{svg} width="100" height="100">'
            f'<a id="link"><set attributeName="href" to="{hostile_url}/clicked"/>{RECT}</a>'
            '<use xlink:href="#body"><set attributeName="xlink:href"'
            f' to="{hostile_url}/sprite.svg#x"/></use>'
            '<a><animate attributeName="href" values="javascript:alert(1)"/>'
            '<circle r="3"/></a></svg>'
        ),
        "css escapes": (
            f'{svg} width="100" height="100">'
            f"<style>rect {{ fill: \\75rl({hostile_url}/sheet) }}"
            f' @\\69mport "{hostile_url}/imported.css";</style>'
            f'<rect width="100" height="100" style="fill: \\75rl({hostile_url}/escaped)"/>'
            f'<circle r="9" fill="\\75rl({hostile_url}/presentation)"/></svg>'
        ),
    }


# Nothing of these may be left in a stored image.
DANGEROUS = ("meta", "refresh", "<set", "animate", "javascript", "\\", "sprite", "navigated")


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@pytest.fixture(scope="module")
def served(live, hostile, account) -> dict[str, str]:
    """Each hostile SVG uploaded as a badge class image through /v2: its public image URL."""
    api = account(EARNER)
    urls = {}
    for index, (name, svg) in enumerate(hostile_svgs(hostile.url).items()):
        _, badge = issuer_with_badge(
            api, f"Vector Guild {index}", badge_name=name, image=svg_data_uri(svg)
        )
        urls[name] = f"{live.base_url}/public/badges/{badge['entityId']}/image"
    return urls


@pytest.mark.server
@pytest.mark.parametrize("name", ["meta refresh", "animation writes href", "css escapes"])
def test_stored_svg_keeps_none_of_the_bypass(served, name):
    import httpx

    image = httpx.get(served[name])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/svg+xml"
    stored = image.text
    assert "<rect" in stored or "<circle" in stored  # the drawing itself is still there
    for construct in DANGEROUS:
        assert construct not in stored, f"{construct!r} survived in {name}: {stored}"
    assert "url(" not in stored.replace("url(#", "")


@pytest.mark.server
@pytest.mark.browser
def test_chromium_opening_the_served_svgs_goes_nowhere(served, hostile, chromium):
    hostile.requests.clear()
    context = chromium.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for name, url in served.items():
        page.goto(url)
        page.wait_for_timeout(1500)  # a refresh of 0 s would have left by now
        assert page.url == url, f"{name}: navigated to {page.url}"
        page.mouse.click(50, 50)  # on the link, if an animation gave it somewhere to go
        page.wait_for_timeout(500)
        assert page.url == url, f"{name}: the click went to {page.url}"
    assert hostile.requests == []
    assert dialogs == []
    context.close()


@pytest.mark.server
def test_a_deeply_nested_svg_is_a_clear_400_not_a_500(live, account):
    api = account(EARNER)
    issuer, _ = issuer_with_badge(api, "Deep Guild")
    nested = '<svg xmlns="http://www.w3.org/2000/svg">' + "<g>" * 5000 + "</g>" * 5000 + "</svg>"
    response = api.post(
        f"/v2/issuers/{issuer['entityId']}/badgeclasses",
        json={
            "name": "Deep",
            "description": "d",
            "criteriaNarrative": "c",
            "image": svg_data_uri(nested),
        },
    )
    assert response.status_code == 400, response.text[:300]
    assert "nests elements" in response.text


# --- strict (images fetched from elsewhere) --------------------------------------------------


@pytest.mark.parametrize("name", ["meta refresh", "animation writes href", "css escapes"])
def test_strict_refuses_each_bypass(name):
    svg = hostile_svgs("https://evil.example")[name].encode()
    with pytest.raises(ValidationError):
        image_from_upload(svg, strict=True)


@pytest.mark.parametrize(
    "declaration",
    [
        "fill:#fff;behavior:url(x.htc)",
        "fill:url(https://evil.example/x)",
        "fill:image-set('x.png' 1x)",
        "fill:red;-moz-binding:url(x)",
        "font-family:'a;b'",
        "fill:red/*comment*/",
    ],
)
def test_style_attributes_keep_only_safe_properties(declaration):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><rect style="{declaration}"/></svg>'
    cleaned = image_from_upload(svg.encode()).content.decode()
    for gone in ("behavior", "evil", "image-set", "binding", "comment"):
        assert gone not in cleaned
    with pytest.raises(ValidationError):
        image_from_upload(svg.encode(), strict=True)


@pytest.mark.parametrize(
    "element",
    [
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>',
        "<script>alert(1)</script>",
        '<iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example"/>',
        '<image href="https://evil.example/track.png" width="1" height="1"/>',
        '<image href="data:image/svg+xml;base64,PHN2Zy8+" width="1" height="1"/>',
        '<use href="https://evil.example/sprite.svg#a"/>',
        '<feImage xmlns:x="http://www.w3.org/1999/xlink" x:href="https://evil.example/a.png"/>',
        '<animateTransform attributeName="transform" type="rotate" from="0" to="90"/>',
        '<x:thing xmlns:x="urn:anything-else"/>',
        '<rect xml:base="https://evil.example/" width="1" height="1"/>',
        '<?xml-stylesheet href="https://evil.example/x.css"?><g/>',
    ],
)
def test_anything_off_the_allow_list_is_removed_and_refused_when_strict(element):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg">{element}<circle r="2"/></svg>'
    cleaned = image_from_upload(svg.encode()).content.decode()
    for gone in ("evil", "script", "foreignObject", "iframe", "animate", "thing", "svg+xml"):
        assert gone not in cleaned
    assert "<circle" in cleaned
    with pytest.raises(ValidationError):
        image_from_upload(svg.encode(), strict=True)


def test_a_baked_svg_passes_strict_unchanged_and_still_unbakes():
    url = "https://badges.example.org/public/assertions/abc"
    baked = baking.bake_svg(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" '
        b'height="4"/></svg>',
        url,
        f'{{"id": "{url}", "type": "Assertion"}}',
    )
    checked = image_from_upload(baked, strict=True)
    assert baking.unbake(checked.content) == url
    assert b"<openbadges:assertion" in checked.content


# --- what drawing programs make ---------------------------------------------------------------

INKSCAPE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape (http://www.inkscape.org/) -->
<svg width="200" height="200" viewBox="0 0 200 200" version="1.1" id="svg1"
   inkscape:version="1.3 (0e150ed6c4, 2023-07-21)" sodipodi:docname="badge.svg"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg"
   xmlns:svg="http://www.w3.org/2000/svg"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:cc="http://creativecommons.org/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <title id="title1">Knot tying</title>
  <desc id="desc1">A gold medal with a rope</desc>
  <sodipodi:namedview id="namedview1" pagecolor="#ffffff" inkscape:zoom="2.5"/>
  <defs id="defs1">
    <linearGradient id="linearGradient1" inkscape:collect="always">
      <stop style="stop-color:#ffd700;stop-opacity:1" offset="0" id="stop1"/>
      <stop style="stop-color:#b8860b;stop-opacity:1" offset="1" id="stop2"/>
    </linearGradient>
    <linearGradient xlink:href="#linearGradient1" id="linearGradient2" x1="0" y1="0"
       x2="200" y2="200" gradientUnits="userSpaceOnUse"/>
    <radialGradient id="shine" cx="70" cy="60" r="60" gradientUnits="userSpaceOnUse">
      <stop offset="0" stop-color="#fff" stop-opacity="0.8"/>
      <stop offset="1" stop-color="#fff" stop-opacity="0"/>
    </radialGradient>
    <clipPath clipPathUnits="userSpaceOnUse" id="clip1">
      <circle cx="100" cy="100" r="88"/>
    </clipPath>
    <filter style="color-interpolation-filters:sRGB" id="shadow" x="-0.2" y="-0.2"
       width="1.4" height="1.4">
      <feGaussianBlur in="SourceAlpha" stdDeviation="3"/>
      <feOffset dx="3" dy="3" result="offset"/>
      <feFlood flood-color="#000" flood-opacity="0.4"/>
      <feComposite in2="offset" operator="in"/>
      <feMerge><feMergeNode/><feMergeNode in="SourceGraphic"/></feMerge>
    </filter>
    <pattern id="stripes" width="10" height="10" patternUnits="userSpaceOnUse"
       patternTransform="rotate(45)">
      <rect width="4" height="10" fill="#ffffff" fill-opacity="0.25"/>
    </pattern>
    <mask id="hole" maskUnits="userSpaceOnUse">
      <rect width="200" height="200" fill="white"/>
      <circle cx="100" cy="100" r="25" fill="black"/>
    </mask>
    <path id="rope" d="m 50,110 c 20,-50 80,-50 100,0"/>
    <marker id="dot" markerWidth="6" markerHeight="6" refX="3" refY="3">
      <circle cx="3" cy="3" r="3" fill="#8b4513"/>
    </marker>
  </defs>
  <metadata id="metadata1">
    <rdf:RDF><cc:Work rdf:about=""><dc:format>image/svg+xml</dc:format>
      <dc:title>Knot tying</dc:title></cc:Work></rdf:RDF>
  </metadata>
  <g inkscape:label="Layer 1" inkscape:groupmode="layer" id="layer1"
     transform="translate(0,0)">
    <circle id="medal" cx="100" cy="100" r="88"
       style="fill:url(#linearGradient2);fill-opacity:1;stroke:#8b4513;\
stroke-width:6;filter:url(#shadow)"/>
    <rect fill="url(#stripes)" width="200" height="200" clip-path="url(#clip1)"
       mask="url(#hole)"/>
    <ellipse cx="75" cy="65" rx="45" ry="30" fill="url(#shine)"/>
    <use xlink:href="#rope"
       style="fill:none;stroke:#ffffff;stroke-width:5;stroke-linecap:round;marker-end:url(#dot)"/>
    <polygon points="100,30 106,45 122,45 109,54 114,70 100,60 86,70 91,54 78,45 94,45"
       fill="#fff8dc" stroke="#8b4513" stroke-width="1.5" stroke-linejoin="round"/>
    <line x1="40" y1="150" x2="160" y2="150" stroke="#8b4513" stroke-dasharray="4 3"/>
    <polyline points="60,170 100,180 140,170" fill="none" stroke="#fff"/>
    <text xml:space="preserve"
       style="font-style:normal;font-weight:bold;font-size:22px;line-height:1.25;\
font-family:sans-serif;-inkscape-font-specification:'sans-serif Bold';text-anchor:middle;\
fill:#ffffff"
       x="100" y="135" id="text1"><tspan sodipodi:role="line" id="tspan1" x="100"
       y="135">KNOTS</tspan></text>
  </g>
</svg>
"""

ILLUSTRATOR = """<?xml version="1.0" encoding="utf-8"?>
<!-- Generator: Adobe Illustrator 27.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->
<svg version="1.1" id="Layer_1" xmlns="http://www.w3.org/2000/svg"
   xmlns:xlink="http://www.w3.org/1999/xlink" x="0px" y="0px" viewBox="0 0 200 200"
   style="enable-background:new 0 0 200 200;" xml:space="preserve" width="200" height="200">
<style type="text/css">
  .st0{fill:#1E6BB8;}
  .st1{fill:none;stroke:#FFFFFF;stroke-width:8;stroke-miterlimit:10;}
  .st2{fill:#FFFFFF;font-family:'Arial', sans-serif;font-size:28px;}
</style>
<g id="Badge" data-name="Badge">
  <path class="st0" d="M100,10l80,40v60c0,40-40,70-80,80C60,180,20,150,20,110V50L100,10z"/>
  <polyline class="st1" points="60,100 90,130 145,70 "/>
  <text transform="matrix(1 0 0 1 62 175)" class="st2">CODE</text>
</g>
</svg>
"""


def rendered(page, svg: bytes) -> bytes:
    """How Chromium draws `svg` as a badge image (an <img>, as the public pages show it)."""
    page.set_content(
        '<body style="margin:0;background:#777">'
        f'<img id="badge" src="{svg_data_uri(svg.decode())}" width="200" height="200"></body>'
    )
    page.wait_for_function("document.getElementById('badge').complete")
    return page.locator("#badge").screenshot()


@pytest.mark.browser
@pytest.mark.parametrize("drawing", [INKSCAPE, ILLUSTRATOR], ids=["inkscape", "illustrator"])
def test_drawings_from_common_tools_pass_strict_and_look_the_same(drawing, chromium):
    original = drawing.encode()
    checked = image_from_upload(original, strict=True)  # nothing in them needed cleaning
    for kept in (b"linearGradient", b"<text", b"url(#") if drawing is INKSCAPE else (b".st0",):
        assert kept in checked.content
    for dropped in (b"inkscape:", b"sodipodi:", b"rdf:"):
        assert dropped not in checked.content
    page = chromium.new_page(viewport={"width": 200, "height": 200})
    before = rendered(page, original)
    assert rendered(page, checked.content) == before
    assert len(set(before)) > 50  # a real picture, not a blank square
    page.close()
