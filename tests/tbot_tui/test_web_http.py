"""``tbot serve`` at the HTTP level: a real server subprocess on 127.0.0.1, real aiohttp HTTP and websocket clients.

Every refusal the issue lists has a test here; each also checks its audit row
(category ``web``) and that no typed value reaches the audit log.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from yarl import URL

from .web_harness import PASSWORD, USER, Served, all_audit_text, run_tbot, served_home, web_rows

WRONG = "not-the-password-42"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One read-only server for the tests that do not lock out 127.0.0.1 or change the login."""
    paths = served_home(tmp_path_factory.mktemp("web_http"))
    with Served(paths) as served:
        yield served


def session(served: Served) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=served.base, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def login(
    client: aiohttp.ClientSession, served: Served, password: str = PASSWORD, user: str = USER
) -> aiohttp.ClientResponse:
    async with client.post(
        "/login", data={"user": user, "password": password}, headers={"Origin": served.origin}, allow_redirects=False
    ) as response:
        await response.read()
        return response


# -- refusals before listening ------------------------------------------------------------------------
def test_non_loopback_bind_without_tls_is_refused_in_one_line_recommending_an_ssh_tunnel(tmp_path):
    paths = served_home(tmp_path)
    result = run_tbot("serve", "--home", str(paths.root), "--host", "0.0.0.0", "--port", "8799")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a loopback address" in lines[0] and "ssh -L 8799:127.0.0.1:8799" in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_without_a_web_console_login_refuses_to_start_in_one_line_naming_the_secrets_command(tmp_path):
    from tbot_core.home_init import init_home

    paths, _ = init_home(tmp_path / "home")
    result = run_tbot("serve", "--home", str(paths.root), "--port", "8798")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "web_console" in lines[0] and "tbot secrets set web_console --stdin" in lines[0]


def test_tls_key_without_a_certificate_is_refused_in_one_line(tmp_path):
    paths = served_home(tmp_path)
    result = run_tbot("serve", "--home", str(paths.root), "--host", "0.0.0.0", "--tls-key", str(tmp_path / "k.pem"))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "--tls-cert" in result.stderr


