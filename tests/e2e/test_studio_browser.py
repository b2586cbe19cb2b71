"""The studio at `/` used as a person uses it, in a real headless Chromium whose microphone
plays an espeak-ng clip: record, let the server recognise the words, save the voice, speak a
paragraph that plays while it streams, download, a long text as a job, the voice library; the
reference report of uploaded clips (ffmpeg-made defects), strict mode's refusal, voice match.
The real server answers (tiny random models, Whisper tiny.en for speech recognition)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import pytest
import requests
import soundfile as sf
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.support.asr import REF_WORDS, whisper_model_path
from tests.support.audio import REF_TEXT
from tests.support.browser import Page, chromium, off_machine, screenshot_on_failure
from tests.support.defects import FIRST, SECOND, clean, defective
from tests.support.server import ROOT, LiveServer

pytestmark = pytest.mark.e2e

PARAGRAPH = ("The studio speaks while it is still thinking. Each sentence is sent as soon as "
             "it is made, so the first words play before the last ones exist. That is the "
             "whole point of streaming: no waiting for the end. Here is one more sentence to "
             "keep it busy a little longer. And a last one, to be sure.")
CLIP_TEXT = f"{FIRST} {SECOND}"
#: Over the strict server's TTS_MAX_TEXT_CHARS: runs as a job there.
SHORT_CHAPTER = "The valley was cold that morning, and the river ran fast under the bridge."
CHAPTER = " ".join(["Chapter one. The valley was cold that morning, and the river ran fast."]
                   * 16)


@pytest.fixture(scope="module")
def studio_server(tiny_dir):
    """The server with speech recognition (a recording needs no typed transcript), API keys
    required (the page asks for one) and streams paced as by default (measured: the player
    is heard starting while the stream arrives)."""
    server = LiveServer(tiny_dir / "models.toml", extra_env={
        "TTS_ASR_MODEL": whisper_model_path(), "TTS_REQUIRE_API_KEY": "1",
        "TTS_STREAM_PACING": "measured"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def studio_key(studio_server) -> str:
    done = subprocess.run([sys.executable, "manage.py", "apikeys", "create", "studio"],
                          cwd=ROOT, env=studio_server.env(), capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def browser(tmp_path_factory, ref_wav):
    driver = chromium(tmp_path_factory.mktemp("studio-profile"), flags=(
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={ref_wav}"))
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, request) -> Page:
    return Page(browser, request.node.name)


def by_id(page: Page, name: str):
    return page.find(f"#{name}")


def fill(field, text: str) -> None:
    field.clear()
    field.send_keys(text)


def text_of(page: Page, name: str) -> str:
    return page.driver.find_element(By.ID, name).text


def fetch_bytes(page: Page, url: str) -> bytes:
    """What the page would save from ``url`` (a blob: link), fetched inside the page."""
    encoded = page.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then((r) => r.blob()).then((blob) => {
          const reader = new FileReader();
          reader.onload = () => done(reader.result.split(",")[1]);
          reader.readAsDataURL(blob);
        }).catch((error) => done("error: " + error));""", url)
    assert not encoded.startswith("error"), encoded
    return base64.b64decode(encoded)


def open_studio(page: Page, server, key: str) -> None:
    """The studio with ``key`` entered, if the page asks for one."""
    page.open(f"{server.url}/")
    by_id(page, "speak-button")
    if page.js("return !document.getElementById('key-section').hidden"):
        enter_key(page, key)
    page.wait_for(lambda: page.js("return document.querySelectorAll('#model option').length"),
                  "the models are listed")


def enter_key(page: Page, key: str) -> None:
    fill(by_id(page, "api-key"), key)
    by_id(page, "api-key").send_keys(Keys.ENTER)


