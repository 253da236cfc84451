"""Builders shared by the ingestion tests: valid records, and the registry state they need."""

from tests.conftest import auth

# Valid personnummer (from the worked month); UNKNOWN is well-formed but never registered.
PNR_A = "193805149493"
PNR_B = "194211029188"
PNR_C = "193001239825"
UNKNOWN = "194502179387"
LUHN_BAD = "193805149494"

# A decision for PNR_A with two lines.
DECISION = {
    "id": "D1",
    "customer": PNR_A,
    "lines": [
        {
            "id": "D1-1",
            "code": "morgonhjalp",
            "category": "omsorg",
            "minutes": 30,
            "occasions": "1",
            "per": "day",
            "from": "2024-01-01",
            "to": None,
        },
        {
            "id": "D1-2",
            "code": "stadning",
            "category": "service",
            "minutes": 90,
            "occasions": "0.5",
            "per": "week",
            "from": "2024-01-01",
        },
    ],
}


def visit(n: int | str, **changes):
    """A valid visit; `n` makes the id (V<n>) and a distinct start minute."""
    minute = int(n) % 60 if str(n).isdigit() else 0
    body = {
        "id": f"V{n}",
        "customer": PNR_A,
        "staff": "S1",
        "staff_category": "underskoterska",
        "report_type": "bistand",
        "start": f"2024-03-01T07:{minute:02d}:00+01:00",
        "end": f"2024-03-01T08:{minute:02d}:00+01:00",
        "codes": ["morgonhjalp"],
        "method": "tag",
        "status": "performed",
    }
    body.update(changes)
    return body


def customer(pnr: str = PNR_A, provider: str | None = "prov-a", **changes):
    body = {"pnr": pnr, "zones": [{"from": "2020-01-01", "zone": "tatort"}], "choices": []}
    if provider:
        body["choices"] = [{"from": "2024-01-01", "provider": provider}]
    body.update(changes)
    return body


async def register(client, keys, body):
    """Register a customer; returns its single view (with `ref`)."""
    response = await client.post("/v1/customers", json=body, headers=auth(keys["registry"]))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def post_visits(client, key, visits):
    return await client.post("/v1/visits", json=visits, headers=auth(key))


def errors_of(response):
    return {(e.get("row"), e["field"]) for e in response.json()["errors"]}
