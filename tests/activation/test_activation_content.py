"""Personalised content: blocks for every segment and RFM value, the cart, money, ESP merge tags,
links, offline images, graceful fallbacks, escaping, strictness, previews."""

from __future__ import annotations

import json
import math
import re
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import jinja2
import pandas as pd
import pytest
import yaml

from activation.config import SenderConfig
from activation.content import ContentLibrary, money, render_email, render_string
from activation.errors import ConfigError
from activation.previews import main, render_previews
from tests.activation.helpers import audience, products
from warehouse.context import PROJECT_DIR
from warehouse.segments import SEGMENTS_YAML

LIBRARY = ContentLibrary.load()
GENERIC = LIBRARY.generic_keys
SEGMENTS = sorted(model["name"] for model in yaml.safe_load(SEGMENTS_YAML.read_text())["models"])
# Every value customer_rfm writes: the map's segments, and No Purchases Yet for non-buyers.
RFM_SEGMENTS = sorted(
    {*pd.read_csv(PROJECT_DIR / "seeds" / "rfm_segment_map.csv")["rfm_segment"], "No Purchases Yet"}
)
HREF = re.compile(r'(?<![\w-])(?:href|src)="([^"]*)"')


def cart(n: int = 2, currency: str | None = "EUR") -> str:
    return json.dumps(
        [
            {
                "product_id": f"CART {i}",
                "name": f"Cart thing {i}",
                "image_url": f"https://img.example.com/cart{i}.png",
                "price": 20.5 + i,
                **({"currency": currency} if currency else {}),
                "quantity": i + 2,
            }
            for i in range(n)
        ]
    )


def member(**changes) -> dict:
    row = audience("mailchimp", "cart_abandoners_48h", [1], campaign_key="cart_abandoners_48h").iloc[0]
    return {**row.to_dict(), "segment_name": "cart_abandoners_48h", "currency": "EUR", **changes}


@pytest.mark.parametrize("first_name", [None, "", "   ", math.nan])
def test_missing_first_name_falls_back_to_a_neutral_greeting(first_name):
    email = render_email({"first_name": first_name, "rfm_segment": "Champions"})
    assert "Hi there," in email.html
    assert "Hi ," not in email.html and "Hi  ," not in email.html and "None" not in email.html
    assert not email.subject.startswith(",") and email.subject == "Picked for you"


def test_greeting_offer_and_tier_use_the_member():
    email = render_email(
        {"first_name": " Ann ", "offer": "15% off", "loyalty_tier": "gold", "segment_name": "win_back"}
    )
    assert "Hi Ann," in email.html
    assert email.subject == "Ann, come back and see what is new"
    assert "Your offer: 15% off" in email.html and "As a Gold member" in email.html


@pytest.mark.parametrize("segment", SEGMENTS)
def test_every_segment_has_its_own_block(segment):
    row = {"segment_name": segment, "rfm_segment": "Loyal", "first_name": "Ann", "currency": "USD"}
    email = render_email({**row, "cart_items": cart(1), "recommended_products": products(1)})
    assert email.blocks["segment"] != GENERIC["segment"], f"{segment} renders only the generic block"
    block = LIBRARY.segment_block(segment)
    assert block["headline"] in email.html and block["cta_label"] in email.html
    assert block["cta_path"].startswith("/") and block["fallback_cta_path"].startswith("/")


@pytest.mark.parametrize("rfm_segment", RFM_SEGMENTS)
def test_every_rfm_segment_value_has_its_own_block(rfm_segment):
    email = render_email({"rfm_segment": rfm_segment, "segment_name": "win_back"})
    assert email.blocks["rfm"] != GENERIC["rfm"], f"{rfm_segment!r} renders only the generic block"
    assert LIBRARY.rfm_block(rfm_segment)["intro"] in email.html


def test_unknown_values_get_the_generic_block_and_say_so():
    email = render_email({"rfm_segment": "champions", "segment_name": "not_a_segment"})
    assert email.blocks == GENERIC
    assert 'data-rfm-block="generic"' in email.html


