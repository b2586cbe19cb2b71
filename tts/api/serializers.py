"""Request validation and response shapes. Every field states its range and default."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tts.engine.frontend import (
    MAX_PAUSE_SECONDS,
    MAX_TOTAL_PAUSE_SECONDS,
    NORMALIZE_MODES,
    LexiconError,
    PauseError,
    find_pauses,
    parse_entries,
)
from tts.engine.frontend.lexicon import MAX_REQUEST_ENTRIES
from tts.services.generation import (
    CAPTION_FORMATS,
    DEFAULT_QUALITY,
    OUTPUT_FORMATS,
    QUALITY_NFE,
    SEED_RANGE,
    nfe_for,
)
from tts.work.scripts import starts_with_tag

#: A 12 s clip is read in far fewer characters than this.
MAX_REF_TEXT_CHARS = 1000
ACCEPTED_AUDIO = "wav, mp3, flac, ogg/vorbis, ogg/opus, m4a/aac or webm"


def refuse_unknown_fields(data: Mapping, fields: Mapping) -> None:
    """One 400 naming every field the body has and the serializer does not."""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise serializers.ValidationError({
            name: [serializers.ErrorDetail(
                f"Unknown field {name!r}; the fields are: {', '.join(fields)}.",
                code="unknown_field")] for name in unknown})


def _ranged(field_cls, *, low, high, default, help_text: str, shown: str | None = None,
            **kwargs):
    """A numeric field whose errors name the field's range and default (``shown``: the
    default in words, where it is not one number)."""
    shown = shown or ("null" if default is None else default)
    message = f"Must be between {low} and {high} (default {shown})."
    return field_cls(
        min_value=low, max_value=high, default=default, help_text=f"{help_text} "
        f"Range {low} to {high}; default {shown}.", error_messages={
            "min_value": message, "max_value": message,
            "invalid": f"Must be a number. {message}",
            "max_string_length": f"Too long to be a number. {message}",
        }, **kwargs)


def kind_of(value: object) -> str:
    """A JSON value's kind, as a client would name it."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class TextField(serializers.CharField):
    """A CharField that takes only text: in JSON, ``"gen_text": 123`` is a type error, not
    the words "one hundred twenty-three" (DRF's CharField turns numbers into strings)."""

    default_error_messages = {
        "not_text": "{name} must be a string of text, not {kind}; put it in quotes."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text", name=self.field_name, kind=kind_of(data))
        return super().to_internal_value(data)


class NullableIntegerField(serializers.IntegerField):
    """An integer that may be null, also in a form (where null can only be a word)."""

    def validate_empty_values(self, data):
        if isinstance(data, str) and data.strip().lower() == "null":
            data = None
        return super().validate_empty_values(data)


VOICE_ID_HELP = ("Letters, digits, hyphens and underscores; chosen at creation or derived from "
                 "the name.")


NORMALIZE_HELP = (
    "Text normalisation before speaking: `auto` (default) writes out numbers, dates, times, "
    "money, units, ordinals, abbreviations, URLs, e-mail addresses and symbols as they are said, "
    "in English and Chinese (sentences in other languages are left as written); `off` speaks "
    "the text as sent. A model configured with `normalize = false` is never normalised. What "
    "the model was given is in the reply's `spoken_text`.")
PRONUNCIATIONS_HELP = (
    "How to say particular words: an object of `\"word or phrase\": \"how to say it\"` "
    "(or `{\"say\": \"...\", \"match_case\": true}`), matched as whole words, "
    "case-insensitively unless match_case. These win over the server's lexicon "
    f"(TTS_LEXICON_FILE) for the same word; at most {MAX_REQUEST_ENTRIES} entries. In a form, "
    "send the object as a JSON string.")
PAUSE_HELP = (
    f" `[pause:1.5s]` or `[pause:500ms]` inserts exactly that much silence (at most "
    f"{MAX_PAUSE_SECONDS:g} s each, {MAX_TOTAL_PAUSE_SECONDS:g} s in all); no chunk and no "
    "cross-fade spans a pause.")


def check_pauses(value: str) -> None:
    """A 400 on the text field naming a malformed or excessive pause tag."""
    try:
        find_pauses(value)
    except PauseError as exc:
        raise serializers.ValidationError(exc.message, code=exc.code) from None


@extend_schema_field({"type": "object", "additionalProperties": {"oneOf": [
    {"type": "string"},
    {"type": "object", "properties": {"say": {"type": "string"},
                                      "match_case": {"type": "boolean"}},
     "required": ["say"]}]}, "example": {"nginx": "engine x", "SQL": "sequel"}})
class PronunciationsField(serializers.Field):
    """A request's pronunciation entries (an object, or its JSON in a form)."""

    default_error_messages = {
        "invalid": "pronunciations must be an object of \"word\": \"how to say it\" (in a "
                   "form, that object as a JSON string).",
        "too_many": f"pronunciations has {{count}} entries; the limit is {MAX_REQUEST_ENTRIES}.",
    }

    def to_internal_value(self, data) -> dict:
        if isinstance(data, str):
            if not data.strip():
                return {}
            try:
                data = json.loads(data)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, Mapping):
            self.fail("invalid")
        if len(data) > MAX_REQUEST_ENTRIES:
            self.fail("too_many", count=len(data))
        try:
            parse_entries(data)
        except LexiconError as exc:
            raise serializers.ValidationError(f"pronunciations: {exc}.",
                                              code="invalid_pronunciation") from None
        return dict(data)

    def to_representation(self, value):
        return value


