"""Configuration of the destinations, read from environment variables only.

An ESP is configured when its key (or token) variable is set; otherwise its audiences fall back to
the file destination. Every name is listed in ENV_VARS so the docs and the code cannot drift.
Holdouts are not configured here: SQL decides them (dbt vars holdout_salt, holdout_share).

Keys are checked before any use, and errors name the variable, never the value: a key that is not
a token, a Mailchimp key without its data-centre suffix (the key itself would become the host name,
sent in DNS and TLS), a Klaviyo key that is not private, another ESP's key in the wrong variable."""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from activation.errors import ConfigError
from warehouse.context import ACTIVATION_FILES_ENV, DEFAULTS, resolve_path

ENV_VARS: dict[str, str] = {
    "AW_WAREHOUSE_PATH": "DuckDB warehouse file (default data/warehouse.duckdb)",
    "AW_MAILCHIMP_API_KEY": "Mailchimp Marketing API key; its `-usNN` suffix names the data centre and is "
    "required unless AW_MAILCHIMP_BASE_URL is set",
    "AW_MAILCHIMP_AUDIENCE_ID": "Mailchimp audience (list) id that holds our static segments",
    "AW_MAILCHIMP_BASE_URL": "override, e.g. http://127.0.0.1:8765/mailchimp/3.0 (default from the key)",
    "AW_KLAVIYO_API_KEY": "Klaviyo private API key (pk_...)",
    "AW_KLAVIYO_BASE_URL": "override (default https://a.klaviyo.com)",
    "AW_KLAVIYO_REVISION": "Klaviyo API revision header (default 2024-10-15)",
    "AW_KLAVIYO_POLL_SECONDS": "first wait between polls of a Klaviyo import job (default 0.5)",
    "AW_HUBSPOT_TOKEN": "HubSpot private-app access token (pat-...; another bearer token with a warning)",
    "AW_HUBSPOT_BASE_URL": "override (default https://api.hubapi.com)",
    "AW_<ESP>_TIMEOUT": "per-request timeout in seconds (ESP = MAILCHIMP, KLAVIYO, HUBSPOT)",
    "AW_<ESP>_MAX_ATTEMPTS": "attempts per request before a batch is marked failed (default 6)",
    "AW_<ESP>_MAX_CONCURRENCY": "parallel requests (Mailchimp at most 10)",
    "AW_<ESP>_RPS": "requests per second cap; 0 means no cap",
    "AW_ACTIVATION_BACKOFF_SECONDS": "first back-off step of the exponential retry (default 0.5)",
    "AW_ACTIVATION_FILE_DIR": "folder of the file destination (default data/activation)",
    "AW_ACTIVATION_MAX_SHRINK": "volume guard: largest share of a list removed in one run (default 0.2)",
    "AW_ACTIVATION_GUARD_MIN_MEMBERS": "volume guard: fewer leaving than this never trip it (default 25)",
    "AW_ACTIVATION_UNCONFIGURED": "what to do with audiences of an unconfigured ESP: file, skip, error",
    "AW_SENDER_NAME": "who the e-mails are from, in their footer (default Audience Warehouse Demo Shop)",
    "AW_SENDER_POSTAL_ADDRESS": "the sender's physical postal address, printed in every e-mail footer as "
    "CAN-SPAM requires (default a demo address: set yours before sending)",
    "AW_SHOP_URL": "shop address the calls to action and product links open (default https://shop.example.com)",
}


log = logging.getLogger("activation.config")

# RFC 6750 token characters: all an Authorization header carries unquoted. Whitespace, control
# characters, quotes or non-ASCII in a key mean it was pasted wrongly (or is a header injection).
TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]+")
# Mailchimp's data centre (us1 ... us21), the key's suffix after its last dash.
DATA_CENTRE = re.compile(r"[a-z]{2,4}[0-9]{1,3}")
ESP_TITLES = {"mailchimp": "Mailchimp", "klaviyo": "Klaviyo", "hubspot": "HubSpot"}
# What each ESP documents its keys to look like, to catch one pasted into another's variable.
KEY_SHAPES = {
    "mailchimp": re.compile(r"[0-9a-f]{32}-[a-z]{2,4}[0-9]{1,3}"),
    "klaviyo": re.compile(r"pk_.+"),
    "hubspot": re.compile(r"pat-.+"),
}
# The ESP sections of ActivationConfig (activation.routing holds the client of each).
ESP_NAMES = ("mailchimp", "klaviyo", "hubspot")


