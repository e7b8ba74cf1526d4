"""Personalised e-mail content with Jinja2.

HTML templates are autoescaped, so a hostile first name cannot inject markup; text templates
(`*.txt.j2`, the subject) are not, since they are never parsed as HTML. Rendering is strict by
default (StrictUndefined): a template that names a variable the context does not have fails at
preview time instead of silently printing nothing. Every contract field is always present in the
context (None when unknown), so the templates can fall back gracefully ("Hi there," instead of
"Hi ,").

The words come from seeds, never from templates or code: `email_segment_blocks.csv` (per segment:
subject, headline, intro, which products, call to action), `email_rfm_blocks.csv` (per RFM segment:
the sentence that sets the tone) and `email_copy.csv` (greeting, labels, footer). A value without
a block of its own gets the `_default` row, and `RenderedEmail.blocks` says so. A member of a
content test's arm (the row's holdout_arm, decided in SQL) gets the arm's words from
`email_arm_blocks.csv` over the segment's: another subject, headline, intro or call to action, or
items_source `none` (no products: content without the model's recommendations).

The e-mail is rendered for a destination: the unsubscribe and preference links are that ESP's
merge tags, filled in when the ESP sends; for files (no ESP) a marked placeholder, never `#`. The
tags are our constants (Markup), while every value from data or seeds has the delimiters of ESP
template languages (`{{`, `{%`, `*|`) broken, so a first name cannot become a tag the ESP would
run."""

from __future__ import annotations

import base64
import csv
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jinja2
from markupsafe import Markup, escape

from activation.audience import KNOWN_FIELDS
from activation.config import SenderConfig
from warehouse.context import PROJECT_DIR

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
SEED_DIR = PROJECT_DIR / "seeds"
DEFAULT_TEMPLATE = "email.html.j2"
SUBJECT_TEMPLATE = "subject.txt.j2"
DEFAULT_BLOCK = "_default"
# The segment block fields a content test's arm may replace (seed email_arm_blocks).
ARM_FIELDS = ("subject", "headline", "intro", "items_source", "cta_label", "cta_path")
CONTROL_FIELDS = ("email", "customer_key", "list_key", "campaign_key", "segment_name", "destination")

# Each ESP's documented tags, chosen by the destination the e-mail is rendered for.
#   Mailchimp: *|UNSUB|* and *|UPDATE_PROFILE|* are URLs for an href
#     (mailchimp.com/help/customize-your-footer-content, mailchimp.com/help/create-a-preferences-center).
#   HubSpot: {{ unsubscribe_link_all }} opts out of everything, {{ unsubscribe_link }} opens the
#     subscription preferences; both URLs (knowledge.hubspot.com, "What is the difference between
#     the two unsubscribe links at the bottom of an email?").
#   Klaviyo: {% unsubscribe %} and {% manage_preferences %} write the whole link themselves
#     (help.klaviyo.com/hc/en-us/articles/115005078267).
ESP_HREF_TAGS = {
    "mailchimp": {"unsubscribe": "*|UNSUB|*", "preferences": "*|UPDATE_PROFILE|*"},
    "hubspot": {"unsubscribe": "{{ unsubscribe_link_all }}", "preferences": "{{ unsubscribe_link }}"},
}
ESP_LINK_TAGS = {
    "klaviyo": {"unsubscribe": "{% unsubscribe %}", "preferences": "{% manage_preferences %}"},
}

# How a price shows: the symbol for these, else the ISO code before the amount ("CHF 12.50").
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$", "CAD": "CA$"}

# Previews open without a network: every product image is this grey square (the real address is
# kept in data-src for a reader of the source).
PLACEHOLDER_IMAGE = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160" viewBox="0 0 160 160">'
    b'<rect width="160" height="160" fill="#e4e4e8"/>'
    b'<path d="M40 112l28-36 22 27 14-17 16 26z" fill="#b8b8c0"/><circle cx="104" cy="56" r="10" '
    b'fill="#b8b8c0"/></svg>'
).decode("ascii")