def test_cart_abandoners_see_their_cart_with_prices_and_quantities():
    html = render_email(member(cart_items=cart(2))).html
    assert "In your cart" in html and "still in your cart" in html
    assert "Cart thing 0" in html and "Cart thing 1" in html
    assert "€20.50" in html and "€21.50" in html and "Qty 2" in html and "Qty 3" in html
    assert 'src="https://img.example.com/cart1.png" alt="Cart thing 1"' in html
    assert "Product 1" not in html, "the cart e-mail shows the cart, not recommendations"
    assert "Free shipping on the items in your cart" not in html  # the helper's offer is 10% off
    offer = render_email(member(cart_items=cart(1), offer="Free shipping on the items in your cart")).html
    assert "Your offer: Free shipping on the items in your cart" in offer
    assert urlsplit(_cta(offer)).path == "/cart"


def test_an_empty_cart_falls_back_without_a_cart_offer():
    offer = "Free shipping on the items in your cart"
    html = render_email(member(cart_items=None, offer=offer)).html
    assert "Product 1" in html and "Cart thing" not in html and "Qty" not in html
    assert LIBRARY.segment_block("cart_abandoners_48h")["fallback_intro"] in html
    assert offer not in html, "no free shipping on a cart that is not there"
    assert urlsplit(_cta(html)).path == "/new"
    bare = render_email(member(cart_items=None, recommended_products=None, offer=offer)).html
    assert 'class="products"' not in bare and "<img" not in bare and _cta(bare)


def test_money_carries_its_currency():
    assert money(1234.5, "USD") == "$1,234.50"
    assert money("12", "eur") == "€12.00"
    assert money(3.456, "GBP") == "£3.46"
    assert money(12.5, "CHF") == "CHF 12.50"
    for amount, currency in [(12.5, None), (12.5, ""), (math.nan, "USD"), (-1, "USD"), ("abc", "USD")]:
        assert money(amount, currency) == ""
    html = render_email(member(cart_items=cart(1, currency=None), currency="GBP")).html
    assert "£20.50" in html, "an item without a currency takes the member's"
    nothing = render_email(member(cart_items=cart(1, currency=None), currency=None)).html
    assert "20.50" not in nothing and "Cart thing 0" in nothing, "no bare number without a currency"


MERGE_TAGS = {
    "mailchimp": ['href="*|UNSUB|*"', 'href="*|UPDATE_PROFILE|*"'],
    "klaviyo": ["{% unsubscribe %}", "{% manage_preferences %}"],
    "hubspot": ['href="{{ unsubscribe_link_all }}"', 'href="{{ unsubscribe_link }}"'],
}


@pytest.mark.parametrize("destination", [*MERGE_TAGS, "file", None])
def test_unsubscribe_and_preferences_use_the_destinations_merge_tags(destination):
    row = member(destination=destination, cart_items=cart(1))
    html = render_email(row).html
    for esp, tags in MERGE_TAGS.items():
        for tag in tags:
            assert (tag in html) == (esp == destination), (destination, tag)
    if destination in (None, "file"):
        assert html.count('class="merge-placeholder"') == 2
        assert "[Unsubscribe link - inserted by your e-mail service]" in html
    assert 'href="#"' not in html and "&#123;" not in html.split('class="footer"')[1]
    assert LIBRARY.copy["unsubscribe_label"] in html or destination == "klaviyo"
    assert render_email(row, destination="klaviyo").html.count("{% unsubscribe %}") == 1


