"""Free-text redaction: every kind and form, mixed text, untouched text, nulls, and generated text.

Recall and precision per kind on the labelled sets are tested in tests/privacy/redaction/test_evaluation.py.
"""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pytest

from community_dw.redact import find_spans, redact_free_text


def redact(*texts: str | None) -> list[str | None]:
    return redact_free_text(pa.array(list(texts), pa.string())).to_pylist()


def one(text: str) -> str:
    return redact(text)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本人身份证号110105199003071234。", "本人身份证号[ID]。"),
        ("身份证11010519900307123X，谢谢", "身份证[ID]，谢谢"),
        ("证件号码 44030419851231002x", "证件号码 [ID]"),
        ("卡号6222021234567890123请核实", "卡号[CARD]请核实"),
        ("卡号 6222 0212 3456 7890 已挂失", "卡号 [CARD] 已挂失"),
        ("补贴打到6217000010001234567了吗", "补贴打到[CARD]了吗"),
        ("请回电13812345678。", "请回电[PHONE]。"),
        ("联系电话：+86 139-1234-5678", "联系电话：[PHONE]"),
        ("手机 0086 15012345678，白天打", "手机 [PHONE]，白天打"),
        ("我的手机号是177 1234 5678", "我的手机号是[PHONE]"),
        ("tel18912345678", "tel[PHONE]"),
        ("座机010-12345678找王主任", "座机[PHONE]找王主任"),
        ("物业电话（0571）88889999", "物业电话[PHONE]"),
        ("物业电话(0571)88889999", "物业电话[PHONE]"),
        ("值班室 0755 8765432", "值班室 [PHONE]"),
        ("邮箱 zhang.san@example.com 回复", "邮箱 [EMAIL] 回复"),
        ("发到13812345678@163.com就行", "发到[EMAIL]就行"),
        ("全角号码１３８１２３４５６７８", "全角号码[PHONE]"),
        # forms the column-wise RE2 redactor let through (issue 8)
        ("请回电138.1234.5678，谢谢", "请回电[PHONE]，谢谢"),
        ("手机 139/1234/5678", "手机 [PHONE]"),
        ("电话一三八一二三四五六七八", "电话[PHONE]"),
        ("号码幺三九幺二三四五六七八", "号码[PHONE]"),
        ("身份证 330106 19850312 4413", "身份证 [ID]"),
        ("证件号330106-19850312-441X", "证件号[ID]"),
        ("老身份证330106850312441", "老身份证[ID]"),
        ("卡号6217-0000-1000-1234-567", "卡号[CARD]"),
        ("邮箱 zhangsan＠163．com", "邮箱 [EMAIL]"),
        ("京A12345乱停", "[PLATE]乱停"),
        ("粤B·D12345占了充电位", "[PLATE]占了充电位"),
        ("我家住在文一西路123号3栋2单元501室。", "我家住在[ADDRESS]。"),
        ("地址：古墩路 12幢 3单元 1102室", "地址：[ADDRESS]"),
        ("我是李勇利，楼道灯坏了", "我是[NAME]，楼道灯坏了"),
        ("我姓陈，住在这里", "我姓[NAME]，住在这里"),
        ("隔壁王阿姨家漏水", "隔壁[NAME]阿姨家漏水"),
        ("之前已经跟孙建国反映过", "之前已经跟[NAME]反映过"),
    ],
)
def test_each_pattern(text: str, expected: str) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    "text",
    ["我在王府井附近上班", "高新路上下班高峰堵车", "楼下的李子树被砍了", "我亲戚在张家港", "回复请发到邮箱，谢谢。",
     "马路上的井盖松了", "服务热线400-123-4567", "2024-06-30还没处理", "找物业的王主任没用"],
)  # fmt: skip
def test_look_alikes_stay(text: str) -> None:
    assert one(text) == text


def test_mixed_text_and_neighbouring_numbers() -> None:
    text = (
        "我是张三，身份证号11010519900307123X，电话13812345678,13912345678,13712345678；"
        "银行卡6222021234567890123，座机021-55556666，邮箱zs@qq.com。"
    )
    # the name is masked too since names are redacted (this expectation changed deliberately)
    assert one(text) == (
        "我是[NAME]，身份证号[ID]，电话[PHONE],[PHONE],[PHONE]；银行卡[CARD]，座机[PHONE]，邮箱[EMAIL]。"
    )


