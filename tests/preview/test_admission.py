"""Who the preview origin lets through to the app: the owner, with a fresh token traded for
the origin's cookie, while the preview runs; nobody else, and nothing of ours reaches the
app. Admission is the gateway's alone, so one backend runs the app here."""

import asyncio
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.core import signing

from preview import services
from preview.gateway import ROUTE_SECONDS, PreviewGateway
from preview.models import Preview
from preview.tokens import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    TOKEN_SALT,
    Admission,
    cookie_value,
)
from projects.services import project_create
from tests.preview.apps import TODO_APP, server_step
from tests.preview.conftest import entry_path, gateway_client, run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("sandbox", ["bubblewrap"], indirect=True),
]
REFUSED = "Open this preview from its project page"


def cookie_header(value: str) -> dict[str, str]:
    return {"cookie": f"{COOKIE_NAME}={value}"}


class PastSigner(signing.TimestampSigner):
    """Signs as if it were ``seconds`` ago: a token that has had its time."""

    def __init__(self, *args, seconds: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seconds = seconds

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - self.seconds)


def old_token(preview_id: uuid.UUID, user_id: int, seconds: int) -> str:
    signer = PastSigner(salt=TOKEN_SALT, seconds=seconds)
    return signer.sign_object([preview_id.hex, user_id, uuid.uuid4().hex], compress=True)


def other_preview(user) -> Preview:
    """A second preview of the same owner (a row only: it is never reached)."""
    project = project_create(owner=user, name="Other")
    branch = project.branches.get()
    state = server_step(branch, files={"app.py": TODO_APP}, run_command="python3 app.py",
                        port=5000)  # fmt: skip
    return Preview.objects.create(project=project, owner=user, branch=branch, state=state)


def test_without_the_cookie_nothing_reaches_the_app(running, user):
    async def walk():
        async with gateway_client(running.pk) as client:
            page = await client.get("/")
            posted = await client.post("/", data={"title": "sneaked in"})
            assert (await client.get(entry_path(running.pk, user.pk))).status_code == 302
            listed = await client.get("/")
        return page, posted, listed

    page, posted, listed = run(walk())

    assert (page.status_code, posted.status_code) == (403, 403)
    assert REFUSED in page.text and "Todo" not in page.text
    assert listed.status_code == 200 and "sneaked in" not in listed.text  # the POST never arrived


def test_a_token_of_another_preview_admits_nobody_here(running, user):
    elsewhere = other_preview(user)

    async def walk():
        async with gateway_client(running.pk) as client:
            entered = await client.get(entry_path(elsewhere.pk, user.pk))
            page = await client.get("/")
        # The cookie the other preview's host gives is no key to this one either.
        their_cookie = cookie_value(Admission(preview_id=elsewhere.pk, user_id=user.pk))
        async with gateway_client(running.pk, headers=cookie_header(their_cookie)) as client:
            with_theirs = await client.get("/")
        return entered, page, with_theirs

    entered, page, with_theirs = run(walk())

    assert entered.status_code == 403 and "set-cookie" not in entered.headers
    assert "expired or is not for this preview" in entered.text
    assert page.status_code == 403
    assert with_theirs.status_code == 403


def test_an_expired_token_is_refused_and_a_fresh_one_admits(running, user, settings):
    settings.SAMOKODER_PREVIEW_TOKEN_SECONDS = 60
    stale = old_token(running.pk, user.pk, seconds=61)
    fresh = old_token(running.pk, user.pk, seconds=5)

    async def walk():
        async with gateway_client(running.pk) as client:
            expired = await client.get(f"/_samokoder/enter?token={stale}")
            after_expired = await client.get("/")
            entered = await client.get(f"/_samokoder/enter?token={fresh}")
            page = await client.get("/")
        return expired, after_expired, entered, page

    expired, after_expired, entered, page = run(walk())

    assert expired.status_code == 403 and "set-cookie" not in expired.headers
    assert after_expired.status_code == 403
    assert entered.status_code == 302 and page.status_code == 200 and "<h1>Todo</h1>" in page.text


def test_an_entry_link_admits_once(running, user):
    """A link read from a log, a history or over a shoulder within its minute admits
    nobody, even one who holds the owner's cookie of another preview; the visitor who
    spent it, holding its cookie, may follow it again."""
    path = entry_path(running.pk, user.pk)
    elsewhere = cookie_value(Admission(preview_id=other_preview(user).pk, user_id=user.pk))

    async def walk():
        async with gateway_client(running.pk) as owner:
            first = await owner.get(path)
            again = await owner.get(path)
            page = await owner.get("/")
        async with gateway_client(running.pk) as stranger:
            replayed = await stranger.get(path)
        async with gateway_client(running.pk, headers=cookie_header(elsewhere)) as holder:
            with_another_cookie = await holder.get(path)
        return first, again, page, replayed, with_another_cookie

    first, again, page, replayed, with_another_cookie = run(walk())

    assert first.status_code == 302 and "set-cookie" in first.headers
    assert again.status_code == 302 and "set-cookie" not in again.headers
    assert page.status_code == 200 and "<h1>Todo</h1>" in page.text
    assert replayed.status_code == 403 and "set-cookie" not in replayed.headers
    assert "already been used" in replayed.text
    assert with_another_cookie.status_code == 403
    assert "set-cookie" not in with_another_cookie.headers


