"""Request parsers that turn hostile bodies into 400/413 errors instead of 500s: JSON nested
too deeply, duplicate JSON keys, too many multipart fields or files, bodies over the limit."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import parsers
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError

from .errors import RequestTooLarge


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise ValidationError({key: [ErrorDetail(
                f"{key} appears more than once in the JSON object; send it once.",
                code="duplicate_field")]})
        seen[key] = value
    return seen


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(text, object_pairs_hook=_refuse_duplicates)
        except RecursionError:
            raise ParseError("The JSON body is nested too deeply; send a flat object of fields.",
                             code="parse_error") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}", code="parse_error") from None


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except TooManyFieldsSent:
            raise ParseError(f"The form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} "
                             "fields; send only the documented ones.",
                             code="too_many_fields") from None
        except TooManyFilesSent:
            raise ParseError(f"The form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} "
                             "files; send one ref_audio.", code="too_many_files") from None
        except RequestDataTooBig:
            raise RequestTooLarge(f"The request body is over {settings.TTS_MAX_UPLOAD_MB:g} MB "
                                  "(TTS_MAX_UPLOAD_MB).") from None