def normalize_field(**kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=list(NORMALIZE_MODES), required=False, default="auto", help_text=NORMALIZE_HELP,
        error_messages={"invalid_choice": "\"{input}\" is not a normalize mode; use auto or "
                                          "off."}, **kwargs)


def pronunciations_field() -> PronunciationsField:
    return PronunciationsField(required=False, default=dict, help_text=PRONUNCIATIONS_HELP)


class _GenerateFields(serializers.Serializer):
    """Everything but the reference audio, shared by the multipart and JSON bodies."""

    voice = serializers.SlugField(
        required=False, default="", allow_blank=True, max_length=64,
        help_text="Id of a saved voice (GET /api/tts/voices/), instead of ref_audio + ref_text.",
        error_messages={"invalid": "voice must be a saved voice id (letters, digits, hyphens, "
                                   "underscores); see GET /api/tts/voices/."})
    ref_text = TextField(
        required=False, allow_blank=True, default="", trim_whitespace=True,
        max_length=MAX_REF_TEXT_CHARS, error_messages={"max_length": (
            "ref_text is longer than {max_length} characters; it should be the transcript of a "
            "clip of at most 12 s.")},
        help_text="Exact transcript of the reference clip. Empty means: transcribe it (needs "
                  "speech recognition on the server, TTS_ASR_MODEL).")
    gen_text = TextField(
        help_text="The text to speak in the cloned voice (at most TTS_MAX_TEXT_CHARS "
                  "characters, 5000 by default). Long text is split into chunks at sentence "
                  "ends and joined with a cross-fade. `[voice-id]` switches to a saved voice "
                  "from there on (`[voice-id speed=1.2]` also sets its speed; `[main]` returns "
                  "to the request's own voice)." + PAUSE_HELP,
        error_messages={"blank": "gen_text is empty; send the text to speak.",
                        "required": "gen_text is required: the text to speak."})
    model = serializers.CharField(
        required=False, default="", allow_blank=True,
        help_text="Model id from GET /api/tts/models/ (F5-TTS, E2-TTS, Custom or a configured "
                  "id). Empty means the server's default (TTS_DEFAULT_MODEL).")
    speed = _ranged(serializers.FloatField, low=0.3, high=2.0, default=1.0,
                    help_text="Speaking speed; 2.0 is twice as fast.")
    cross_fade_duration = _ranged(serializers.FloatField, low=0.0, high=1.0, default=0.15,
                                  help_text="Seconds of cross-fade between generated chunks.")
    remove_silence = serializers.BooleanField(
        required=False, default=False, help_text="Strip long silences from the output.")
    quality = serializers.ChoiceField(
        choices=list(QUALITY_NFE), required=False, default=DEFAULT_QUALITY,
        help_text="Speed/quality preset: " + ", ".join(
            f"{name} = nfe_step {nfe}" for name, nfe in QUALITY_NFE.items())
        + " (7 and 16 use upstream's tuned few-step schedules). An explicit nfe_step wins.",
        error_messages={"invalid_choice": "\"{input}\" is not a quality preset; use one of "
                                          f"{', '.join(QUALITY_NFE)}, or set nfe_step."})
    nfe_step = _ranged(serializers.IntegerField, low=4, high=64, default=None, allow_null=True,
                       shown="from quality: " + ", ".join(
                           f"{name} {nfe}" for name, nfe in QUALITY_NFE.items())
                       + f"; quality is {DEFAULT_QUALITY} unless sent",
                       help_text="Denoising steps: fewer is faster and rougher. Overrides "
                                 "quality; null or absent means quality's value.")
    cfg_strength = _ranged(serializers.FloatField, low=0.0, high=10.0, default=2.0,
                           help_text="Classifier-free guidance strength.")
    sway_sampling_coef = _ranged(serializers.FloatField, low=-1.0, high=1.0, default=-1.0,
                                 help_text="Sway sampling coefficient of the step schedule.")
    seed = _ranged(NullableIntegerField, low=SEED_RANGE[0], high=SEED_RANGE[1], default=None,
                   shown="null: a random seed, returned in the reply",
                   help_text="Random seed; null picks one. The seed used is always returned.",
                   allow_null=True)
    output_format = serializers.ChoiceField(
        choices=list(OUTPUT_FORMATS), required=False, default="",
        help_text="Encoding of the returned audio: wav, mp3, flac, ogg (Opus), aac (ADTS) or "
                  "pcm (raw 16-bit little-endian mono at 24 kHz, no header). Default wav, or "
                  "the type named in an `Accept: audio/...` header.",
        error_messages={"invalid_choice": "\"{input}\" is not a supported output_format; use "
                                          f"one of {', '.join(OUTPUT_FORMATS)}."})
    stream = serializers.BooleanField(
        required=False, default=False,
        help_text="Send the audio while it is generated: a chunked audio file (any "
                  "output_format; flac in one piece once complete, as its header states its "
                  "length), or Server-Sent Events with `Accept: text/event-stream`. The "
                  "first chunk holds about a second of speech so that audio starts early; the "
                  "next ones are sized to keep ahead of a listener (`timing.underruns` counts "
                  "the gaps).")
    include_spectrogram = serializers.BooleanField(
        required=False, default=False,
        help_text="Also return a PNG (base64) of the generated mel spectrogram.")
    normalize = normalize_field()
    pronunciations = pronunciations_field()
    timestamps = serializers.BooleanField(
        required=False, default=False,
        help_text="Listen back to the generated speech and return `words`: every word of "
                  "gen_text once, in order, with start, end (seconds of the output) and "
                  "confidence (0-1; words not heard get interpolated times and 0). With SSE each "
                  "chunk event carries its words. Needs speech recognition on the server "
                  "(TTS_ASR_MODEL; GET /api/tts/models/ says whether it is there).")
    captions = serializers.ChoiceField(
        choices=list(CAPTION_FORMATS), required=False, default=None, allow_null=True,
        help_text="Also return subtitles as text in `captions`: `srt` (SubRip) or `vtt` "
                  "(WebVTT); at most 42 characters a line, 2 lines and ~7 s a cue, cues "
                  "broken at sentence and clause ends. Implies timestamps. SSE: in `done`.",
        error_messages={"invalid_choice": "\"{input}\" is not a caption format; use srt or "
                                          "vtt."})
    verify = serializers.BooleanField(
        required=False, default=None, allow_null=True,
        help_text="Intelligibility guard: each chunk is heard back and generated again with "
                  "the next seed while its character error rate is over TTS_VERIFY_MAX_CER "
                  "(0.3), up to TTS_VERIFY_RETRIES (2) times; the best attempt is kept and "
                  "`verification` reports each chunk's cer, attempts and seed. Slower: each "
                  "chunk waits for its check. Null or absent: the server's TTS_VERIFY_DEFAULT.")
    similarity = serializers.BooleanField(
        required=False, default=None, allow_null=True,
        help_text="Speaker similarity: how much each chunk, and the whole output, sounds like "
                  "the reference (cosine of speaker-encoder voiceprints, 0-1; ~0.75+ is the "
                  "same speaker with real weights). In `similarity`, SSE chunk events and "
                  "`done`, and the X-Voice-Similarity header of raw replies. Null or absent: "
                  "the server's TTS_SIMILARITY_DEFAULT.")

    #: The setting that bounds gen_text here.
    text_limit_setting = "TTS_MAX_TEXT_CHARS"

    def validate_gen_text(self, value: str) -> str:
        limit = getattr(settings, self.text_limit_setting)
        if len(value) > limit:
            raise serializers.ValidationError(
                f"gen_text is {len(value)} characters; the limit is {limit} "
                f"({self.text_limit_setting}). Split it into several requests.",
                code="max_length")
        if not any(unicodedata.category(char)[0] in "LN" for char in value):
            raise serializers.ValidationError(
                "gen_text has nothing to speak: only punctuation, symbols, emoji or invisible "
                "characters. Send words or numbers.", code="nothing_to_speak")
        check_pauses(value)
        return value

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):  # DRF answers "expected a dictionary"
            return super().to_internal_value(data)
        refuse_unknown_fields(data, self.fields)
        repeated = ([name for name in data if len(data.getlist(name)) > 1]
                    if hasattr(data, "getlist") else [])
        if repeated:  # a form may repeat a name; which value wins would be a guess
            raise serializers.ValidationError({
                name: [serializers.ErrorDetail(
                    f"{name} is sent {len(data.getlist(name))} times; send it once.",
                    code="duplicate_field")] for name in repeated})
        # Reported with the field errors, so a bare {} names every missing field at once.
        problems = _reference_problems(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**exc.detail, **problems}) from None
        if problems:
            raise serializers.ValidationError(problems)
        return value

    def generation_options(self) -> dict:
        """The generation parameters, for the service."""
        data = self.validated_data
        options = {name: data[name] for name in ("speed", "cross_fade_duration", "cfg_strength",
                                                 "sway_sampling_coef", "remove_silence", "seed")}
        options["nfe_step"] = nfe_for(data["quality"], data["nfe_step"])
        options["normalize"] = data["normalize"]
        if data["pronunciations"]:
            options["pronunciations"] = data["pronunciations"]
        for name in ("timestamps", "captions", "verify", "similarity"):
            if data.get(name) is not None and (name in ("verify", "similarity") or data[name]):
                options[name] = data[name]
        return options