class Secret:
    """A credential that never shows itself in repr, str, logs or f-strings; `reveal()` is the
    one way out and is called only where the HTTP client builds its auth header."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):
        raise TypeError("Secret values are not picklable")


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retries and throttling of one ESP client."""

    timeout_seconds: float = 30.0
    max_attempts: int = 6
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    max_concurrency: int = 4
    requests_per_second: float = 0.0


# Mailchimp allows ten connections per user; its default uses them all.
MAILCHIMP_MAX_CONNECTIONS = 10
# Each ESP's defaults, for the dataclasses below and for from_env (which adds the back-off).
MAILCHIMP_HTTP = HttpSettings(max_concurrency=MAILCHIMP_MAX_CONNECTIONS)
KLAVIYO_HTTP = HttpSettings(max_concurrency=3, requests_per_second=10)
HUBSPOT_HTTP = HttpSettings(max_concurrency=4, requests_per_second=10)


@dataclass(frozen=True)
class MailchimpConfig:
    api_key: Secret
    audience_id: str
    base_url: str
    http: HttpSettings = MAILCHIMP_HTTP
    batch_size: int = 500
    segment_batch_size: int = 500


@dataclass(frozen=True)
class KlaviyoConfig:
    api_key: Secret
    base_url: str = "https://a.klaviyo.com"
    revision: str = "2024-10-15"
    http: HttpSettings = KLAVIYO_HTTP
    import_batch_size: int = 10_000
    import_max_bytes: int = 5_000_000
    list_batch_size: int = 1_000
    page_size: int = 100
    poll_interval: float = 0.5
    poll_max_interval: float = 10.0
    poll_timeout: float = 1800.0


@dataclass(frozen=True)
class HubSpotConfig:
    token: Secret
    base_url: str = "https://api.hubapi.com"
    http: HttpSettings = HUBSPOT_HTTP
    upsert_batch_size: int = 100
    list_batch_size: int = 1_000


@dataclass(frozen=True)
class FileConfig:
    directory: Path = field(default_factory=lambda: resolve_path(DEFAULTS[ACTIVATION_FILES_ENV]))
    formats: tuple[str, ...] = ("csv", "parquet")


