"""Deterministic synthetic supervision data: a plausible Zhuji county and its records.

The generator feeds ``riskgrade demo`` (a county of a few hundred enterprises) and the benchmarks
(a million enterprises, twenty million records, streamed to JSON Lines). Every record is a plain
``dict`` shaped exactly as the JSON of the integration contract (``CONTRACT.md``), dates as
``YYYY-MM-DD`` strings.

Each enterprise has a latent risk propensity: most are good, a tail is bad, so that graded
populations are skewed towards the best level while every level occurs. Its records follow the
closed loop of the 2009 Zhuji practice: spot checks (some failing, some followed by a case or a
re-test), routine inspections with deadlines and follow-up rectification visits, enforcement cases,
complaints, rare food-safety incidents, and data-entry corrections.

The same :class:`CountySpec` always gives the same records, byte for byte: all randomness comes
from ``random.Random`` instances seeded from the spec, never from the module-level generator.
Enterprises are produced one at a time, so a population of any size streams in constant memory.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, TextIO

from riskgrade.dates import add_years
from riskgrade.errors import InputError
from riskgrade.records import Enforcement, literal_values

__all__ = ["CountySpec", "generate_county", "iter_population", "write_population"]

Record = dict[str, Any]

# Mean number of records per enterprise at rate multiplier 1 (measured over 200,000 enterprises
# of the default spec); ``records_per_enterprise`` scales every rate by its ratio to this.
_BASE_RECORDS_PER_ENTERPRISE = 9.11

_DIVISION_ZHUJI = "330681"
_DIVISION_SHAOXING = "330600"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {char: value for value, char in enumerate(_USCC_ALPHABET)}


@dataclass(frozen=True)
class CountySpec:
    """What to generate: size, dates and the mix of records.

    ``records_per_enterprise`` is the mean number of events per enterprise (the benchmarks use
    20); ``late_share`` is the share of events that arrive out of date order; ``correction_share``
    roughly the share of events that are corrections (voids and re-tests). ``grids`` is the total
    number of grids, spread over the six regions (so at least 6).
    """

    seed: int = 2009
    enterprises: int = 400
    grids: int = 60
    as_of: dt.date = dt.date(2009, 7, 1)
    years: int = 3
    records_per_enterprise: float = 8.0
    food_share: float = 0.55
    late_share: float = 0.02
    correction_share: float = 0.02
    with_scores: bool = True

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        if self.enterprises < 0:
            problems.append(("enterprises", "must be 0 or more"))
        if self.grids < len(_REGIONS):
            problems.append(("grids", f"must be at least {len(_REGIONS)}, one per region"))
        if not 1 <= self.years <= 50:
            problems.append(("years", "must be between 1 and 50"))
        if not 0 <= self.records_per_enterprise <= 1000:
            problems.append(("records_per_enterprise", "must be between 0 and 1000"))
        for name in ("food_share", "late_share", "correction_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append((name, "must be between 0 and 1"))
        if not dt.date(1900, 1, 1) <= self.as_of <= dt.date(9000, 1, 1):
            problems.append(("as_of", "must be between 1900-01-01 and 9000-01-01"))
        if problems:
            field, what = problems[0]
            msg = f"{what}, got {getattr(self, field)!r}"
            raise InputError(msg, field=field)


def iter_population(spec: CountySpec) -> Iterator[tuple[Record, list[Record]]]:
    """Yield ``(enterprise, events)`` one enterprise at a time, its events sorted by date.

    Memory stays constant whatever ``spec.enterprises`` is. Event ids are unique across the whole
    population and increase with the date within one enterprise.
    """
    for enterprise, entries in _Generator(spec).population():
        yield enterprise, [entry.record for entry in entries]


def generate_county(spec: CountySpec | None = None) -> tuple[list[Record], list[Record]]:
    """Return ``(enterprises, events)`` for a whole county, events in arrival order.

    Arrival order is date order except for the ``late_share`` of events that arrive late: each
    is placed where it would have been entered, after records dated later than itself. A record
    that references a late one (a correction, a rectification) never arrives before it.
    """
    spec = CountySpec() if spec is None else spec
    enterprises: list[Record] = []
    keyed: list[tuple[int, int, int, Record]] = []
    number = 0
    for enterprise, entries in _Generator(spec).population():
        enterprises.append(enterprise)
        for entry in entries:
            keyed.append((entry.arrival, entry.late, number, entry.record))
            number += 1
    keyed.sort(key=_arrival_key)
    return enterprises, [item[3] for item in keyed]


def write_population(
    spec: CountySpec,
    enterprises_path: str | os.PathLike[str],
    events_path: str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Stream a population to two JSON Lines files; return ``(enterprises, events)`` written.

    Lines are UTF-8 JSON with compact separators and unescaped Chinese, byte-identical to
    ``json.dumps(record, ensure_ascii=False, separators=(",", ":"))``. The records are those of
    ``generate_county``; to keep memory constant, events are grouped by enterprise (in enterprise
    order) rather than merged county-wide, and within one enterprise they keep its arrival order,
    so late records still come after later-dated ones. Both files are written beside their
    targets and renamed into place at the end: an interrupted run leaves no partial output.
    ``progress``, when given, is called with the number of enterprises written so far, every
    1,000 enterprises and for the final count.
    """
    targets = (Path(enterprises_path), Path(events_path))
    temporaries = tuple(path.with_name(f".{path.name}.partial") for path in targets)
    encode = _line_encoder()
    enterprise_count = 0
    event_count = 0
    try:
        with (
            temporaries[0].open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as ent_out,
            temporaries[1].open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as ev_out,
        ):
            reorder = spec.late_share > 0
            ent_lines: list[str] = []
            ev_lines: list[str] = []
            for enterprise, entries in _Generator(spec).population():
                ent_lines.append(encode(enterprise))
                if reorder:
                    entries.sort(key=_entry_arrival)
                ev_lines.extend([encode(entry.record) for entry in entries])
                enterprise_count += 1
                event_count += len(entries)
                if enterprise_count % 1000 == 0:
                    _flush(ent_out, ent_lines)
                    _flush(ev_out, ev_lines)
                    if progress is not None:
                        progress(enterprise_count)
            _flush(ent_out, ent_lines)
            _flush(ev_out, ev_lines)
        for temporary, target in zip(temporaries, targets, strict=True):
            temporary.replace(target)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    if progress is not None and (enterprise_count % 1000 or not enterprise_count):
        progress(enterprise_count)
    return enterprise_count, event_count


