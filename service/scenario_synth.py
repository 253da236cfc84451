"""A synthetic month of kundval data, seeded and reproducible, in the shapes of domain.md.

    generate(customers=1500, providers=5, period="2024-03", seed=1, bistand_per_day=2.0) -> Month

The month has provider choices and mid-month switches (with an execution lag), executions, pauses
(some open-ended), decisions with per-day/week/month lines, `bistand_per_day` bistånd visits per
customer-day (as long as the decision grants, times a performed share around the 85 % target),
delegated HSL (listed and other codes, registered as a second report of a bistånd visit), alarms,
nurse and rehab visits for enrolled customers, declined, cancelled and manual registrations, a few
overlaps (from long visits), duplicates, long visits and visits for customers the registry does not
know, and claims of every type. Registry and provider records are plain tuples in the column order
of their tables (sql/migrations/0002), ready for COPY; visits and claims are in the API's shapes.

Staff work in rounds: a care worker serves four customers an hour apart, a nurse, a therapist or an
alarm responder eight, so overlaps between customers come only from the occasional long visit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.domain.identity import luhn_valid

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ZONES = ("tatort", "landsbygd", "skargard")
SERVICE = ("stadning", "tvatt", "inkop", "matdistribution")
OMSORG = ("morgonhjalp", "kvallshjalp", "dusch", "maltid", "tillsyn")
LISTED = ("ogondroppar", "lakemedel", "kompressionsstrumpor")
OTHER_DELEGATED = ("omlaggning", "insulin", "traningsprogram")
CARE_STAFF = ("vardbitrade", "underskoterska")


@dataclass
class Month:
    period: str
    providers: list[tuple] = field(default_factory=list)  # (id, orgnr, name)
    customers: list[tuple] = field(default_factory=list)  # (pnr, ref)
    zones: list[tuple] = field(default_factory=list)  # (pnr, valid_from, zone)
    choices: list[tuple] = field(default_factory=list)  # (pnr, valid_from, valid_to, provider)
    decisions: list[tuple] = field(default_factory=list)  # (id, pnr, decided_on)
    decision_lines: list[tuple] = field(default_factory=list)
    # (id, decision_id, code, category, minutes, occasions, per, valid_from, valid_to)
    executions: list[tuple] = field(default_factory=list)  # (provider, ext, decision, from, to)
    pauses: list[tuple] = field(default_factory=list)  # (provider, ext, pnr, reason, from, to)
    enrolments: list[tuple] = field(default_factory=list)  # (provider, ext, pnr, area, from, to, remiss)
    delegations: list[tuple] = field(default_factory=list)  # (provider, ext, pnr, code, from, to)
    visits: list[dict] = field(default_factory=list)  # in the API's visit shape, plus "provider"
    claims: list[dict] = field(default_factory=list)  # in the API's claim shape, plus "provider"


def scenario(m: Month, tenant: str = "kson", tariffs: tuple[str, ...] = ("kson-2024",)) -> dict:
    """The month in the scenario format (`examples/2024-03-input.json`), for `kundval scenario run`."""
    zones: dict[str, list[dict]] = {}
    for pnr, start, zone in m.zones:
        zones.setdefault(pnr, []).append({"from": start, "zone": zone})
    choices: dict[str, list[dict]] = {}
    for pnr, start, end, provider in m.choices:
        choices.setdefault(pnr, []).append({"from": start, "to": end, "provider": provider})
    lines: dict[str, list[dict]] = {}
    for line_id, decision, code, category, minutes, occasions, per, start, end in m.decision_lines:
        lines.setdefault(decision, []).append(
            {
                "id": line_id,
                "code": code,
                "category": category,
                "minutes": str(minutes),
                "occasions": str(occasions),
                "per": per,
                "from": start,
                "to": end,
            }
        )
    executions: dict[str, list[dict]] = {}
    for provider, _ext, decision, start, end in m.executions:
        executions.setdefault(decision, []).append({"provider": provider, "from": start, "to": end})
    return {
        "tenant": tenant,
        "period": m.period,
        "tariffs": list(tariffs),
        "providers": [{"id": p, "orgnr": orgnr, "name": name} for p, orgnr, name in m.providers],
        "customers": [
            {"pnr": pnr, "zones": zones[pnr], "choices": choices.get(pnr, [])} for pnr, _ref in m.customers
        ],
        "decisions": [
            {
                "id": d,
                "customer": pnr,
                "decided": decided,
                "lines": lines[d],
                "executions": executions.get(d, []),
            }
            for d, pnr, decided in m.decisions
            if d in lines
        ],
        "pauses": [
            {"id": ext, "customer": pnr, "provider": p, "reason": reason, "from": start, "to": end}
            for p, ext, pnr, reason, start, end in m.pauses
        ],
        "enrolments": [
            {
                "id": ext,
                "customer": pnr,
                "provider": p,
                "area": area,
                "from": start,
                "to": end,
                "remiss": remiss,
            }
            for p, ext, pnr, area, start, end, remiss in m.enrolments
        ],
        "delegations": [
            {"id": ext, "customer": pnr, "provider": p, "code": code, "from": start, "to": end}
            for p, ext, pnr, code, start, end in m.delegations
        ],
        "visits": m.visits,
        "claims": m.claims,
    }


def _pnr(rng: random.Random, serial: int) -> str:
    born = date(1925, 1, 1) + timedelta(days=rng.randrange(365 * 30))
    head = f"{born:%Y%m%d}{serial % 1000:03d}"
    for check in range(10):
        if luhn_valid(head[2:] + str(check)):
            return head + str(check)
    raise AssertionError("a Luhn digit always exists")


def _orgnr(serial: int) -> str:
    head = f"55{serial:07d}"
    return next(head + str(c) for c in range(10) if luhn_valid(head + str(c)))


def _at(day: date, minute_of_day: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=STOCKHOLM) + timedelta(minutes=minute_of_day)


def generate(
    customers: int = 1500,
    providers: int = 5,
    period: str = "2024-03",
    seed: int = 1,
    bistand_per_day: float = 2.0,
) -> Month:
    rng = random.Random(seed)
    year, month_no = map(int, period.split("-"))
    first = date(year, month_no, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    m = Month(period=period)
    provider_ids = [f"p{i:03d}" for i in range(providers)]
    m.providers = [(p, _orgnr(i + 1), f"Utförare {i}") for i, p in enumerate(provider_ids)]
    pnrs: set[str] = set()
    staff_serial = 0
    for c in range(customers):
        pnr = _pnr(rng, c)
        while pnr in pnrs:
            pnr = _pnr(rng, c + rng.randrange(10_000))
        pnrs.add(pnr)
        m.customers.append((pnr, f"C{c:09d}"))
        zone = rng.choices(ZONES, weights=(70, 25, 5))[0]
        m.zones.append((pnr, date(2020, 1, 1), zone))
        if rng.random() < 0.02:
            m.zones.append((pnr, first + timedelta(days=rng.randrange(1, len(days))), rng.choice(ZONES)))
        provider = rng.choice(provider_ids)
        m.choices.append((pnr, date(2023, 1, 1), None, provider))
        serving = {provider: (first, last)}
        switch_day = None
        if rng.random() < 0.03:  # switches provider mid-month; the new one starts 0-3 days later
            switch_day = first + timedelta(days=rng.randrange(5, len(days) - 5))
            new = rng.choice([p for p in provider_ids if p != provider] or provider_ids)
            m.choices.append((pnr, switch_day, None, new))
            serving = {provider: (first, switch_day - timedelta(days=1)), new: (switch_day, last)}
        decision = f"D{c}"
        m.decisions.append((decision, pnr, date(2023, 1, 1)))
        lines = [(rng.choice(OMSORG), "omsorg", rng.choice((15, 20, 25, 30)), 1 + rng.randrange(2), "day")]
        lines.append((rng.choice(SERVICE), "service", rng.choice((60, 90, 120)), 1, "week"))
        if rng.random() < 0.3:
            lines.append((rng.choice(OMSORG), "omsorg", 60, 2, "month"))
        # Visits last what the decision grants a day, times how much of it this customer gets
        # (performed share around the 85 % target) and some noise per visit.
        daily = sum(
            minutes * occasions / {"day": 1, "week": 7, "month": 365 / 12}[per]
            for *_, minutes, occasions, per in lines
        )
        share = rng.uniform(0.82, 1.05)
        for n, (code, category, minutes, occasions, per) in enumerate(lines, 1):
            m.decision_lines.append(
                (f"{decision}-{n}", decision, code, category, minutes, occasions, per, date(2023, 1, 1), None)
            )
        for p, (start, _end) in serving.items():
            began = date(2023, 1, 1) if start == first else start + timedelta(days=rng.randrange(4))
            m.executions.append((p, f"{decision}-X", decision, began, None))
        paused: set[date] = set()
        if rng.random() < 0.05:
            p_from = first + timedelta(days=rng.randrange(len(days)))
            open_ended = rng.random() < 0.3
            p_to = None if open_ended else min(last, p_from + timedelta(days=rng.randrange(1, 10)))
            # Registered by the provider chosen on the pause's first day (domain.md 2).
            pauser = next((p for p, (start, end) in serving.items() if start <= p_from <= end), provider)
            m.pauses.append((pauser, f"PA{c}", pnr, rng.choice(("sjukhus", "korttidsboende")), p_from, p_to))
            paused = {d for d in days if d >= p_from and (p_to is None or d <= p_to)}
        if rng.random() < 0.3:
            remiss = f"REM-{c}" if rng.random() < 0.9 else None
            m.enrolments.append((provider, f"E{c}", pnr, "hemsjukvard", date(2023, 6, 1), None, remiss))
        if rng.random() < 0.1:
            m.enrolments.append((provider, f"ER{c}", pnr, "hemrehab", first, None, None))
        if rng.random() < 0.2:
            m.delegations.append((provider, f"G{c}", pnr, rng.choice(LISTED), date(2023, 6, 1), None))
        enrolled = {e[3] for e in m.enrolments if e[2] == pnr}
        for p, (start, end) in serving.items():
            staff_serial += 1
            staff, slot = f"S{staff_serial // 4}", staff_serial % 4
            team, round_slot = f"{p}-{staff_serial // 8}", staff_serial % 8
            for day in days:
                if not start <= day <= end or day in paused:
                    continue
                count = int(bistand_per_day) + (rng.random() < bistand_per_day % 1)
                first_start = None
                for k in range(count):
                    # Rounds 4.5 hours apart from 07:00: a staff member's visits never meet.
                    begin = 7 * 60 + k * 270 + slot * 60 + rng.randrange(10)
                    first_start = begin if first_start is None else first_start
                    status = rng.choices(("performed", "declined", "cancelled"), weights=(97, 2, 1))[0]
                    m.visits.append(
                        _visit(
                            m,
                            p,
                            pnr,
                            staff,
                            "bistand",
                            day,
                            begin,
                            min(45, max(5, round(daily * share * rng.uniform(0.8, 1.2) / count))),
                            [lines[0][0]],
                            status,
                            rng,
                        )
                    )
                    if rng.random() < 0.0005:  # the same visit sent again under another id
                        m.visits.append({**m.visits[-1], "id": f"V{len(m.visits)}"})
                if rng.random() < 0.25:
                    # The second report of a bistånd visit: same staff, customer and start.
                    code = rng.choice(LISTED + OTHER_DELEGATED)
                    at = first_start if first_start is not None else 7 * 60 + slot * 60
                    m.visits.append(
                        _visit(m, p, pnr, staff, "hsl_delegated", day, at, 10, [code], "performed", rng)
                    )
                if rng.random() < 0.03:
                    m.visits.append(
                        _visit(
                            m,
                            p,
                            pnr,
                            f"L{team}",
                            "larm",
                            day,
                            round_slot * 60 + rng.randrange(20),
                            30,
                            ["larmutryckning"],
                            "performed",
                            rng,
                        )
                    )
                if "hemsjukvard" in enrolled and rng.random() < 0.1:
                    m.visits.append(
                        _visit(
                            m,
                            p,
                            pnr,
                            f"N{team}",
                            "hsl",
                            day,
                            8 * 60 + round_slot * 60,
                            30,
                            ["sjukskoterskebesok"],
                            "performed",
                            rng,
                            category="sjukskoterska",
                        )
                    )
                if "hemrehab" in enrolled and rng.random() < 0.05:
                    m.visits.append(
                        _visit(
                            m,
                            p,
                            pnr,
                            f"R{team}",
                            "rehab",
                            day,
                            8 * 60 + round_slot * 60,
                            45,
                            ["rehabbesok"],
                            "performed",
                            rng,
                            category="fysioterapeut",
                        )
                    )
        if rng.random() < 0.05:
            m.claims.append(
                {
                    "provider": provider,
                    "id": f"K{c}",
                    "type": "sip",
                    "date": str(first + timedelta(days=6)),
                    "customer": pnr,
                    "role": rng.choice(("kallat", "lett", "deltagit")),
                }
            )
        if "hemsjukvard" in enrolled and rng.random() < 0.1:
            m.claims.append(
                {
                    "provider": provider,
                    "id": f"KL{c}",
                    "type": "lakemedelsgenomgang",
                    "date": str(first + timedelta(days=10)),
                    "customer": pnr,
                }
            )
        if rng.random() < 0.002:
            m.claims.append(
                {
                    "provider": provider,
                    "id": f"KX{c}",
                    "type": "extraordinar_insats",
                    "date": str(first + timedelta(days=rng.randrange(len(days)))),
                    "customer": pnr,
                    "requested_amount": "2500.00",
                    "motivation": "dubbelbemanning under en vecka",
                }
            )
    # Visits for people the registry does not know (yet): UNKNOWN_CUSTOMER.
    for n in range(max(1, customers // 1000)):
        stranger = _pnr(rng, customers + n)
        while stranger in pnrs:
            stranger = _pnr(rng, customers + n + rng.randrange(10_000))
        day = rng.choice(days)
        m.visits.append(
            _visit(
                m,
                rng.choice(provider_ids),
                stranger,
                f"U{n}",
                "bistand",
                day,
                18 * 60,
                30,
                ["tillsyn"],
                "performed",
                rng,
            )
        )
    for p in provider_ids:
        for week in range(5):
            m.claims.append(
                {
                    "provider": p,
                    "id": f"T{p}-{week}",
                    "type": "teamkonferens",
                    "date": str(first + timedelta(days=7 * week)),
                    "customer": None,
                }
            )
    return m


def _visit(
    m: Month,
    provider: str,
    pnr: str,
    staff: str,
    report_type: str,
    day: date,
    minute: int,
    minutes: int,
    codes: list[str],
    status: str,
    rng: random.Random,
    category: str | None = None,
) -> dict:
    if rng.random() < 0.0005:
        minutes = 9 * 60  # a long visit
    start = _at(day, minute)
    return {
        "provider": provider,
        "id": f"V{len(m.visits)}",
        "customer": pnr,
        "staff": staff,
        "staff_category": category or rng.choice(CARE_STAFF),
        "report_type": report_type,
        "start": start.isoformat(),
        "end": (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(STOCKHOLM).isoformat(),
        "codes": codes,
        "method": "manual" if rng.random() < 0.01 else "tag",
        "status": status,
    }
