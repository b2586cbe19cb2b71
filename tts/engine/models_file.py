"""The models file's schema (TOML or JSON): every mistake becomes one ConfigurationError that
names the file, the entry and the field, instead of a traceback at the first request."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from .errors import ConfigurationError

ARCHITECTURES = ("DiT", "UNetT")
HUB_PREFIX = "hf://"
CHECKPOINT_SUFFIXES = (".safetensors", ".pt")


class ModelEntry(BaseModel):
    """One ``[[models]]`` table."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: StrictStr = Field(min_length=1, max_length=100, pattern=r"^[^/\s]+$")
    name: StrictStr = ""
    architecture: StrictStr = "DiT"
    checkpoint: StrictStr = Field(min_length=1)
    vocab: StrictStr = ""
    vocoder: StrictStr = ""
    description: StrictStr = ""
    license: StrictStr = ""
    env_hint: StrictStr = "TTS_MODELS_FILE"
    tags: list[StrictStr] = Field(default_factory=list)
    #: False: the model was trained on raw text; requests' text is not normalised for it.
    normalize: bool = True
    config: dict[StrictStr, Any] = Field(default_factory=dict)

    @field_validator("architecture")
    @classmethod
    def _known_architecture(cls, value: str) -> str:
        if value not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {value!r}; use one of "
                             f"{', '.join(ARCHITECTURES)}")
        return value

    @field_validator("checkpoint", "vocab", "vocoder")
    @classmethod
    def _hub_uri_form(cls, value: str) -> str:
        if value.startswith(HUB_PREFIX) and len(value[len(HUB_PREFIX):].split("/", 2)) < 3:
            raise ValueError(f"{value!r} is not a hub URI of the form "
                             "hf://owner/repo/path/to/file")
        return value

    @field_validator("checkpoint")
    @classmethod
    def _checkpoint_format(cls, value: str) -> str:
        if not value.endswith(CHECKPOINT_SUFFIXES):
            raise ValueError(f"{value!r} is not a .safetensors or .pt checkpoint file")
        return value


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    models: list[dict[str, Any]] = Field(default_factory=list)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"Models file {path} cannot be read ({exc.strerror}); check "
                                 "TTS_MODELS_FILE.") from None
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigurationError(f"Models file {path} is not valid {kind}: {exc}.") from None


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (a typo?)"
    return f"field {where!r}: {message}" if where else message


def _resolve(value: str, folder: Path) -> str:
    """Relative local paths are relative to the file's folder, so the two move together."""
    if not value or value.startswith(HUB_PREFIX) or Path(value).is_absolute():
        return value
    return str((folder / value).resolve())


def _path_problems(entry: ModelEntry) -> list[str]:
    """Local paths that exist but are the wrong kind (a missing file is only 'unavailable':
    weights may arrive after the server starts)."""
    problems = []
    for key, want_folder in (("checkpoint", False), ("vocab", False), ("vocoder", True)):
        value = getattr(entry, key)
        if not value or value.startswith(HUB_PREFIX):
            continue
        path = Path(value)
        if path.exists() and path.is_dir() != want_folder:
            expected = "a folder (config.yaml + pytorch_model.bin)" if want_folder else "a file"
            problems.append(f"field {key!r}: {value} is not {expected}")
    return problems


def load_entries(path: str | Path, *, reserved: tuple[str, ...] = ()) -> list[ModelEntry]:
    """The validated entries of a models file, paths resolved; ``reserved`` are ids already
    taken (the built-in models), which the file may not replace."""
    path = Path(path)
    data = _read(path)
    if not isinstance(data, dict):
        raise ConfigurationError(f"Models file {path}: the top level must be a table/object "
                                 "with a \"models\" list, not a "
                                 f"{type(data).__name__}.")
    try:
        document = ModelsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"Models file {path}: "
                                 + "; ".join(_describe(error) for error in exc.errors())
                                 + ".") from None
    problems, entries, seen = [], [], {name: "a built-in model" for name in reserved}
    for index, raw in enumerate(document.models):
        label = f"models[{index}]" + (f" (id {raw['id']!r})" if isinstance(raw.get("id"), str)
                                      else "")
        try:
            entry = ModelEntry.model_validate(raw)
        except ValidationError as exc:
            problems += [f"{label}: {_describe(error)}" for error in exc.errors()]
            continue
        entry = entry.model_copy(update={key: _resolve(getattr(entry, key), path.parent)
                                         for key in ("checkpoint", "vocab", "vocoder")})
        problems += [f"{label}: {problem}" for problem in _path_problems(entry)]
        if entry.id in seen:
            problems.append(f"{label}: field 'id': {entry.id!r} is already {seen[entry.id]}; "
                            "ids must be unique")
        seen.setdefault(entry.id, f"used by {label}")
        entries.append(entry)
    if problems:
        raise ConfigurationError(f"Models file {path}: " + "; ".join(problems) + ".")
    return entries
