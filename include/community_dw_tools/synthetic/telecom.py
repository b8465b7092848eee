"""Mobile-signalling stays: which device was in which grid, hour by hour, as the carriers deliver them.

A device population of about 1.1 devices per resident: residents' phones (classified `resident` in
their home grid), commuters from elsewhere (`worker` in their work grid, 8-19h) and visitors
(`visitor`, daytime and evening). Residents who work in the district are `worker` in their work grid
by day and `resident` at home at night; those who work outside leave the district by day. That makes
residential grids fuller at night and business grids fuller by day, which is what crowd monitoring
looks at. Each hour is generated and written on its own (bounded memory: one hour of stays at a time),
about 20 stays per device per day. An optional crowd spike puts five times the usual visitors into
one grid for two evening hours and is recorded as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from community_dw_tools.synthetic import identity
from community_dw_tools.synthetic.defects import DefectLog, inject_telecom
from community_dw_tools.synthetic.geography import Geography
from community_dw_tools.synthetic.population import Register
from community_dw_tools.synthetic.writers import write_parquet_partition

SOURCE = "telecom_stays"
CARRIERS = ("CMCC", "CUCC", "CTCC")
CARRIER_PROBS = np.array([0.6, 0.2, 0.2])
USER_TYPES = ("resident", "worker", "visitor")
RESIDENT, WORKER, VISITOR = range(3)
# device kinds
HOMEBODY, OUT_COMMUTER, IN_COMMUTER, INBOUND_WORKER = range(4)
WORKERS_PER_RESIDENT = 0.15
VISITORS_PER_RESIDENT = 0.08  # on a given day
VISITOR_POOL_FACTOR = 4  # distinct visitors over time per daily visitor
TWO_STAY_SHARE = 0.08  # device-hours split into two stays (a move within the grid's cells)
SPIKE_HOURS = (19, 20)
SPIKE_MULTIPLIER = 5
SPIKE_MIN_BASELINE = 25
US = 1_000_000


@dataclass
class Devices:
    """The district's device population (stable hashes across days)."""

    hashes: pa.Array  # string, 64 hex characters
    carrier: np.ndarray  # int8 index into CARRIERS
    kind: np.ndarray  # int8
    home: np.ndarray  # int32 grid, -1 for non-residents
    work: np.ndarray  # int32 grid, -1 where none
    visitor_pool: pa.Array  # hashes of visitors
    visitor_carrier: np.ndarray
    business: np.ndarray  # per grid: relative pull for workers
    attraction: np.ndarray  # per grid: relative pull for visitors
    spike_grid: int

    def __len__(self) -> int:
        return len(self.kind)


def _hashes(rng: np.random.Generator, carrier: np.ndarray) -> pa.Array:
    """Carrier hashes of fresh random MSISDNs, one per device."""
    numbers = identity.phone_numbers(rng, len(carrier))
    names = np.array(CARRIERS, dtype=object)[carrier].tolist()
    return pa.array(identity.msisdn_hashes(numbers, names), type=pa.string())


def build_devices(
    rng: np.random.Generator, register: Register, geo: Geography, residents: int, on: date
) -> Devices:
    """Devices of residents present on `on`, inbound workers and a pool of visitors."""
    active = np.flatnonzero(np.bincount(register.grid, minlength=geo.n_grids))
    business = np.zeros(geo.n_grids)
    business[active] = rng.lognormal(0, 0.6, len(active)) * np.where(rng.random(len(active)) < 0.2, 4.0, 0.5)
    attraction = np.zeros(geo.n_grids)
    attraction[active] = rng.lognormal(0, 0.8, len(active)) * np.where(
        rng.random(len(active)) < 0.15, 5.0, 1.0
    )

    ages = register.ages(on)
    present = register.present()
    carries = present[(ages[present] >= 10) & (rng.random(len(present)) < 0.95)]
    a = ages[carries]
    u = rng.random(len(carries))
    kind = np.select(
        [a >= 65, a < 18],
        [np.where(u < 0.9, HOMEBODY, IN_COMMUTER), np.where(u < 0.8, IN_COMMUTER, HOMEBODY)],
        default=np.where(u < 0.45, OUT_COMMUTER, np.where(u < 0.80, IN_COMMUTER, HOMEBODY)),
    ).astype(np.int8)
    n_workers = round(residents * WORKERS_PER_RESIDENT)
    work_probs = business[active] / business[active].sum()
    resident_work = np.where(
        kind == IN_COMMUTER, active[rng.choice(len(active), len(kind), p=work_probs)], -1
    )
    n_dev = len(carries) + n_workers
    carrier = rng.choice(3, size=n_dev, p=CARRIER_PROBS).astype(np.int8)
    n_visitors = max(1, round(residents * VISITORS_PER_RESIDENT * VISITOR_POOL_FACTOR))
    visitor_carrier = rng.choice(3, size=n_visitors, p=CARRIER_PROBS).astype(np.int8)
    return Devices(
        hashes=_hashes(rng, carrier),
        carrier=carrier,
        kind=np.concatenate([kind, np.full(n_workers, INBOUND_WORKER, np.int8)]),
        home=np.concatenate([register.grid[carries], np.full(n_workers, -1, np.int32)]).astype(np.int32),
        work=np.concatenate([resident_work, active[rng.choice(len(active), n_workers, p=work_probs)]]).astype(
            np.int32
        ),
        visitor_pool=_hashes(rng, visitor_carrier),
        visitor_carrier=visitor_carrier,
        business=business,
        attraction=attraction,
        spike_grid=int(active[np.argmax(attraction[active])]),
    )