def test_text_without_personal_data_is_unchanged() -> None:
    texts = [
        "楼道灯坏了一个多月，3幢2单元，2024年5月反映过。",
        "物业费从1.5元/平方米涨到2.8元，没有公示。",
        "工单号T2026110100012，已处理。",
        "地下车库B2层积水约30厘米。",
        "",
    ]
    assert redact(*texts) == texts


def test_not_part_of_longer_numbers() -> None:
    # a 20-digit reference is no identifier of these kinds; an 11-digit run inside it is no phone
    assert one("流水号12345678901234567890") == "流水号12345678901234567890"
    assert one("编号0138123456789") != "编号0[PHONE]"


def test_text_outside_the_spans_is_never_changed() -> None:
    text = "全角１２３号楼，电话１３８１２３４５６７８，ＯＫ"
    out = one(text)
    assert out == "全角１２３号楼，电话[PHONE]，ＯＫ"
    spans = find_spans(text)
    assert [(text[s.start : s.end], s.kind) for s in spans] == [("１３８１２３４５６７８", "phone")]


def test_names_can_be_left_alone_or_found_without_jieba() -> None:
    values = pa.array(["我是李勇利，电话13812345678"])
    assert redact_free_text(values, names=False).to_pylist() == ["我是李勇利，电话[PHONE]"]
    assert redact_free_text(values, use_jieba=False).to_pylist() == ["我是[NAME]，电话[PHONE]"]


def test_nulls_stay_null_and_types_are_kept() -> None:
    assert redact(None, "电话13812345678", None) == [None, "电话[PHONE]", None]
    large = redact_free_text(pa.array(["13812345678"], pa.large_string()))
    assert large.type == pa.large_string() and large.to_pylist() == ["[PHONE]"]
    chunked = redact_free_text(pa.chunked_array([["13812345678"], [None, "无"]]))
    assert chunked.to_pylist() == ["[PHONE]", None, "无"]
    with pytest.raises(TypeError):
        redact_free_text(pa.array([1, 2]))


def _check_digit(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _random_id(rng: random.Random) -> str:
    body = f"{rng.randint(110000, 659999)}{rng.randint(1930, 2020)}{rng.randint(1, 12):02d}"
    body += f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + _check_digit(body)


def _random_mobile(rng: random.Random) -> str:
    digits = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
    style = rng.randrange(4)
    if style == 1:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if style == 2:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style == 3:
        return f"+86 {digits}"
    return digits


def _random_landline(rng: random.Random) -> str:
    area = rng.choice(["010", "021", "0571", "0755", "027"])
    return f"{area}{rng.choice(['-', ''])}{rng.randint(2_000_000, 89_999_999)}"


def test_generated_text_keeps_no_identifiers() -> None:
    """Property: whatever Chinese text surrounds random IDs, phones and cards, none survives."""
    rng = random.Random(20261101)
    fillers = ["我家住在", "联系", "，", "。", "请尽快处理", "或", " ", "：", "（", "）", "-", "/", "+", "ab"]
    texts, planted = [], []
    for _ in range(3000):
        parts, secrets = [], []
        for _ in range(rng.randint(1, 6)):
            parts.append(rng.choice(fillers))
            card = str(rng.randint(10**15, 10**19 - 1))
            value = rng.choice(
                [
                    _random_id(rng),
                    _random_mobile(rng),
                    _random_landline(rng),
                    card,
                    " ".join(card[i : i + 4] for i in range(0, len(card), 4)),
                ]
            )
            parts.append(value)
            secrets.append(value)
        parts.append(rng.choice(fillers))
        texts.append("".join(parts))
        planted.append(secrets)
    redacted = redact(*texts)
    for original, out, secrets in zip(texts, redacted, planted, strict=True):
        digits_only = [re.sub(r"\D", "", s) for s in secrets]
        assert not any(d in re.sub(r"\D", "", out) for d in digits_only if len(d) >= 7), (original, out)
        assert not re.search(r"\d{7,}", out), (original, out)


def test_the_surname_list_is_fakers_zh_cn_list():
    """community_dw.surnames is a copy (the runtime runs without Faker); the demo city draws from Faker."""
    provider = pytest.importorskip("faker.providers.person.zh_CN").Provider
    from community_dw.surnames import SURNAMES

    assert tuple(provider.last_names) == SURNAMES
