"""fbcli: replay and debug the customer events that companies send to Friendbuy.

The command line is one face of fbcli; this is the other: the same core, to
use from a test or a notebook::

    import fbcli

    config = fbcli.load_mapping_file("mappings.yaml")
    for record in fbcli.plan_records(fbcli.read_inputs(["events.jsonl"]), config):
        if isinstance(record, fbcli.PlannedCall):
            print(record.url, record.body)

The names in ``__all__`` are the public API; every other module and name is
internal and may change.  Names are imported when first used, so that
``import fbcli`` (and the command line's start-up) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # mapping files
    "load_mapping_file": "fbcli.mappings",
    "load_mappings": "fbcli.mappings",
    "default_mappings": "fbcli.mappings",
    "MappingConfig": "fbcli.mappings",
    # events
    "read_events": "fbcli.events",
    "read_inputs": "fbcli.inputs",
    "Event": "fbcli.events",
    "LineError": "fbcli.events",
    # planning
    "plan_event": "fbcli.plan",
    "plan_records": "fbcli.plan",
    "PlanFilter": "fbcli.plan",
    "PlanTally": "fbcli.plan",
    "PlannedCall": "fbcli.plan",
    "Rejection": "fbcli.plan",
    "Unmatched": "fbcli.plan",
    "Violation": "fbcli.validation",
    "to_record": "fbcli.plan",
    # explain and diff
    "explain_event": "fbcli.explain",
    "Explanation": "fbcli.explain",
    "diff_events": "fbcli.diff",
    "DiffTally": "fbcli.diff",
    "EventDiff": "fbcli.diff",
    # replay
    "ReplayRun": "fbcli.session",
    "ReplaySettings": "fbcli.session",
    "ReplayResult": "fbcli.session",
    "Target": "fbcli.session",
    "ReplayOptions": "fbcli.replay",
    "ReplaySummary": "fbcli.replay",
    "CallOutcome": "fbcli.replay",
    "RetryPolicy": "fbcli.retry",
    "Credentials": "fbcli.mapi",
    "Timeouts": "fbcli.mapi",
    "StopSwitch": "fbcli.signals",
    "Emulator": "fbcli.emulator",
    "EmulatorConfig": "fbcli.emulator",
    # errors
    "FbcliError": "fbcli.errors",
    "MappingFileError": "fbcli.errors",
    "CaseFileError": "fbcli.errors",
    "ConfigError": "fbcli.errors",
    "ApiError": "fbcli.errors",
    "AuthError": "fbcli.errors",
    "ExitCode": "fbcli.errors",
}

__all__ = [
    "ApiError",
    "AuthError",
    "CallOutcome",
    "CaseFileError",
    "ConfigError",
    "Credentials",
    "DiffTally",
    "Emulator",
    "EmulatorConfig",
    "Event",
    "EventDiff",
    "ExitCode",
    "Explanation",
    "FbcliError",
    "LineError",
    "MappingConfig",
    "MappingFileError",
    "PlanFilter",
    "PlanTally",
    "PlannedCall",
    "Rejection",
    "ReplayOptions",
    "ReplayResult",
    "ReplayRun",
    "ReplaySettings",
    "ReplaySummary",
    "RetryPolicy",
    "StopSwitch",
    "Target",
    "Timeouts",
    "Unmatched",
    "Violation",
    "__version__",
    "default_mappings",
    "diff_events",
    "explain_event",
    "load_mapping_file",
    "load_mappings",
    "plan_event",
    "plan_records",
    "read_events",
    "read_inputs",
    "to_record",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fbcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next use does not come here
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:
    from fbcli.diff import (
        DiffTally as DiffTally,
    )
    from fbcli.diff import (
        EventDiff as EventDiff,
    )
    from fbcli.diff import (
        diff_events as diff_events,
    )
    from fbcli.emulator import (
        Emulator as Emulator,
    )
    from fbcli.emulator import (
        EmulatorConfig as EmulatorConfig,
    )
    from fbcli.errors import (
        ApiError as ApiError,
    )
    from fbcli.errors import (
        AuthError as AuthError,
    )
    from fbcli.errors import (
        CaseFileError as CaseFileError,
    )
    from fbcli.errors import (
        ConfigError as ConfigError,
    )
    from fbcli.errors import (
        ExitCode as ExitCode,
    )
    from fbcli.errors import (
        FbcliError as FbcliError,
    )
    from fbcli.errors import (
        MappingFileError as MappingFileError,
    )
    from fbcli.events import (
        Event as Event,
    )
    from fbcli.events import (
        LineError as LineError,
    )
    from fbcli.events import (
        read_events as read_events,
    )
    from fbcli.explain import (
        Explanation as Explanation,
    )
    from fbcli.explain import (
        explain_event as explain_event,
    )
    from fbcli.inputs import (
        read_inputs as read_inputs,
    )
    from fbcli.mapi import (
        Credentials as Credentials,
    )
    from fbcli.mapi import (
        Timeouts as Timeouts,
    )
    from fbcli.mappings import (
        MappingConfig as MappingConfig,
    )
    from fbcli.mappings import (
        default_mappings as default_mappings,
    )
    from fbcli.mappings import (
        load_mapping_file as load_mapping_file,
    )
    from fbcli.mappings import (
        load_mappings as load_mappings,
    )
    from fbcli.plan import (
        PlanFilter as PlanFilter,
    )
    from fbcli.plan import (
        PlannedCall as PlannedCall,
    )
    from fbcli.plan import (
        PlanTally as PlanTally,
    )
    from fbcli.plan import (
        Rejection as Rejection,
    )
    from fbcli.plan import (
        Unmatched as Unmatched,
    )
    from fbcli.plan import (
        plan_event as plan_event,
    )
    from fbcli.plan import (
        plan_records as plan_records,
    )
    from fbcli.plan import (
        to_record as to_record,
    )
    from fbcli.replay import (
        CallOutcome as CallOutcome,
    )
    from fbcli.replay import (
        ReplayOptions as ReplayOptions,
    )
    from fbcli.replay import (
        ReplaySummary as ReplaySummary,
    )
    from fbcli.retry import (
        RetryPolicy as RetryPolicy,
    )
    from fbcli.session import (
        ReplayResult as ReplayResult,
    )
    from fbcli.session import (
        ReplayRun as ReplayRun,
    )
    from fbcli.session import (
        ReplaySettings as ReplaySettings,
    )
    from fbcli.session import (
        Target as Target,
    )
    from fbcli.signals import (
        StopSwitch as StopSwitch,
    )
    from fbcli.validation import (
        Violation as Violation,
    )