@dataclass
class DaySchedule:
    """Who is where in each hour of one day."""

    away: np.ndarray  # device absent all day (travel)
    leave: np.ndarray  # hour residents leave home / workers arrive
    back: np.ndarray  # hour residents return / workers leave
    visitors: np.ndarray  # indices into the visitor pool
    visit_grid: np.ndarray
    visit_from: np.ndarray
    visit_to: np.ndarray


def plan_day(rng: np.random.Generator, devices: Devices, residents: int) -> DaySchedule:
    n = len(devices)
    inbound = devices.kind == INBOUND_WORKER
    leave = np.where(inbound, rng.integers(8, 10, n), rng.integers(7, 10, n))
    back = np.where(inbound, rng.integers(17, 20, n), rng.integers(17, 21, n))
    pool = len(devices.visitor_pool)
    count = min(pool, max(1, round(residents * VISITORS_PER_RESIDENT)))
    visitors = np.sort(rng.choice(pool, size=count, replace=False))
    active = np.flatnonzero(devices.attraction)
    probs = devices.attraction[active] / devices.attraction[active].sum()
    arrive_probs = np.array([1, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 3, 2], dtype=float)  # 09..21h
    visit_from = 9 + rng.choice(len(arrive_probs), size=count, p=arrive_probs / arrive_probs.sum())
    return DaySchedule(
        away=rng.random(n) < 0.03,
        leave=leave,
        back=back,
        visitors=visitors,
        visit_grid=active[rng.choice(len(active), size=count, p=probs)],
        visit_from=visit_from,
        visit_to=np.minimum(visit_from + rng.integers(1, 5, count), 24),
    )


@dataclass
class HourStays:
    device: np.ndarray  # index into devices, or len(devices)+i for visitor pool i, or spike devices after
    grid: np.ndarray
    user_type: np.ndarray


def presence(devices: Devices, plan: DaySchedule, hour: int) -> HourStays:
    """Devices in the district during `hour`, with their grid and the carrier's user type."""
    kind = devices.kind
    home_hours = (hour < plan.leave) | (hour >= plan.back)
    at_home = ~plan.away & (kind != INBOUND_WORKER) & ((kind == HOMEBODY) | home_hours)
    at_work = ~plan.away & ((kind == IN_COMMUTER) | (kind == INBOUND_WORKER)) & ~home_hours
    home_idx, work_idx = np.flatnonzero(at_home), np.flatnonzero(at_work)
    visiting = np.flatnonzero((plan.visit_from <= hour) & (hour < plan.visit_to))
    return HourStays(
        device=np.concatenate([home_idx, work_idx, len(devices) + plan.visitors[visiting]]),
        grid=np.concatenate([devices.home[home_idx], devices.work[work_idx], plan.visit_grid[visiting]]),
        user_type=np.concatenate(
            [
                np.full(len(home_idx), RESIDENT, np.int8),
                np.full(len(work_idx), WORKER, np.int8),
                np.full(len(visiting), VISITOR, np.int8),
            ]
        ),
    )


