"""The web app through an ASGI client, over the real store on SQLite: public leaderboards
(private by default, filters, shared ranks, search, escaping), the dashboard link (expiry,
revocation, one guild only, rate limit, no token in logs), CSRF, confirmation and headers."""

from __future__ import annotations

import io
import logging
import re
import zipfile

import httpx
import pytest

from bot.tutor.moderator import Actor, Authority
from bot.web.app import create_app
from bot.web.security import CSP, RateLimit
from tests.web.helpers import (
    HOSTILE,
    LOCAL_ADMIN,
    MOD,
    OTHER_MOD,
    Tokens,
    csrf_of,
    form_of,
    link_token,
    populate,
    web_services,
    who,
)

LIMIT = 8  # token checks per client and minute, in these tests


@pytest.fixture
def tokens():
    return Tokens()


@pytest.fixture
async def services(bank, store, clock, tokens):
    services = await web_services(bank, store, clock, tokens)
    await populate(services, clock)
    return services


@pytest.fixture
async def client(services):
    app = create_app(services, services_settings(), RateLimit(LIMIT))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def services_settings():
    from bot.settings import WebSettings

    return WebSettings(port=8080)


async def logged_in(client, services, actor=MOD) -> str:
    """Ask for a link as ``actor`` and open it; the token."""
    token = link_token((await services.web.dashboard_link(actor)).text)
    response = await client.get(f"/dashboard/login/{token}")
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    return token


def rows(html: str) -> list[tuple[str, str, str]]:
    """(rank, name, XP) of each leaderboard row, names as the browser shows them."""
    import html as htmllib

    found = re.findall(
        r'<tr><td class="num">(\d+)</td><td>(.*?)</td><td class="num">(\d+)</td>', html
    )
    return [(rank, htmllib.unescape(name), xp) for rank, name, xp in found]


# --- public leaderboards --------------------------------------------------------------------


async def test_a_leaderboard_is_private_until_a_moderator_publishes_it(client, services):
    private = await client.get("/leaderboard/test/g1")
    unknown = await client.get("/leaderboard/test/no-such-guild")
    assert private.status_code == unknown.status_code == 404
    assert private.text == unknown.text  # no way to tell a private server from none
    assert "Ada" not in private.text

    done = await services.web.set_leaderboard(MOD, True)
    assert "is public at http://testserver/leaderboard/test/g1 (action #1)" in done.text
    page = await client.get("/leaderboard/test/g1")
    assert page.status_code == 200
    assert rows(page.text)[0] == ("1", "Ada", "70")
    assert "Gus" not in page.text  # g2's learner
    assert (await client.get("/leaderboard/test/g2")).status_code == 404

    # The switch is a moderator action: in the log, and undone like any other.
    log = await services.moderator.log(MOD)
    assert "web_leaderboard" in str(log.blocks)
    assert "Undid action #1" in (await services.moderator.undo(MOD, 1, "oops")).text
    assert (await client.get("/leaderboard/test/g1")).status_code == 404


async def test_who_may_publish_is_decided_by_the_moderator_rules(client, services):
    member = Actor("test", "g1", "m", "Max", Authority.NONE)
    refused = await services.web.set_leaderboard(member, True)
    assert refused.kind.value == "error" and "Only moderators" in refused.text
    assert (await client.get("/leaderboard/test/g1")).status_code == 404
    assert "Only moderators" in (await services.web.dashboard_link(member)).text


async def test_equal_scores_share_a_rank_and_names_are_escaped(client, services):
    await services.web.set_leaderboard(MOD, True)
    page = await client.get("/leaderboard/test/g1")
    assert rows(page.text) == [("1", "Ada", "70"), ("2", HOSTILE, "10"), ("2", "Bob", "10")]
    assert "<script>" not in page.text and "<b>bold" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_your_rank_search_finds_names_case_blind(client, services):
    await services.web.set_leaderboard(MOD, True)
    page = await client.get("/leaderboard/test/g1", params={"q": "  bOB "})
    assert re.search(r"<strong>#2</strong> Bob · 10 XP", page.text)
    none = await client.get("/leaderboard/test/g1", params={"q": "<nobody>"})
    assert "has a name containing “&lt;nobody&gt;”" in none.text