# -- pages and routes without a session --------------------------------------------------------------------
async def test_without_a_session_the_console_page_redirects_to_login_and_every_other_route_is_refused(server):
    async with session(server) as client:
        async with client.get("/", allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"] == "/login"
        for path in ("/static/js/textual.js", "/static/", "/download/anything", "/logout"):
            async with client.get(path, allow_redirects=False) as response:
                assert response.status == 401, path
        async with client.get("/login") as response:
            page = await response.text()
            assert response.status == 200 and 'name="password"' in page and "read-only" in page
            assert response.headers["X-Frame-Options"] == "DENY"
    refused = [ctx["path"] for event, ctx, _raw in web_rows(server.paths, "request_refused") if ctx["status"] == 401]
    assert {"/static/js/textual.js", "/download/anything", "/logout"} <= set(refused)


async def test_a_wrong_password_is_refused_with_401_and_audited_without_the_typed_value(server):
    async with session(server) as client:
        response = await login(client, server, WRONG)
        assert response.status == 401 and "tbot_session" not in response.cookies
        async with client.get("/", allow_redirects=False) as page:
            assert page.status == 302
    failed = web_rows(server.paths, "login_failed")
    assert failed and failed[-1][1]["user_known"] is True and failed[-1][1]["client"] == "127.0.0.1"
    assert WRONG not in all_audit_text(server.paths) and PASSWORD not in all_audit_text(server.paths)


async def test_login_sets_an_httponly_samesite_strict_cookie_that_expires_and_is_audited_without_the_password(server):
    async with session(server) as client:
        response = await login(client, server)
        assert response.status == 303 and response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert "tbot_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Max-Age=28800" in cookie and "expires=" in cookie.lower()
        async with client.get("/") as page:
            assert page.status == 200 and "/ws" in await page.text()
    row = web_rows(server.paths, "login")[-1][1]
    assert row["user"] == USER and row["mode"] == "read-only" and row["expires_utc"].endswith("Z")
    assert PASSWORD not in all_audit_text(server.paths)


async def test_a_login_post_from_another_origin_or_without_origin_is_refused_and_audited(server):
    async with session(server) as client:
        for headers in ({"Origin": "http://evil.example"}, {}):
            async with client.post(
                "/login", data={"user": USER, "password": PASSWORD}, headers=headers, allow_redirects=False
            ) as response:
                assert response.status == 403 and "tbot_session" not in response.cookies
    rows = [ctx for _e, ctx, _raw in web_rows(server.paths, "request_refused") if ctx["path"] == "/login"]
    assert len(rows) >= 2 and all("Origin" in ctx["why"] for ctx in rows)


async def test_a_host_header_that_is_not_loopback_is_refused_against_dns_rebinding(server):
    async with session(server) as client:
        async with client.get("/login", headers={"Host": f"rebound.example:{server.port}"}) as response:
            assert response.status == 421
    assert any(ctx["status"] == 421 for _e, ctx, _raw in web_rows(server.paths, "request_refused"))


# -- the websocket ----------------------------------------------------------------------------------------
async def test_the_websocket_refuses_a_connection_without_a_valid_session(server):
    async with session(server) as client:
        for cookie in ({}, {"Cookie": "tbot_session=forged-token-value"}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws", headers={"Origin": server.origin, **cookie})
            assert refused.value.status == 403
    whys = [ctx["why"] for _e, ctx, _raw in web_rows(server.paths, "websocket_refused")]
    assert "no valid session (none)" in whys and "no valid session (unknown)" in whys


async def test_the_websocket_refuses_a_valid_session_from_another_origin_or_without_origin(server):
    async with session(server) as client:
        assert (await login(client, server)).status == 303
        for headers in ({"Origin": "http://evil.example"}, {}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws", headers=headers)
            assert refused.value.status == 403
    assert sum("Origin" in ctx["why"] for _e, ctx, _raw in web_rows(server.paths, "websocket_refused")) >= 2


async def read_console(ws: aiohttp.ClientWebSocketResponse, marker: bytes) -> bytes:
    """Everything the console process sends, until ``marker`` has appeared in it."""
    seen = b""
    while marker not in seen:
        message = await ws.receive(timeout=30)
        assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
        seen += message.data if isinstance(message.data, bytes) else message.data.encode()
    return seen


async def test_with_a_session_and_its_origin_the_websocket_streams_the_read_only_console_without_control_keys(server):
    async with session(server) as client:
        assert (await login(client, server)).status == 303
        async with client.ws_connect("/ws?width=160&height=48", headers={"Origin": server.origin}) as ws:
            seen = await read_console(ws, b"Emergency matrix")
            seen += await read_console(ws, b"Audit log")
    assert b"Filter verdicts" in seen and b"Risk state" in seen and b"read-only view" in seen
    assert b"Stop" not in seen and b"Kill" not in seen and b"Reset" not in seen
    opened = web_rows(server.paths, "console_opened")[-1][1]
    assert opened["user"] == USER and opened["mode"] == "read-only"


async def test_logout_ends_the_session_so_its_cookie_opens_nothing_and_is_audited(server):
    async with session(server) as client:
        assert (await login(client, server)).status == 303
        token = client.cookie_jar.filter_cookies(URL(server.base))["tbot_session"].value
        async with client.post("/logout", headers={"Origin": server.origin}, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/login"
    async with session(server) as replay:
        async with replay.get("/", cookies={"tbot_session": token}, allow_redirects=False) as response:
            assert response.status == 302
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await replay.ws_connect("/ws", headers={"Origin": server.origin, "Cookie": f"tbot_session={token}"})
    assert web_rows(server.paths, "logout")[-1][1]["user"] == USER


# -- servers of their own: lock-out, expiry, a changed login ----------------------------------------------------
async def test_after_five_failed_logins_even_the_right_password_is_refused_with_429_and_audited(tmp_path):
    paths = served_home(tmp_path)
    with Served(paths) as served:
        async with session(served) as client:
            for _ in range(5):
                assert (await login(client, served, WRONG)).status == 401
            response = await login(client, served, PASSWORD)
            assert response.status == 429 and int(response.headers["Retry-After"]) > 0
            assert "tbot_session" not in response.cookies
    assert len(web_rows(paths, "login_failed")) == 5
    limited = web_rows(paths, "login_rate_limited")
    assert len(limited) == 1 and limited[0][1]["retry_after_s"] > 0
    assert PASSWORD not in all_audit_text(paths) and WRONG not in all_audit_text(paths)


async def test_a_session_past_its_expiry_is_refused_and_audited(tmp_path):
    paths = served_home(tmp_path)
    with Served(paths, "--session-minutes", "0.02") as served:  # 1.2 s
        async with session(served) as client:
            response = await login(client, served)
            assert response.status == 303 and "Max-Age=1" in response.headers["Set-Cookie"]
            token = client.cookie_jar.filter_cookies(URL(served.base))["tbot_session"].value

        async def refused() -> bool:
            async with session(served) as fresh:
                async with fresh.get("/", cookies={"tbot_session": token}, allow_redirects=False) as page:
                    return page.status == 302

        for _ in range(200):
            if await refused():
                break
            await asyncio.sleep(0.05)
        assert await refused()
    assert web_rows(paths, "session_expired")


async def test_a_new_web_console_password_ends_open_sessions_and_only_the_new_one_logs_in(tmp_path):
    paths = served_home(tmp_path)
    new_password = "a-brand-new-password-99"
    with Served(paths) as served:
        async with session(served) as client:
            assert (await login(client, served)).status == 303
            assert run_tbot("secrets", "rotate", "--home", str(paths.root)).returncode == 0  # key rotation alone
            async with client.get("/", allow_redirects=False) as page:
                assert page.status == 200  # the same login: the session stays
            done = run_tbot(
                "secrets",
                "set",
                "web_console",
                "--stdin",
                "--home",
                str(paths.root),
                stdin=f'{{"user": "{USER}", "password": "{new_password}"}}',
            )
            assert done.returncode == 0, done.stderr
            async with client.get("/", allow_redirects=False) as page:
                assert page.status == 302
        async with session(served) as client:
            assert (await login(client, served, PASSWORD)).status == 401
            assert (await login(client, served, new_password)).status == 303
    revoked = web_rows(paths, "session_revoked")
    assert revoked and revoked[-1][1]["user"] == USER
    text = all_audit_text(paths)
    assert PASSWORD not in text and new_password not in text