def _timed_stays(
    rng: np.random.Generator, stays: HourStays, hour_start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start and end (epoch microseconds) for each device-hour, sorted by grid and start.

    Most device-hours are one stay of 30-75 minutes starting in the first ten minutes (so it may run
    into the next hour); a few are split into two consecutive stays in the same grid.
    """
    m = len(stays.device)
    two = rng.random(m) < TWO_STAY_SHARE
    rep = np.repeat(np.arange(m), np.where(two, 2, 1))
    second = np.zeros(len(rep), dtype=bool)
    second[1:] = rep[1:] == rep[:-1]
    split = rng.integers(900, 2700, m)[rep] * US
    first_start = hour_start + rng.integers(0, 600, len(rep)) * US
    single_end = first_start + rng.integers(1800, 4500, len(rep)) * US
    start = np.where(second, hour_start + split + rng.integers(30, 300, len(rep)) * US, first_start)
    end = np.where(
        second,
        hour_start + 3600 * US + rng.integers(-300, 900, len(rep)) * US,
        np.where(two[rep], hour_start + split, single_end),
    )
    grid = stays.grid[rep]
    order = np.lexsort((start, grid))
    return stays.device[rep][order], grid[order], start[order], end[order], stays.user_type[rep][order]


@dataclass
class TelecomDay:
    rows: int
    files: int


def write_day(
    out_dir: Path,
    rng: np.random.Generator,
    devices: Devices,
    geo: Geography,
    day: date,
    residents: int,
    spike: bool,
    defect_rate: float,
    log: DefectLog,
    max_share: float = 0.05,
) -> TelecomDay:
    """Write the 24 hour partitions of one day; returns the rows written."""
    plan = plan_day(rng, devices, residents)
    n_dev, n_pool = len(devices), len(devices.visitor_pool)
    unknown_codes = np.char.add(geo.community_codes.astype("U12"), "990")
    grid_codes = pa.array(np.concatenate([geo.grid_codes.astype("U15"), unknown_codes]))
    hashes = [devices.hashes, devices.visitor_pool]
    carriers = [devices.carrier, devices.visitor_carrier]
    extra: dict[int, int] = {}
    baseline: dict[int, int] = {}
    if spike:  # five times the usual visitors: the usual ones plus (multiplier - 1) x as many extra
        for hour in SPIKE_HOURS:
            visiting = (
                (plan.visit_from <= hour) & (hour < plan.visit_to) & (plan.visit_grid == devices.spike_grid)
            )
            baseline[hour] = int(visiting.sum())
            extra[hour] = (SPIKE_MULTIPLIER - 1) * max(baseline[hour], SPIKE_MIN_BASELINE)
        spike_carrier = rng.choice(3, size=max(extra.values()), p=CARRIER_PROBS).astype(np.int8)
        hashes.append(_hashes(rng, spike_carrier))
        carriers.append(spike_carrier)
    all_hashes = pa.chunked_array(hashes).combine_chunks()
    all_carriers = np.concatenate(carriers)
    day_start = np.datetime64(day, "s").astype(np.int64) * US
    rows = 0
    for hour in range(24):
        stays = presence(devices, plan, hour)
        if hour in extra:
            stays = HourStays(
                device=np.concatenate([stays.device, n_dev + n_pool + np.arange(extra[hour])]),
                grid=np.concatenate([stays.grid, np.full(extra[hour], devices.spike_grid)]),
                user_type=np.concatenate([stays.user_type, np.full(extra[hour], VISITOR, np.int8)]),
            )
        device, grid, start, end, user_type = _timed_stays(rng, stays, day_start + hour * 3600 * US)
        relative = f"object_store/{SOURCE}/dt={day.isoformat()}/hour={hour:02d}/part-0.parquet"

        def unknown_grid(picked: np.ndarray, grid: np.ndarray = grid) -> np.ndarray:
            return geo.n_grids + geo.grid_community[grid[picked]]

        inject_telecom(rng, defect_rate, grid, start, end, unknown_grid, relative, log, max_share, hour)
        table = pa.table(
            {
                "msisdn_hash": all_hashes.take(pa.array(device)),
                "grid_code": grid_codes.take(pa.array(grid)),
                "stay_start": pa.array(start, type=pa.timestamp("us")),
                "stay_end": pa.array(end, type=pa.timestamp("us")),
                "user_type": pa.array(USER_TYPES).take(pa.array(user_type)),
                "carrier": pa.array(CARRIERS).take(pa.array(all_carriers[device])),
            }
        )
        write_parquet_partition(out_dir / Path(relative).parent, table)
        rows += table.num_rows
    if spike:
        log.events.append(
            {
                "source": SOURCE,
                "event": "crowd_spike",
                "grid_code": str(geo.grid_codes[devices.spike_grid]),
                "date": day.isoformat(),
                "hours": list(SPIKE_HOURS),
                "start": f"{day.isoformat()} {SPIKE_HOURS[0]:02d}:00:00",
                "end": f"{day.isoformat()} {SPIKE_HOURS[-1] + 1:02d}:00:00",
                "user_type": "visitor",
                "multiplier": SPIKE_MULTIPLIER,
                "baseline_visitors": [baseline[h] for h in SPIKE_HOURS],
                "spike_visitors": [baseline[h] + extra[h] for h in SPIKE_HOURS],
            }
        )
    return TelecomDay(rows=rows, files=24)
