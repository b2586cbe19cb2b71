"""The docs pages used the way a newcomer uses them, in a real headless Chromium
(tests/support/browser.py: Debian's chromium, nothing from other hosts, screenshots of
failures)."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
import requests
import soundfile as sf
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.support.audio import REF_TEXT
from tests.support.browser import Page, chromium, off_machine, screenshot_on_failure

pytestmark = pytest.mark.e2e

GENERATE = "#operations-speech-generateSpeech"
PLACEHOLDER = "<base64 of a 3-12 s wav/mp3/m4a clip>"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, request) -> Page:
    browser.set_window_size(1400, 1800)  # a test that went narrow leaves it so
    return Page(browser, request.node.name)


@pytest.fixture(scope="module")
def saved_voice(tts_server, ref_wav):
    """A voice saved on the server, as the forms that use one need."""
    with ref_wav.open("rb") as clip:
        reply = requests.post(f"{tts_server.url}/api/tts/voices/", files={"ref_audio": clip},
                              data={"id": "docs-voice", "name": "Docs voice",
                                    "ref_text": REF_TEXT, "consent": "Agreed for the tests."},
                              timeout=120)
    assert reply.status_code == 201, reply.text
    yield reply.json()
    requests.delete(f"{tts_server.url}/api/tts/voices/docs-voice/", timeout=30)


def open_generate(page: Page, server) -> object:
    page.open(f"{server.url}/api/docs/#/speech/generateSpeech")
    operation = page.find(GENERATE)
    page.wait_for(lambda: "is-open" in operation.get_attribute("class"),
                  "the deep link to generateSpeech opens it")
    page.find(".execute", operation)  # "Try it out" is on from the start
    return operation


def form_field(page: Page, operation, name: str):
    return page.find(f".opblock-section-request-body input[placeholder={name}]", operation)


def fill(field, value: str) -> None:
    field.clear()
    field.send_keys(value)


def execute(page: Page, operation) -> tuple[str, str]:
    """Press Execute; the status code and the text of the reply the page shows. The page may
    still be laying itself out after a change (a new media type re-renders the responses):
    the button is brought to the middle of the screen and pressed once nothing covers it."""
    for _ in range(3):  # a press during a re-render can be lost: press again if nothing began
        button = page.find(".execute", operation)
        page.js("arguments[0].scrollIntoView({block: 'center'})", button)
        page.wait_for(lambda button=button: _pressed(button), "Execute can be pressed")
        try:  # the request began: a spinner while it runs, then Clear and the reply
            page.wait_for(lambda: page.find_all(
                ".loading-container, .btn-clear, .live-responses-table", operation), timeout=10)
            break
        except AssertionError:
            continue
    status = page.find(".live-responses-table .response .response-col_status", operation)
    body = page.find(".live-responses-table .response .response-col_description", operation)
    return status.text.strip(), body.text


def _pressed(button) -> bool:
    try:
        button.click()
    except (ElementClickInterceptedException, StaleElementReferenceException):
        return False  # covered or replaced for a moment: try again
    return True


def choose(select_element, value: str) -> None:
    Select(select_element).select_by_value(value)


def open_operation(page: Page, server, tag: str, operation_id: str) -> object:
    page.open(f"{server.url}/api/docs/#/{tag}/{operation_id}")
    operation = page.find(f"#operations-{tag}-{operation_id}")
    page.wait_for(lambda: "is-open" in operation.get_attribute("class"), "deep link opens")
    page.find(".execute", operation)
    return operation


def form_values(page: Page, operation) -> dict[str, tuple[str, bool | None]]:
    """Each form field's starting value, and whether its "Send empty value" box is ticked."""
    return {name: (value, ticked) for name, value, ticked in page.js("""
        return [...arguments[0].querySelectorAll('.opblock-section-request-body tr')]
          .map((row) => {
            const name = row.querySelector('.parameter__name');
            const input = row.querySelector('input:not([type=checkbox]), select, textarea');
            const box = row.querySelector('input[type=checkbox]');
            return name && [name.innerText.split('\\n')[0].replace(/[\\s*]+$/, ''),
                            input ? input.value : null, box ? box.checked : null];
          }).filter(Boolean);""", operation)}