def _reference_problems(data: Mapping) -> dict:
    """A request names its voice once: ref_audio (+ ref_text) or voice, or tags every word."""
    def given(name: str) -> bool:
        value = data.get(name)
        return isinstance(value, str) and bool(value.strip())

    def error(text: str, code: str) -> list:
        return [serializers.ErrorDetail(text, code=code)]

    # An empty ref_audio counts as sent: its own field error says it is empty.
    has_audio = data.get("ref_audio") is not None
    if given("voice") and has_audio:
        return {"voice": error("Send either voice (a saved voice id) or ref_audio (a clip), "
                               "not both.", "voice_conflict")}
    if given("voice") and given("ref_text"):
        return {"ref_text": error(
            "ref_text goes with ref_audio; a saved voice has its own transcript (change it "
            "with PATCH /api/tts/voices/{id}/).", "voice_conflict")}
    gen_text = data.get("gen_text")
    if not given("voice") and not has_audio and not (
            isinstance(gen_text, str) and starts_with_tag(gen_text)):
        return {"ref_audio": error("ref_audio is required: upload the voice to clone, or name "
                                   "a saved voice in voice.", "required")}
    return {}


class GenerateMultipartSerializer(_GenerateFields):
    ref_audio = serializers.FileField(
        required=False,
        help_text=f"Reference clip of the voice to clone: {ACCEPTED_AUDIO}; 3-12 s of one "
                  "speaker works best (longer clips are cut at a pause near 12 s). Required "
                  "unless `voice` is given.",
        error_messages={"required": "ref_audio is required: upload the voice to clone.",
                        "invalid": "ref_audio must be a file upload (multipart/form-data).",
                        "empty": "ref_audio is an empty file; upload a recording."})

    def validate_ref_audio(self, value) -> bytes:
        return value.read()


