"""Identity numbers never reach the log output."""

import json

import structlog

from tests.conftest import auth

PNR = "193805149493"  # a valid personnummer from the worked month
FORMS = [PNR, "19380514-9493", "380514-9493", "3805149493"]


async def test_personnummer_in_a_request_never_reaches_the_log(client, keys, capsys):
    for form in FORMS:
        await client.get(f"/v1/customers/{form}", headers={**auth(keys["auditor"]), "X-Request-ID": form})
        await client.get(f"/v1/audit?actor={form}", headers=auth(keys["auditor"]))
    out = capsys.readouterr().err
    assert out.count('"event":"request"') >= 2 * len(FORMS)  # the requests were logged
    for form in FORMS:
        assert form not in out
    assert "[pnr]" in out


def test_masking_covers_nested_fields_and_exceptions(app, capsys):
    log = structlog.get_logger("test")
    log.info("customer_seen", customer={"pnr": PNR, "others": ["19450217-9387"]}, note=f"pnr {PNR}!")
    try:
        raise ValueError(f"bad customer {PNR}")
    except ValueError:
        log.exception("failed")
    import logging

    logging.getLogger("stdlib").warning("plain logging with %s", PNR)
    out = capsys.readouterr().err
    assert PNR not in out and "9387" not in out
    events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert {e["event"] for e in events} >= {"customer_seen", "failed", "plain logging with [pnr]"}