_DELIMITER_PAIR = re.compile(r"\{(?=[{%#])|[}%#](?=\})|\*(?=\|)|\|(?=\*)")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _autoescape(name: str | None) -> bool:
    return name is None or not name.endswith(".txt.j2")


def _html_text(value: Any) -> Markup:
    """Escaped text whose braces and pipes are character references: a browser shows the same
    thing, an ESP's template engine sees no tag in it."""
    text = str(escape(value))
    return Markup(text.replace("{", "&#123;").replace("}", "&#125;").replace("|", "&#124;"))


def _plain_text(value: str) -> str:
    """Text (the subject) with every tag delimiter pair split by a space."""
    return _DELIMITER_PAIR.sub(lambda match: match.group(0) + " ", value)


@jinja2.pass_eval_context
def _finalize(eval_ctx: jinja2.nodes.EvalContext, value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return _html_text(value) if eval_ctx.autoescape else _plain_text(value)


def safe_url(value: Any) -> str:
    """Only http(s) URLs reach an href or src; anything else (javascript:, data:) becomes #."""
    text = str(value or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return "#"
    return text if scheme in ("http", "https") else "#"


def money(value: Any, currency: Any = None) -> str:
    """A price with its currency ("$1,234.50", "€12.00", "CHF 12.50"); empty when the amount or
    the currency is unknown, so an e-mail never shows a bare number."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return ""
    code = str(currency or "").strip().upper()
    if not math.isfinite(amount) or amount < 0 or not code:
        return ""
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}{amount:,.2f}" if symbol else f"{code} {amount:,.2f}"


def lower_first(value: Any) -> str:
    text = str(value or "")
    return text[:1].lower() + text[1:]


def fill(text: Any, **values: Any) -> Markup:
    """Seed copy with its {name} parts replaced, everything escaped; a part without a value is an
    error, like an unknown variable."""
    text = str(text)
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(text):
        if match.group(1) not in values:
            raise jinja2.UndefinedError(f"copy {text!r} needs a value for {{{match.group(1)}}}")
        parts += [_html_text(text[last : match.start()]), _html_text(values[match.group(1)])]
        last = match.end()
    parts.append(_html_text(text[last:]))
    return Markup("").join(parts)


def environment(strict: bool = True, template_dir: str | Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir or TEMPLATE_DIR)),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    env.filters["money"] = money
    env.filters["fill"] = fill
    env.filters["lower_first"] = lower_first
    return env


def _read_seed(path: Path, *keys: str, optional: bool = False) -> dict[Any, dict[str, str]]:
    """A seed's rows by their key column (a tuple of them for several keys); {} for an optional
    seed that is not there."""
    if optional and not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: row for row in rows}


@dataclass(frozen=True)
class ContentLibrary:
    """The e-mail copy of the seeds: blocks per segment and per RFM segment, and fixed wording."""

    segment_blocks: Mapping[str, Mapping[str, Any]]
    rfm_blocks: Mapping[str, Mapping[str, str]]
    copy: Mapping[str, str]
    arm_blocks: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, seed_dir: str | Path | None = None) -> ContentLibrary:
        return _load_library(str(Path(seed_dir or SEED_DIR).resolve()))

    def segment_block(self, segment_name: str | None) -> Mapping[str, Any]:
        return self.segment_blocks.get(segment_name or DEFAULT_BLOCK, self.segment_blocks[DEFAULT_BLOCK])

    def rfm_block(self, rfm_segment: str | None) -> Mapping[str, str]:
        return self.rfm_blocks.get(rfm_segment or DEFAULT_BLOCK, self.rfm_blocks[DEFAULT_BLOCK])

    def arm_block(self, campaign_key: str | None, arm: str | None) -> dict[str, str]:
        """The words an arm of a content test replaces (blanks left out, so the segment's stay);
        empty for any other row."""
        row = self.arm_blocks.get((campaign_key or "", arm or ""), {})
        return {k: row[k].strip() for k in ARM_FIELDS if (row.get(k) or "").strip()}

    @property
    def segment_names(self) -> list[str]:
        return [name for name in self.segment_blocks if name != DEFAULT_BLOCK]

    @property
    def rfm_segments(self) -> list[str]:
        return [name for name in self.rfm_blocks if name != DEFAULT_BLOCK]

    @property
    def generic_keys(self) -> dict[str, str]:
        return {
            "segment": self.segment_blocks[DEFAULT_BLOCK]["block_key"],
            "rfm": self.rfm_blocks[DEFAULT_BLOCK]["block_key"],
        }


@lru_cache(maxsize=4)
def _load_library(seed_dir: str) -> ContentLibrary:
    folder = Path(seed_dir)
    segments = _read_seed(folder / "email_segment_blocks.csv", "segment_name")
    for block in segments.values():
        block["offer_needs_items"] = block["offer_needs_items"].strip().lower() == "true"
    rfm = _read_seed(folder / "email_rfm_blocks.csv", "rfm_segment")
    copy = {key: row["text"] for key, row in _read_seed(folder / "email_copy.csv", "copy_key").items()}
    if DEFAULT_BLOCK not in segments or DEFAULT_BLOCK not in rfm:
        raise ValueError(f"the e-mail block seeds in {folder} need a {DEFAULT_BLOCK} row")
    arms = _read_seed(folder / "email_arm_blocks.csv", "campaign_key", "arm", optional=True)
    return ContentLibrary(segment_blocks=segments, rfm_blocks=rfm, copy=copy, arm_blocks=arms)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def tracked_url(base: str, path: str, utm: Mapping[str, str]) -> str:
    """`base` + `path` with the UTM parameters added to any query it has, percent-encoded; an
    address that is not http(s) becomes #."""
    parts = urlsplit(base.rstrip("/") + "/" + path.lstrip("/"))
    query = [*parse_qsl(parts.query), *((k, v) for k, v in utm.items() if v)]
    return safe_url(urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), "")))