@extend_schema_field(OpenApiTypes.BYTE)
class Base64AudioField(serializers.Field):
    default_error_messages = {
        "invalid": "ref_audio must be the audio file's bytes as a base64 string.",
        "invalid_base64": "ref_audio is not valid base64; encode the file's bytes with standard "
                          "base64 (a data:audio/...;base64, prefix is accepted).",
        "empty": "ref_audio is empty; send a recording of 3-12 s of speech.",
    }

    def to_internal_value(self, data) -> bytes:
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        if text.startswith("data:"):
            text = text.partition(",")[2]
        try:
            raw = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            self.fail("invalid_base64")
        if not raw:
            self.fail("empty")
        return raw

    def to_representation(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")


class GenerateJsonSerializer(_GenerateFields):
    ref_audio = Base64AudioField(
        required=False,
        help_text=f"Reference clip as base64 ({ACCEPTED_AUDIO}); 3-12 s of one speaker. "
                  "Required unless `voice` is given.",
        error_messages={"required": "ref_audio is required: the base64 of the voice clip.",
                        "null": "ref_audio is required: the base64 of the voice clip."})


class ClipSerializer(serializers.Serializer):
    original_seconds = serializers.FloatField(help_text="Length of the uploaded clip.")
    kept_start = serializers.FloatField(help_text="Start of the part used, in seconds.")
    kept_end = serializers.FloatField(help_text="End of the part used, in seconds.")
    clipped = serializers.BooleanField(help_text="True when speech was cut to fit ~12 s.")


class FindingSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["clip_shortened", "short_clip", "mostly_silence", "clipping", "quiet",
                 "music_or_tone", "noisy", "multiple_speakers", "cut_mid_word"])
    severity = serializers.ChoiceField(choices=["info", "warning", "severe"])
    detail = serializers.CharField(help_text="What was found and what to do about it.")