@dataclass(frozen=True)
class ActivationConfig:
    mailchimp: MailchimpConfig | None = None
    klaviyo: KlaviyoConfig | None = None
    hubspot: HubSpotConfig | None = None
    file: FileConfig = field(default_factory=FileConfig)
    max_shrink_share: float = 0.2
    # Small lists churn by nature (a cart-abandoner list of 3 may empty overnight); the guard is for
    # collapses, so a shrink of fewer members than this goes through.
    guard_min_members: int = 25
    unconfigured: str = "file"

    def configured(self) -> tuple[str, ...]:
        """ESP names that have credentials, plus `file` which needs none."""
        return (*(name for name in ESP_NAMES if getattr(self, name) is not None), "file")

    def secrets(self) -> tuple[str, ...]:
        """Every credential value, and the Basic-auth form Mailchimp sends, for redaction."""
        values = []
        if self.mailchimp:
            values.append(self.mailchimp.api_key.reveal())
        if self.klaviyo:
            values.append(self.klaviyo.api_key.reveal())
        if self.hubspot:
            values.append(self.hubspot.token.reveal())
        if self.mailchimp:
            values.append(mailchimp_basic_auth(self.mailchimp.api_key.reveal()))
        return tuple(values)

    def with_changes(self, **changes) -> ActivationConfig:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ActivationConfig:
        """Build the configuration from environment variables (see ENV_VARS)."""
        env = os.environ if env is None else env
        backoff = _float(env, "AW_ACTIVATION_BACKOFF_SECONDS", 0.5)
        mailchimp = klaviyo = hubspot = None
        key = credential(env, "AW_MAILCHIMP_API_KEY", "mailchimp")
        if key:
            audience = _setting(env, "AW_MAILCHIMP_AUDIENCE_ID")
            if not audience:
                raise ConfigError("AW_MAILCHIMP_API_KEY is set but AW_MAILCHIMP_AUDIENCE_ID is not")
            base = _setting(env, "AW_MAILCHIMP_BASE_URL") or mailchimp_base_url(key)
            mailchimp = MailchimpConfig(
                api_key=Secret(key),
                audience_id=audience,
                base_url=base.rstrip("/"),
                http=_http(env, "MAILCHIMP", MAILCHIMP_HTTP, backoff),
            )
            if mailchimp.http.max_concurrency > MAILCHIMP_MAX_CONNECTIONS:
                raise ConfigError(
                    f"AW_MAILCHIMP_MAX_CONCURRENCY above {MAILCHIMP_MAX_CONNECTIONS}: "
                    f"Mailchimp allows {MAILCHIMP_MAX_CONNECTIONS} connections"
                )
        key = credential(env, "AW_KLAVIYO_API_KEY", "klaviyo")
        if key:
            if not KEY_SHAPES["klaviyo"].fullmatch(key):
                # the header scheme takes private keys only: anything else can never work
                raise ConfigError(
                    "AW_KLAVIYO_API_KEY must be a Klaviyo private API key (pk_ and the rest of it); "
                    "the 6-character public key (site ID) cannot call the server API"
                )
            klaviyo = KlaviyoConfig(
                api_key=Secret(key),
                base_url=_setting(env, "AW_KLAVIYO_BASE_URL", KlaviyoConfig.base_url).rstrip("/"),
                revision=_setting(env, "AW_KLAVIYO_REVISION", KlaviyoConfig.revision),
                http=_http(env, "KLAVIYO", KLAVIYO_HTTP, backoff),
                poll_interval=_float(env, "AW_KLAVIYO_POLL_SECONDS", KlaviyoConfig.poll_interval),
            )
        key = credential(env, "AW_HUBSPOT_TOKEN", "hubspot")
        if key:
            if not KEY_SHAPES["hubspot"].fullmatch(key):
                # service keys and OAuth tokens are bearer tokens too, and go to the same host
                log.warning(
                    "AW_HUBSPOT_TOKEN does not start with pat- (a private app token): "
                    "using it as another kind of HubSpot bearer token (service key, OAuth)"
                )
            hubspot = HubSpotConfig(
                token=Secret(key),
                base_url=_setting(env, "AW_HUBSPOT_BASE_URL", HubSpotConfig.base_url).rstrip("/"),
                http=_http(env, "HUBSPOT", HUBSPOT_HTTP, backoff),
            )
        for retired in ("AW_HOLDOUT_SALT", "AW_HOLDOUT_SHARE"):
            if _setting(env, retired):
                log.warning(
                    "%s is no longer read: holdouts are decided in SQL (dbt var %s)",
                    retired,
                    retired[3:].lower(),
                )
        file_dir = _setting(env, "AW_ACTIVATION_FILE_DIR")
        file_cfg = FileConfig(directory=resolve_path(file_dir)) if file_dir else FileConfig()
        unconfigured = _setting(env, "AW_ACTIVATION_UNCONFIGURED", cls.unconfigured)
        if unconfigured not in ("file", "skip", "error"):
            raise ConfigError("AW_ACTIVATION_UNCONFIGURED must be one of file, skip, error")
        max_shrink = _float(env, "AW_ACTIVATION_MAX_SHRINK", cls.max_shrink_share)
        if not 0.0 <= max_shrink <= 1.0:
            raise ConfigError("AW_ACTIVATION_MAX_SHRINK must be a share between 0 and 1")
        guard_min_members = _float(env, "AW_ACTIVATION_GUARD_MIN_MEMBERS", cls.guard_min_members)
        if guard_min_members < 0 or guard_min_members != int(guard_min_members):
            raise ConfigError("AW_ACTIVATION_GUARD_MIN_MEMBERS must be a whole number of members, 0 or more")
        return cls(
            mailchimp=mailchimp,
            klaviyo=klaviyo,
            hubspot=hubspot,
            file=file_cfg,
            max_shrink_share=max_shrink,
            guard_min_members=int(guard_min_members),
            unconfigured=unconfigured,
        )


