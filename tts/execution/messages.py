"""What web nodes and Celery workers say to each other, typed and versioned.

A task's argument (web → worker) and every entry of a request's relay (worker → web) is one
of these models, with the protocol version it was written in. A peer of another version is
refused with an error that says so (503 ``protocol_mismatch``), never misread: run the same
release on web nodes and workers (upgrade workers and web nodes together). Bump
``PROTOCOL_VERSION`` whenever a message changes shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tts.engine.errors import ConfigurationError

#: 2: a voice task carries its owner; 3: spoken_text, words, captions; 4: a speech task
#: carries the voices resolved for its tenant (voice ids are unique per tenant only);
#: 5: similarity, reference_report.
PROTOCOL_VERSION = 5


class ProtocolMismatch(ConfigurationError):
    def __init__(self, theirs: Any, who: str):
        super().__init__(
            f"The {who} speaks protocol {theirs!r} and this process {PROTOCOL_VERSION}: web "
            "nodes and workers must run the same release; upgrade them together.",
            code="protocol_mismatch", retry_after=30)


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    protocol: int = PROTOCOL_VERSION


# --- web → worker: a task's argument ---------------------------------------------------------
class SpeechTask(Message):
    """A generation (whole file, or streamed). The uploaded clip travels beside it, in the
    relay (tts.execution.relay), not inside the broker message."""

    kind: Literal["speech"] = "speech"
    relay_id: str
    gen_text: str
    options: dict[str, Any]
    model_id: str = ""
    ref_text: str = ""
    voice: str = ""
    #: The saved voices it names, resolved for the caller on the web side (id ->
    #: Voice.serial): the worker uses exactly those (None: resolved there, unscoped).
    voice_keys: dict[str, int] | None = None
    output_format: str = "wav"
    include_spectrogram: bool = False
    stream: bool = False
    events: bool = False
    label: str = "-"


class VoiceTask(Message):
    """Preparing a saved voice: ``create`` (the clip in the relay) or a new transcript; the
    fields name the voice's ``owner`` (ids are unique per owner)."""

    kind: Literal["voice"] = "voice"
    relay_id: str
    action: Literal["create", "update"]
    fields: dict[str, Any]


class AlignTask(Message):
    """Timing the words of a text in audio made anywhere (the clip in the relay)."""

    kind: Literal["align"] = "align"
    relay_id: str
    text: str
    language: str | None = None


# --- worker → web: the entries of a request's relay ------------------------------------------
class Taken(Message):
    kind: Literal["taken"] = "taken"


class Beat(Message):
    kind: Literal["beat"] = "beat"


class StreamStarted(Message):
    """What is known before the first piece (the reply's headers)."""

    kind: Literal["started"] = "started"
    format: str
    events: bool
    model: str
    seed: int
    total_chunks: int
    sample_rate: int


class Piece(Message):
    """Bytes of the streamed file (in the entry's data)."""

    kind: Literal["piece"] = "piece"


class StreamEvent(Message):
    """One Server-Sent Event of a streamed generation."""

    kind: Literal["event"] = "event"
    name: str
    data: dict[str, Any]


class StreamBroken(Message):
    """The generation failed after the first bytes went out."""

    kind: Literal["failed"] = "failed"
    message: str


class StreamEnd(Message):
    kind: Literal["end"] = "end"
    summary: dict[str, Any]


class SpeechDone(Message):
    """A whole file: its metadata (the audio is in the entry's data)."""

    kind: Literal["result"] = "result"
    format: str
    content_type: str
    sample_rate: int
    duration: float
    model: str
    seed: int
    ref_text: str
    ref_clip: dict[str, Any]
    chunks: int
    parameters: dict[str, Any]
    timing: dict[str, Any]
    spectrogram_png: str | None = None  # base64
    segments: list[dict[str, Any]] = []
    spoken_text: str = ""
    words: list[dict[str, Any]] | None = None
    captions: str | None = None
    verification: dict[str, Any] | None = None
    similarity: dict[str, Any] | None = None
    reference_report: dict[str, Any] | None = None


class AlignDone(Message):
    kind: Literal["aligned"] = "aligned"
    words: list[dict[str, Any]]
    duration: float
    recognised: str


class VoiceDone(Message):
    kind: Literal["voice"] = "voice"
    voice_id: str


class Failure(Message):
    """The worker's error, rebuilt on the web side as the same exception class."""

    kind: Literal["error"] = "error"
    error_class: str
    message: str
    code: str | None = None
    attr: str | None = None
    retry_after: float | None = None


Task = Annotated[SpeechTask | VoiceTask | AlignTask, Field(discriminator="kind")]
Reply = Annotated[Taken | Beat | StreamStarted | Piece | StreamEvent | StreamBroken | StreamEnd
                  | SpeechDone | VoiceDone | AlignDone | Failure, Field(discriminator="kind")]
_tasks: TypeAdapter[SpeechTask | VoiceTask | AlignTask] = TypeAdapter(Task)
_replies: TypeAdapter[Message] = TypeAdapter(Reply)


def read_task(payload: Any) -> SpeechTask | VoiceTask | AlignTask:
    return _parse(_tasks, payload, "web node")


def read_reply(payload: Any) -> Message:
    return _parse(_replies, payload, "worker")


def _parse(adapter: TypeAdapter, payload: Any, who: str) -> Any:
    theirs = payload.get("protocol") if isinstance(payload, dict) else None
    if theirs != PROTOCOL_VERSION:
        raise ProtocolMismatch(theirs, who)
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:  # the same version, yet unreadable: a bug, said plainly
        raise ProtocolMismatch(f"{theirs} (unreadable: {exc.errors()[0]['msg']})", who) from None
