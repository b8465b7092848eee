"""How a source's extract arrives: one interface, one module per transport, and a registry.

A contract names its transport (`meta.contract.transport`); `transport_for(contract)` returns the
transport that lands its batches. Each transport answers the same questions, so the ingestion steps
(`community_dw.ingest`) and the task wiring (`community_dw.orchestration.ingestion`) never ask which
transport they are driving:

    needs_sensor                 does a run wait for the producer (file drop, object storage) or ask on
                                 demand (an API answers for any closed interval)?
    interval_for_run(...)        the data interval a run owns (an API run may take a catch-up window)
    is_ready(contract, start)    has the producer finished the interval's delivery?
    batch_id(contract, start)    the batch's id, `<source>/<local interval stamp>`
    land(contract, start, end)   receive the interval and keep it immutably in landing (a LandedBatch)

Adding a transport is one module under `transports/` and one line in `_REGISTRY` below (the shape of
astronomer-cosmos's profile mappings).
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from community_dw.clock import local_naive
from community_dw.transports.base import LandedBatch

if TYPE_CHECKING:
    from community_dw.contracts import Contract

__all__ = ["LandedBatch", "Transport", "transport_for", "transport_names"]


class Transport(Protocol):
    name: ClassVar[str]
    needs_sensor: ClassVar[bool]

    def interval_for_run(
        self, contract: Contract, data_interval_start: datetime, data_interval_end: datetime, conf: dict
    ) -> tuple[datetime, datetime]: ...

    def is_ready(self, contract: Contract, start: datetime, end: datetime) -> bool: ...

    def batch_id(self, contract: Contract, start: datetime) -> str: ...

    def land(self, contract: Contract, start: datetime, end: datetime) -> LandedBatch: ...


class ScheduledInterval:
    """The default of `interval_for_run`: the run's own data interval, as local wall-clock time."""

    def interval_for_run(
        self, contract: Contract, data_interval_start: datetime, data_interval_end: datetime, conf: dict
    ) -> tuple[datetime, datetime]:
        return local_naive(data_interval_start), local_naive(data_interval_end)


# transport name -> "module:class"; modules are imported on first use, so parsing a DAG stays cheap.
_REGISTRY: dict[str, str] = {
    "file_drop": "community_dw.transports.file_drop:FileDrop",
    "object_storage": "community_dw.transports.object_storage:ObjectStorage",
    "http_api": "community_dw.transports.http_api:HttpApi",
}
_INSTANCES: dict[str, Any] = {}


def transport_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def transport_for(contract: Contract) -> Transport:
    """The transport a contract names; a KeyError lists the known ones."""
    name = contract.transport
    if name not in _REGISTRY:
        raise KeyError(f"{contract.name}: unknown transport {name!r}; known: {', '.join(_REGISTRY)}")
    if name not in _INSTANCES:
        module, cls = _REGISTRY[name].split(":")
        _INSTANCES[name] = getattr(importlib.import_module(module), cls)()
    return _INSTANCES[name]