class ReferenceReportSerializer(serializers.Serializer):
    seconds = serializers.FloatField(help_text="Length of the uploaded clip.")
    kept_seconds = serializers.FloatField(help_text="Seconds of it used as the reference.")
    speech_ratio = serializers.FloatField(help_text="Share of the clip that is speech (VAD).")
    loudness_lufs = serializers.FloatField(allow_null=True,
                                           help_text="Integrated loudness (ITU-R BS.1770).")
    peak_dbfs = serializers.FloatField()
    clipping_share = serializers.FloatField(help_text="Share of samples at full scale.")
    snr_db = serializers.FloatField(allow_null=True,
                                    help_text="Signal-to-noise estimate (loud vs quiet frames).")
    tone_share = serializers.FloatField(help_text="How steadily one pitch holds (music, hum).")
    speaker_consistency = serializers.FloatField(
        allow_null=True, help_text="Least similarity of two 1.6 s windows of the clip's speech "
                                   "(low: likely more than one speaker).")
    cut_at_start = serializers.BooleanField()
    cut_at_end = serializers.BooleanField()
    severity = serializers.ChoiceField(choices=["ok", "info", "warning", "severe"],
                                       help_text="The worst finding's.")
    findings = FindingSerializer(many=True, help_text="Worst first.")


class ParametersSerializer(serializers.Serializer):
    speed = serializers.FloatField()
    nfe_step = serializers.IntegerField()
    cross_fade_duration = serializers.FloatField()
    remove_silence = serializers.BooleanField()
    cfg_strength = serializers.FloatField()
    sway_sampling_coef = serializers.FloatField()