def footer_links(destination: str | None, copy: Mapping[str, str]) -> dict[str, Markup]:
    """The unsubscribe and preferences links as the destination's ESP writes them; a marked
    placeholder for files or an unknown destination."""
    if destination in ESP_LINK_TAGS:
        return {name: Markup(tag) for name, tag in ESP_LINK_TAGS[destination].items()}
    if destination in ESP_HREF_TAGS:
        return {
            name: Markup('<a href="{}">{}</a>').format(Markup(tag), _html_text(copy[f"{name}_label"]))
            for name, tag in ESP_HREF_TAGS[destination].items()
        }
    return {
        name: Markup('<span class="merge-placeholder">{}</span>').format(
            _html_text(copy[f"{name}_placeholder"])
        )
        for name in ("unsubscribe", "preferences")
    }


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [dict(item) for item in value if isinstance(item, dict) and not _blank(item.get("name"))]


def _image_src(url: Any, offline: bool) -> str | None:
    src = safe_url(url)
    if src == "#":
        return None
    return PLACEHOLDER_IMAGE if offline else src


def _presented(
    items: list[dict[str, Any]], currency: str | None, shop_url: str, utm: Mapping[str, str], offline: bool
) -> list[dict[str, Any]]:
    """Items with what the template shows: the price in its currency, an image that is safe (or a
    placeholder), a tracked product link and a quantity when there is one."""
    out = []
    for item in items:
        quantity = item.get("quantity")
        product_id = str(item.get("product_id") or "")
        out.append(
            {
                **item,
                "price_text": money(item.get("price"), item.get("currency") or currency),
                "image_src": _image_src(item.get("image_url"), offline),
                "remote_src": safe_url(item.get("image_url")) if offline else None,
                "url": tracked_url(shop_url, f"/products/{quote(product_id, safe='')}", utm)
                if product_id
                else tracked_url(shop_url, "/", utm),
                "quantity": quantity if isinstance(quantity, int) and quantity >= 1 else None,
            }
        )
    return out