def test_another_users_token_or_cookie_is_refused(running, user, other_user):
    """Signed by us but naming another user: the preview is not theirs, so for them there
    is no preview here (404, as for any preview they do not own). Signed with the other
    salt (the token used as a cookie, or any other salt): not ours, refused (403)."""
    theirs = signing.dumps([running.pk.hex, other_user.pk, "n1"], salt=TOKEN_SALT, compress=True)
    their_cookie = cookie_value(Admission(preview_id=running.pk, user_id=other_user.pk))
    owners_token = signing.dumps([running.pk.hex, user.pk, "n2"], salt=TOKEN_SALT, compress=True)
    forged = [owners_token,  # a token is not a cookie
              signing.dumps([running.pk.hex, user.pk], salt="samokoder.preview.other"),
              signing.dumps([running.pk.hex, other_user.pk], salt=TOKEN_SALT)]  # fmt: skip

    async def walk():
        async with gateway_client(running.pk) as client:
            entered = await client.get(f"/_samokoder/enter?token={theirs}")
        async with gateway_client(running.pk, headers=cookie_header(their_cookie)) as client:
            with_their_cookie = await client.get("/")
        answers = []
        for value in forged:
            async with gateway_client(running.pk, headers=cookie_header(value)) as client:
                answers.append(await client.get("/"))
        return entered, with_their_cookie, answers

    entered, with_their_cookie, answers = run(walk())

    assert entered.status_code == 404 and "set-cookie" not in entered.headers
    assert with_their_cookie.status_code == 404
    assert "Todo" not in with_their_cookie.text
    assert [a.status_code for a in answers] == [403, 403, 403]


def test_a_host_that_names_no_preview_is_not_found(running, user):
    unknown = uuid.uuid4()

    async def walk():
        gateway = PreviewGateway()
        async with gateway_client(unknown, gateway) as client:
            entered = await client.get(entry_path(unknown, user.pk))
            others = [await client.get("/", headers={"host": host})
                      for host in ("example.com", "preview.localhost:8001",
                                   "not-a-preview.preview.localhost:8001",
                                   f"{running.pk.hex}.example.com")]  # fmt: skip
        return entered, others

    entered, others = run(walk())

    assert entered.status_code == 404 and "no preview at this address" in entered.text
    assert [a.status_code for a in others] == [404, 404, 404, 404]


def test_the_app_never_receives_the_gateways_cookie(running, user):
    async def walk():
        async with gateway_client(running.pk) as client:
            await client.get(entry_path(running.pk, user.pk))
            ours = client.cookies[SECURE_COOKIE_NAME]
        header = {"cookie": f"a=1; {SECURE_COOKIE_NAME}={ours}; b=2; {COOKIE_NAME}=x"}
        async with gateway_client(running.pk, headers=header) as client:
            return await client.get("/cookies")

    seen = run(walk())

    assert seen.status_code == 200
    assert seen.text == "a=1; b=2"


def test_a_stopped_preview_is_gone_for_its_owner_too(running, user):
    async def walk(gateway):
        async with gateway_client(running.pk, gateway) as client:
            await client.get(entry_path(running.pk, user.pk))
            ours = client.cookies[SECURE_COOKIE_NAME]
        async with gateway_client(running.pk, gateway, headers=cookie_header(ours)) as client:
            before = await client.get("/")
            await sync_to_async(services.preview_stop)(preview=running)
            await asyncio.sleep(ROUTE_SECONDS + 0.1)  # what the gateway trusts it for
            after = await client.get("/")
        return before, after

    before, after = run(walk(PreviewGateway()))

    assert before.status_code == 200
    assert after.status_code == 410 and "has stopped" in after.text


def test_a_preview_still_starting_answers_503_that_reloads_itself(user, todo_branch):
    preview = services.preview_start(project=todo_branch.project, user=user, branch=todo_branch)

    async def walk():
        async with gateway_client(preview.pk) as client:
            await client.get(entry_path(preview.pk, user.pk))
            return await client.get("/")

    page = run(walk())

    assert page.status_code == 503
    assert "starting" in page.text and 'http-equiv="refresh"' in page.text


def test_a_starting_preview_is_served_the_moment_it_runs(running, user):
    """The gateway trusts a looked-up preview for ROUTE_SECONDS, but not one starting:
    the owner's first page must not wait on a second-old "starting"."""
    starting = Preview.objects.filter(pk=running.pk)

    async def walk():
        await sync_to_async(starting.update)(status=Preview.Status.STARTING)
        async with gateway_client(running.pk) as client:
            await client.get(entry_path(running.pk, user.pk))
            before = await client.get("/")
            await sync_to_async(starting.update)(status=Preview.Status.RUNNING)
            after = await client.get("/")
        return before, after

    before, after = run(walk())

    assert before.status_code == 503
    assert after.status_code == 200 and "<h1>Todo</h1>" in after.text