class TimingSerializer(serializers.Serializer):
    total_seconds = serializers.FloatField()
    preprocess_seconds = serializers.FloatField(help_text="Decoding and clipping the reference.")
    reference_cached = serializers.BooleanField(help_text="The prepared reference was cached.")
    queue_seconds = serializers.FloatField(help_text="Waiting for the model.")
    load_seconds = serializers.FloatField(help_text="Loading the model (first use only).")
    inference_seconds = serializers.FloatField()
    real_time_factor = serializers.FloatField(
        allow_null=True, help_text="inference seconds / audio seconds; below 1 is faster than "
                                   "real time.")


class SegmentSerializer(serializers.Serializer):
    voice = serializers.CharField(allow_null=True,
                                  help_text="Saved voice id; null for the uploaded clip.")
    text = serializers.CharField()
    start = serializers.FloatField(help_text="Seconds from the start of the audio.")
    end = serializers.FloatField()


SPOKEN_TEXT_HELP = ("What the model was given: gen_text normalised (unless normalize=off), "
                    "pronunciations applied, pauses shown as [pause:Ns] tags.")
class WordSerializer(serializers.Serializer):
    word = serializers.CharField(help_text="The word as written in gen_text (punctuation kept).")
    start = serializers.FloatField(help_text="Seconds from the start of the audio.")
    end = serializers.FloatField()
    confidence = serializers.FloatField(
        help_text="0-1: the recogniser's probability when it heard this word; lower when it "
                  "heard something else there; 0 when not heard (times interpolated).")
    voice = serializers.CharField(allow_null=True,
                                  help_text="Saved voice id speaking it; null for the uploaded "
                                            "clip.")


class ChunkCheckSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    cer = serializers.FloatField(help_text="Character error rate of the kept attempt.")
    attempts = serializers.IntegerField()
    seed = serializers.IntegerField(help_text="Seed of the kept attempt.")
    passed = serializers.BooleanField()
    recognised = serializers.CharField(allow_blank=True, help_text="What was heard.")
    failed = serializers.ListField(
        child=serializers.ChoiceField(choices=["cer", "similarity"]), required=False,
        help_text="The checks the kept attempt failed: `cer` (mis-spoken), `similarity` "
                  "(voice unlike the reference); empty when it passed.")
    similarity = serializers.FloatField(
        required=False, allow_null=True,
        help_text="The kept attempt's speaker similarity, when TTS_VERIFY_MIN_SIMILARITY is set.")


class VerificationSerializer(serializers.Serializer):
    passed = serializers.BooleanField(help_text="Every chunk is within max_cer.")
    max_cer = serializers.FloatField()
    retries = serializers.IntegerField()
    min_similarity = serializers.FloatField(
        required=False, help_text="TTS_VERIFY_MIN_SIMILARITY, when the guard checks the voice.")
    chunks = ChunkCheckSerializer(many=True)


class ChunkSimilaritySerializer(serializers.Serializer):
    index = serializers.IntegerField()
    similarity = serializers.FloatField(
        allow_null=True, help_text="Cosine of the chunk's voiceprint and the reference's; null "
                                   "when the chunk holds too little speech to tell.")
    seconds = serializers.FloatField(help_text="Seconds of the chunk.")


class SimilaritySerializer(serializers.Serializer):
    similarity = serializers.FloatField(
        allow_null=True, help_text="The whole output against the reference (its chunks' "
                                   "voiceprints weighted by duration).")
    chunks = ChunkSimilaritySerializer(many=True)


