"""Audience activation: consent-checked, incremental sync of the audience marts to Mailchimp,
Klaviyo, HubSpot and files; personalised content; holdout experiments. Plain Python, no Dagster.

The Dagster glue calls `propagate_erasures` and `purge_erased_residue` first, then
`sync_audiences` (see docs in
activation/README.md)."""

from activation.config import ENV_VARS, ActivationConfig
from activation.erasure import propagate_erasures, purge_erased_residue
from activation.errors import ActivationError, ConfigError, ESPRequestError, InputError
from activation.experiments import analyze_campaigns, analyze_holdout, holdout_assignments
from activation.routing import DESTINATION_NAMES
from activation.runlog import SyncResult, format_results
from activation.sync import SyncEngine, plan_sync, sync_audiences

__all__ = [
    "DESTINATION_NAMES",
    "ENV_VARS",
    "ActivationConfig",
    "ActivationError",
    "ConfigError",
    "ESPRequestError",
    "InputError",
    "SyncEngine",
    "SyncResult",
    "analyze_campaigns",
    "analyze_holdout",
    "format_results",
    "holdout_assignments",
    "plan_sync",
    "propagate_erasures",
    "purge_erased_residue",
    "sync_audiences",
]
