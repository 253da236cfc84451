"""Rate limits (domain.md 7b, issue 10 finding 8): failed authentications per address, writes per key
and per address, counted in PostgreSQL so that several service processes share them."""

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.conftest import auth

WRONG = {"Authorization": "Bearer kv_not-a-real-key"}


def _limited(settings, **limits):
    return create_app(msgspec.structs.replace(settings, **limits))


async def test_failed_authentications_over_the_limit_get_429_with_retry_after(settings, keys):
    async with AsyncTestClient(app=_limited(settings, rate_failed_auth=3)) as client:
        for _ in range(3):
            assert (await client.get("/v1/me", headers=WRONG)).status_code == 401
        refused = await client.get("/v1/me")  # no key at all is a failed authentication too
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "urn:kundval:problem:too-many-requests"
        assert 1 <= int(refused.headers["retry-after"]) <= settings.rate_window
        # A working key from the same address is not held back by others' failures.
        assert (await client.get("/v1/me", headers=auth(keys["reader"]))).status_code == 200


async def test_the_count_is_shared_by_every_process(settings, keys):
    # Two apps with pools of their own stand for two service processes behind one address.
    first, second = _limited(settings, rate_failed_auth=4), _limited(settings, rate_failed_auth=4)
    async with AsyncTestClient(app=first) as one, AsyncTestClient(app=second) as two:
        statuses = [(await c.get("/v1/me", headers=WRONG)).status_code for c in (one, two, one, two, one)]
    assert statuses == [401, 401, 401, 401, 429]


@pytest.mark.parametrize("limit", ["rate_writes_per_key", "rate_writes_per_address"])
async def test_writes_over_the_limit_get_429(settings, keys, limit):
    provider = {"id": "p9", "orgnr": "5560000001", "name": "P9"}
    async with AsyncTestClient(app=_limited(settings, **{limit: 2})) as client:
        for _ in range(2):
            response = await client.post("/v1/providers", json=provider, headers=auth(keys["registry"]))
            assert response.status_code in (200, 201)
        # Reads are not writes.
        assert (await client.get("/v1/providers", headers=auth(keys["registry"]))).status_code == 200
        refused = await client.post("/v1/providers", json=provider, headers=auth(keys["registry"]))
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        other = await client.post("/v1/tariffs", json={"source": "x"}, headers=auth(keys["invoice_admin"]))
        # Per key: another key may still write; per address: it is refused too.
        assert other.status_code == (422 if limit == "rate_writes_per_key" else 429)


async def test_a_limit_of_0_is_no_limit(settings):
    async with AsyncTestClient(app=_limited(settings, rate_failed_auth=0)) as client:
        statuses = {(await client.get("/v1/me", headers=WRONG)).status_code for _ in range(5)}
    assert statuses == {401}
