"""Where each audience goes: the registry of destinations (one client class per name, configured by
the config section of the same name) and the routing rules, pure functions of what is configured
and what the sync state already knows.

An audience for an ESP without keys goes to the file destination (list key `<esp>/<list>`) unless
AW_ACTIVATION_UNCONFIGURED says skip or error. Those files belong to that ESP's export: once it
has keys, or is skipped, they are stale and retired."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import pandas as pd

from activation.config import ESP_NAMES, ActivationConfig
from activation.destinations.base import Destination
from activation.destinations.file import FileDestination
from activation.destinations.hubspot import HubSpotDestination
from activation.destinations.klaviyo import KlaviyoDestination
from activation.destinations.mailchimp import MailchimpDestination
from activation.errors import ConfigError, InputError

# Each destination's client, built from the ActivationConfig section of the same name (None there
# means not configured; the file destination needs nothing).
CLIENTS: dict[str, type[Destination]] = {
    "mailchimp": MailchimpDestination,
    "klaviyo": KlaviyoDestination,
    "hubspot": HubSpotDestination,
    "file": FileDestination,
}
DESTINATION_NAMES: tuple[str, ...] = tuple(CLIENTS)
# The list key of an ESP's suppression rows in sync_state: one row per address we suppressed (or
# are suppressing: pending) at that ESP, across all its lists; erasure forgets them with the rest.
ESP_WIDE = "*"


def build_destination(name: str, config: ActivationConfig) -> Destination:
    """The client of one destination, from its config section; an error names what to set."""
    settings = getattr(config, name, None) if name in CLIENTS else None
    if settings is None:
        raise ConfigError(f"{name} is not configured (see activation.config.ENV_VARS)")
    return CLIENTS[name](settings)


@dataclass(frozen=True)
class Route:
    """Where one (destination, list) of the input goes: the ESP itself, or the file destination
    when the ESP is not configured."""

    source_destination: str
    list_key: str
    destination: str
    state_list_key: str


@dataclass(frozen=True)
class Router:
    """The routing rules for one run: which destinations can take audiences, and what to do with
    an audience whose ESP cannot (file, skip or error)."""

    configured: frozenset[str]
    unconfigured: str = "file"

    def is_configured(self, name: str) -> bool:
        return name in self.configured

    def route(self, source: str, list_key: str) -> Route | None:
        """The route of one audience; None when it is skipped."""
        if source not in DESTINATION_NAMES:
            raise InputError(f"unknown destination {source!r}; expected one of {DESTINATION_NAMES}")
        if source == "file" or self.is_configured(source):
            return Route(source, list_key, source, list_key)
        if self.unconfigured == "file":
            return Route(source, list_key, "file", f"{source}/{list_key}")
        if self.unconfigured == "skip":
            return None
        raise ConfigError(f"audience {list_key!r} is for {source}, which is not configured")

    @staticmethod
    def scope(
        destinations: Iterable[str] | None, audience_destinations: Collection[str], state_lists: pd.DataFrame
    ) -> set[str]:
        """The destinations a run reconciles: those asked for, else every one the audience or the
        state names (a file fallback `<esp>/<list>` counts as its ESP's)."""
        if destinations is not None:
            scope = set(destinations)
        else:
            known = {_owner(d, k) for d, k in state_lists.itertuples(index=False)}
            scope = set(audience_destinations) | known
        unknown = scope - set(DESTINATION_NAMES)
        if unknown:
            raise InputError(f"unknown destinations {sorted(unknown)}; expected one of {DESTINATION_NAMES}")
        return scope

    def lists(
        self,
        audience_lists: Iterable[tuple[str, str]],
        scope: set[str],
        state_lists: pd.DataFrame,
        only: Collection[str] | None = None,
    ) -> list[tuple[str, str]]:
        """Every (destination, list) to sync: those of the audience, and those the state knows in
        the scope that the audience no longer has (synced as empty, so a vanished audience meets
        the volume guard). A file fallback counts while its ESP is still unconfigured. `only` keeps
        the lists with those keys (a run that syncs some lists leaves the others as they are)."""
        pairs = self._lists(audience_lists, scope, state_lists)
        if only is None:
            return pairs
        keep = set(only)
        return [pair for pair in pairs if pair[1] in keep]

    def _lists(
        self, audience_lists: Iterable[tuple[str, str]], scope: set[str], state_lists: pd.DataFrame
    ) -> list[tuple[str, str]]:
        pairs = set(audience_lists)
        for destination, list_key in state_lists.itertuples(index=False):
            if list_key == ESP_WIDE:
                continue
            if destination == "file" and "/" in list_key:
                source, _, name = list_key.partition("/")
                if source in ESP_NAMES and source in scope and not self.is_configured(source):
                    pairs.add((source, name))
                continue
            if destination in scope:
                pairs.add((destination, list_key))
        return sorted(pairs)

    def stale_file_lists(self, scope: set[str], state_lists: pd.DataFrame) -> list[tuple[str, str]]:
        """File audiences written for an ESP without keys (`<esp>/<list>`) whose ESP now takes its
        audiences itself, or whose audiences are no longer exported at all (unconfigured=skip)."""
        stale = set()
        for destination, list_key in state_lists.itertuples(index=False):
            if destination != "file" or "/" not in list_key:
                continue
            source, _, name = list_key.partition("/")
            if source not in ESP_NAMES or source not in scope:
                continue
            if self.is_configured(source) or self.unconfigured == "skip":
                stale.add((source, name))
        return sorted(stale)


def _owner(destination: str, list_key: str) -> str:
    """The export a state list belongs to: a file fallback `<esp>/<list>` is its ESP's."""
    return list_key.partition("/")[0] if destination == "file" and "/" in list_key else destination
