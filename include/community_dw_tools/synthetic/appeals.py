"""Residents' appeals (12345 hotline, community app, walk-ins) as the API serves them: ticket versions.

Each ticket moves received -> dispatched (minutes to hours) -> responded (hours) -> resolved (hours to
days), and every step is a new full version with its own `updated_at`; versions after the end of the
generated window do not exist yet, so recent tickets are still open. Some tickets are closed without
resolution, some never get past `responded`. Descriptions are free Chinese text and, as in real
hotline transcripts, sometimes contain a phone number, an ID number or a person's name, which the
warehouse must redact; `pii_in_text` in the sidecar lists which versions do, by kind (`phone`,
`id_number` for the plain forms, `kind:form` for the others, e.g. `phone:numerals`, `id_number:old15`),
and each `Ticket` keeps where (`spans`: kind, form, start and end offsets, never the value itself).

The personal data comes in the forms people type: phones with spaces, dashes, dots or slashes, full-width
digits or Chinese numerals (一三八…, 幺), landlines with area codes in brackets, ID numbers with separators
and the old 15-digit form, bank-card numbers in groups, e-mail with a full-width ＠, car plates (浙A12345,
粤B·D12345), street addresses (文一西路123号3栋2单元501室, 小区 + building + room) and names after cue
phrases (我是/我叫/本人/姓), before titles (先生/女士/阿姨) or next to verbs (跟…反映过). `plant` draws the
form from its own generator, so the rest of the city is the same draw for draw as before it existed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from community_dw_tools.synthetic import identity
from community_dw_tools.synthetic.geography import Geography
from community_dw_tools.synthetic.names import NamePool
from community_dw_tools.synthetic.population import ROADS, Register

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
# further kinds, drawn from the description's own generator (see `plant`)
PII_EXTRA = {"email": 0.03, "card": 0.02, "plate": 0.04, "address": 0.06}
PII_KINDS = ("name", "phone", "id", "card", "email", "plate", "address")


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
    spans: tuple[Planted, ...] = ()


def _fmt(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


@dataclass(frozen=True)
class _Reporter:
    name: str
    phone: str
    id_number: str


@dataclass(frozen=True)
class Planted:
    """One planted value: its kind, the form it was written in, and its offsets in the text."""

    kind: str
    form: str
    start: int
    end: int

    @property
    def label(self) -> str:
        """The sidecar's label: `phone`, `id_number` for the plain forms, `kind:form` for the others."""
        base = {"id": "id_number"}.get(self.kind, self.kind)
        plain = {"phone": ("plain", "spaced", "dashed", "dotted", "slashed", "plus86", "landline", "wide"),
                 "id": ("plain",)}  # fmt: skip
        return base if self.kind not in plain or self.form in plain[self.kind] else f"{base}:{self.form}"


_WIDE_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
_SPOKEN = str.maketrans("0123456789", "零一二三四五六七八九")
_SPOKEN_ALT = str.maketrans("0123456789", "〇幺二三四五六七八九")


def _pick(side: np.random.Generator, options):
    return options[int(side.integers(len(options)))]


def phone_form(side: np.random.Generator, digits: str) -> tuple[str, str]:
    """A mobile number as people write it, and the form's name."""
    form = _pick(side, ("plain", "plain", "spaced", "dashed", "dotted", "slashed", "plus86", "wide", "numerals",
                        "numerals_yao", "mixed", "landline"))  # fmt: skip
    a, b, c = digits[:3], digits[3:7], digits[7:]
    if form == "landline":
        area = _pick(side, ("0571", "010", "021", "0755", "027", "0574"))
        local = str(int(side.integers(2_000_000 if len(area) == 4 else 20_000_000, 89_999_999)))
        style = int(side.integers(4))
        text = (
            f"{area}-{local}",
            f"({area}){local}",
            f"（{area}）{local}",
            f"{area} {local[:4]} {local[4:]}",
        )[style]
        return text, form
    text = {
        "plain": digits,
        "spaced": f"{a} {b} {c}",
        "dashed": f"{a}-{b}-{c}",
        "dotted": f"{a}.{b}.{c}",
        "slashed": f"{a}/{b}/{c}",
        "plus86": _pick(side, (f"+86 {digits}", f"+86-{a}-{b}-{c}", f"0086{digits}", f"(+86){digits}")),
        "wide": digits.translate(_WIDE_DIGITS),
        "numerals": digits.translate(_SPOKEN),
        "numerals_yao": digits.translate(_SPOKEN_ALT),
        "mixed": f"{a} {b.translate(_SPOKEN)} {c}",
    }[form]
    return text, form


