"""The messages between web nodes and workers are typed and versioned: a peer of another
version is refused with an error that says so, on both sides, through a real Redis."""

from __future__ import annotations

import pytest

from tests.support.services import redis_database
from tts.engine.errors import ConfigurationError
from tts.execution import relay
from tts.execution.celery_worker import serve
from tts.execution.messages import (
    PROTOCOL_VERSION,
    Failure,
    SpeechTask,
    StreamStarted,
    Taken,
    read_reply,
    read_task,
)


def test_a_message_round_trips_with_its_version():
    task = SpeechTask(relay_id="r1", gen_text="Hello.", options={"nfe_step": 4, "seed": 3},
                      stream=True, events=True)
    payload = task.model_dump(mode="json")
    assert payload["protocol"] == PROTOCOL_VERSION and payload["kind"] == "speech"
    assert read_task(payload) == task
    started = StreamStarted(format="wav", events=False, model="tiny-f5", seed=3,
                            total_chunks=2, sample_rate=24000)
    assert read_reply(started.model_dump(mode="json")) == started


@pytest.mark.parametrize("payload, said", [
    ({"protocol": 99, "kind": "speech", "relay_id": "r", "gen_text": "x", "options": {}},
     "speaks protocol 99"),
    ({"kind": "speech", "relay_id": "r", "gen_text": "x", "options": {}},
     "speaks protocol None"),
    ({"protocol": PROTOCOL_VERSION, "kind": "speech", "relay_id": "r"}, "unreadable"),
    ({"protocol": PROTOCOL_VERSION, "kind": "speech", "relay_id": "r", "gen_text": "x",
      "options": {}, "surprise": 1}, "unreadable"),
])
def test_a_task_of_another_version_is_refused_clearly(payload, said):
    with pytest.raises(ConfigurationError) as refused:
        read_task(payload)
    assert refused.value.code == "protocol_mismatch" and said in refused.value.message
    assert "same release" in refused.value.message


def test_a_worker_answers_a_task_of_another_version_with_an_error_its_web_node_reads(settings):
    with redis_database() as url:
        settings.CELERY_BROKER_URL = url
        relay.connection.cache_clear()
        try:
            channel = relay.Relay()
            serve({"protocol": PROTOCOL_VERSION + 1, "kind": "speech", "relay_id": channel.id,
                   "gen_text": "Hello.", "options": {}, "a_new_field": True})
            received = channel.read(timeout=5)
            assert isinstance(received.message, Failure)
            error = relay.rebuild_error(received.message)
            assert isinstance(error, ConfigurationError) and error.code == "protocol_mismatch"
            assert error.retry_after == 30

            # and a web node that reads a worker of another version says so too
            relay.connection().xadd(f"tts:relay:{channel.id}", {
                "message": '{"protocol": 0, "kind": "taken"}', "data": b""})
            with pytest.raises(ConfigurationError, match="speaks protocol 0"):
                channel.read(timeout=5)
            channel.publish(Taken())
            assert isinstance(channel.read(timeout=5).message, Taken)
        finally:
            relay.connection.cache_clear()
