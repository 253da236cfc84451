"""Personal accounts and the workplace's sessions (workplace.md; issue 13, 1): the `kundval user`
commands, logging in and out (audited), CSRF on every unsafe request, idle logout, the login limit,
and the wall between sessions and keys."""

from __future__ import annotations

import asyncio
import io
import re

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.cli import main
from service.domain.principal import Principal
from service.settings import Settings
from service.usecases import accounts
from tests.conftest import auth

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
LOGIN_CSRF = re.compile(r'action="/login">\s*<input type="hidden" name="_csrf" value="([^"]+)"')


@pytest.fixture
def client(client):
    """Redirects are what is tested here: the client does not follow them."""
    client.follow_redirects = False
    return client


async def make_user(conn, username="anna", role="invoice_admin", name="Anna Andersson", password=PASSWORD):
    async with conn.transaction():
        return await accounts.create(
            conn, Principal.cli("kson", "test"), username=username, role=role, name=name, password=password
        )


async def log_in(client: AsyncTestClient, username="anna", password=PASSWORD, next_path="/"):
    form = await client.get("/login")
    token = LOGIN_CSRF.search(form.text).group(1)
    return await client.post(
        "/login", data={"username": username, "password": password, "_csrf": token, "next": next_path}
    )


async def actions(conn) -> list[tuple[str, str, str]]:
    rows = await conn.fetch("SELECT action, actor, role FROM audit_log ORDER BY seq")
    return [(r["action"], r["actor"], r["role"]) for r in rows]