async def test_window_and_topic_filters(client, services, clock):
    await services.web.set_leaderboard(MOD, True)
    shapes = await client.get("/leaderboard/test/g1", params={"topic": "shapes"})
    assert rows(shapes.text) == [("1", "Ada", "30")]  # Bob answered a basics question only
    clock.advance(days=8)
    week = await client.get("/leaderboard/test/g1", params={"window": "week"})
    assert week.status_code == 200 and rows(week.text) == []
    assert "Nobody has answered" in week.text
    month = await client.get("/leaderboard/test/g1", params={"window": "month"})
    assert len(rows(month.text)) == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": "year"}, "Choose a window: week, month or all."),
        ({"topic": "<script>"}, "There is no such topic; showing all topics."),
        ({"page": "-1"}, "Pages are numbered from 1."),
        ({"page": "99999999999999999999"}, "Pages are numbered from 1."),
    ],
)
async def test_bad_filters_get_a_clear_message_and_the_full_board(
    client, services, params, message
):
    await services.web.set_leaderboard(MOD, True)
    page = await client.get("/leaderboard/test/g1", params=params)
    assert page.status_code == 400
    assert message in page.text
    assert rows(page.text)[0] == ("1", "Ada", "70")
    assert "<script>" not in page.text


async def test_terminal_learners_have_their_own_page(client, services):
    assert (await client.get("/local")).status_code == 404
    await services.web.set_leaderboard(LOCAL_ADMIN, True)
    page = await client.get("/local")
    assert rows(page.text) == [("1", "Tia", "10")]
    assert "this machine" in page.text
    assert (await client.get("/leaderboard/terminal/local")).status_code == 404
    assert 'href="/local"' in (await client.get("/")).text


# --- the dashboard ----------------------------------------------------------------------------


async def test_a_dashboard_link_opens_its_own_guild_only(client, services):
    await services.reports.report(who("Bob"), "easy-choice", "Two choices look right.")
    await logged_in(client, services)
    page = await client.get("/dashboard")
    assert '<th class="num">Reports</th>' in page.text
    assert re.search(r"<code>easy-choice</code>.*?<td class=\"num\">1</td></tr>", page.text)
    assert page.status_code == 200
    assert "Moderator dashboard" in page.text and "signed in as Mo" in page.text
    assert "Ada" in page.text and "Gus" not in page.text
    assert "&lt;script&gt;" in page.text and "<script>" not in page.text
    assert page.text.count("<svg") == 2  # answers and active learners per day
    assert "/dashboard/learner/ada" in page.text

    report = await client.get("/dashboard/learner/ada")
    assert report.status_code == 200 and "Learner report · Ada" in report.text
    # g2's learner, through g1's link: as if they did not exist.
    other = await client.get("/dashboard/learner/gus")
    assert other.status_code == 404
    assert "has not answered any question in this server" in other.text

    # An action of g2 cannot be undone through g1's link.
    await services.web.set_leaderboard(OTHER_MOD, True)  # action #1, in g2
    asked = await client.get("/dashboard")
    form = {"csrf": csrf_of(asked.text), "action": "undo", "action_id": "1", "reason": ""}
    done = await client.post("/dashboard/act", data=form)
    assert "There is no action #1 in this server." in done.text
    assert await services.web.leaderboard_public("test", "g2")


async def test_expired_and_revoked_links_stop_working(client, services, clock):
    await logged_in(client, services)
    clock.advance(minutes=61)
    expired = await client.get("/dashboard")
    assert expired.status_code == 403 and "expired or was revoked" in expired.text
    token = link_token((await services.web.dashboard_link(MOD)).text)
    clock.advance(minutes=61)
    assert (await client.get(f"/dashboard/login/{token}")).status_code == 403

    token = await logged_in(client, services)
    page = await client.get("/dashboard")
    signed_out = await client.post("/dashboard/revoke", data={"csrf": csrf_of(page.text)})
    assert "Revoked 1 dashboard link." in signed_out.text
    assert (await client.get("/dashboard")).status_code == 403
    # ... and the revoked token cannot come back through the login link either.
    assert (await client.get(f"/dashboard/login/{token}")).status_code == 403


async def test_revoking_every_link_of_a_guild_leaves_other_guilds_alone(client, services, tokens):
    await logged_in(client, services)
    other = link_token((await services.web.dashboard_link(OTHER_MOD)).text)
    await services.web.dashboard_link(MOD)  # another, not opened
    assert (await services.web.revoke(MOD)).text == "Revoked 2 dashboard links."
    assert (await client.get("/dashboard")).status_code == 403
    assert (await services.web.open(other)) is not None


