"""The cart_items and currency merge fields: validated like the recommendations, and carried by the
sync engine to every destination in a shape that destination can hold."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from activation import sync_audiences
from activation.audience import SuppressionIndex, member_fields, prepare_audience
from activation.config import ESP_NAMES
from activation.destinations.base import Member
from activation.destinations.hubspot import contact_properties
from activation.destinations.klaviyo import profile_resource
from activation.destinations.mailchimp import merge_fields
from tests.activation.helpers import audience, email_of, no_suppressions


def cart(n: int = 2, seed: int = 0) -> str:
    return json.dumps(
        [
            {
                "product_id": f"SKU-{seed + i:05d}",
                "name": f"Cart product {seed + i}",
                "image_url": f"https://img.example.com/c{seed + i}.png",
                "price": 20.5 + i,
                "currency": "EUR",
                "quantity": i + 1,
            }
            for i in range(n)
        ]
    )


def with_cart(destination: str, keys) -> pd.DataFrame:
    frame = audience(destination, "cart_abandoners_48h", keys)
    frame["cart_items"] = [cart(2, k) for k in keys]
    frame["currency"] = "EUR"
    return frame


def prepared(frame: pd.DataFrame):
    return prepare_audience(frame, "file", "cart", SuppressionIndex(no_suppressions()))


def test_cart_lines_are_validated_and_an_empty_cart_is_no_value():
    frame = with_cart("file", range(7))
    frame.loc[1, "cart_items"] = "{not json"
    frame.loc[2, "cart_items"] = json.dumps([{"product_id": "A", "name": "No quantity"}])
    frame.loc[3, "cart_items"] = json.dumps([{"product_id": "A", "quantity": 0}])
    frame.loc[4, "cart_items"] = json.dumps([{"product_id": "A", "quantity": True}])
    frame.loc[5, "cart_items"] = "[]"
    frame.loc[6, "currency"] = " gbp "
    result = prepared(frame)
    assert dict(zip(result.excluded["customer_key"], result.excluded["reason"], strict=True)) == {
        "c0000001": "invalid_cart_items",
        "c0000002": "invalid_cart_items",
        "c0000003": "invalid_cart_items",
        "c0000004": "invalid_cart_items",
    }
    eligible = result.eligible.set_index("customer_key")
    assert eligible.loc["c0000005", "cart_items"] is None
    assert eligible.loc["c0000006", "currency"] == "GBP"
    assert result.fields[-2:] == ["cart_items", "currency"]
    fields = member_fields(eligible.reset_index().iloc[0].to_dict(), result.fields)
    assert fields["cart_items"][1] == {
        "product_id": "SKU-00001",
        "name": "Cart product 1",
        "image_url": "https://img.example.com/c1.png",
        "price": 21.5,
        "currency": "EUR",
        "quantity": 2,
    }


def test_a_changed_cart_changes_the_payload_hash():
    frame = with_cart("file", range(2))
    before = prepared(frame).eligible["payload_hash"].tolist()
    frame.loc[1, "cart_items"] = cart(1, 1)
    after = prepared(frame).eligible["payload_hash"].tolist()
    assert before[0] == after[0] and before[1] != after[1]


def _member(fields: dict) -> Member:
    return Member(member_key=email_of(1), customer_key="c0000001", fields=fields, payload_hash="h")


def test_each_esp_gets_the_cart_in_a_shape_it_can_hold():
    fields = {"first_name": "Ann", "currency": "EUR", "cart_items": json.loads(cart(4))}
    mailchimp = merge_fields(fields)
    assert mailchimp["CURRENCY"] == "EUR"
    assert mailchimp["CART_IDS"] == "SKU-00000,SKU-00001,SKU-00002,SKU-00003"
    assert (mailchimp["CART1_NAME"], mailchimp["CART1_PRC"], mailchimp["CART1_QTY"]) == (
        "Cart product 0",
        "20.5",
        "1",
    )
    assert mailchimp["CART3_IMG"] == "https://img.example.com/c2.png" and "CART4_NAME" not in mailchimp
    assert all(len(tag) <= 10 for tag in mailchimp), "Mailchimp merge tags are at most 10 characters"
    assert all(isinstance(value, str) for value in mailchimp.values())

    hubspot = contact_properties(_member(fields))
    assert json.loads(hubspot["aw_cart_items"]) == fields["cart_items"] and hubspot["aw_currency"] == "EUR"

    klaviyo = profile_resource(_member(fields))["attributes"]
    assert klaviyo["properties"]["cart_items"] == fields["cart_items"]
    assert klaviyo["properties"]["currency"] == "EUR" and klaviyo["first_name"] == "Ann"


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_the_sync_engine_carries_cart_and_currency_to_each_esp(fake, wh, config, esp):
    results = sync_audiences(with_cart(esp, range(3)), no_suppressions(), warehouse=wh, config=config)
    assert results[0].status == "success" and results[0].counts["creates"] == 3
    for k in range(3):
        expected = json.loads(cart(2, k))
        if esp == "mailchimp":
            stored = fake.mailchimp_member(email_of(k))["merge_fields"]
            assert stored["CART_IDS"] == f"SKU-{k:05d},SKU-{k + 1:05d}" and stored["CART2_QTY"] == "2"
            assert stored["CURRENCY"] == "EUR"
        elif esp == "klaviyo":
            stored = fake.klaviyo_profile(email_of(k))["properties"]
            assert stored["cart_items"] == expected and stored["currency"] == "EUR"
        else:
            stored = fake.hubspot_contact(email_of(k))["properties"]
            assert json.loads(stored["aw_cart_items"]) == expected and stored["aw_currency"] == "EUR"


def test_the_file_destination_keeps_the_cart_as_json_text(wh, tmp_path):
    from activation.config import ActivationConfig, FileConfig

    config = ActivationConfig(file=FileConfig(directory=tmp_path / "out"))
    sync_audiences(with_cart("file", range(2)), no_suppressions(), warehouse=wh, config=config)
    written = pd.read_parquet(tmp_path / "out" / "cart_abandoners_48h.parquet")
    assert [json.loads(text) for text in written["cart_items"]] == [json.loads(cart(2, k)) for k in range(2)]
    assert set(written["currency"]) == {"EUR"}