def reply_json(page: Page, operation) -> dict:
    return json.loads(page.find(".live-responses-table .response .microlight", operation).text)


def audio_reply(page: Page, operation) -> tuple[object, object]:
    """The player and download link of a raw-audio reply, once the player has loaded it."""
    player = page.find(".tts-audio audio", operation)
    download = page.find(".tts-audio a[download]", operation)
    page.wait_for(lambda: page.js(
        "return arguments[0].readyState >= 1 && !arguments[0].error", player), "audio loads")
    return player, download


@screenshot_on_failure
def test_swagger_renders_every_operation_without_console_errors(page, tts_server):
    schema = requests.get(f"{tts_server.url}/api/schema/", timeout=30, headers={
        "Accept": "application/vnd.oai.openapi+json"}).json()
    expected = {operation["operationId"] for methods in schema["paths"].values()
                for operation in methods.values()}
    page.open(f"{tts_server.url}/api/docs/#/speech/generateSpeech")
    page.wait_for(lambda: len(page.find_all(".opblock")) == len(expected),
                  f"{len(expected)} operations on the page")
    shown = {block.get_attribute("id").rsplit("-", 1)[1] for block in page.find_all(".opblock")}
    assert shown == expected
    # No key is required here: no Authorize button, no padlocks.
    assert page.find_all(".btn.authorize") == [] and page.find_all(".authorization__btn") == []
    generate = page.find(GENERATE)
    page.wait_for(lambda: "is-open" in generate.get_attribute("class"), "deep link opens")
    time.sleep(0.5)  # let late console messages (deprecation warnings) arrive
    assert page.console_problems() == []
    assert off_machine(page.requested_urls()) == []
    icon = page.driver.execute_script(
        "return document.querySelector('link[rel=icon]').href")
    assert requests.get(icon, timeout=10).status_code == 200


@screenshot_on_failure
def test_try_it_out_generate_shows_the_metadata(page, tts_server, ref_wav):
    operation = open_generate(page, tts_server)
    assert form_field(page, operation, "seed").get_attribute("value") == "", "no seed pre-filled"
    assert form_field(page, operation, "gen_text").get_attribute("value") != "string"
    page.find("input[type=file]", operation).send_keys(str(ref_wav))
    fill(form_field(page, operation, "ref_text"), REF_TEXT)
    fill(form_field(page, operation, "gen_text"), "Made from the docs page.")
    fill(form_field(page, operation, "nfe_step"), "8")
    status, body = execute(page, operation)
    assert status == "200", body
    reply = json.loads(page.find(".live-responses-table .response .microlight", operation).text)
    assert reply["model"] == "tiny-f5" and reply["format"] == "wav"
    assert reply["parameters"]["nfe_step"] == 8 and reply["duration"] > 0
    assert isinstance(reply["seed"], int)