class OmitsAbsentFields(serializers.Serializer):
    """A reply that leaves out its optional parts (``omitted_when_absent``) that were not asked
    for, instead of sending them as null."""

    omitted_when_absent: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in self.omitted_when_absent:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class GenerateOutputSerializer(OmitsAbsentFields):
    audio = Base64AudioField(help_text="The encoded audio file, base64.")
    format = serializers.CharField()
    sample_rate = serializers.IntegerField()
    duration = serializers.FloatField(help_text="Seconds of generated audio.")
    model = serializers.CharField()
    seed = serializers.IntegerField(help_text="The seed used; send it back to reproduce.")
    ref_text = serializers.CharField(help_text="The reference transcript actually used.")
    ref_clip = ClipSerializer()
    chunks = serializers.IntegerField(help_text="Number of text chunks generated and joined.")
    parameters = ParametersSerializer()
    timing = TimingSerializer()
    segments = SegmentSerializer(
        many=True, help_text="Where each voice speaks: one entry, or one per stretch of a "
                             "multi-voice script.")
    spoken_text = serializers.CharField(
        allow_blank=True, help_text=SPOKEN_TEXT_HELP)
    spectrogram = Base64AudioField(source="spectrogram_png", required=False,
                                   help_text="PNG of the mel spectrogram, base64 (only with "
                                             "include_spectrogram).")
    words = WordSerializer(many=True, required=False, allow_null=True,
                           help_text="Every word of gen_text timed (with timestamps or "
                                     "captions).")
    captions = serializers.CharField(required=False, allow_null=True,
                                     help_text="The subtitle file (srt or vtt) as text (with "
                                               "captions).")
    verification = VerificationSerializer(required=False, allow_null=True,
                                          help_text="The guard's verdict (with verify).")
    similarity = SimilaritySerializer(required=False, allow_null=True,
                                      help_text="Speaker similarity (with similarity).")
    reference_report = ReferenceReportSerializer(
        required=False, allow_null=True,
        help_text="The uploaded clip's report (not with a saved voice: GET the voice).")

    omitted_when_absent = ("spectrogram", "words", "captions", "verification", "similarity",
                           "reference_report")


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    architecture = serializers.ChoiceField(choices=["DiT", "UNetT"])
    description = serializers.CharField()
    sample_rate = serializers.IntegerField()
    license = serializers.CharField()
    source = serializers.CharField(help_text="Hub URI or local path of the checkpoint.")
    status = serializers.ChoiceField(choices=["loaded", "available", "unavailable"])
    reason = serializers.CharField(allow_null=True,
                                   help_text="Why the model is unavailable, and what to set.")
    is_default = serializers.BooleanField()
    device = serializers.CharField(allow_null=True,
                                   help_text="Where the model runs (or will run once loaded): "
                                             "cpu, cuda, cuda:N or mps; null in celery mode "
                                             "while no worker serves it.")
    device_name = serializers.CharField(allow_null=True, help_text="GPU or CPU model name.")
    device_memory_mb = serializers.IntegerField(allow_null=True,
                                                help_text="Total memory of that device.")
    precision = serializers.ChoiceField(
        choices=["float32", "float16", "bfloat16"], allow_null=True,
        help_text="The precision the model's transformer computes in (TTS_PRECISION): float16 "
                  "weights on CUDA GPUs of compute capability 7+; bfloat16 (or float16 on a "
                  "CPU) is autocast, the linear layers' weights held in it, the rest float32. "
                  "Health's `compute` says why.")
    weights_mb = serializers.FloatField(allow_null=True,
                                        help_text="Memory the loaded weights take; null until "
                                                  "loaded.")
    torch_cuda = serializers.CharField(allow_null=True,
                                       help_text="CUDA version of the PyTorch build; null: a "
                                                 "CPU-only build.")
    gpu_usable = serializers.BooleanField(help_text="Whether PyTorch can use a GPU here (when "
                                                    "false on a CUDA build, health's warnings "
                                                    "say why).")
    timestamps = serializers.BooleanField(
        help_text="Whether `timestamps` and `captions` can be asked for (they need speech "
                  "recognition where the model runs, TTS_ASR_MODEL).")
    verify = serializers.BooleanField(help_text="Whether `verify` can be asked for (the same "
                                                "speech recognition).")
    listening_reason = serializers.CharField(
        allow_null=True, help_text="Why timestamps and verify are not available; null when "
                                   "they are.")


