"""Personalised e-mail content with Jinja2.

HTML templates are autoescaped, so a hostile first name cannot inject markup; text templates
(`*.txt.j2`, the subject) are not, since they are never parsed as HTML. Rendering is strict by
default (StrictUndefined): a template that names a variable the context does not have fails at
preview time instead of silently printing nothing. Every contract field is always present in the
context (None when unknown), so the templates can fall back gracefully ("Hi there," instead of
"Hi ,")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jinja2

from activation.audience import KNOWN_FIELDS

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "email.html.j2"
SUBJECT_TEMPLATE = "subject.txt.j2"


def _autoescape(name: str | None) -> bool:
    return name is None or not name.endswith(".txt.j2")


def safe_url(value: Any) -> str:
    """Only http(s) URLs reach an href or src; anything else (javascript:, data:) becomes #."""
    text = str(value or "").strip()
    return text if urlparse(text).scheme in ("http", "https") else "#"


def money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return ""


def environment(strict: bool = True, template_dir: str | Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir or TEMPLATE_DIR)),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    env.filters["money"] = money
    return env


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def context_for(member: Mapping[str, Any]) -> dict[str, Any]:
    """The template context of one audience row: every contract field (None when blank), the
    recommendations parsed into a list, and any other column under `extra`."""
    context: dict[str, Any] = {}
    for name in ("email", "customer_key", "list_key", "campaign_key", *KNOWN_FIELDS):
        value = member.get(name)
        context[name] = None if _blank(value) else (value.strip() if isinstance(value, str) else value)
    products = context["recommended_products"]
    if isinstance(products, str):
        try:
            products = json.loads(products)
        except ValueError:
            products = None
    context["recommended_products"] = [p for p in products or [] if isinstance(p, dict) and p.get("name")]
    context["extra"] = {k: v for k, v in member.items() if k not in context and not _blank(v)}
    return context


@dataclass
class RenderedEmail:
    subject: str
    html: str


def render_email(
    member: Mapping[str, Any],
    template: str = DEFAULT_TEMPLATE,
    *,
    strict: bool = True,
    env: jinja2.Environment | None = None,
) -> RenderedEmail:
    """Subject and HTML body for one member. The subject is plain text; where the HTML shows it
    (the title) it is escaped like any other value."""
    env = env or environment(strict)
    context = context_for(member)
    subject = env.get_template(SUBJECT_TEMPLATE).render(context).strip()
    html = env.get_template(template).render({**context, "subject": subject})
    return RenderedEmail(subject=subject, html=html)


def render_string(source: str, member: Mapping[str, Any], *, strict: bool = True) -> str:
    """Render an ad-hoc HTML template (autoescaped, strict) against one member."""
    env = environment(strict)
    return env.from_string(source).render(context_for(member))
