"""Management commands: tiny model writer and command-line generation."""

import pytest
import soundfile as sf
from django.core.management import CommandError, call_command

from tests.support.audio import REF_TEXT


def test_make_tiny_models_writes_a_loadable_set(tmp_path, settings):
    folder = tmp_path / "tiny"
    call_command("make_tiny_models", str(folder))
    names = {path.name for path in folder.iterdir()}
    assert {"models.toml", "vocab.txt", "vocos", "tiny_dit.safetensors", "tiny_dit.pt",
            "tiny_unett.safetensors", "tiny_unett.pt"} <= names
    assert all(line.endswith("\n") for line in
               (folder / "vocab.txt").read_text().splitlines(keepends=True))
    assert "noise" in (folder / "models.toml").read_text()
    stamp = (folder / "tiny_dit.pt").stat().st_mtime_ns
    call_command("make_tiny_models", str(folder), "--skip-existing")
    assert (folder / "tiny_dit.pt").stat().st_mtime_ns == stamp


def test_speak_writes_audio(tmp_path, ref_wav, capsys):
    out = tmp_path / "hello.flac"
    call_command("speak", "--ref", str(ref_wav), "--ref-text", REF_TEXT, "--text",
                 "Hello from the command line.", "--nfe-step", "4", "--seed", "3", "-o", str(out))
    info = sf.info(str(out))
    assert info.samplerate == 24000 and info.duration > 0.3
    assert "seed 3" in capsys.readouterr().out


def test_speak_reports_errors_plainly(tmp_path, ref_wav):
    with pytest.raises(CommandError, match="Unknown model"):
        call_command("speak", "--ref", str(ref_wav), "--ref-text", REF_TEXT, "--text", "Hi.",
                     "--model", "nope", "-o", str(tmp_path / "x.wav"))
    with pytest.raises(CommandError, match="--output"):
        call_command("speak", "--ref", str(ref_wav), "--text", "Hi.", "-o", "x.aiff")


def test_demo_setup_runs_from_nothing(tmp_path):
    """What `TTS_DEMO=1 make serve` runs before the server starts, on an empty var folder."""
    import os
    import subprocess
    import sys

    from tests.support.server import ROOT

    env = {**os.environ, "TTS_DEMO": "1", "TTS_VAR_DIR": str(tmp_path / "var"),
           "HF_HUB_OFFLINE": "1"}
    for command in (["make_tiny_models", "--skip-existing"], ["migrate", "--noinput"],
                    ["check"]):
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "var" / "tiny-models" / "models.toml").exists()