async def test_an_action_runs_only_once_confirmed_and_is_logged(client, services):
    await logged_in(client, services)
    report = await client.get("/dashboard/learner/bob")
    form = form_of(report.text, action="exclude", reason="alt <account>")
    confirm = await client.post("/dashboard/ask", data=form)
    assert confirm.status_code == 200
    assert "Exclude Bob from this server's leaderboards?" in confirm.text
    assert "alt &lt;account&gt;" in confirm.text
    target = await services.moderator.store.find_learner("test", "g1", "bob")
    assert target is not None and not target.excluded  # asked, not done

    done = await client.post("/dashboard/act", data=form_of(confirm.text))
    assert done.status_code == 200
    assert "Excluded Bob from this server's leaderboards (action #1)" in done.text.replace(
        "&#39;", "'"
    )
    target = await services.moderator.store.find_learner("test", "g1", "bob")
    assert target is not None and target.excluded
    log = await services.moderator.store.mod_log("test", "g1", 10)
    assert [(r.action, r.moderator_name, r.reason) for r in log] == [
        ("exclude", "Mo", "alt <account>")
    ]


async def test_an_action_without_a_reason_is_refused_before_confirmation(client, services):
    await logged_in(client, services)
    report = await client.get("/dashboard/learner/bob")
    refused = await client.post("/dashboard/ask", data=form_of(report.text, action="reset"))
    assert refused.status_code == 400 and "Give a reason" in refused.text


async def test_every_form_needs_the_session_csrf_token(client, services):
    await logged_in(client, services)
    form = {"action": "exclude", "user_id": "bob", "reason": "x"}
    for csrf in (None, "", "0" * 64, "é" * 64):
        data = form if csrf is None else {**form, "csrf": csrf}
        for path in ("/dashboard/ask", "/dashboard/act", "/dashboard/revoke"):
            response = await client.post(path, data=data)
            assert response.status_code == 403, (path, csrf)
            assert "out of date" in response.text
    target = await services.moderator.store.find_learner("test", "g1", "bob")
    assert target is not None and not target.excluded
    assert (await client.get("/dashboard")).status_code == 200  # not revoked


async def test_token_checks_are_rate_limited_per_client(client, services):
    for i in range(LIMIT):
        response = await client.get(f"/dashboard/login/guess{i}")
        assert response.status_code == 403
    limited = await client.get("/dashboard/login/another-guess")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
    # A wrong cookie is a token check too.
    client.cookies.set("tutor_dashboard", "guess", path="/dashboard")
    assert (await client.get("/dashboard")).status_code == 429


def test_the_rate_limit_is_a_sliding_window():
    now = [0.0]
    limit = RateLimit(2, period_s=60, clock=lambda: now[0])
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    assert limit.allow("b")
    now[0] = 60.5
    assert limit.allow("a")


async def test_the_token_is_never_logged(client, services, caplog):
    caplog.set_level(logging.DEBUG)
    token = await logged_in(client, services)
    await client.get("/dashboard")
    await client.get(f"/dashboard/login/{token}x")  # a wrong one
    # Every log line of the server side (httpx logs the test client's own requests).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert "GET /dashboard/login/… 303" in logged and "GET /dashboard 200" in logged
    assert token not in logged and token[:10] not in logged


async def test_pages_send_security_headers(client, services):
    await logged_in(client, services)
    for path in ("/", "/local", "/dashboard", "/dashboard/login/nope", "/static/site.css"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == CSP, path
        assert "script-src" not in CSP and "default-src 'none'" in CSP
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    assert (await client.get("/dashboard")).headers["cache-control"] == "no-store"


async def test_the_login_cookie_is_http_only_and_strict(client, services):
    token = link_token((await services.web.dashboard_link(MOD)).text)
    response = await client.get(f"/dashboard/login/{token}")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie


async def test_the_export_is_the_moderator_csv(client, services):
    await logged_in(client, services)
    response = await client.get("/dashboard/export.zip", params={"window": "all"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/zip")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        (board,) = [n for n in archive.namelist() if n.startswith("leaderboard-")]
        text = archive.read(board).decode("utf-8-sig")
    assert "1,ada,Ada,on leaderboard,70" in text and "Gus" not in text


async def test_the_store_keeps_only_a_hash_of_the_token(services, store, tokens):
    from sqlalchemy import select

    from db.models import WebLink

    await services.web.dashboard_link(MOD)

    def stored(conn):
        return [tuple(r) for r in conn.execute(select(WebLink.__table__))]

    table = await store.database.read(stored)
    assert table and tokens.made[0] not in str(table)


async def test_the_dashboard_log_shows_a_study_change_escaped(client, services):
    from bot.tutor.study import Mode

    names = {"1": "<b>x</b>"}  # a channel name is the server's to choose
    await services.tutor.study.configure(MOD, default=Mode.THREAD, add_channel="1", names=names)
    await logged_in(client, services)
    page = await client.get("/dashboard")
    assert (
        "study_settings (study mode: automatic -&gt; thread; study channels: any channel -&gt; "
        "#&lt;b&gt;x&lt;/b&gt;)"
    ) in page.text