class DeviceInfoSerializer(serializers.Serializer):
    requested = serializers.CharField(help_text="TTS_DEVICE as configured.")
    device = serializers.CharField()
    name = serializers.CharField(help_text="GPU or CPU model name.")
    memory_total_mb = serializers.IntegerField(allow_null=True)
    memory_used_mb = serializers.FloatField(
        allow_null=True, help_text="GPU: held by PyTorch in this process; CPU: resident memory "
                                   "of this process.")
    memory_peak_mb = serializers.FloatField(allow_null=True)
    compute_capability = serializers.CharField(allow_null=True)
    precision = serializers.CharField(help_text="dtype the models run in on this device.")


class GpuSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField()
    memory_total_mb = serializers.IntegerField()
    compute_capability = serializers.CharField()
    supported = serializers.BooleanField(help_text="Whether this PyTorch build has kernels for "
                                                   "this GPU.")


class TorchBuildSerializer(serializers.Serializer):
    torch = serializers.CharField(help_text="PyTorch version with its build tag (+cu130, +cpu).")
    cuda = serializers.CharField(allow_null=True,
                                 help_text="CUDA version the PyTorch build targets; null: CPU "
                                           "build.")
    cudnn = serializers.IntegerField(allow_null=True)
    torchaudio = serializers.CharField(allow_null=True)
    gpu_usable = serializers.BooleanField()
    gpus = GpuSerializer(many=True)
    driver = serializers.CharField(allow_null=True, help_text="NVIDIA driver, when no GPU is "
                                                              "usable and nvidia-smi answers.")
    driver_cuda = serializers.CharField(allow_null=True,
                                        help_text="Newest CUDA that driver supports.")


class WorkerSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="host:pid for admin callers; worker-N for others.")
    models = serializers.ListField(child=serializers.CharField(), help_text="Models it serves.")
    ready = serializers.BooleanField(help_text="Its default model is loaded and warm.")
    device = serializers.CharField(allow_null=True)
    loaded_models = serializers.ListField(child=serializers.CharField())
    queue_depth = serializers.IntegerField()


class StorageSerializer(serializers.Serializer):
    path = serializers.CharField(required=False,
                                 help_text="Shown to admin callers only (an admin key).")
    free_mb = serializers.FloatField(allow_null=True)
    total_mb = serializers.FloatField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    version = serializers.CharField()
    f5_tts_version = serializers.CharField()
    device = serializers.CharField(
        allow_null=True, help_text="Where the models run: cpu, cuda, cuda:N or mps. In celery "
                                   "mode, a worker's (null while none runs).")
    device_info = DeviceInfoSerializer(allow_null=True)
    torch = TorchBuildSerializer(allow_null=True)
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="Problems to fix or confirm, e.g. a CUDA build of PyTorch with no usable "
                  "GPU (the models then run on the CPU); each says what to do.")
    compute = serializers.DictField(
        allow_null=True,
        help_text="device, precision, precision_reason (what TTS_PRECISION=auto found), "
                  "precision_applied_as, compile (TTS_COMPILE: auto, 1 or 0), compile_models "
                  "{model id: {setting, compiled, reason, cache (warm, cold, stale, rebuilt or "
                  "none), seconds}} for each loaded model, threads {intra_op, inter_op, "
                  "usable_cpus}.")
    execution_mode = serializers.ChoiceField(
        choices=["inline", "celery"], help_text="TTS_EXECUTION: inline (this process runs the "
                                                "models) or celery (workers do).")
    default_model = serializers.CharField()
    loaded_models = serializers.ListField(child=serializers.CharField())
    queue_depth = serializers.IntegerField(help_text="Requests waiting for a model now.")
    asr = serializers.DictField()
    reference_cache = serializers.DictField(allow_null=True)
    uptime_seconds = serializers.FloatField()
    workers = WorkerSerializer(many=True, required=False,
                               help_text="Celery mode: each running worker process.")
    storage = serializers.DictField(
        child=StorageSerializer(),
        help_text="Free space where the server keeps its state: `data` (the SQLite database) "
                  "and `media` (voices' and jobs' files; absent with an object storage). "
                  "Readiness is 503 below TTS_MIN_FREE_MB.")


class ReadinessSerializer(serializers.Serializer):
    status = serializers.CharField()
    default_model = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["validation_error", "client_error", "server_error"])
    errors = ErrorSerializer(many=True)