@screenshot_on_failure
def test_record_save_speak_download_job_and_library(page, studio_server, studio_key):
    # Keys are required: the page asks for one, says plainly when it is wrong, and keeps it
    # in this tab's session storage only.
    page.open(f"{studio_server.url}/")
    page.wait_for(lambda: by_id(page, "key-section").is_displayed(), "the key is asked for")
    assert "API key" in by_id(page, "notice").text
    enter_key(page, "wrong.key")
    page.wait_for(lambda: "Enter a valid API key" in by_id(page, "notice").text,
                  "a wrong key is refused plainly")
    by_id(page, "key-forget").click()
    assert page.js("return sessionStorage.length") == 0
    open_studio(page, studio_server, studio_key)  # (forgets the console's 401s)
    assert page.js("return sessionStorage.getItem('tts-studio-api-key')") == studio_key
    assert page.js("return localStorage.length") == 0
    assert not by_id(page, "notice").is_displayed()

    # Record from the (fake) microphone for about four seconds.
    record = by_id(page, "record")
    record.click()
    page.wait_for(lambda: float(text_of(page, "record-time").split()[0]) >= 4.0, "4 s recorded")
    assert page.js("return document.getElementById('level').value") > 0, "the meter moves"
    record.click()
    page.wait_for(lambda: "Recorded" in text_of(page, "voice-status"), "the recording is kept")
    assert by_id(page, "clip-preview").get_attribute("src").startswith("blob:")

    # Save it with consent and no transcript: the server recognises the words.
    fill(by_id(page, "voice-name"), "Studio Voice")
    by_id(page, "save-voice").click()
    page.wait_for(lambda: "consent" in text_of(page, "voice-status"), "consent is asked for")
    by_id(page, "voice-consent").click()
    by_id(page, "save-voice").click()
    page.wait_for(lambda: "Saved" in text_of(page, "voice-status") or "error" in by_id(
        page, "voice-status").get_attribute("class"), "the voice is saved")
    assert "Saved" in text_of(page, "voice-status"), text_of(page, "voice-status")
    transcript = by_id(page, "ref-text").get_attribute("value").lower()
    assert set(transcript.replace(",", " ").replace(".", " ").split()) & REF_WORDS, transcript
    assert Select(by_id(page, "use-voice")).first_selected_option.get_attribute(
        "value") == "studio-voice"
    # Correct the transcript: it is saved to the voice before the voice next speaks.
    fill(by_id(page, "ref-text"), REF_TEXT)

    # Speak a paragraph: the player is already playing while the stream still arrives.
    page.js("""
        const player = document.getElementById('player');
        window.firstPlay = null;
        player.addEventListener('timeupdate', () => {
          if (!window.firstPlay && player.currentTime > 0)
            window.firstPlay = {state: player.dataset.state, time: player.currentTime};
        });""")
    fill(by_id(page, "gen-text"), PARAGRAPH)
    Select(by_id(page, "quality")).select_by_value("best")
    by_id(page, "speak-button").click()
    page.wait_for(lambda: "Done" in text_of(page, "speak-status")
                  or "error" in by_id(page, "speak-status").get_attribute("class"), "spoken")
    assert "Done" in text_of(page, "speak-status"), text_of(page, "speak-status")
    first_play = page.js("return window.firstPlay")
    assert first_play and first_play["state"] == "streaming", first_play
    voice = requests.get(f"{studio_server.url}/api/tts/voices/studio-voice/", timeout=30,
                         headers={"Authorization": f"Bearer {studio_key}"}).json()
    assert voice["ref_text"] == REF_TEXT
    seed = text_of(page, "speak-status").split("Seed ")[1].split(":")[0]

    # Download it as WAV: a real file of the same take.
    Select(by_id(page, "download-format")).select_by_value("wav")
    by_id(page, "download-button").click()
    link = page.find("#download-link:not([hidden])")
    assert link.get_attribute("download") == f"speech-{seed}.wav"
    samples, rate = sf.read(io.BytesIO(fetch_bytes(page, link.get_attribute("href"))))
    assert rate == 24000 and len(samples) > rate

    # A long text becomes a job: its progress rises, then its audio plays.
    page.js("""
        const bar = document.getElementById('job-progress');
        window.progressSeen = [];
        new MutationObserver(() => window.progressSeen.push(bar.value))
          .observe(bar, {attributes: true, attributeFilter: ['value']});""")
    Select(by_id(page, "quality")).select_by_value("fast")
    page.js("const box = document.getElementById('gen-text'); box.value = arguments[0];"
            "box.dispatchEvent(new Event('input'));", CHAPTER)
    assert "runs as a job" in text_of(page, "text-count")
    by_id(page, "speak-button").click()
    page.wait_for(lambda: "done" in text_of(page, "job-status")
                  or "failed" in text_of(page, "job-status"), "the job finishes")
    assert "done" in text_of(page, "job-status"), text_of(page, "job-status")
    seen = page.js("return window.progressSeen")
    assert seen == sorted(seen) and seen[-1] == 1 and any(0 < value < 1 for value in seen), seen
    page.wait_for(lambda: page.js(
        "return document.getElementById('job-player').currentTime") > 0, "the job's audio plays")
    assert page.find_all("#job-list li button")  # the recent jobs, with Play
    # Another one, cancelled at once.
    by_id(page, "speak-button").click()
    page.wait_for(lambda: "Job " in text_of(page, "job-status")
                  and by_id(page, "job-cancel").is_enabled(), "the second job is followed")
    by_id(page, "job-cancel").click()
    page.wait_for(lambda: "cancelled" in text_of(page, "job-status"), "the job is cancelled")

    # The library: preview, rename, delete.
    row = page.find("#voice-list li[data-voice=studio-voice]")
    row.find_element(By.XPATH, ".//button[text()='Preview']").click()
    page.wait_for(lambda: page.js(
        "return document.getElementById('library-player').readyState") >= 1, "clip loads")
    rename = row.find_element(By.CSS_SELECTOR, "input")
    fill(rename, "Renamed Voice")
    row.find_element(By.XPATH, ".//button[text()='Rename']").click()
    page.wait_for(lambda: "Renamed Voice" in page.find(
        "#voice-list li[data-voice=studio-voice]").text, "the library shows the new name")
    assert "Renamed" in text_of(page, "library-status")
    row = page.find("#voice-list li[data-voice=studio-voice]")
    delete = row.find_element(By.CSS_SELECTOR, "button.delete")
    delete.click()
    delete.click()
    page.wait_for(lambda: not page.find_all("#voice-list li[data-voice=studio-voice]"),
                  "the voice is gone")
    assert "studio-voice" not in [option.get_attribute("value") for option in
                                  page.find_all("#use-voice option")]

    assert page.console_problems() == []
    assert off_machine(page.requested_urls()) == []