def test_esp_tags_in_data_stay_inert():
    """A first name, offer or product name written as an ESP tag must not become one."""
    hostile = "*|UNSUB|* {{ contact.email }} {% unsubscribe %}"
    row = member(
        first_name=hostile,
        offer=hostile,
        cart_items=json.dumps([{"product_id": "A", "name": hostile, "quantity": 1}]),
    )
    for destination in MERGE_TAGS:
        email = render_email(row, destination=destination)
        body = email.html.split('class="footer"')[0]
        for tag in ("*|", "|*", "{{", "}}", "{%", "%}"):
            assert tag not in body, (destination, tag)
        assert "&#123;&#123; contact.email &#125;&#125;" in body
        assert "{{" not in email.subject and "*|" not in email.subject and "{%" not in email.subject
    footer = render_email(row, destination="klaviyo").html.split('class="footer"')[1]
    assert footer.count("{% unsubscribe %}") == 1


def test_hostile_values_are_escaped():
    hostile = '<script>alert("x")</script>'
    row = {
        "first_name": hostile,
        "offer": "<b>50%</b>",
        "currency": "USD",
        "recommended_products": '[{"product_id": "A", "name": "<img src=x onerror=alert(1)>", '
        '"image_url": "javascript:alert(1)", "price": 3}]',
    }
    html = render_email(row).html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>50%</b>" not in html
    assert "<img src=x" not in html
    assert "javascript:" not in html
    assert html.count("&lt;script&gt;") == 2  # greeting and <title>
    assert '<span class="image-missing" role="img" aria-label="&lt;img src=x onerror=alert(1)&gt;">' in html


def _cta(html: str) -> str:
    return re.search(r'class="cta" href="([^"]*)"', html).group(1).replace("&amp;", "&")


def test_links_carry_utm_parameters_and_are_built_safely():
    html = render_email(member(cart_items=cart(1), rfm_segment="At Risk"), destination="klaviyo").html
    cta = urlsplit(_cta(html))
    assert (cta.scheme, cta.netloc, cta.path) == ("https", "shop.example.com", "/cart")
    assert parse_qs(cta.query) == {
        "utm_source": ["klaviyo"],
        "utm_medium": ["email"],
        "utm_campaign": ["cart_abandoners_48h"],
        "utm_content": ["at_risk"],
    }
    product = re.search(r'href="(https://shop\.example\.com/products/[^"]*)"', html).group(1)
    assert product.startswith("https://shop.example.com/products/CART%200?utm_source=klaviyo&amp;")
    shop = SenderConfig(shop_url="https://shop.example.com/eu")
    moved = render_email(member(cart_items=cart(1)), sender=shop, destination="file").html
    assert _cta(moved).startswith("https://shop.example.com/eu/cart?utm_source=file&utm_medium=email&")
    assert all(url.startswith("https://") for url in HREF.findall(html)), HREF.findall(html)


def test_sender_name_and_postal_address_are_settings():
    default = render_email(member())
    assert SenderConfig().postal_address in default.html and SenderConfig().name in default.html
    sender = SenderConfig.from_env(
        {
            "AW_SENDER_NAME": "Shop & Co",
            "AW_SENDER_POSTAL_ADDRESS": " 1 Main St,\n Town  ",
            "AW_SHOP_URL": "https://s.example",
        }
    )
    html = render_email(member(), sender=sender).html
    assert "Shop &amp; Co" in html and '<p class="postal-address">1 Main St, Town</p>' in html
    for env in ({"AW_SHOP_URL": "javascript:alert(1)"}, {"AW_SENDER_POSTAL_ADDRESS": "   "}):
        with pytest.raises(ConfigError):
            SenderConfig.from_env(env)


def test_images_work_offline_with_alt_text_and_a_box_when_missing():
    items = json.loads(cart(3))
    items[1]["image_url"] = None
    del items[2]["image_url"]
    row = member(cart_items=json.dumps(items))
    offline = render_email(row, offline_images=True).html
    sources = re.findall(r'<img src="([^"]*)" alt="([^"]*)"', offline)
    assert sources == [(sources[0][0], "Cart thing 0")] and sources[0][0].startswith(
        "data:image/svg+xml;base64,"
    )
    assert 'data-src="https://img.example.com/cart0.png"' in offline
    assert '<span class="image-missing" role="img" aria-label="Cart thing 1">Cart thing 1</span>' in offline
    assert '<span class="image-missing" role="img" aria-label="Cart thing 2">Cart thing 2</span>' in offline
    online = render_email(row).html
    assert '<img src="https://img.example.com/cart0.png" alt="Cart thing 0"' in online