@pytest.fixture
def cli(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("KUNDVAL_HOST", "KUNDVAL_PORT"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv, stdin=""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


async def test_user_commands_store_only_an_argon2id_hash_and_are_audited(cli, conn):
    create = (
        "user",
        "create",
        "anna",
        "--role",
        "invoice_admin",
        "--name",
        "Anna Andersson",
        "--password-stdin",
    )
    code, out, err = await asyncio.to_thread(cli, *create, stdin=PASSWORD + "\n")
    assert code == 0, err
    assert "created user anna" in out
    stored = await conn.fetchrow("SELECT * FROM users WHERE username = 'anna'")
    assert stored["password_hash"].startswith("$argon2id$") and PASSWORD not in stored["password_hash"]
    assert (stored["name"], stored["role"]) == ("Anna Andersson", "invoice_admin")

    code, _, err = await asyncio.to_thread(cli, *create, stdin=PASSWORD + "\n")
    assert code == 1 and "taken" in err
    code, _, err = await asyncio.to_thread(
        cli, "user", "create", "B!", "--role", "reader", "--name", " ", "--password-stdin", stdin="short\n"
    )
    assert code == 1 and "USERNAME" in err and "--name" in err and "--password" in err
    assert await conn.fetchval("SELECT count(*) FROM users") == 1

    code, out, _ = await asyncio.to_thread(cli, "user", "list")
    assert code == 0 and "anna" in out and "Anna Andersson" in out and "$argon2" not in out

    old_hash = stored["password_hash"]
    code, _, _ = await asyncio.to_thread(
        cli, "user", "password", "anna", "--password-stdin", stdin="another long passphrase\n"
    )
    assert code == 0
    assert await conn.fetchval("SELECT password_hash FROM users WHERE username = 'anna'") != old_hash
    code, _, _ = await asyncio.to_thread(cli, "user", "disable", "anna")
    assert code == 0
    assert await conn.fetchval("SELECT disabled_at IS NOT NULL FROM users WHERE username = 'anna'")
    code, _, err = await asyncio.to_thread(cli, "user", "disable", "nobody")
    assert code == 1 and "no user nobody" in err
    assert [a for a, _, _ in await actions(conn)] == ["user.create", "user.password", "user.disable"]


async def test_log_in_and_out_audited_and_the_session_kept_in_postgresql(client, conn):
    await make_user(conn)
    refused = await log_in(client, password="wrong password!!")
    assert refused.status_code == 401
    assert "kundval_session" not in refused.cookies
    unknown = await log_in(client, username="nobody")
    assert unknown.status_code == 401

    ok = await log_in(client, next_path="/?lang=en")
    assert ok.status_code == 303 and ok.headers["location"] == "/?lang=en"
    token = ok.cookies["kundval_session"]
    cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("kundval_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age" not in cookie
    stored = await conn.fetchrow("SELECT * FROM web_sessions")
    assert stored["username"] == "anna" and stored["ended_at"] is None
    assert token.encode() not in bytes(stored["token_hash"])  # only a hash of the token

    home = await client.get("/")
    assert home.status_code == 200 and "Anna Andersson" in home.text
    csrf = CSRF.search(home.text).group(1)
    assert csrf == stored["csrf"]

    # Logging out is a form like any other: without the token it is refused.
    assert (await client.post("/logout")).status_code == 403
    assert (await client.post("/logout", data={"_csrf": "forged"})).status_code == 403
    out = await client.post("/logout", data={"_csrf": csrf})
    assert out.status_code == 303 and out.headers["location"].startswith("/login")
    assert await conn.fetchval("SELECT ended_why FROM web_sessions") == "logout"
    client.cookies.set("kundval_session", token)
    after = await client.get("/")
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=")

    assert await actions(conn) == [
        ("user.create", "cli:test", "operator"),
        ("session.login_failed", "anna", "invoice_admin"),
        ("session.login_failed", "web:unknown-user", "operator"),
        ("session.login", "anna", "invoice_admin"),
        ("session.logout", "anna", "invoice_admin"),
    ]


async def test_login_form_needs_its_token(client, conn):
    await make_user(conn)
    await client.get("/login")
    forged = await client.post("/login", data={"username": "anna", "password": PASSWORD, "_csrf": "x"})
    assert forged.status_code == 403
    bare = await client.post("/login", data={"username": "anna", "password": PASSWORD})
    assert bare.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM web_sessions") == 0


async def test_next_goes_only_to_this_service(client, conn):
    await make_user(conn)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = await log_in(client, next_path=target)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/"


async def test_a_session_opens_no_api_route_and_a_key_no_page(client, conn, keys):
    await make_user(conn)
    await log_in(client)
    assert (await client.get("/")).status_code == 200
    api = await client.get("/v1/me")
    assert api.status_code == 401  # the session cookie is sent, and ignored
    client.cookies.clear()
    assert (await client.get("/v1/me", headers=auth(keys["invoice_admin"]))).status_code == 200
    page = await client.get("/", headers=auth(keys["invoice_admin"]))
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_a_disabled_user_or_a_new_password_ends_the_sessions(client, conn):
    await make_user(conn)
    await log_in(client)
    assert (await client.get("/")).status_code == 200
    async with conn.transaction():
        await accounts.set_password(conn, Principal.cli("kson", "test"), "anna", "a brand new passphrase")
    assert (await client.get("/")).status_code == 303
    await log_in(client, password="a brand new passphrase")
    assert (await client.get("/")).status_code == 200
    async with conn.transaction():
        await accounts.disable(conn, Principal.cli("kson", "test"), "anna")
    assert (await client.get("/")).status_code == 303
    refused = await log_in(client, password="a brand new passphrase")
    assert refused.status_code == 401


async def _app_client(settings: Settings, **changes):
    client = AsyncTestClient(app=create_app(msgspec.structs.replace(settings, **changes)))
    client.follow_redirects = False
    return client


async def test_idle_sessions_end(settings, conn):
    await make_user(conn)
    async with await _app_client(settings, session_idle=1) as client:
        await log_in(client)
        assert (await client.get("/")).status_code == 200
        await asyncio.sleep(0.5)
        assert (await client.get("/")).status_code == 200  # each request restarts the clock
        await asyncio.sleep(1.6)
        gone = await client.get("/?lang=en")
        assert gone.status_code == 303
        assert gone.headers["location"] == "/login?next=%2F%3Flang%3Den&expired=1"
        login = await client.get(gone.headers["location"])
        assert "efter 1 minut utan aktivitet" in login.text
        htmx = await client.get("/", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/login")
    assert await conn.fetchval("SELECT ended_why FROM web_sessions") == "idle"
    entry = await conn.fetchrow("SELECT actor, after FROM audit_log WHERE action = 'session.logout'")
    assert entry["actor"] == "anna" and entry["after"]["why"] == "idle"


async def test_failed_logins_are_limited_per_account_before_the_password_is_checked(settings, conn):
    await make_user(conn)
    async with await _app_client(settings, rate_logins_per_user=3) as client:
        for _ in range(3):
            assert (await log_in(client, password="not the password")).status_code == 401
        limited = await log_in(client)  # the right password, over the limit
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "kundval_session" not in limited.cookies
        assert (await log_in(client, username="bertil")).status_code == 401  # another account is not held
    assert await conn.fetchval("SELECT count(*) FROM web_sessions") == 0


async def test_failed_logins_count_as_failed_authentications_of_the_address(settings, conn):
    await make_user(conn)
    async with await _app_client(settings, rate_failed_auth=2) as client:
        assert (await log_in(client, username="x1", password="nope nope nope")).status_code == 401
        assert (await log_in(client, username="x2", password="nope nope nope")).status_code == 401
        assert (await log_in(client, username="x3", password="nope nope nope")).status_code == 429
        assert (await client.get("/v1/me", headers={"Authorization": "Bearer kv_bad"})).status_code == 429


async def test_a_key_for_a_user_is_named_after_them_and_has_their_role(cli, conn):
    await make_user(conn)
    code, _, err = await asyncio.to_thread(
        cli, "apikey", "create", "--role", "invoice_admin", "--user", "anna"
    )
    assert code == 0, err
    assert await conn.fetchval("SELECT name FROM api_keys") == "anna"
    code, _, err = await asyncio.to_thread(cli, "apikey", "create", "--role", "reader", "--user", "anna")
    assert code == 1 and "--role" in err
    code, _, err = await asyncio.to_thread(
        cli, "apikey", "create", "--role", "invoice_admin", "--user", "nobody"
    )
    assert code == 1 and "--user" in err
    # No other key may take a user's name: in the audit log and for four eyes, "anna" is one person.
    code, _, err = await asyncio.to_thread(
        cli, "apikey", "create", "--role", "invoice_admin", "--name", "anna"
    )
    assert code == 1 and "--name" in err and "--user anna" in err
    assert await conn.fetchval("SELECT count(*) FROM api_keys") == 1


async def test_no_key_opens_any_page(client, keys, app):
    """Every page route, with every role's key and no session: sent to the login page, never served."""
    pages = [r for r in app.routes if all(h.opt.get("exclude_from_auth") for h in r.route_handlers)]
    assert len(pages) > 10
    for route in pages:
        path = re.sub(r"\{[^}]+:uuid\}", "00000000-0000-0000-0000-000000000000", route.path)
        path = re.sub(r"\{[^}]+\}", "x", path)
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
            for key in keys.values():
                response = await client.request(method, path, headers=auth(key))
                if route.path == "/login":
                    assert response.status_code in (200, 403), (method, path)  # the form, or no form token
                else:
                    assert response.status_code == 303, (method, path, response.status_code)
                    assert response.headers["location"].startswith("/login")