@screenshot_on_failure
def test_try_it_out_audio_plays_and_downloads(page, tts_server, ref_wav):
    operation = open_generate(page, tts_server)
    page.find("input[type=file]", operation).send_keys(str(ref_wav))
    fill(form_field(page, operation, "ref_text"), REF_TEXT)
    fill(form_field(page, operation, "nfe_step"), "8")
    choose(page.find(".responses-wrapper select.content-type", operation), "audio/*")
    status, body = execute(page, operation)
    assert status == "200", body
    player = page.find(".tts-audio audio", operation)
    download = page.find(".tts-audio a[download]", operation)
    assert download.get_attribute("download") == "speech.wav"
    assert player.get_attribute("src") == download.get_attribute("href")
    assert player.get_attribute("src").startswith(f"blob:{tts_server.url}/")
    # The browser loads it as audio: it knows the duration, with no error.
    page.wait_for(lambda: page.driver.execute_script(
        "return arguments[0].readyState >= 1 && !arguments[0].error", player), "audio loads")
    duration = page.driver.execute_script("return arguments[0].duration", player)
    encoded = page.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then((r) => r.blob()).then((blob) => {
          const reader = new FileReader();
          reader.onload = () => done(reader.result.split(",")[1]);
          reader.readAsDataURL(blob);
        }).catch((error) => done("error: " + error));
    """, download.get_attribute("href"))
    samples, rate = sf.read(io.BytesIO(base64.b64decode(encoded)))
    assert rate == 24000 and len(samples) > 0
    assert abs(len(samples) / rate - duration) < 0.05


@screenshot_on_failure
def test_json_example_as_shipped_returns_200(page, tts_server, ref_wav):
    operation = open_generate(page, tts_server)
    choose(page.find(".opblock-section-request-body select", operation),
           "application/json")
    editor = page.find(".opblock-section-request-body textarea", operation)
    shipped = editor.get_attribute("value")
    example = json.loads(shipped)
    assert example["ref_audio"] == PLACEHOLDER
    assert example["model"] == "tiny-f5", "the example names the server's default model"
    clip = base64.b64encode(ref_wav.read_bytes()).decode("ascii")
    page.driver.execute_script("""
        const [editor, text] = arguments;
        const value = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value");
        value.set.call(editor, text);  // as typing does, so that React sees the change
        editor.dispatchEvent(new Event("input", {bubbles: true}));
    """, editor, shipped.replace(PLACEHOLDER, clip))
    page.wait_for(lambda: clip in (page.driver.execute_script(
        "return JSON.stringify(ui.getState().getIn(['oas3', 'requestData', "
        "'/api/tts/generate/', 'post', 'bodyValue']))") or ""), "the page took the new body")
    status, body = execute(page, operation)
    assert status == "200", body
    reply = json.loads(page.find(".live-responses-table .response .microlight", operation).text)
    assert reply["format"] == example["output_format"] and reply["seed"] == example["seed"]


@screenshot_on_failure
def test_a_request_the_page_will_not_send_says_why(page, tts_server, ref_wav):
    operation = open_generate(page, tts_server)
    page.find("input[type=file]", operation).send_keys(str(ref_wav))
    gen_text = form_field(page, operation, "gen_text")  # required
    gen_text.send_keys(Keys.CONTROL, "a")
    gen_text.send_keys(Keys.DELETE)  # typed, so that the page sees it (clear() is silent)
    page.wait_for(lambda: page.driver.execute_script(
        "return ui.getState().getIn(['oas3', 'requestData', '/api/tts/generate/', 'post', "
        "'bodyValue', 'gen_text', 'value'])") == "", "the page took the empty gen_text")
    page.find(".execute", operation).click()
    note = page.find(".tts-not-sent", operation)
    assert note.text.startswith("Not sent: gen_text: Required field is not provided"), note.text
    assert page.find_all(".live-responses-table", operation) == []


@screenshot_on_failure
def test_speed_out_of_range_shows_the_400_naming_the_field(page, tts_server, ref_wav):
    operation = open_generate(page, tts_server)
    page.find("input[type=file]", operation).send_keys(str(ref_wav))
    fill(form_field(page, operation, "speed"), "9")
    status, body = execute(page, operation)
    assert status == "400", body
    reply = json.loads(page.find(".live-responses-table .response .microlight", operation).text)
    assert reply["errors"][0]["attr"] == "speed"
    assert "between 0.3 and 2.0" in reply["errors"][0]["detail"]


@screenshot_on_failure
def test_redoc_renders_with_nothing_from_other_hosts(page, tts_server):
    page.open(f"{tts_server.url}/api/redoc/")
    page.wait_for(lambda: "Generate speech in a cloned voice" in page.driver.find_element(
        By.TAG_NAME, "body").text, "ReDoc shows the operations")
    time.sleep(1)  # images and fonts are requested after the first render
    assert off_machine(page.requested_urls()) == []
    assert page.console_problems() == []



@screenshot_on_failure
def test_generate_with_a_saved_voice_from_the_form(page, tts_server, saved_voice):
    operation = open_generate(page, tts_server)
    fields = form_values(page, operation)
    assert fields["nfe_step"][0] == "", "the quality preset decides the steps"
    assert [name for name, (_, ticked) in fields.items() if ticked] == [], (
        "no empty field is sent unless asked")
    fill(form_field(page, operation, "voice"), saved_voice["id"])
    fill(form_field(page, operation, "ref_text"), "")  # a saved voice has its own
    page.find("input[placeholder=ref_text]", operation).send_keys(" ", Keys.BACKSPACE)
    choose(page.find("select", page.find("tr[data-property-name=quality]", operation)), "fast")
    status, body = execute(page, operation)
    assert status == "200", body
    reply = reply_json(page, operation)
    assert reply["ref_text"] == REF_TEXT and reply["parameters"]["nfe_step"] == 7


@screenshot_on_failure
def test_voice_clip_downloads_from_the_docs(page, tts_server, saved_voice, ref_wav):
    operation = open_operation(page, tts_server, "voices", "ttsVoicesClip")
    fill(page.find("input[placeholder=voice_id]", operation), saved_voice["id"])
    choose(page.find(".responses-wrapper select.content-type", operation), "audio/*")
    status, body = execute(page, operation)
    assert status == "200", body
    _, download = audio_reply(page, operation)
    assert download.get_attribute("download") == "docs-voice.wav"
    for accept in ("audio/*", "audio/wav"):
        clip = requests.get(saved_voice["clip_url"], headers={"Accept": accept}, timeout=30)
        assert clip.status_code == 200 and clip.content == ref_wav.read_bytes()


@screenshot_on_failure
def test_voice_and_job_forms_run_as_shipped(page, tts_server, ref_wav):
    operation = open_operation(page, tts_server, "voices", "ttsVoicesCreate")
    assert "string" not in [value for value, _ in form_values(page, operation).values()]
    page.find("input[type=file]", operation).send_keys(str(ref_wav))
    status, body = execute(page, operation)
    assert status == "201", body
    voice = reply_json(page, operation)
    assert voice["name"] == "My voice" and voice["id"] == "my-voice"
    requests.delete(f"{tts_server.url}/api/tts/voices/my-voice/", timeout=30)

    operation = open_operation(page, tts_server, "jobs", "submitJob")
    fields = form_values(page, operation)
    assert "string" not in [value for value, _ in fields.values()]
    assert fields["seed"][0] == "" and fields["nfe_step"][0] == ""
    page.find("input[type=file]", operation).send_keys(str(ref_wav))
    status, body = execute(page, operation)
    assert status == "202", body
    job = reply_json(page, operation)
    assert job["status"] in ("queued", "running", "succeeded") and job["seed"] != 4294967295
    requests.delete(f"{tts_server.url}/api/tts/jobs/{job['id']}/", timeout=30)


@screenshot_on_failure
def test_openai_speech_example_runs_as_shipped(page, tts_server, saved_voice):
    operation = open_operation(page, tts_server, "openai", "openaiSpeech")
    example = json.loads(page.find(".opblock-section-request-body textarea", operation)
                         .get_attribute("value"))
    voices = requests.get(f"{tts_server.url}/api/tts/voices/", timeout=30).json()["results"]
    assert example["voice"] in [voice["id"] for voice in voices], "a voice this server has"
    choose(page.find(".responses-wrapper select.content-type", operation), "audio/mpeg")
    status, body = execute(page, operation)
    assert status == "200", body
    player, download = audio_reply(page, operation)
    assert download.get_attribute("download") == "speech.mp3"
    assert page.js("return arguments[0].duration", player) > 0


@screenshot_on_failure
def test_pcm_plays_and_the_page_fits_420_px(page, tts_server, ref_wav):
    operation = open_generate(page, tts_server)
    page.find("input[type=file]", operation).send_keys(str(ref_wav))
    choose(page.find("select", page.find("tr[data-property-name=output_format]", operation)), "pcm")
    choose(page.find("select", page.find("tr[data-property-name=quality]", operation)), "fast")
    choose(page.find(".responses-wrapper select.content-type", operation), "audio/*")
    status, body = execute(page, operation)
    assert status == "200", body
    player, download = audio_reply(page, operation)
    assert download.get_attribute("download") == "speech.pcm"
    raw = page.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then((r) => r.arrayBuffer()).then((b) => done(b.byteLength));""",
        download.get_attribute("href"))
    duration = page.js("return arguments[0].duration", player)
    assert raw > 0 and abs(duration - raw / 2 / 24000) < 0.01, "the player plays all of it"
    overflow = page.horizontal_overflow(420)
    assert not overflow, "\n".join(overflow)
    assert page.console_problems() == []