def context_for(
    member: Mapping[str, Any],
    *,
    destination: str | None = None,
    library: ContentLibrary | None = None,
    sender: SenderConfig | None = None,
    offline_images: bool = False,
) -> dict[str, Any]:
    """The template context of one audience row: every contract field (None when blank), the
    segment and RFM blocks, the products to show with their prices and links, the call to action
    and footer links for the destination, and any other column under `extra`."""
    library = library or ContentLibrary.load()
    sender = sender or SenderConfig.from_env()
    context: dict[str, Any] = {}
    for name in (*CONTROL_FIELDS, *KNOWN_FIELDS):
        value = member.get(name)
        context[name] = None if _blank(value) else (value.strip() if isinstance(value, str) else value)
    if destination is not None:
        context["destination"] = destination
    arm_name = None if _blank(member.get("holdout_arm")) else str(member.get("holdout_arm")).strip()
    arm = library.arm_block(context["campaign_key"] or context["list_key"], arm_name)
    segment = {**library.segment_block(context["segment_name"]), **arm}
    rfm = library.rfm_block(context["rfm_segment"])
    utm = {
        "utm_source": context["destination"] or "file",
        "utm_medium": "email",
        "utm_campaign": context["campaign_key"] or context["list_key"] or context["segment_name"] or "email",
        "utm_content": rfm["block_key"],
    }
    shop = sender.shop_url
    currency = context["currency"]
    recommendations = _presented(_items(context["recommended_products"]), currency, shop, utm, offline_images)
    cart = _presented(_items(context["cart_items"]), currency, shop, utm, offline_images)
    wanted = {"cart": cart, "recommendations": recommendations}.get(segment["items_source"], [])
    items = wanted or (recommendations if segment["items_source"] != "none" else [])
    context.update(
        recommended_products=recommendations,
        cart_items=cart,
        items=items,
        items_heading=segment["items_heading"] if wanted else library.segment_block(None)["items_heading"],
        intro=segment["intro"] if wanted else segment["fallback_intro"],
        show_offer=bool(context["offer"]) and (bool(wanted) or not segment["offer_needs_items"]),
        content={"segment": segment, "rfm": rfm, **({"arm": {"block_key": arm_name, **arm}} if arm else {})},
        copy=library.copy,
        sender=sender,
        cta_label=segment["cta_label"] if wanted else segment["fallback_cta_label"],
        links={
            "cta": tracked_url(shop, segment["cta_path"] if wanted else segment["fallback_cta_path"], utm),
            **footer_links(context["destination"], library.copy),
        },
        utm=utm,
    )
    context["extra"] = {k: v for k, v in member.items() if k not in context and not _blank(v)}
    return context


@dataclass
class RenderedEmail:
    subject: str
    html: str
    blocks: dict[str, str] = field(default_factory=dict)
    destination: str | None = None


def render_email(
    member: Mapping[str, Any],
    template: str = DEFAULT_TEMPLATE,
    *,
    strict: bool = True,
    env: jinja2.Environment | None = None,
    destination: str | None = None,
    library: ContentLibrary | None = None,
    sender: SenderConfig | None = None,
    offline_images: bool = False,
) -> RenderedEmail:
    """Subject and HTML body for one member, for `destination` (else the row's own). The subject is
    plain text; where the HTML shows it (the title) it is escaped like any other value."""
    env = env or environment(strict)
    context = context_for(
        member, destination=destination, library=library, sender=sender, offline_images=offline_images
    )
    subject = env.get_template(SUBJECT_TEMPLATE).render(context).strip()
    html = env.get_template(template).render({**context, "subject": subject})
    blocks = {name: block["block_key"] for name, block in context["content"].items()}
    return RenderedEmail(subject=subject, html=html, blocks=blocks, destination=context["destination"])


def render_string(source: str, member: Mapping[str, Any], *, strict: bool = True) -> str:
    """Render an ad-hoc HTML template (autoescaped, strict) against one member."""
    env = environment(strict)
    return env.from_string(source).render(context_for(member))