def id_form(side: np.random.Generator, id18: str) -> tuple[str, str]:
    """An ID number as people write it (separators, lowercase x, the old 15-digit number)."""
    form = _pick(side, ("plain", "plain", "plain", "spaced", "dashed", "wide", "old15", "old15"))
    if form == "spaced":
        return _pick(side, (f"{id18[:6]} {id18[6:14]} {id18[14:]}", " ".join(id18[i : i + 4] for i in (0, 4, 8, 12, 16)),
                            " ".join(id18[i : i + 3] for i in range(0, 18, 3)))), form  # fmt: skip
    if form == "dashed":
        return f"{id18[:6]}-{id18[6:14]}-{id18[14:]}", form
    if form == "wide":
        return id18.translate(_WIDE_DIGITS).replace("X", "Ｘ"), form
    if form == "old15":
        old = id18[:6] + id18[8:17]  # the same person's number before 1999: no century, no check character
        return _pick(
            side, (old, f"{old[:6]}-{old[6:12]}-{old[12:]}", f"{old[:6]} {old[6:12]} {old[12:]}")
        ), form
    return (id18.lower() if side.random() < 0.2 else id18), form


def card_number(side: np.random.Generator) -> str:
    """A bank-card number with a real issuer prefix and a valid Luhn check digit, 16 or 19 digits."""
    prefix = _pick(side, ("622202", "621700", "622848", "622588", "436742", "621226", "623058", "622700"))
    length = _pick(side, (16, 19, 19))
    body = prefix + "".join(str(int(d)) for d in side.integers(0, 10, length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def card_form(side: np.random.Generator) -> tuple[str, str]:
    digits = card_number(side)
    form = _pick(side, ("plain", "grouped", "dashed"))
    if form == "plain":
        return digits, form
    sep = " " if form == "grouped" else "-"
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4)), form


_PINYIN = ("zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "hu",
           "lin", "guo", "he", "gao", "xiao", "mei", "jun", "hong", "ming", "lei", "fang", "ying", "wei")  # fmt: skip
_DOMAINS = (
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "gmail.com",
    "hotmail.com",
    "sina.com.cn",
    "139.com",
    "foxmail.com",
)


def email_form(side: np.random.Generator, phone: str) -> tuple[str, str]:
    user = _pick(side, (f"{_pick(side, _PINYIN)}{_pick(side, _PINYIN)}", f"{_pick(side, _PINYIN)}.{_pick(side, _PINYIN)}",
                        f"{_pick(side, _PINYIN)}{int(side.integers(1, 9999))}", phone, str(int(side.integers(10**5, 10**10))),
                        f"{_pick(side, _PINYIN)}_{int(side.integers(70, 99))}"))  # fmt: skip
    domain = _pick(side, _DOMAINS)
    form = _pick(side, ("ascii", "ascii", "wide_at", "wide_all", "upper", "cn_dot"))
    if form == "wide_at":
        return f"{user}＠{domain}", form
    if form == "wide_all":
        return f"{user}＠{domain.replace('.', '．')}", form
    if form == "upper":
        return f"{user}@{domain}".upper(), form
    if form == "cn_dot" and domain.count(".") == 1:
        return f"{user}@{domain.replace('.', '。')}", form
    return f"{user}@{domain}", "ascii"


