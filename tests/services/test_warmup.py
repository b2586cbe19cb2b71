"""Preloaded models make one short generation before readiness turns green."""

import logging
import threading

from tts.work.warmup import WARMUP_REF_TEXT, synthetic_reference, warm_model


def test_synthetic_reference_passes_the_engines_own_checks(tiny_engine):
    ref, _ = tiny_engine.prepare_reference(synthetic_reference(), WARMUP_REF_TEXT)
    assert ref.seconds > 2 and not ref.clip.clipped and not ref.transcribed


def test_warm_model_generates_real_audio_through_the_facade(tiny_engine):
    result = warm_model(tiny_engine, "tiny-e2")
    assert "tiny-e2" in tiny_engine.loaded_models()
    assert result.seconds > 0.2 and result.samples.std() > 0


def test_readiness_waits_for_the_warm_up(client, settings, caplog):
    """The model is loaded but its warm-up cannot run while the device is busy: not ready
    until the warm-up generation has gone through."""
    from tts.work.preload import start_preload, warming
    from tts.work.runtime import get_engine

    settings.TTS_PRELOAD = ["tiny-f5"]
    engine = get_engine()
    caplog.set_level(logging.INFO, logger="tts.work.warmup")
    engine.load_model("tiny-f5")
    with engine.queue.turn():  # the device is busy: the warm-up generation has to wait
        thread = start_preload(retry_seconds=0.05)
        for _ in range(200):
            if warming("tiny-f5")[0]:
                break
            threading.Event().wait(0.01)
        assert "tiny-f5" in engine.loaded_models() and warming("tiny-f5") == (True, None)
        response = client.get("/api/tts/health/ready/")
        assert response.status_code == 503
        assert "warming up" in response.json()["errors"][0]["detail"]
    thread.join(60)
    assert not thread.is_alive()
    assert client.get("/api/tts/health/ready/").status_code == 200
    assert any("tiny-f5 warmed up" in r.getMessage() for r in caplog.records)


def test_without_warm_up_readiness_follows_the_load(client, settings, caplog):
    from tts.work.preload import preload, warming
    from tts.work.runtime import get_engine

    settings.TTS_PRELOAD = ["tiny-f5"]
    settings.TTS_WARMUP = False
    caplog.set_level(logging.INFO, logger="tts.work.warmup")
    preload()
    assert "tiny-f5" in get_engine().loaded_models() and warming("tiny-f5") == (False, None)
    assert client.get("/api/tts/health/ready/").status_code == 200
    assert not any("warmed up" in r.getMessage() for r in caplog.records)
    assert get_engine().references.stats()["entries"] == 0  # no warm-up generation ran