def test_unknown_variable_fails_at_preview_time():
    with pytest.raises(jinja2.UndefinedError):
        render_string("Hello {{ frist_name }}", {"first_name": "Ann"})
    assert render_string("Hello {{ frist_name }}", {"first_name": "Ann"}, strict=False) == "Hello "
    assert render_string("{{ first_name }} {{ offer }}", {"first_name": "Ann"}) == "Ann None"
    with pytest.raises(jinja2.UndefinedError):
        render_string("{{ copy.tier_line | fill(level='gold') }}", {})


def _two_segments() -> pd.DataFrame:
    carts = audience("mailchimp", "cart_abandoners_48h", range(4), campaign_key="cart_abandoners_48h")
    carts["segment_name"] = "cart_abandoners_48h"
    carts["cart_items"] = [cart(1), None, cart(2), None]
    lapsed = audience("klaviyo", "win_back", range(10, 13), campaign_key="win_back")
    lapsed["segment_name"] = "win_back"
    lapsed.loc[lapsed.index[0], "first_name"] = '<script>alert("x")</script>'
    frame = pd.concat([carts, lapsed], ignore_index=True)
    frame["currency"] = "EUR"
    return frame


def test_previews_cover_every_segment_every_fallback_and_every_rfm_value(tmp_path):
    paths = render_previews(_two_segments(), tmp_path / "out", per_segment=2, segment_column="segment_name")
    out = tmp_path / "out"
    index = (out / "index.html").read_text()
    assert paths[0] == out / "index.html" and all(p.exists() for p in paths)
    for segment in SEGMENTS:
        assert f"<h3>{segment}</h3>" in index
        assert (out / segment / "variant-no-first-name.html").exists()
    files = {p.relative_to(out).as_posix() for p in paths[1:]}
    assert {"cart_abandoners_48h/c0000000.html", "cart_abandoners_48h/c0000001.html"} <= files
    for variant in ("no-first-name", "no-recommendations", "no-cart", "no-cart-no-recommendations"):
        assert f"cart_abandoners_48h/variant-{variant}.html" in files
    assert "win_back/variant-no-cart.html" not in files
    assert "browse_abandoners/sample.html" in files, "a segment nobody is in gets a sample"
    for rfm_segment in RFM_SEGMENTS:
        assert f"<h3>{rfm_segment.replace(chr(39), '&#39;')}</h3>" in index
    assert 'class="generic"' not in index, "no preview fell back to a generic block"
    assert "Cart thing 0" in (out / "cart_abandoners_48h" / "c0000000.html").read_text()
    assert "Cart thing" not in (out / "cart_abandoners_48h" / "variant-no-cart.html").read_text()
    assert "Hi there," in (out / "cart_abandoners_48h" / "variant-no-first-name.html").read_text()
    hostile = (out / "win_back" / "c0000010.html").read_text()
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    assert "<script>" not in index


def test_previews_flag_a_generic_block(tmp_path):
    frame = _two_segments()
    frame["segment_name"] = "brand_new_segment"
    render_previews(frame, tmp_path / "out", segment_column="segment_name", fallbacks=False)
    assert 'class="generic"' in (tmp_path / "out" / "index.html").read_text()


