"""Personalised content: graceful fallbacks, escaping, strictness, previews."""

from __future__ import annotations

import math

import duckdb
import jinja2
import pandas as pd
import pytest

from activation.content import render_email, render_string
from activation.previews import main, render_previews
from tests.activation.helpers import audience


@pytest.mark.parametrize("first_name", [None, "", "   ", math.nan])
def test_missing_first_name_falls_back_to_a_neutral_greeting(first_name):
    email = render_email({"first_name": first_name, "rfm_segment": "champions"})
    assert "Hi there," in email.html
    assert "Hi ," not in email.html and "Hi  ," not in email.html and "None" not in email.html
    assert not email.subject.startswith(",")


def test_greeting_uses_the_first_name():
    email = render_email({"first_name": " Ann ", "offer": "15% off", "loyalty_tier": "gold"})
    assert "Hi Ann," in email.html
    assert email.subject == "Ann, 15% off inside"
    assert "Your offer: 15% off" in email.html and "As a Gold member" in email.html


def test_hostile_values_are_escaped():
    hostile = '<script>alert("x")</script>'
    member = {
        "first_name": hostile,
        "offer": "<b>50%</b>",
        "recommended_products": '[{"product_id": "A", "name": "<img src=x onerror=alert(1)>", '
        '"image_url": "javascript:alert(1)", "price": 3}]',
    }
    html = render_email(member).html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>50%</b>" not in html
    assert "<img src=x" not in html
    assert "javascript:" not in html
    assert html.count("&lt;script&gt;") == 2  # greeting and <title>


def test_unknown_variable_fails_at_preview_time():
    with pytest.raises(jinja2.UndefinedError):
        render_string("Hello {{ frist_name }}", {"first_name": "Ann"})
    assert render_string("Hello {{ frist_name }}", {"first_name": "Ann"}, strict=False) == "Hello "
    assert render_string("{{ first_name }} {{ offer }}", {"first_name": "Ann"}) == "Ann None"


def test_segments_get_their_own_blocks_and_recommendations_render():
    champion = render_email({"rfm_segment": "champions"}).html
    at_risk = render_email({"rfm_segment": "at_risk"}).html
    assert "very best customers" in champion and "missed you" not in champion
    assert "missed you" in at_risk
    row = audience("file", "vip", [1]).iloc[0].to_dict()
    html = render_email(row).html
    assert "Product 1" in html and "https://img.example.com/1.png" in html and "10.00" in html
    no_recs = render_email({**row, "recommended_products": None}).html
    assert "latest arrivals" in no_recs


def test_previews_from_a_dataframe(tmp_path):
    frame = audience("file", "vip", range(12))
    paths = render_previews(frame, tmp_path / "out", per_segment=2)
    index = tmp_path / "out" / "index.html"
    assert paths[0] == index
    assert len(paths) == 1 + 2 * 2  # two segments in the helper audience
    text = index.read_text()
    for path in paths[1:]:
        assert path.exists() and path.relative_to(tmp_path / "out").as_posix() in text


def test_previews_cli_reads_the_warehouse(tmp_path, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    frame = audience("mailchimp", "vip", range(9))
    frame.loc[0, "rfm_segment"] = None
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA restricted")
    con.register("frame", frame)
    con.execute("CREATE TABLE restricted.audience_export AS SELECT * FROM frame")
    con.close()
    code = main(["--warehouse", str(warehouse), "--out", str(tmp_path / "previews"), "--per-segment", "3"])
    assert code == 0
    files = sorted(
        p.relative_to(tmp_path / "previews").as_posix() for p in (tmp_path / "previews").rglob("*.html")
    )
    assert "index.html" in files
    assert len([f for f in files if f.startswith("unknown/")]) == 1
    assert len([f for f in files if f.startswith("champions/")]) == 2
    assert len([f for f in files if f.startswith("at_risk/")]) == 3
    assert "wrote 6 previews" in capsys.readouterr().out
    assert (
        main(["--warehouse", str(warehouse), "--out", str(tmp_path / "p2"), "--table", "audiences.nope"]) == 2
    )


def test_previews_reject_bad_arguments(tmp_path):
    from activation.errors import InputError

    with pytest.raises(InputError):
        render_previews(pd.DataFrame({"email": ["a@b.co"]}), tmp_path)
    with pytest.raises(InputError):
        render_previews(audience("file", "vip", range(2)), tmp_path, per_segment=0)
