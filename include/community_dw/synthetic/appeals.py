"""Residents' appeals (12345 hotline, community app, walk-ins) as the API serves them: ticket versions.

Each ticket moves received -> dispatched (minutes to hours) -> responded (hours) -> resolved (hours to
days), and every step is a new full version with its own `updated_at`; versions after the end of the
generated window do not exist yet, so recent tickets are still open. Some tickets are closed without
resolution, some never get past `responded`. Descriptions are free Chinese text and, as in real
hotline transcripts, sometimes contain a phone number, an ID number or a person's name, which the
warehouse must redact; `pii_in_text` in the sidecar lists which versions do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from community_dw.synthetic import identity
from community_dw.synthetic.geography import Geography
from community_dw.synthetic.names import NamePool
from community_dw.synthetic.population import ROADS, Register

SOURCE = "appeals"
TICKETS_PER_1000_PER_DAY = 4.0
MIN_TICKETS_PER_DAY = 20  # enough versions for every defect kind under max_bad_row_share
CHANNELS = ("hotline_12345", "community_app", "walk_in")
CHANNEL_PROBS = (0.55, 0.35, 0.10)
CATEGORIES = ("ENV", "PROP", "SAFE", "TRAF", "SOC", "HEALTH")
CATEGORY_PROBS = (0.30, 0.25, 0.12, 0.13, 0.12, 0.08)
TEMPLATES: dict[str, tuple[str, ...]] = {
    "ENV": (
        "{road}附近夜间施工噪音很大，一直持续到凌晨，影响休息，希望尽快处理。",
        "{building}楼下垃圾桶满了好几天没人清运，气味很重。",
        "{road}路边有餐饮店油烟直排，居民意见很大。",
        "小区绿化带里有人堆放建筑垃圾，请安排清理。",
    ),
    "PROP": (
        "{building}电梯经常故障停运，老人上下楼很不方便，物业一直没有修好。",
        "物业费上涨没有公示，业主对收费标准有疑问。",
        "{building}楼道灯坏了一个多月，晚上很黑，请物业维修。",
        "地下车库漏水严重，车位被淹。",
    ),
    "SAFE": (
        "{building}楼道里堆满杂物，还有电动车在楼道充电，存在消防隐患。",
        "{road}路口的井盖松动，行人容易绊倒。",
        "小区外墙有瓷砖脱落，担心砸到人。",
    ),
    "TRAF": (
        "{road}上下班高峰期乱停车严重，道路堵塞。",
        "{road}公交站台的遮雨棚坏了，请相关部门维修。",
        "小区门口的共享单车堆放占用人行道。",
    ),
    "SOC": (
        "想咨询社区老年食堂的用餐补贴怎么申请。",
        "孩子入学需要居住证明，请问社区在哪里办理。",
        "独居老人家中无人应门，邻居担心出意外，请社区上门看看。",
    ),
    "HEALTH": (
        "社区卫生服务中心的预约挂号电话总是打不通。",
        "想了解老年人免费体检的时间和地点。",
        "家里老人需要上门随访服务，请问怎么预约。",
    ),
}
PII_PHONE, PII_ID, PII_NAME = 0.12, 0.05, 0.08


@dataclass
class Ticket:
    ticket_id: str
    channel: str
    category_code: str
    description: str
    community_code: str
    grid_code: str | None
    reporter_phone: str | None
    reporter_id: str | None
    received_at: dt.datetime
    dispatched_at: dt.datetime | None
    responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    final_status: str  # resolved, closed or responded (stalled)
    satisfaction: int | None
    pii: tuple[str, ...]


def _fmt(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


@dataclass(frozen=True)
class _Reporter:
    name: str
    phone: str
    id_number: str


def _describe(
    rng: np.random.Generator, category: str, road: str, building: str, names: NamePool, reporter: _Reporter
) -> tuple[str, tuple[str, ...]]:
    """A complaint text; sometimes with the reporter's (or a neighbour's) name, a phone or the ID number."""
    options = TEMPLATES[category]
    text = options[int(rng.integers(len(options)))].format(road=road, building=building)
    pii: list[str] = []
    if rng.random() < PII_NAME:
        if rng.random() < 0.5:
            text = f"我是{reporter.name}，" + text
        else:
            other = names.draw(rng, np.array([int(rng.integers(1, 3))]))[0]
            text += f"之前已经跟{other}反映过。"
        pii.append("name")
    if rng.random() < PII_PHONE:
        phone = reporter.phone or str(int(identity.phone_numbers(rng, 1)[0]))
        text += ("请回电", "联系电话：", "我的手机号是")[int(rng.integers(3))] + phone + "。"
        pii.append("phone")
    if rng.random() < PII_ID:
        text += f"本人身份证号{reporter.id_number}。"
        pii.append("id_number")
    return text, tuple(pii)


def day_tickets(
    rng: np.random.Generator,
    register: Register,
    geo: Geography,
    names: NamePool,
    day: dt.date,
    residents: int,
) -> list[Ticket]:
    """Tickets received on `day` with their whole future timeline."""
    present = register.present()
    adults = present[register.ages(day)[present] >= 18]
    count = max(MIN_TICKETS_PER_DAY, round(residents * TICKETS_PER_1000_PER_DAY / 1000))
    midnight = dt.datetime.combine(day, dt.time())
    hour_weights = np.array(
        [1, 1, 1, 1, 1, 2, 4, 8, 12, 12, 12, 11, 9, 10, 11, 11, 10, 9, 8, 8, 7, 5, 3, 2], float
    )
    tickets = []
    for seq in range(1, count + 1):
        reporter = int(rng.choice(adults))
        grid = int(register.grid[reporter])
        hour = int(rng.choice(24, p=hour_weights / hour_weights.sum()))
        received = midnight + dt.timedelta(seconds=hour * 3600 + int(rng.integers(0, 3600)))
        dispatched = received + dt.timedelta(minutes=float(np.clip(rng.lognormal(np.log(40), 1.0), 2, 600)))
        responded = dispatched + dt.timedelta(
            minutes=float(np.clip(rng.lognormal(np.log(180), 0.9), 10, 3000))
        )
        quick = rng.random() < 0.3  # answered and settled the same day
        hours = rng.lognormal(np.log(3), 0.6) if quick else rng.lognormal(np.log(40), 0.8)
        resolved = responded + dt.timedelta(hours=float(hours))
        fate = rng.random()
        final = "resolved" if fate < 0.88 else "closed" if fate < 0.92 else "responded"
        category = str(rng.choice(CATEGORIES, p=CATEGORY_PROBS))
        channel = str(rng.choice(CHANNELS, p=CHANNEL_PROBS))
        road = ROADS[int(rng.integers(len(ROADS)))]
        building = f"{int(rng.integers(1, 41))}幢"
        phone = str(int(register.phone[reporter]) or int(identity.phone_numbers(rng, 1)[0]))
        who = _Reporter(str(register.name[reporter]), phone, str(register.resident_id[reporter]))
        description, pii = _describe(rng, category, road, building, names, who)
        satisfaction = (
            int(rng.choice(5, p=[0.04, 0.06, 0.15, 0.30, 0.45])) + 1 if rng.random() < 0.8 else None
        )
        tickets.append(
            Ticket(
                ticket_id=f"T{day:%Y%m%d}{seq:05d}",
                channel=channel,
                category_code=category,
                description=description,
                community_code=str(geo.community_codes[geo.grid_community[grid]]),
                grid_code=str(geo.grid_codes[grid])
                if channel != "hotline_12345" or rng.random() < 0.7
                else None,
                reporter_phone=phone if channel != "walk_in" or rng.random() < 0.6 else None,
                reporter_id=str(register.resident_id[reporter]) if rng.random() < 0.5 else None,
                received_at=received,
                dispatched_at=dispatched,
                responded_at=responded if final != "closed" else None,
                resolved_at=resolved if final == "resolved" else None,
                final_status=final,
                satisfaction=satisfaction if final == "resolved" else None,
                pii=pii,
            )
        )
    return tickets


def versions(
    tickets: list[Ticket], window_end: dt.datetime
) -> tuple[list[dict[str, Any]], list[tuple[str, ...]]]:
    """Every version that exists by `window_end`, in (updated_at, ticket_id) order, as API records.

    Also returns, per record, which kinds of personal data its description contains.
    """
    out: list[tuple[dt.datetime, str, dict[str, Any], tuple[str, ...]]] = []
    for t in tickets:
        steps: list[tuple[str, dt.datetime]] = [("received", t.received_at)]
        if t.dispatched_at:
            steps.append(("dispatched", t.dispatched_at))
        if t.final_status == "closed":
            steps.append(("closed", t.dispatched_at + dt.timedelta(minutes=30)))
        if t.responded_at:
            steps.append(("responded", t.responded_at))
        if t.resolved_at:
            steps.append(("resolved", t.resolved_at))
        for status, at in steps:
            if at >= window_end:
                break
            record = {
                "ticket_id": t.ticket_id,
                "channel": t.channel,
                "category_code": t.category_code,
                "description": t.description,
                "community_code": t.community_code,
                "grid_code": t.grid_code,
                "reporter_phone": t.reporter_phone,
                "reporter_id": t.reporter_id,
                "received_at": _fmt(t.received_at),
                "dispatched_at": _fmt(t.dispatched_at) if status != "received" else None,
                "responded_at": _fmt(t.responded_at) if status in ("responded", "resolved") else None,
                "resolved_at": _fmt(t.resolved_at) if status == "resolved" else None,
                "status": status,
                "satisfaction": t.satisfaction if status == "resolved" else None,
                "updated_at": _fmt(at),
            }
            out.append((at, t.ticket_id, record, t.pii))
    out.sort(key=lambda v: (v[0], v[1]))
    return [v[2] for v in out], [v[3] for v in out]
