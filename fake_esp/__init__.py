"""A fake Mailchimp + Klaviyo + HubSpot on 127.0.0.1, for tests, benchmarks and pointing the whole
pipeline at something local. A package of its own (not under tests/) because bench/ and the
pipeline tests use it too.

It implements the subset of each API the activation clients call, keeps list, member and profile
state so tests can assert the final membership, checks auth headers, enforces the batch limits,
counts requests and injects faults on demand (core.py). It also behaves like the real APIs where
they are dangerous, so tests can prove we never rely on them being safe (one module per ESP,
mirroring activation/destinations/).

Standalone: python -m fake_esp --port 8765 (prints the env vars to export)."""

from fake_esp.core import Fault, LoggedRequest, Reply, md5
from fake_esp.hubspot import HUBSPOT_TOKEN
from fake_esp.klaviyo import KLAVIYO_KEY
from fake_esp.mailchimp import MAILCHIMP_KEY
from fake_esp.server import FakeESP, main

__all__ = [
    "HUBSPOT_TOKEN",
    "KLAVIYO_KEY",
    "MAILCHIMP_KEY",
    "FakeESP",
    "Fault",
    "LoggedRequest",
    "Reply",
    "main",
    "md5",
]
