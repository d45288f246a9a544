"""The project socket (/ws/projects/<id>/): who may listen, and nothing lost or doubled."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from generation.models import GenerationRun, PipelineEvent
from generation.publish import live_publish
from projects.services import project_create
from samokoder_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture
def project(user):
    return project_create(owner=user, name="Watched", description="d")


@pytest.fixture
def run(project, user):
    run = GenerationRun.objects.create(
        project=project, branch=project.branches.get(), user=user, provider="openai",
        max_cost=1, max_llm_calls=1, last_seq=5,
    )  # fmt: skip
    for seq in range(1, 6):
        PipelineEvent.objects.create(run=run, project=project, seq=seq, name=f"E{seq}")
    return run


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


def bearer_headers(user) -> list[tuple[bytes, bytes]]:
    return [ORIGIN, (b"authorization", f"Bearer {AccessToken.for_user(user)}".encode())]


def socket(project, headers, query: str = "") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/projects/{project.pk}/{query}", headers)


def run_async(coroutine_function):
    return async_to_sync(coroutine_function)()


async def received_events(listener: WebsocketCommunicator) -> list[dict]:
    """Every event in the frames that arrive until the socket goes quiet."""
    events = []
    while not await listener.receive_nothing(timeout=0.3):
        frame = await listener.receive_json_from()
        assert frame["type"] == "events"
        events += frame["events"]
    return events


async def refused_with(listener: WebsocketCommunicator) -> int:
    """The close code of a socket the server accepts only to close (nothing sent before)."""
    connected, _ = await listener.connect()
    assert connected
    output = await listener.receive_output()
    assert output["type"] == "websocket.close"
    return output["code"]


def test_an_anonymous_socket_is_closed_with_4401(project):
    async def scenario():
        return await refused_with(socket(project, [ORIGIN]))

    assert run_async(scenario) == 4401


def test_another_users_project_is_refused_with_4403(project, other_user):
    both = [session_headers(other_user), bearer_headers(other_user)]

    async def scenario():
        for headers in both:
            assert await refused_with(socket(project, headers)) == 4403

    run_async(scenario)


def test_a_bad_token_is_anonymous(project):
    async def scenario():
        headers = [ORIGIN, (b"authorization", b"Bearer not-a-token")]
        return await refused_with(socket(project, headers))

    assert run_async(scenario) == 4401


def test_the_owner_gets_the_events_after_the_sequence_number_sent(project, user, run):
    headers = bearer_headers(user)

    async def scenario():
        listener = socket(project, headers, f"?run={run.pk}&after=2")
        connected, _ = await listener.connect()
        assert connected
        frame = await listener.receive_json_from()
        assert await listener.receive_nothing()
        # The client lost events 4 and 5 on its side: it asks for them again.
        await listener.send_json_to({"type": "resume", "run": str(run.pk), "after": 3})
        again = await received_events(listener)
        await listener.disconnect()
        return frame, again

    frame, again = run_async(scenario)
    assert frame["type"] == "events"  # the replay comes as one frame
    received = frame["events"]
    assert [(m["seq"], m["name"]) for m in received] == [(3, "E3"), (4, "E4"), (5, "E5")]
    assert all(m["run"] == str(run.pk) for m in received)
    assert [m["seq"] for m in again] == [4, 5]


def test_live_events_are_relayed_once_and_in_order_filling_gaps(project, user, run):
    def message(seq: int) -> dict:
        return {"seq": seq, "run": str(run.pk), "name": f"E{seq}", "payload": {}, "at": ""}

    headers = session_headers(user)

    async def scenario():
        listener = socket(project, headers)
        assert (await listener.connect())[0]
        replayed = [event["seq"] for event in await received_events(listener)]
        # Already sent (a replay raced the publish): dropped. Then one new event.
        await live_publish(
            project.pk, {"type": "pipeline.events", "events": [message(4), message(5), message(6)]}
        )
        live = [event["seq"] for event in await received_events(listener)]
        # Event 7 was committed but its publish never arrived: 8 makes the socket fetch it.
        await _create_event(run, 7)
        await live_publish(project.pk, {"type": "pipeline.events", "events": [message(8)]})
        live += [event["seq"] for event in await received_events(listener)]
        await listener.disconnect()
        return replayed, live

    replayed, live = run_async(scenario)
    assert replayed == [1, 2, 3, 4, 5]
    assert live == [6, 7, 8]


async def _create_event(run, seq: int) -> None:
    from channels.db import database_sync_to_async

    await database_sync_to_async(PipelineEvent.objects.create)(
        run=run, project_id=run.project_id, seq=seq, name=f"E{seq}"
    )


def test_live_output_and_activity_reach_the_owner_without_a_sequence_number(project, user, run):
    headers = bearer_headers(user)

    async def scenario():
        listener = socket(project, headers, f"?run={run.pk}&after=5")
        assert (await listener.connect())[0]
        activity = {"type": "pipeline.activity", "run": str(run.pk), "agent": "CodeMonkey",
                    "detail": "a.py"}  # fmt: skip
        output = {"type": "pipeline.output", "run": str(run.pk), "command": "ls",
                  "text": "a.py\n", "final": True}  # fmt: skip
        stream = {"type": "pipeline.stream", "run": str(run.pk), "agent": "CodeMonkey",
                  "detail": "a.py", "text": '{"path": "a.py"', "final": False}  # fmt: skip
        preview = {"type": "preview.status", "preview": "p1", "status": "running"}
        unknown = {"type": "pipeline.internal", "run": str(run.pk)}  # no such frame: dropped
        for live in (activity, unknown, output, stream, preview):
            await live_publish(project.pk, live)
        received = [await listener.receive_json_from() for _ in range(4)]
        assert await listener.receive_nothing()
        await listener.disconnect()
        return received

    activity, output, streamed, preview = run_async(scenario)
    assert preview == {"type": "preview_status", "preview": "p1", "status": "running"}
    assert streamed["type"] == "stream" and streamed["text"] == '{"path": "a.py"'
    assert activity == {"type": "activity", "run": str(run.pk), "agent": "CodeMonkey",
                        "detail": "a.py"}  # fmt: skip
    assert output["type"] == "output" and output["text"] == "a.py\n" and "seq" not in output


def test_a_client_that_is_up_to_date_gets_only_what_is_new(project, user, run):
    headers = bearer_headers(user)

    def message(seq: int) -> dict:
        return {"seq": seq, "run": str(run.pk), "name": f"E{seq}", "payload": {}, "at": ""}

    async def scenario():
        listener = socket(project, headers, f"?run={run.pk}&after=5")
        assert (await listener.connect())[0]
        assert await listener.receive_nothing()
        await _create_event(run, 6)
        events = {"type": "pipeline.events", "events": [message(6)]}
        await live_publish(project.pk, events)
        received = await received_events(listener)
        await listener.disconnect()
        return received

    assert [event["seq"] for event in run_async(scenario)] == [6]  # not 1-5 again


def test_a_token_of_a_deactivated_user_is_refused_with_4401(project, user):
    headers = bearer_headers(user)
    user.is_active = False
    user.save()

    async def scenario():
        return await refused_with(socket(project, headers))

    assert run_async(scenario) == 4401