def _line_encoder() -> Callable[[Record], str]:
    """Return a function giving a record's compact UTF-8 JSON text, as ``json.dumps`` would.

    It calls CPython's C encoder directly where there is one: that halves the cost of a line,
    which dominates writing a large population.
    """
    options: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(**options).encode
    default = json.JSONEncoder(**options).default
    chunks = make(None, default, json.encoder.encode_basestring, None, ":", ",", False, False, True)

    def encode(record: Record) -> str:
        return "".join(chunks(record, 0))

    return encode


def _flush(out: TextIO, lines: list[str]) -> None:
    if lines:
        lines.append("")
        out.write("\n".join(lines))
        lines.clear()


def _arrival_key(item: tuple[int, int, int, Record]) -> tuple[int, int, int]:
    return item[0], item[1], item[2]


def _uscc_check_character(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters of a USCC."""
    total = sum(
        _USCC_VALUE[char] * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_ALPHABET[(31 - total % 31) % 31]


# --- the county -------------------------------------------------------------------------------

# (pinyin, Chinese, town or street, share of the county's grids)
_REGIONS: tuple[tuple[str, str, str, float], ...] = (
    ("Datang", "大唐", "大唐镇", 14),
    ("Diankou", "店口", "店口镇", 12),
    ("Shanxiahu", "山下湖", "山下湖镇", 6),
    ("Jiyang", "暨阳", "暨阳街道", 11),
    ("Taozhu", "陶朱", "陶朱街道", 9),
    ("Huandong", "浣东", "浣东街道", 8),
)

_INDUSTRIES = ("socks", "hardware", "plumbing", "pearls")
_INDUSTRY_WEIGHTS = (40, 22, 23, 15)
_INDUSTRY_REGION = {"socks": 0, "hardware": 1, "plumbing": 1, "pearls": 2}

# Food businesses: most in the three urban streets, the rest spread over the industrial towns.
_FOOD_REGION_WEIGHTS = (8, 7, 5, 30, 26, 24)

_CATEGORIES = ("packaged", "perishable", "meat", "dairy", "special", "infant", None)
_CATEGORY_WEIGHTS = (34, 30, 16, 8, 6, 3, 3)

_TRADE_CHARS = (
    "华新兴天宏达恒利金盛永鑫富丰顺泰嘉康美佳瑞祥隆源海星光明安诚信银凯越东百万联龙凤宇辉腾飞"
    "骏雅洁丽春晨阳昌荣和正发中国江浙德益汇通科群锦绣晶"
)

# (word in a company name, word in a workshop name ending in 厂 or 场)
_TRADES: dict[str | None, tuple[tuple[str, str], ...]] = {
    "socks": (("袜业", "袜厂"), ("针织", "针织厂"), ("织造", "织造厂"), ("袜业", "袜业厂")),
    "hardware": (
        ("五金", "五金厂"),
        ("机械", "机械厂"),
        ("工具", "工具厂"),
        ("五金制品", "五金件厂"),
    ),
    "plumbing": (
        ("管业", "管件厂"),
        ("铜业", "铜材厂"),
        ("阀门", "阀门厂"),
        ("水暖器材", "水暖配件厂"),
    ),
    "pearls": (("珍珠", "珍珠厂"), ("珠宝", "珍珠加工厂"), ("珍珠饰品", "饰品厂")),
    "infant": (("营养食品", "营养食品厂"), ("婴幼儿食品", "米粉厂")),
    "special": (("生物科技", "保健食品厂"), ("保健食品", "营养品厂")),
    "dairy": (("乳业", "乳品厂"), ("乳品", "乳制品厂"), ("牧业", "奶牛场")),
    "meat": (("肉类食品", "肉制品厂"), ("食品", "屠宰场"), ("肉制品", "腌腊制品厂")),
    "perishable": (
        ("食品", "豆制品厂"),
        ("食品", "糕点厂"),
        ("熟食", "熟食加工场"),
        ("面业", "面条厂"),
    ),
    "packaged": (
        ("食品", "食品厂"),
        ("粮油", "粮油加工厂"),
        ("饮料", "饮料厂"),
        ("调味品", "酱油酿造厂"),
        ("茶业", "茶厂"),
        ("酒业", "酒厂"),
    ),
    None: (("食品", "食品厂"), ("商贸", "食品加工场")),
}
_FOOD_SHOPS = ("食品商行", "副食品经营部", "食品店", "粮油商行")

# Spot-check items a sample can fail, by what is sampled and the item's kind.
_FOOD_ITEMS = {
    "quality": ("酸价", "过氧化值", "蛋白质", "水分", "净含量", "总酸", "氨基酸态氮", "脂肪"),
    "labeling": ("标签标识", "配料表标注", "生产日期标注", "营养成分表", "产品标准代号"),
    "safety": (
        "菌落总数",
        "大肠菌群",
        "金黄色葡萄球菌",
        "铅",
        "黄曲霉毒素B1",
        "苯甲酸",
        "山梨酸",
        "二氧化硫残留量",
        "亚硝酸盐",
        "糖精钠",
    ),
}
_ILLEGAL_SUBSTANCES: dict[str | None, tuple[str, ...]] = {
    "infant": ("三聚氰胺",),
    "dairy": ("三聚氰胺",),
    "meat": ("盐酸克伦特罗", "硼砂"),
    "perishable": ("吊白块", "硼砂"),
    "packaged": ("苏丹红", "吊白块"),
    "special": ("西布曲明", "西地那非"),
    None: ("苏丹红",),
}
_INDUSTRY_ITEMS: dict[str, dict[str, tuple[str, ...]]] = {
    "socks": {
        "quality": (
            "纤维含量",
            "耐摩擦色牢度",
            "耐汗渍色牢度",
            "耐水色牢度",
            "水洗尺寸变化率",
            "弹子顶破强力",
        ),
        "labeling": ("使用说明", "纤维含量标识", "号型标识"),
        "safety": ("pH值", "甲醛含量", "可分解致癌芳香胺染料", "异味"),
    },
    "hardware": {
        "quality": ("硬度", "扭矩", "尺寸偏差", "镀层附着强度", "盐雾试验"),
        "labeling": ("产品标志", "使用说明"),
        "safety": ("防护性能", "绝缘电阻", "锁紧可靠性"),
    },
    "plumbing": {
        "quality": ("密封性能", "流量", "镀层耐腐蚀性", "尺寸", "材质"),
        "labeling": ("产品标志", "标志与包装"),
        "safety": ("铅析出量", "耐压强度", "抗水锤性能"),
    },
    "pearls": {
        "quality": ("珍珠层厚度", "光泽", "光洁度", "形状", "大小"),
        "labeling": ("产品标识", "品名标注"),
        "safety": ("镍释放量", "有害元素含量"),
    },
}

_PENALTIES = literal_values(Enforcement, "penalty")  # in the order of the weights below
_PENALTY_WEIGHTS = (30.0, 25.0, 30.0, 8.0, 4.0, 1.2, 0.8)
# How much a case's severity (0..1) multiplies each penalty's weight: 1 + factor * severity.
_PENALTY_SEVERITY = (0.0, 0.0, 2.0, 3.0, 10.0, 15.0, 15.0)

_VOID_REASONS = {
    "spot_check": (
        "样品非本企业生产，系冒用厂名厂址",
        "检验报告编号录入错误，重复登记",
        "承检机构撤销检验报告",
    ),
    "inspection": ("重复录入", "检查记录录错企业", "检查记录要素不全，作废重录"),
    "rectification": ("回访记录录入错误", "重复录入"),
    "enforcement": ("行政复议撤销处罚决定", "行政诉讼判决撤销处罚", "重复立案，已合并处理"),
    "complaint": ("投诉登记重复", "投诉对象登记错误"),
    "incident": ("经调查非本企业责任", "事故报告重复登记"),
}
_INCIDENT_DESCRIPTIONS = (
    "学校食堂学生集体腹泻，疑与该企业配送的熟食有关",
    "消费者食用后出现呕吐、腹痛，入院观察",
    "婚宴聚餐引发食物中毒，涉及该企业供应的卤味",
    "产品检出非食用物质，已责令召回",
    "工地食堂就餐人员群体性不适",
)


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


_INDUSTRY_CUM = _cumulative(_INDUSTRY_WEIGHTS)
_FOOD_REGION_CUM = _cumulative(_FOOD_REGION_WEIGHTS)
_CATEGORY_CUM = _cumulative(_CATEGORY_WEIGHTS)


def _allocate_grids(total: int) -> tuple[int, ...]:
    """Split ``total`` grids over the regions by their shares, at least one each."""
    shares = [region[3] for region in _REGIONS]
    spare = total - len(shares)
    exact = [spare * share / sum(shares) for share in shares]
    counts = [1 + int(value) for value in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: (int(exact[i]) - exact[i], i))
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return tuple(counts)


class _Entry:
    """An event under construction: its record, its date and arrival as day ordinals."""

    __slots__ = ("arrival", "day", "late", "record", "target")

    def __init__(self, day: int, record: Record, target: _Entry | None) -> None:
        self.day = day
        self.record = record
        self.target = target
        self.arrival = day
        self.late = 0


_entry_day = attrgetter("day")
_entry_arrival = attrgetter("arrival", "late")


class _Generator:
    """One pass over a population; holds the spec's derived constants and the random streams."""

    def __init__(self, spec: CountySpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        # A separate stream for arrival order, so that late_share changes the order only.
        self.arrival_rng = random.Random(f"riskgrade.synthetic.arrival:{spec.seed}")
        self.first = add_years(spec.as_of, -spec.years).toordinal() + 1
        self.last = spec.as_of.toordinal()
        self.day_text = [
            dt.date.fromordinal(day).isoformat() for day in range(self.first, self.last + 400)
        ]
        self.rate = spec.records_per_enterprise / _BASE_RECORDS_PER_ENTERPRISE
        self.id_width = max(6, len(str(spec.enterprises)))
        self.next_event = 1
        self.grid_names: list[list[str]] = []
        for (name, _zh, _seat, _share), count in zip(
            _REGIONS, _allocate_grids(spec.grids), strict=True
        ):
            width = max(2, len(str(count)))
            self.grid_names.append([f"{name}-{k:0{width}d}" for k in range(1, count + 1)])

    def population(self) -> Iterator[tuple[Record, list[_Entry]]]:
        for index in range(1, self.spec.enterprises + 1):
            yield self.enterprise(index)

    # -- one enterprise ----------------------------------------------------------------------

    def enterprise(self, index: int) -> tuple[Record, list[_Entry]]:
        r = self.rng.random
        eid = f"E{index:0{self.id_width}d}"
        food = r() < self.spec.food_share
        # Latent propensity to fail and offend: most near 0.02, a long tail up to 0.72.
        propensity = 0.02 + 0.7 * r() ** 5
        industry: str | None = None
        category: str | None = None
        if food:
            category = _CATEGORIES[bisect.bisect(_CATEGORY_CUM, r() * _CATEGORY_CUM[-1])]
            region = bisect.bisect(_FOOD_REGION_CUM, r() * _FOOD_REGION_CUM[-1])
        else:
            industry = _INDUSTRIES[bisect.bisect(_INDUSTRY_CUM, r() * _INDUSTRY_CUM[-1])]
            region = _INDUSTRY_REGION[industry]
        grids = self.grid_names[region]
        record: Record = {
            "id": eid,
            "scheme": "food" if food else "industry",
            "name": self.name(region, industry, category, food),
            "region": _REGIONS[region][0],
            "grid": grids[int(r() * len(grids))],
        }
        if industry is not None:
            record["industry"] = industry
        if r() < 0.5:
            record["uscc"] = self.uscc()
        if r() < 0.1 and self.last - self.first > 240:
            registered = self.first + int(r() * (self.last - self.first - 120))
        else:
            registered = self.first - 30 - int(r() * 6000)
        if r() < 0.85:
            record["registered_on"] = dt.date.fromordinal(registered).isoformat()
        if food and (category is not None or r() < 0.5):
            # A missing category is either no attributes at all or an empty object.
            record["attributes"] = {} if category is None else {"category": category}
        entries = self.events(eid, food, industry, category, propensity, registered + 14)
        return record, entries

    def name(self, region: int, industry: str | None, category: str | None, food: bool) -> str:
        r = self.rng.random
        chars = _TRADE_CHARS
        first = chars[int(r() * len(chars))]
        second = chars[int(r() * len(chars))]
        trade = first + second if first != second else first + "达"
        trades = _TRADES[industry if industry is not None else category]
        company, workshop = trades[int(r() * len(trades))]
        seat = _REGIONS[region][1] if r() < 0.7 else _REGIONS[region][2]
        u = r()
        if food and u < 0.12:
            return f"诸暨市{seat}{trade}{_FOOD_SHOPS[int(r() * len(_FOOD_SHOPS))]}"
        if u < 0.3:
            return f"诸暨市{seat}{trade}{workshop}"
        if u < 0.38:
            return f"浙江{trade}{company}{'股份' if r() < 0.3 else ''}有限公司"
        if u < 0.65:
            return f"诸暨市{seat}{trade}{company}有限公司"
        return f"诸暨市{trade}{company}有限公司"

    def uscc(self) -> str:
        r = self.rng.random
        division = _DIVISION_ZHUJI if r() < 0.9 else _DIVISION_SHAOXING
        body = "".join([_USCC_ALPHABET[int(r() * 31)] for _ in range(9)])
        first17 = "91" + division + body
        return first17 + _uscc_check_character(first17)

    def events(
        self,
        eid: str,
        food: bool,
        industry: str | None,
        category: str | None,
        p: float,
        active_from: int,
    ) -> list[_Entry]:
        """Return one enterprise's records from ``active_from`` on, sorted by date, ids given."""
        r = self.rng.random
        first = max(self.first, active_from)
        last = self.last
        entries: list[_Entry] = []
        if first > last:
            return entries
        rate = self.rate
        day_text = self.day_text
        base = self.first

        def add(day: int, record: Record, target: _Entry | None = None) -> _Entry:
            entry = _Entry(day, record, target)
            entries.append(entry)
            return entry

        def follow_up(target: _Entry, deadline: int) -> None:
            """Rectification visits after a finding with a deadline."""
            since = target.day + 2
            if r() < 0.05 + 0.1 * p:
                # A visit that finds the problem still there.
                since = target.day + 7 + int(r() * (deadline - target.day - 7))
                if since > last:
                    return
                add(since, _rectification(eid, False), target)
            u = r()
            if u < 0.03 + 0.2 * p:
                return  # never rectified
            if u < 0.09 + 0.4 * p:
                day = deadline + 1 + int(r() * 60)
            else:
                day = since + 1 + int(r() * (deadline - since))
            if day <= last:
                add(day, _rectification(eid, True), target)

        def enforcement(day: int, severity: float, counterfeit_p: float) -> None:
            penalty = self.penalty(severity)
            counterfeit = r() < counterfeit_p
            record: Record = {
                "id": "",
                "enterprise_id": eid,
                "date": "",
                "type": "enforcement",
                "penalty": penalty,
                "counterfeit": counterfeit,
                "intentional": r() < (0.5 if counterfeit else 0.1 + 0.4 * severity),
            }
            if penalty == "fine":
                high = 500_000 if severity > 0.9 else 200_000 if not food else 50_000
                record["amount"] = int(math.exp(math.log(2000) + r() * math.log(high / 2000)))
                record["amount"] -= record["amount"] % 100
            entry = add(day, record)
            if penalty == "rectification_order" and r() < 0.95:
                deadline = day + 15 + int(r() * 46)
                record["deadline"] = day_text[deadline - base]
                follow_up(entry, deadline)

        # Supervision spot checks: 1-3 a year at the default rate.
        for day in self.arrivals(rate * 1.3 * (0.5 + r()), first, last):
            record: Record = {"id": "", "enterprise_id": eid, "date": "", "type": "spot_check"}
            failed = r() < p
            severity = p
            if failed:
                items = self.items(food, industry, category, p)
                record["result"] = "fail"
                record["items"] = items
                kinds = {item["kind"] for item in items}
                if "illegal_substance" in kinds:
                    severity = 1.0
                elif "safety" in kinds:
                    severity = max(p, 0.5)
            else:
                record["result"] = "pass"
            u = r()
            record["level"] = (
                "national"
                if u < 0.05
                else "provincial"
                if u < 0.15
                else "municipal"
                if u < 0.3
                else "county"
            )
            add(day, record)
            if failed and r() < 0.25 + 0.5 * severity:
                case_day = day + 15 + int(r() * 75)
                if case_day <= last:
                    enforcement(case_day, severity, 0.0 if food else 0.05)

        # Routine inspections and patrols, each finding with a deadline and a follow-up visit.
        scored = self.spec.with_scores and food
        per_year = (0.9 if food else 0.6) * (0.5 + r()) * (1 + 4 * p)
        for day in self.arrivals(rate * per_year, first, last):
            u = r()
            outcome = (
                "major" if u < 0.02 + 0.25 * p else "minor" if u < 0.14 + 0.65 * p else "compliant"
            )
            record = {
                "id": "",
                "enterprise_id": eid,
                "date": "",
                "type": "inspection",
                "outcome": outcome,
            }
            deadline = 0
            if outcome != "compliant":
                deadline = day + 15 + int(r() * 46)
                record["deadline"] = day_text[deadline - base]
            if scored and r() < 0.8:
                record["scores"] = self.scores(outcome, p)
            entry = add(day, record)
            if deadline:
                follow_up(entry, deadline)
                if outcome == "major" and r() < 0.4:
                    case_day = day + 7 + int(r() * 50)
                    if case_day <= last:
                        enforcement(case_day, max(p, 0.3), 0.0 if food else 0.1)

        # Complaints from consumers and buyers.
        per_year = (0.12 + 0.4 * p) if food else (0.04 + 0.15 * p)
        for day in self.arrivals(rate * per_year, first, last):
            substantiated = r() < 0.25 + 0.5 * p
            add(
                day,
                {
                    "id": "",
                    "enterprise_id": eid,
                    "date": "",
                    "type": "complaint",
                    "substantiated": substantiated,
                },
            )
            if substantiated and r() < 0.15:
                case_day = day + 10 + int(r() * 40)
                if case_day <= last:
                    enforcement(case_day, p, 0.0 if food else 0.15)

        # Cases opened on the bureau's own patrols and market checks.
        for day in self.arrivals(rate * (0.01 + 0.2 * p), first, last):
            enforcement(day, p, 0.0 if food else 0.2)

        # Food-safety incidents: rare, usually followed by a heavy case.
        if food:
            for day in self.arrivals(rate * (0.003 + 0.04 * p), first, last):
                record = {"id": "", "enterprise_id": eid, "date": "", "type": "incident"}
                if r() < 0.85:
                    record["description"] = _INCIDENT_DESCRIPTIONS[
                        int(r() * len(_INCIDENT_DESCRIPTIONS))
                    ]
                add(day, record)
                if r() < 0.7:
                    case_day = day + 3 + int(r() * 30)
                    if case_day <= last:
                        enforcement(case_day, max(p, 0.8), 0.0)

        self.corrections(eid, entries, add)
        entries.sort(key=_entry_day)
        self.finish(entries)
        return entries

    def corrections(
        self,
        eid: str,
        entries: list[_Entry],
        add: Callable[[int, Record, _Entry | None], _Entry],
    ) -> None:
        """Add re-tests of failed spot checks and voids of mistaken records, at most one each."""
        share = self.spec.correction_share
        if share <= 0:
            return
        r = self.rng.random
        last = self.last
        retest = min(0.5, 4 * share)
        void = 0.8 * share
        for target in entries[:]:
            record = target.record
            kind = record["type"]
            if kind == "spot_check" and record["result"] == "fail" and r() < retest:
                day = target.day + 7 + int(r() * 35)
                if day <= last:
                    result = "overturned" if r() < 0.3 else "upheld"
                    add(
                        day,
                        {
                            "id": "",
                            "enterprise_id": eid,
                            "date": "",
                            "type": "recheck",
                            "of": "",
                            "result": result,
                        },
                        target,
                    )
                continue
            if r() < void:
                day = min(last, target.day + int(r() * 120))
                reasons = _VOID_REASONS[kind]
                add(
                    day,
                    {
                        "id": "",
                        "enterprise_id": eid,
                        "date": "",
                        "type": "void",
                        "of": "",
                        "reason": reasons[int(r() * len(reasons))],
                    },
                    target,
                )

    def finish(self, entries: list[_Entry]) -> None:
        """Give ids and dates in date order, resolve references, decide arrival."""
        day_text = self.day_text
        base = self.first
        late_share = self.spec.late_share
        late_r = self.arrival_rng.random
        last = self.last
        number = self.next_event
        for entry in entries:
            record = entry.record
            record["id"] = f"V{number:08d}"
            number += 1
            record["date"] = day_text[entry.day - base]
            if late_share and late_r() < late_share:
                entry.late = 1
                entry.arrival = min(last, entry.day + 7 + int(late_r() * 150))
            target = entry.target
            if target is not None:
                if "of" in record:
                    record["of"] = target.record["id"]
                if (target.arrival, target.late) > (entry.arrival, entry.late):
                    entry.arrival = target.arrival
                    entry.late = target.late
        self.next_event = number

    # -- pieces ------------------------------------------------------------------------------

    def arrivals(self, per_year: float, first: int, last: int) -> list[int]:
        """Days of a Poisson process with ``per_year`` events a year over ``[first, last]``."""
        days: list[int] = []
        if per_year <= 0:
            return days
        r = self.rng.random
        gap = 365.25 / per_year
        log = math.log
        stop = last + 1
        t = first - log(1.0 - r()) * gap
        while t < stop:
            days.append(int(t))
            t -= log(1.0 - r()) * gap
        return days

    def items(
        self, food: bool, industry: str | None, category: str | None, p: float
    ) -> list[Record]:
        """One to three failed items, mostly quality and labeling."""
        r = self.rng.random
        wanted = 1 + (r() < 0.35) + (r() < 0.1)
        table = _FOOD_ITEMS if food else _INDUSTRY_ITEMS[industry or "socks"]
        items: list[Record] = []
        seen: set[str] = set()
        for _ in range(wanted):
            u = r()
            if food and u < 0.01 + 0.04 * p:
                kind = "illegal_substance"
                names = _ILLEGAL_SUBSTANCES[category]
            else:
                kind = (
                    "safety"
                    if u < 0.12 + 0.25 * p
                    else "labeling"
                    if u < 0.45 + 0.15 * p
                    else "quality"
                )
                names = table[kind]
            name = names[int(r() * len(names))]
            if name not in seen:
                seen.add(name)
                items.append({"name": name, "kind": kind})
        return items

    def penalty(self, severity: float) -> str:
        r = self.rng.random
        weights = [
            weight * (1.0 + factor * severity)
            for weight, factor in zip(_PENALTY_WEIGHTS, _PENALTY_SEVERITY, strict=True)
        ]
        u = r() * sum(weights)
        for penalty, weight in zip(_PENALTIES, weights, strict=True):
            u -= weight
            if u < 0:
                return penalty
        return _PENALTIES[-1]

    def scores(self, outcome: str, p: float) -> dict[str, int]:
        """FHRS-style scores (steps of 5) and a CFDA-style dynamic score, worse with findings."""
        r = self.rng.random
        g = 0 if outcome == "compliant" else 1 if outcome == "minor" else 2
        hygiene = min(5, max(0, int(1.5 * g + 2 * r() + 2 * p - 0.3)))
        structure = min(5, max(0, int(g + 2 * r() + 2 * p - 0.3)))
        management = min(6, max(0, int(1.5 * g + 2 * r() + 2 * p)))
        dynamic = min(60, int(15 * g + 15 * r() + 20 * p))
        return {
            "hygiene": 5 * hygiene,
            "structure": 5 * structure,
            "management": 5 * management,
            "dynamic": dynamic,
        }


def _rectification(eid: str, verified: bool) -> Record:
    return {
        "id": "",
        "enterprise_id": eid,
        "date": "",
        "type": "rectification",
        "of": "",
        "verified": verified,
    }