def test_previews_fetch_nothing_remote(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a preview tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    paths = render_previews(_two_segments(), tmp_path / "out", segment_column="segment_name")
    for path in paths:
        html = Path(path).read_text()
        assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
        for src in re.findall(r'(?<![\w-])src="([^"]*)"', html):
            assert src.startswith("data:"), (path, src)


def test_previews_cli_reads_the_warehouse(tmp_path, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    frame = audience("mailchimp", "vip", range(9))
    frame.loc[0, "rfm_segment"] = None
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA restricted")
    con.register("frame", frame)
    con.execute("CREATE TABLE restricted.audience_export AS SELECT * FROM frame")
    con.close()
    args = ["--warehouse", str(warehouse), "--out", str(tmp_path / "previews"), "--per-segment", "3"]
    assert main([*args, "--no-fallbacks", "--destination", "hubspot"]) == 0
    files = sorted(
        p.relative_to(tmp_path / "previews").as_posix() for p in (tmp_path / "previews").rglob("*.html")
    )
    assert "index.html" in files
    assert len([f for f in files if f.startswith("unknown/")]) == 1
    assert len([f for f in files if f.startswith("Champions/")]) == 2
    assert len([f for f in files if f.startswith("At_Risk/")]) == 3
    assert "wrote 6 previews" in capsys.readouterr().out
    assert (
        'href="{{ unsubscribe_link_all }}"'
        in (tmp_path / "previews" / "At_Risk" / "c0000001.html").read_text()
    )
    assert main([*args[:2], "--out", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / "Can_t_Lose" / "sample.html").exists()
    assert (
        main(["--warehouse", str(warehouse), "--out", str(tmp_path / "p2"), "--table", "audiences.nope"]) == 2
    )


def test_previews_reject_bad_arguments(tmp_path):
    from activation.errors import InputError

    with pytest.raises(InputError):
        render_previews(pd.DataFrame({"email": ["a@b.co"]}), tmp_path)
    with pytest.raises(InputError):
        render_previews(audience("file", "vip", range(2)), tmp_path, per_segment=0)
    with pytest.raises(InputError):
        render_previews(audience("file", "vip", range(2)), tmp_path, destination="mailjet")


def test_recommendations_still_render_for_the_helper_audience():
    row = audience("file", "vip", [1]).iloc[0].to_dict()
    html = render_email({**row, "currency": "USD"}).html
    assert "Product 1" in html and "https://img.example.com/1.png" in html and "$10.00" in html
    assert json.loads(products(1, 1))[0]["name"] == "Product 1"


def _in_arm(campaign_key: str, segment_name: str, arm: str) -> dict:
    return member(
        campaign_key=campaign_key,
        list_key=campaign_key,
        segment_name=segment_name,
        holdout_arm=arm,
        first_name=None,
        recommended_products=products(3),
    )


def test_a_content_test_arm_gets_its_words_from_the_seed_and_nothing_else_changes():
    """seeds/email_arm_blocks.csv: at_risk's whats_new arm has its own subject line; its baseline
    arm, we_miss_you, has no row and keeps the segment's e-mail, as does any other campaign."""
    baseline = render_email(_in_arm("at_risk", "at_risk_lapsing", "we_miss_you"))
    variant = render_email(_in_arm("at_risk", "at_risk_lapsing", "whats_new"))
    assert baseline.subject == LIBRARY.segment_block("at_risk_lapsing")["subject"]
    assert variant.subject == "See what changed since your last visit"
    assert variant.blocks == {**baseline.blocks, "arm": "whats_new"} and "arm" not in baseline.blocks
    assert variant.html.replace(variant.subject, baseline.subject) == baseline.html
    untested = render_email(_in_arm("vip", "high_value_repeat_buyers", "whats_new"))
    assert "arm" not in untested.blocks


def test_content_without_the_models_arm_shows_no_recommended_products():
    with_picks = render_email(_in_arm("browse_abandoners", "browse_abandoners", "model_picks"))
    without = render_email(_in_arm("browse_abandoners", "browse_abandoners", "no_picks"))
    block = LIBRARY.segment_block("browse_abandoners")
    assert "Product 0" in with_picks.html and "Product 0" not in without.html
    assert block["intro"] in with_picks.html and block["fallback_intro"] in without.html
    assert block["fallback_cta_label"] in without.html
    assert without.blocks["arm"] == "no_picks"