_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def plate_form(side: np.random.Generator) -> tuple[str, str]:
    province = _pick(side, "浙浙浙浙沪苏皖京粤" + _PROVINCES)
    city = _pick(side, "AAABCDEFGHJ")
    form = _pick(side, ("petrol", "petrol", "new_energy", "letters"))
    if form == "new_energy":
        tail = _pick(side, "DF") + "".join(str(int(d)) for d in side.integers(0, 10, 5))
        if side.random() < 0.3:
            tail = tail[1:] + tail[0]
    elif form == "letters":
        chars = [str(int(d)) for d in side.integers(0, 10, 5)]
        chars[int(side.integers(5))] = _pick(side, _PLATE_LETTERS)
        tail = "".join(chars)
    else:
        tail = "".join(str(int(d)) for d in side.integers(0, 10, 5))
    sep = _pick(side, ("", "", "", "·", " ", "-"))
    text = f"{province}{city}{sep}{tail}"
    return (text.lower() if side.random() < 0.05 else text), form


_ESTATE_PARTS = (
    "金色",
    "阳光",
    "翠苑",
    "星洲",
    "嘉绿",
    "文鼎",
    "蓝庭",
    "云栖",
    "锦绣",
    "和家",
    "紫金",
    "西溪",
)
_ESTATE_KINDS = ("小区", "花园", "家园", "苑", "新村", "公寓")
_CN_NUMBERS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")


def address_form(side: np.random.Generator, road: str) -> tuple[str, str]:
    """A household's street address in one of the forms residents write it."""
    number, building, unit = int(side.integers(1, 400)), int(side.integers(1, 41)), int(side.integers(1, 7))
    room = int(side.integers(1, 19)) * 100 + int(side.integers(1, 5))
    bword = _pick(side, ("幢", "栋", "号楼"))
    estate = _pick(side, _ESTATE_PARTS) + _pick(side, _ESTATE_KINDS)
    form = _pick(side, ("full", "full", "register", "house", "estate", "dashed", "numerals"))
    text = {
        "full": f"{road}{number}号{building}{bword}{unit}单元{room}室",
        "register": f"{road} {building}幢 {unit}单元 {room}室",
        "house": f"{road}{number}号",
        "estate": f"{estate}{building}{bword}{room}室",
        "dashed": f"{estate}{building}-{unit}-{room}" + _pick(side, ("室", "")),
        "numerals": f"{estate}{_CN_NUMBERS[building % 10]}{bword}{_CN_NUMBERS[unit % 10]}单元{room}室",
    }[form]
    return text, form


def _surname_of(name: str) -> str:
    return name[:2] if name[:2] == "欧阳" else name[0]


def name_form(side: np.random.Generator, name: str) -> tuple[str, str, str]:
    """(prefix, value, suffix): a name in a phrase, the value being the part that must be masked."""
    surname = _surname_of(name)
    form = _pick(side, ("wo_shi", "wo_shi", "wo_jiao", "ben_ren", "xing", "title_full", "title_surname",
                        "contact", "gen_fanying", "zhao_lianxi", "bare"))  # fmt: skip
    title = _pick(side, ("先生", "女士", "阿姨", "大爷", "师傅", "奶奶", "老师"))
    return {
        "wo_shi": ("我是", name, "，"),
        "wo_jiao": ("我叫", name, "，"),
        "ben_ren": ("本人", name, "，"),
        "xing": ("我姓", surname, "，"),
        "title_full": ("请联系", name, title + "。"),
        "title_surname": ("楼上的", surname, title + "也反映过。"),
        "contact": ("联系人：", name, "。"),
        "gen_fanying": ("之前已经跟", name, "反映过。"),
        "zhao_lianxi": ("可以找", name, "联系。"),
        "bare": ("", name, "说这个问题很久了。"),
    }[form] + (form,)