DEFAULT_SENDER_NAME = "Audience Warehouse Demo Shop"
DEFAULT_POSTAL_ADDRESS = "Audience Warehouse Demo Shop, 100 Example Street, Springfield, ST 00000, USA"
DEFAULT_SHOP_URL = "https://shop.example.com"


@dataclass(frozen=True)
class SenderConfig:
    """Who an e-mail is from: the name, the physical postal address every commercial e-mail must
    show (CAN-SPAM), and the shop its links open. Settings, not copy: they differ per deployment."""

    name: str = DEFAULT_SENDER_NAME
    postal_address: str = DEFAULT_POSTAL_ADDRESS
    shop_url: str = DEFAULT_SHOP_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SenderConfig:
        env = os.environ if env is None else env
        values = {}
        for name, attribute in (
            ("AW_SENDER_NAME", "name"),
            ("AW_SENDER_POSTAL_ADDRESS", "postal_address"),
            ("AW_SHOP_URL", "shop_url"),
        ):
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            value = " ".join(raw.split())
            if not value:
                raise ConfigError(f"{name} is set but blank")
            values[attribute] = value
        shop = urlsplit(values.get("shop_url", DEFAULT_SHOP_URL))
        if shop.scheme not in ("http", "https") or not shop.netloc or shop.query or shop.fragment:
            raise ConfigError("AW_SHOP_URL must be an http(s) address without query or fragment")
        return cls(**values)


def credential(env: Mapping[str, str], name: str, esp: str) -> str | None:
    """The key in variable `name`, stripped; None when unset or empty. A value that cannot be a key
    of `esp` is an error, and no message shows any of it."""
    raw = env.get(name)
    if not raw:
        return None
    value = raw.strip()
    if not value:
        raise ConfigError(f"{name} is set but blank")
    if not TOKEN.fullmatch(value):
        raise ConfigError(
            f"{name} contains whitespace, control or other characters no API key has; copy the key again"
        )
    for other, shape in KEY_SHAPES.items():
        if other != esp and shape.fullmatch(value):
            raise ConfigError(
                f"{name} holds what looks like a {ESP_TITLES[other]} key, not a {ESP_TITLES[esp]} one"
            )
    return value


def mailchimp_base_url(api_key: str) -> str:
    """https://<dc>.api.mailchimp.com/3.0 from the key's data-centre suffix (-us21). Only a suffix
    that looks like one becomes the host: any other key text would go out in DNS and TLS SNI."""
    body, dash, dc = api_key.rpartition("-")
    if not (body and dash and DATA_CENTRE.fullmatch(dc.lower())):
        raise ConfigError(
            "AW_MAILCHIMP_API_KEY does not end in a data-centre suffix like -us21: check the key, "
            "or set AW_MAILCHIMP_BASE_URL to the API's address"
        )
    return f"https://{dc.lower()}.api.mailchimp.com/3.0"


def mailchimp_basic_auth(api_key: str) -> str:
    """The Basic-auth credential Mailchimp receives (any user name, the key as password)."""
    return base64.b64encode(f"anystring:{api_key}".encode()).decode()


def _setting(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The variable's value without surrounding white space; `default` when unset or blank."""
    return env.get(name, "").strip() or default


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    text = _setting(env, name)
    if not text:
        return default
    try:
        return float(text)
    except ValueError as error:
        raise ConfigError(f"{name} must be a number, got {text!r}") from error


def _http(env: Mapping[str, str], prefix: str, base: HttpSettings, backoff: float) -> HttpSettings:
    """An ESP's defaults with the shared back-off and its own AW_<ESP>_* overrides."""
    base = replace(base, backoff_initial=backoff)
    return replace(
        base,
        timeout_seconds=_float(env, f"AW_{prefix}_TIMEOUT", base.timeout_seconds),
        max_attempts=int(_float(env, f"AW_{prefix}_MAX_ATTEMPTS", base.max_attempts)),
        max_concurrency=int(_float(env, f"AW_{prefix}_MAX_CONCURRENCY", base.max_concurrency)),
        requests_per_second=_float(env, f"AW_{prefix}_RPS", base.requests_per_second),
    )
