"""The one definition of the producers' time zone and of "now" for the package.

Producers (the register, the hospitals, the carriers, the appeals feed) write local China time without
an offset; the warehouse keeps their wall-clock values naive in that zone. Audit timestamps
(`recorded_at`, `received_at`, `loaded_at`) are naive UTC. Everything that needs either asks here, so a
test or a deployment in another zone changes one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ_NAME = "Asia/Shanghai"
LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)


def utc_now() -> datetime:
    """Now as naive UTC: what every audit column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_stamp() -> str:
    """Now as naive UTC ISO text to the second (manifests, `received_at` in XCom)."""
    return utc_now().isoformat(timespec="seconds")


def local_now() -> datetime:
    """Now as an aware datetime in the producers' zone."""
    return datetime.now(LOCAL_TZ)


def to_local(value: datetime) -> datetime:
    """An aware datetime in the producers' zone; a naive one is taken to be local time already."""
    return value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value.astimezone(LOCAL_TZ)


def local_naive(value: datetime) -> datetime:
    """A moment as producers write it: local wall-clock time without a zone."""
    return to_local(value).replace(tzinfo=None)