@screenshot_on_failure
def test_accessible_keyboard_usable_and_narrow(page, studio_server, studio_key):
    open_studio(page, studio_server, studio_key)
    assert page.axe_violations() == []
    # Keyboard: Tab reaches the Speak button, every control on the way has a name.
    for _ in range(40):
        ActionChains(page.driver).send_keys(Keys.TAB).perform()
        if page.js("return document.activeElement.id") == "speak-button":
            break
    assert page.js("return document.activeElement.id") == "speak-button"
    overflow = page.horizontal_overflow(420)
    assert not overflow, "\n".join(overflow)
    assert page.axe_violations() == []  # narrow layout too
    assert page.console_problems() == []
    assert off_machine(page.requested_urls()) == []


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    """The clean espeak-ng clip, and the same with a held chord under it (music_or_tone)."""
    return {"clean": clean(tmp_path_factory.mktemp("clean-clip")),
            "tones": defective(tmp_path_factory.mktemp("tones-clip"), "tones")}


def save_clip(page: Page, path, name: str) -> str:
    """Uploads ``path`` with its transcript and saves it as ``name``; the status line after."""
    by_id(page, "clip-file").send_keys(str(path))
    page.wait_for(lambda: "Chose" in text_of(page, "voice-status"), "the clip is chosen")
    fill(by_id(page, "ref-text"), CLIP_TEXT)
    fill(by_id(page, "voice-name"), name)
    if not by_id(page, "voice-consent").is_selected():
        by_id(page, "voice-consent").click()
    by_id(page, "save-voice").click()
    page.wait_for(lambda: "Saved “" in text_of(page, "voice-status") or "error" in by_id(
        page, "voice-status").get_attribute("class"), "the save is answered")
    return text_of(page, "voice-status")


def assert_match_shown(line: str) -> None:
    """The whole output's score (0-1) with what it means; the tiny demo models make noise, not
    speech, and usually get no score at all, which is said too."""
    assert line.startswith("Voice match: ") and "demo models" in line, line
    if "too little speech" not in line:
        assert 0 <= float(line.split()[2]) <= 1, line


