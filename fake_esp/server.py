"""FakeESP: the shared server with the Mailchimp, Klaviyo and HubSpot parts, and the command line
that serves them for local runs (`python -m fake_esp --port 8765` prints the env vars to export)."""

from __future__ import annotations

import argparse
import sys
import time

from fake_esp import hubspot, klaviyo, mailchimp
from fake_esp.core import FakeServer
from fake_esp.hubspot import HUBSPOT_TOKEN, FakeHubSpot
from fake_esp.klaviyo import KLAVIYO_KEY, FakeKlaviyo
from fake_esp.mailchimp import MAILCHIMP_KEY, FakeMailchimp


class FakeESP(FakeMailchimp, FakeKlaviyo, FakeHubSpot, FakeServer):
    """The server plus its in-memory ESP state. Use as a context manager or call start()/stop()."""

    APIS = (mailchimp.API, klaviyo.API, hubspot.API)

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        mailchimp_key: str = MAILCHIMP_KEY,
        audience_id: str = "aud0001",
        klaviyo_key: str = KLAVIYO_KEY,
        hubspot_token: str = HUBSPOT_TOKEN,
        klaviyo_polls_to_complete: int = 1,
        log_bodies: bool = True,
    ):
        FakeServer.__init__(self, host, port, log_bodies=log_bodies)
        self._init_mailchimp(mailchimp_key, audience_id)
        self._init_klaviyo(klaviyo_key, klaviyo_polls_to_complete)
        self._init_hubspot(hubspot_token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fake_esp", description="Fake Mailchimp/Klaviyo/HubSpot for local runs"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        fake = FakeESP(args.host, args.port, log_bodies=False).start()
    except OSError as error:
        print(
            f"fake ESP: cannot listen on {args.host}:{args.port} ({error.strerror or error}); "
            "another process has the port: pick another (--port N, or 0 for a free one)",
            file=sys.stderr,
        )
        return 1
    print(f"fake ESP listening on {fake.url}; point the pipeline at it with:", flush=True)
    for key, value in fake.env().items():
        print(f"export {key}={value}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
    return 0