# The kinds written after a phrase that leads in to them (one picked per value) and before a tail.
_LEAD_INS = {
    "phone": (("请回电", "联系电话：", "我的手机号是", "电话 ", "有事打"), "。"),
    "id": (("本人身份证号", "身份证：", "证件号码 "), "。"),
    "card": (("补贴请打到银行卡", "卡号", "我的社保卡银行账号是"), "。"),
    "email": (("材料发我邮箱", "邮箱：", "回复请发到"), "，谢谢。"),
    "address": (("我家住在", "地址：", "我住"), "。"),
}


def plant(
    side: np.random.Generator, text: str, kinds: tuple[str, ...], reporter: _Reporter, road: str, name: str
) -> tuple[str, tuple[Planted, ...]]:
    """`text` with one value of each kind in `kinds` written into it (`name` is the name to write), and
    where each one is."""
    before: list[tuple[str, str | None, str]] = []  # (text, kind, form) in front of the complaint
    pieces: list[tuple[str, str | None, str]] = []  # and after it
    for kind in kinds:
        if kind == "name":
            pre, value, post, form = name_form(side, name)
            where = before if form in ("wo_shi", "wo_jiao", "ben_ren", "xing", "bare") else pieces
            where += [(pre, None, ""), (value, "name", form), (post, None, "")]
        elif kind == "plate":
            value, form = plate_form(side)
            tail = _pick(side, ("的车长期占用消防通道。", "天天停在楼下。"))
            pieces += [
                (_pick(side, ("车牌号", "有一辆", "那辆")), None, ""),
                (value, "plate", form),
                (tail, None, ""),
            ]
        else:
            value, form = {  # the value is drawn before its lead-in
                "phone": lambda: phone_form(side, reporter.phone),
                "id": lambda: id_form(side, reporter.id_number),
                "card": lambda: card_form(side),
                "email": lambda: email_form(side, reporter.phone),
                "address": lambda: address_form(side, road),
            }[kind]()
            leads, tail = _LEAD_INS[kind]
            pieces += [(_pick(side, leads), None, ""), (value, kind, form), (tail, None, "")]
    out, spans, pos = [], [], 0
    for piece, kind, form in [*before, (text, None, ""), *pieces]:
        if kind:
            spans.append(Planted(kind, form, pos, pos + len(piece)))
        out.append(piece)
        pos += len(piece)
    return "".join(out), tuple(spans)


def _describe(
    rng: np.random.Generator,
    category: str,
    road: str,
    building: str,
    names: NamePool,
    reporter: _Reporter,
    side: np.random.Generator | None = None,
) -> tuple[str, tuple[str, ...], tuple[Planted, ...]]:
    """A complaint text; sometimes with names, phones, ID or card numbers, e-mail, plates, addresses.

    `rng` makes the same draws as before the extra kinds and forms existed; `side` draws those.
    """
    side = side if side is not None else np.random.default_rng(0)
    options = TEMPLATES[category]
    text = options[int(rng.integers(len(options)))].format(road=road, building=building)
    kinds: list[str] = []
    name = reporter.name
    if rng.random() < PII_NAME:
        if rng.random() >= 0.5:  # half the time a neighbour's name rather than the reporter's
            name = names.draw(rng, np.array([int(rng.integers(1, 3))]))[0]
        kinds.append("name")
    if rng.random() < PII_PHONE:
        rng.integers(3)  # the phrase, drawn here before; `plant` now picks it
        kinds.append("phone")
    if rng.random() < PII_ID:
        kinds.append("id")
    for kind, share in PII_EXTRA.items():
        if side.random() < share * (3 if kind == "plate" and category == "TRAF" else 1):
            kinds.append(kind)
    description, spans = plant(side, text, tuple(kinds), reporter, road, str(name))
    return description, tuple(dict.fromkeys(s.label for s in spans)), spans


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
        side = np.random.default_rng([reporter, seq, day.toordinal()])
        description, pii, spans = _describe(rng, category, road, building, names, who, side)
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
                spans=spans,
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