@screenshot_on_failure
def test_reference_report_library_marker_and_voice_match(page, studio_server, studio_key,
                                                         clips):
    open_studio(page, studio_server, studio_key)
    # A clip with music under it: saved, and its finding is shown with what to do.
    assert "Saved" in save_clip(page, clips["tones"], "Tones Voice")
    voice = requests.get(f"{studio_server.url}/api/tts/voices/tones-voice/", timeout=30,
                         headers={"Authorization": f"Bearer {studio_key}"}).json()
    finding = voice["reference_report"]["findings"][0]
    assert finding["code"] == "music_or_tone" and finding["severity"] == "severe"
    shown = page.find("#voice-report li.finding.severe")
    assert shown.text == f"Severe: {finding['detail']}"
    # The library marks it; the marker's details list the findings.
    page.wait_for(lambda: page.find_all("#voice-list li[data-voice=tones-voice] details"),
                  "the library marks the voice")
    marker = page.find("#voice-list li[data-voice=tones-voice] details")
    marker.find_element(By.CSS_SELECTOR, "summary").click()
    assert finding["detail"] in marker.text
    assert page.axe_violations() == []  # the report and the open marker too

    # A clean clip: no warning, a line saying it looks good, no marker.
    assert "Saved" in save_clip(page, clips["clean"], "Clean Voice")
    assert "looks good" in text_of(page, "voice-report")
    assert not page.find_all("#voice-report .finding")
    page.wait_for(lambda: page.find_all("#voice-list li[data-voice=clean-voice]"), "listed")
    assert not page.find_all("#voice-list li[data-voice=clean-voice] details")

    # Voice match: a streamed take has no score; its WAV download (a raw reply) carries one.
    Select(by_id(page, "use-voice")).select_by_value("clean-voice")
    assert not by_id(page, "similarity").is_selected()  # off by default
    by_id(page, "similarity").click()
    fill(by_id(page, "gen-text"), "Hello there, this is a short test.")
    Select(by_id(page, "quality")).select_by_value("fast")
    by_id(page, "speak-button").click()
    page.wait_for(lambda: "Done" in text_of(page, "speak-status")
                  or "error" in by_id(page, "speak-status").get_attribute("class"), "spoken")
    assert "Done" in text_of(page, "speak-status"), text_of(page, "speak-status")
    assert not by_id(page, "speak-match").is_displayed()
    Select(by_id(page, "download-format")).select_by_value("wav")
    by_id(page, "download-button").click()
    page.wait_for(lambda: by_id(page, "speak-match").is_displayed(), "the score is shown")
    assert_match_shown(text_of(page, "speak-match"))
    assert page.axe_violations() == []
    assert page.console_problems() == []
    assert off_machine(page.requested_urls()) == []
    for voice_id in ("tones-voice", "clean-voice"):
        requests.delete(f"{studio_server.url}/api/tts/voices/{voice_id}/", timeout=30,
                        headers={"Authorization": f"Bearer {studio_key}"})


@pytest.fixture(scope="module")
def strict_server(tiny_dir):
    """Refuses clips with severe findings; short texts already run as jobs."""
    server = LiveServer(tiny_dir / "models.toml", extra_env={
        "TTS_REFERENCE_STRICT": "1", "TTS_MAX_TEXT_CHARS": "60"}).start()
    yield server
    server.stop()


@screenshot_on_failure
def test_strict_refusal_is_shown_and_a_job_shows_its_voice_match(page, strict_server, clips):
    open_studio(page, strict_server, "")
    status = save_clip(page, clips["tones"], "Tones Voice")
    assert "error" in by_id(page, "voice-status").get_attribute("class")
    assert "music_or_tone" in status and "TTS_REFERENCE_STRICT" in status, status
    assert not by_id(page, "voice-report").is_displayed()
    assert "Saved" in save_clip(page, clips["clean"], "Clean Voice")
    assert "looks good" in text_of(page, "voice-report")

    # A job with voice match on: its output's similarity is shown.
    by_id(page, "similarity").click()
    fill(by_id(page, "gen-text"), SHORT_CHAPTER)
    assert "runs as a job" in text_of(page, "text-count")
    Select(by_id(page, "quality")).select_by_value("fast")
    by_id(page, "speak-button").click()
    page.wait_for(lambda: "done" in text_of(page, "job-status")
                  or "failed" in text_of(page, "job-status"), "the job finishes")
    assert "done" in text_of(page, "job-status"), text_of(page, "job-status")
    page.wait_for(lambda: by_id(page, "job-match").is_displayed(), "the score is shown")
    assert_match_shown(text_of(page, "job-match"))
    assert off_machine(page.requested_urls()) == []
