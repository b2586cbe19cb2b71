// The studio page (tts/templates/tts/studio/index.html): a hand-written ES module, no build.
// It calls only the public HTTP API (/api/tts/...), as any client would:
//   voice:   record (MediaRecorder) or upload a clip; save it (POST voices/, with consent)
//   speak:   POST generate/ with stream=true as mp3, appended to a MediaSource while it
//            arrives, so playback starts after the first chunk
//   jobs:    texts over the threshold go to POST jobs/; progress polled, cancel, play
//   library: GET voices/, preview the clip, rename (PATCH), delete; a voice whose clip has
//            severe findings (its reference_report) is marked, the findings in its details
//   reports: a saved voice's reference_report (findings with severity and advice) is shown;
//            "Voice match" sends similarity=true where a reply can carry the score (jobs,
//            WAV/FLAC downloads; a raw mp3 stream cannot) and shows the whole output's score
// With API keys on, the key is kept in sessionStorage only and sent as a Bearer token.

const config = JSON.parse(document.getElementById("studio-config").textContent);
const API = "/api/tts";
const KEY_STORE = "tts-studio-api-key";
const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 500;
const $ = (id) => document.getElementById(id);

// --- talking to the API -------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const apiKey = () => sessionStorage.getItem(KEY_STORE) || "";

const withKey = (headers = {}) => {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
};

async function errorFrom(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (Array.isArray(body.errors)) {
      message = body.errors.map((e) => (e.attr ? `${e.attr}: ${e.detail}` : e.detail)).join(" ");
    } else if (body.error && body.error.message) {
      message = body.error.message;
    }
  } catch {
    // not JSON: the status line says enough
  }
  if (response.status === 401 || response.status === 403) {
    message = `${message} Enter a valid API key at the top of the page.`;
    $("key-section").hidden = false;
  } else if (response.status === 429) {
    const wait = response.headers.get("Retry-After");
    message = `Limit reached: ${message}${wait ? ` Try again in ${wait} s.` : ""}`;
  }
  return new ApiError(response.status, message);
}

async function api(path, { method = "GET", body, accept = "application/json", headers = {},
  signal } = {}) {
  const response = await fetch(path, {
    method, body, signal, headers: withKey({ Accept: accept, ...headers }),
  });
  if (!response.ok) {
    throw await errorFrom(response);
  }
  return response;
}

const apiJson = async (path, options) => {
  const response = await api(path, options);
  return response.status === 204 ? null : response.json();
};

const jsonBody = (data) => ({ body: JSON.stringify(data),
  headers: { "Content-Type": "application/json" } });

// --- small helpers ------------------------------------------------------------------------
function say(element, text, error = false) {
  element.textContent = text;
  element.classList.toggle("error", error);
}

function notice(text) {
  const box = $("notice");
  box.textContent = text;
  box.hidden = !text;
}

const fail = (element) => (error) => {
  if (error.name === "AbortError") {
    return;
  }
  say(element, error.message, true);
};

const once = (target, name) => new Promise((resolve) => {
  target.addEventListener(name, resolve, { once: true });
});

const objectUrls = new Map();
function setMedia(player, blob) {
  if (objectUrls.has(player)) {
    URL.revokeObjectURL(objectUrls.get(player));
  }
  const url = URL.createObjectURL(blob);
  objectUrls.set(player, url);
  player.src = url;
  player.hidden = false;
  return url;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value);
    }
  }
  node.append(...children);
  return node;
}

// --- reference reports and voice match ---------------------------------------------------
const SEVERITY_WORDS = { severe: "Severe", warning: "Warning", info: "Note" };

// The findings of a reference_report as a list, worst first (as the server sends them).
function findingList(report) {
  return element("ul", { class: "findings" }, ...report.findings.map((finding) =>
    element("li", { class: `finding ${finding.severity}`, "data-code": finding.code },
      element("strong", {}, `${SEVERITY_WORDS[finding.severity] || finding.severity}: `),
      finding.detail)));
}

// Under the saved voice: its findings, or a line saying the clip looks good. No report
// (reports turned off on the server): nothing.
function showReport(report) {
  const box = $("voice-report");
  if (!report || !Array.isArray(report.findings)) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.dataset.severity = report.severity;
  if (!report.findings.length) {
    box.replaceChildren(element("p", { class: "clip-ok" },
      "The clip looks good: no problems found (speech, loudness, noise, music, speakers)."));
    return;
  }
  box.replaceChildren(element("p", {}, "The server checked the clip and found:"),
    findingList(report), element("p", { class: "hint" },
      "The voice is saved and usable anyway; a better clip clones more faithfully."));
}

// The whole output's speaker similarity, with what it means. similarity: the reply's
// `similarity` report, or a bare number (from X-Voice-Similarity); null hides the line.
function showMatch(box, similarity) {
  const score = similarity && typeof similarity === "object" ? similarity.similarity
    : similarity;
  if (similarity === null || similarity === undefined) {
    box.textContent = "";
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.textContent = Number.isFinite(score)
    ? `Voice match: ${score.toFixed(2)} (0–1; about 0.75 and above sounds like the same `
      + "speaker with real models; the demo models make noise and score low)."
    : "Voice match: no score, too little speech to tell (the demo models make noise, not "
      + "speech).";
}

// --- API key ------------------------------------------------------------------------------
function setupKey() {
  $("key-section").hidden = !config.requireKey;
  $("api-key").value = apiKey();
  if (config.requireKey && !apiKey()) {
    notice("This server needs an API key: enter it below to start.");
  }
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
    notice("");
    loadAll();
  });
  $("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    $("api-key").value = "";
  });
}

// --- the voice: record or upload ----------------------------------------------------------
let clip = null; // {blob, name}: the clip recorded or chosen, for "used once" and saving
let savedVoice = null; // {id, ref_text}: the voice saved from that clip
let recording = null;

function setClip(blob, name) {
  clip = { blob, name };
  savedVoice = null;
  setMedia($("clip-preview"), blob);
  $("use-voice").value = "";
  showReport(null);
}

async function startRecording() {
  const status = $("voice-status");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    say(status, `The microphone is not available (${error.message}). Upload a clip instead.`,
      true);
    return;
  }
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const button = $("record");
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    const rms = Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
    $("level").value = Math.min(1, rms * 4);
    const elapsed = seconds();
    $("record-time").textContent = `${elapsed.toFixed(1)} s`;
    if (elapsed >= config.recordMaxSeconds) {
      recorder.stop();
    }
  }, 100);
  recorder.addEventListener("dataavailable", (event) => {
    if (event.data.size) {
      chunks.push(event.data);
    }
  });
  recorder.addEventListener("stop", () => {
    clearInterval(timer);
    stream.getTracks().forEach((track) => track.stop());
    context.close();
    recording = null;
    $("level").value = 0;
    button.textContent = "Record";
    button.classList.remove("recording");
    const elapsed = seconds();
    const type = recorder.mimeType || "audio/webm";
    setClip(new Blob(chunks, { type }), `recording.${type.includes("ogg") ? "ogg" : "webm"}`);
    say(status, elapsed < config.recordMinSeconds
      ? `Recorded ${elapsed.toFixed(1)} s: under ${config.recordMinSeconds} s clones poorly; `
        + "record again for longer." : `Recorded ${elapsed.toFixed(1)} s.`,
    elapsed < config.recordMinSeconds);
  });
  recorder.start(250);
  recording = recorder;
  button.textContent = "Stop recording";
  button.classList.add("recording");
  say(status, "Recording… speak now.");
}

function toggleRecording() {
  if (recording && recording.state === "recording") {
    recording.stop();
  } else {
    startRecording();
  }
}

function transcriptHint() {
  $("ref-text-hint").textContent = config.asr
    ? "Leave it empty and the server recognises the words (they appear here once the clip is "
      + "saved). Correct them if needed: a saved voice gets the correction when you next "
      + "speak with it."
    : "Required: type exactly what is said in the clip (this server has no speech "
      + "recognition).";
}

async function saveVoice() {
  const status = $("voice-status");
  const name = $("voice-name").value.trim();
  if (!clip) {
    say(status, "Record or upload a clip first.", true);
    return;
  }
  if (!name) {
    say(status, "Give the voice a name.", true);
    $("voice-name").focus();
    return;
  }
  if (!$("voice-consent").checked || !$("voice-consent-text").value.trim()) {
    say(status, "Saving a voice needs the speaker's consent: tick the box and state it.", true);
    $("voice-consent").focus();
    return;
  }
  const form = new FormData();
  form.append("name", name);
  form.append("ref_audio", clip.blob, clip.name);
  form.append("ref_text", $("ref-text").value.trim());
  form.append("consent", $("voice-consent-text").value.trim());
  say(status, config.asr && !$("ref-text").value.trim()
    ? "Saving and recognising the words…" : "Saving…");
  $("save-voice").disabled = true;
  showReport(null);
  try {
    const voice = await apiJson(`${API}/voices/`, { method: "POST", body: form });
    $("ref-text").value = voice.ref_text;
    savedVoice = { id: voice.id, owner: voice.owner, ref_text: voice.ref_text };
    await loadVoices();
    $("use-voice").value = voice.id;
    say(status, `Saved “${voice.name}” (id ${voice.id}, ${voice.duration.toFixed(1)} s used).`
      + (voice.transcribed ? " The transcript above was recognised by the server." : ""));
    showReport(voice.reference_report);
  } catch (error) {
    fail(status)(error);
  } finally {
    $("save-voice").disabled = false;
  }
}

// --- speaking -----------------------------------------------------------------------------
let speaking = null; // AbortController of the request in flight
let lastTake = null; // {kind: "speech", fields, seed, mp3} or {kind: "job", id, seed}

function speechFields(text) {
  const fields = [["gen_text", text], ["model", $("model").value],
    ["quality", $("quality").value], ["speed", $("speed").value]];
  const voice = $("use-voice").value;
  if (voice) {
    fields.push(["voice", voice]);
  } else {
    fields.push(["ref_text", $("ref-text").value.trim()]);
  }
  if ($("seed").value.trim()) {
    fields.push(["seed", $("seed").value.trim()]);
  }
  if ($("similarity").checked) {
    fields.push(["similarity", "true"]);
  }
  return fields.filter(([, value]) => value !== "");
}

function formOf(fields, withClip = clip) {
  const form = new FormData();
  for (const [name, value] of fields) {
    form.append(name, value);
  }
  if (withClip && !fields.some(([name]) => name === "voice")) {
    form.append("ref_audio", withClip.blob, withClip.name);
  }
  return form;
}

function textCount() {
  const length = $("gen-text").value.length;
  $("text-count").textContent = `${length} characters`
    + (length > config.jobThreshold ? ": this runs as a job" : "");
}

function speakingState(on) {
  $("speak-button").disabled = on;
  $("stop-button").disabled = !on;
}

async function speak() {
  const status = $("speak-status");
  const text = $("gen-text").value.trim();
  if (!text) {
    say(status, "Type something to say.", true);
    $("gen-text").focus();
    return;
  }
  if (!$("use-voice").value && !clip && !text.startsWith("[")) {
    say(status, "Choose a saved voice, or record or upload a clip first.", true);
    return;
  }
  if (!$("use-voice").value && clip && !config.asr && !$("ref-text").value.trim()) {
    say(status, "Type the transcript of the clip first (this server cannot recognise it).",
      true);
    $("ref-text").focus();
    return;
  }
  if (!(await saveCorrectedTranscript(status))) {
    return;
  }
  const fields = speechFields(text);
  if (text.length > config.jobThreshold) {
    await submitJob(fields);
    return;
  }
  speaking = new AbortController();
  speakingState(true);
  showCaptions(null);
  $("downloads").hidden = true;
  showMatch($("speak-match"), null);
  say(status, "Generating…");
  const player = $("player");
  player.dataset.state = "requesting";
  try {
    const response = await api(`${API}/generate/`, {
      // A raw mp3 stream has nowhere to put the similarity: it is not asked for here.
      method: "POST", body: formOf([...fields.filter(([name]) => name !== "similarity"),
        ["stream", "true"], ["output_format", "mp3"]]),
      accept: "audio/mpeg", signal: speaking.signal,
    });
    const seed = response.headers.get("X-Seed");
    const heard = response.headers.get("X-Ref-Text");
    if (heard && !$("use-voice").value && !$("ref-text").value.trim()) {
      $("ref-text").value = decodeURIComponent(heard);
    }
    say(status, `Playing while it is generated… (seed ${seed})`);
    const mp3 = await playStream(response, player);
    lastTake = { kind: "speech", fields, seed, mp3, clip };
    say(status, `Done. Seed ${seed}: enter it under Seed to make this take again.`);
    $("downloads").hidden = false;
  } catch (error) {
    player.dataset.state = "failed";
    fail(status)(error);
    if (error.name === "AbortError") {
      say(status, "Stopped.");
    }
  } finally {
    speaking = null;
    speakingState(false);
  }
}

// A transcript corrected after its voice was saved is saved to the voice (PATCH) first, so
// that what is spoken uses it. False when that failed.
async function saveCorrectedTranscript(status) {
  const transcript = $("ref-text").value.trim();
  if (!savedVoice || $("use-voice").value !== savedVoice.id || !transcript
      || transcript === savedVoice.ref_text) {
    return true;
  }
  try {
    const voice = await apiJson(voiceUrl(savedVoice), { method: "PATCH",
      ...jsonBody({ ref_text: transcript }) });
    savedVoice.ref_text = voice.ref_text;
    say($("voice-status"), `Saved the corrected transcript to “${voice.name}”.`);
    return true;
  } catch (error) {
    fail(status)(error);
    return false;
  }
}

// Appends the mp3 to a MediaSource as it arrives: the player starts after the first chunk.
// Without MediaSource (or mp3 in it) it plays once the whole file is there.
async function playStream(response, player) {
  const parts = [];
  const reader = response.body.getReader();
  player.hidden = false;
  player.dataset.state = "streaming";
  if (!window.MediaSource || !MediaSource.isTypeSupported("audio/mpeg")) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      parts.push(value);
    }
    const whole = new Blob(parts, { type: "audio/mpeg" });
    player.dataset.state = "complete";
    setMedia(player, whole);
    player.play().catch(() => {});
    return whole;
  }
  const source = new MediaSource();
  setMedia(player, source);
  await once(source, "sourceopen");
  const buffer = source.addSourceBuffer("audio/mpeg");
  let started = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    parts.push(value);
    if (buffer.updating) {
      await once(buffer, "updateend");
    }
    buffer.appendBuffer(value);
    await once(buffer, "updateend");
    if (!started) {
      started = true;
      player.play().catch(() => {});
    }
  }
  if (source.readyState === "open") {
    source.endOfStream();
  }
  player.dataset.state = "complete";
  return new Blob(parts, { type: "audio/mpeg" });
}

function stop() {
  if (speaking) {
    speaking.abort();
  }
  $("player").pause();
}

async function download() {
  const status = $("speak-status");
  const format = $("download-format").value;
  if (!lastTake) {
    return;
  }
  let blob;
  try {
    if (lastTake.kind === "job") {
      const response = await api(`${API}/jobs/${lastTake.id}/audio/?output_format=${format}`,
        { accept: "audio/*" });
      blob = await response.blob();
    } else if (format === "mp3") {
      blob = lastTake.mp3;
    } else {
      // The same request with the same seed gives the same samples, in the format asked for.
      say(status, `Preparing ${format.toUpperCase()}…`);
      const fields = lastTake.fields.filter(([name]) => name !== "seed");
      fields.push(["seed", lastTake.seed], ["output_format", format]);
      const response = await api(`${API}/generate/`, { method: "POST",
        body: formOf(fields, lastTake.clip), accept: `audio/${format}` });
      blob = await response.blob();
      // Asked for, the header is there unless the output had too little speech to score.
      if (fields.some(([name]) => name === "similarity")) {
        const match = response.headers.get("X-Voice-Similarity");
        showMatch($("speak-match"), match === null ? { similarity: null } : Number(match));
      }
    }
  } catch (error) {
    fail(status)(error);
    return;
  }
  const link = $("download-link");
  if (link.href) {
    URL.revokeObjectURL(link.href);
  }
  link.href = URL.createObjectURL(blob);
  link.download = `speech-${lastTake.seed}.${format}`;
  link.textContent = `Save ${link.download}`;
  link.hidden = false;
  say(status, `${link.download} is ready (${Math.round(blob.size / 1024)} KB).`);
  link.click();
}

// --- captions -----------------------------------------------------------------------------
// Hook for word timestamps: a reply (a job's output, or later generate's) that carries
// `words: [{word, start, end}]` gets highlighted captions and SRT/VTT downloads. Replies have
// no timings yet, so nothing is shown: no timing is ever guessed.
function wordTimings(reply) {
  const words = reply && reply.words;
  if (!Array.isArray(words) || !words.length) {
    return null;
  }
  const valid = words.every((w) => typeof w.word === "string" && Number.isFinite(w.start)
    && Number.isFinite(w.end));
  return valid ? words : null;
}

const stamp = (seconds, separator) => {
  const ms = Math.round(seconds * 1000);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(Math.floor(ms / 3600000))}:${pad(Math.floor(ms / 60000) % 60)}:`
    + `${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
};

function captionFiles(words) {
  const cues = words.map((w) => [w.start, w.end, w.word]);
  const srt = cues.map(([start, end, text], i) =>
    `${i + 1}\n${stamp(start, ",")} --> ${stamp(end, ",")}\n${text}\n`).join("\n");
  const vtt = "WEBVTT\n\n" + cues.map(([start, end, text]) =>
    `${stamp(start, ".")} --> ${stamp(end, ".")}\n${text}\n`).join("\n");
  return { srt, vtt };
}

let captionListener = null;
function showCaptions(reply, player = $("player")) {
  const box = $("captions");
  const words = wordTimings(reply);
  if (captionListener) {
    captionListener.player.removeEventListener("timeupdate", captionListener.update);
    captionListener = null;
  }
  box.replaceChildren();
  box.hidden = !words;
  $("captions-srt").hidden = !words;
  $("captions-vtt").hidden = !words;
  if (!words) {
    return;
  }
  const spans = words.map((w) => element("span", {}, w.word));
  spans.forEach((span, i) => box.append(span, i < spans.length - 1 ? " " : ""));
  const update = () => {
    const now = player.currentTime;
    words.forEach((w, i) => spans[i].classList.toggle("now", w.start <= now && now < w.end));
  };
  player.addEventListener("timeupdate", update);
  captionListener = { player, update };
  const files = captionFiles(words);
  $("captions-srt").href = URL.createObjectURL(new Blob([files.srt], { type: "text/plain" }));
  $("captions-vtt").href = URL.createObjectURL(new Blob([files.vtt], { type: "text/vtt" }));
}

// --- jobs ---------------------------------------------------------------------------------
let following = null;

async function submitJob(fields) {
  const status = $("job-status");
  $("job-current").hidden = false;
  say($("speak-status"), "Long text: sent as a job (see Long texts below).");
  say(status, "Submitting…");
  try {
    const job = await apiJson(`${API}/jobs/`, { method: "POST", body: formOf(fields) });
    followJob(job);
  } catch (error) {
    fail(status)(error);
  }
}

function describeJob(job) {
  const progress = job.progress || {};
  const parts = [`${job.status}`];
  if (progress.chunks_total) {
    parts.push(`${progress.chunks_done} of ${progress.chunks_total} chunks`);
  }
  if (progress.audio_seconds) {
    parts.push(`${progress.audio_seconds.toFixed(1)} s of audio`);
  }
  if (job.error && job.error.errors) {
    parts.push(job.error.errors.map((e) => e.detail).join(" "));
  }
  return parts.join(", ");
}

async function followJob(job) {
  following = job.id;
  $("job-current").hidden = false;
  $("job-player").hidden = true;
  showMatch($("job-match"), null);
  $("job-cancel").disabled = false;
  const status = $("job-status");
  const bar = $("job-progress");
  for (;;) {
    if (following !== job.id) {
      return;
    }
    bar.value = job.progress ? job.progress.fraction : 0;
    say(status, `Job ${job.id.slice(0, 8)}: ${describeJob(job)}`, job.status === "failed");
    if (FINISHED.has(job.status)) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    try {
      job = await apiJson(`${API}/jobs/${job.id}/`);
    } catch (error) {
      fail(status)(error);
      return;
    }
  }
  $("job-cancel").disabled = true;
  loadJobs();
  if (job.status === "succeeded") {
    await playJob(job);
  }
}

async function playJob(job) {
  const status = $("job-status");
  try {
    const response = await api(`${API}/jobs/${job.id}/audio/?output_format=mp3`,
      { accept: "audio/*" });
    const player = $("job-player");
    setMedia(player, await response.blob());
    player.play().catch(() => {});
    lastTake = { kind: "job", id: job.id, seed: job.seed };
    $("downloads").hidden = false;
    showCaptions(job.output, player);
    showMatch($("job-match"), job.output.similarity);
    say(status, `Job ${job.id.slice(0, 8)}: done, ${job.output.duration.toFixed(1)} s `
      + `(seed ${job.seed}). Download it with “Download as” above.`);
  } catch (error) {
    fail(status)(error);
  }
}

async function cancelJob() {
  if (!following) {
    return;
  }
  try {
    await apiJson(`${API}/jobs/${following}/`, { method: "DELETE" });
    say($("job-status"), "Cancelling…");
  } catch (error) {
    fail($("job-status"))(error);
  }
}

async function loadJobs() {
  const list = $("job-list");
  try {
    const reply = await apiJson(`${API}/jobs/`);
    const jobs = (reply.results || []).slice(0, 8);
    list.replaceChildren(...jobs.map((job) => element("li", {},
      element("span", { class: "name" }, `${job.id.slice(0, 8)} · ${describeJob(job)}`),
      job.status === "succeeded"
        ? element("button", { type: "button", onclick: () => playJob(job) }, "Play")
        : FINISHED.has(job.status) ? ""
          : element("button", { type: "button", onclick: () => followJob(job) }, "Follow"))));
    if (!jobs.length) {
      list.replaceChildren(element("li", {}, "No jobs yet."));
    }
  } catch (error) {
    list.replaceChildren(element("li", { class: "error" }, error.message));
  }
}

// --- the voice library --------------------------------------------------------------------
async function loadVoices() {
  const status = $("library-status");
  let voices;
  try {
    voices = (await apiJson(`${API}/voices/?page_size=100`)).results;
  } catch (error) {
    fail(status)(error);
    return;
  }
  const select = $("use-voice");
  const chosen = select.value;
  // Ids are unique per key: an id seen twice (yours and a shared one) means yours.
  const usable = [...voices.filter((v) => !v.shared), ...voices.filter((v) => v.shared)]
    .filter((v, index, all) => all.findIndex((w) => w.id === v.id) === index);
  select.replaceChildren(element("option", { value: "" }, "The clip above (used once)"),
    ...usable.map((v) => element("option", { value: v.id }, `${v.name} (${v.id})`)));
  select.value = voices.some((v) => v.id === chosen) ? chosen : "";
  $("voice-list").replaceChildren(...voices.map(voiceRow));
  if (!voices.length) {
    $("voice-list").replaceChildren(element("li", {}, "No saved voices yet."));
  }
}

// The voice's own URL: with its owner named where the server told it (ids are unique per
// key, so an id alone may mean another voice of that id).
function voiceUrl(voice) {
  const owner = voice.owner ? `?owner=${encodeURIComponent(voice.owner)}` : "";
  return `${API}/voices/${encodeURIComponent(voice.id)}/${owner}`;
}

function voiceRow(voice) {
  const status = $("library-status");
  // A shared voice whose owner the server does not show is not this caller's to change.
  const readOnly = voice.shared && !voice.owner;
  const rename = element("input", { value: voice.name, maxlength: "100",
    "aria-label": `New name for ${voice.name}` });
  const remove = element("button", { type: "button", class: "delete",
    "aria-label": `Delete ${voice.name}` }, "Delete");
  remove.addEventListener("click", async () => {
    if (remove.dataset.confirm !== "yes") {
      remove.dataset.confirm = "yes";
      remove.textContent = "Really delete?";
      remove.setAttribute("aria-label", `Really delete ${voice.name}? Press again to delete`);
      return;
    }
    try {
      await api(voiceUrl(voice), { method: "DELETE" });
      say(status, `Deleted “${voice.name}”.`);
      loadVoices();
    } catch (error) {
      fail(status)(error);
    }
  });
  const report = voice.reference_report;
  const severe = report && Array.isArray(report.findings)
    && report.findings.some((finding) => finding.severity === "severe");
  return element("li", { "data-voice": voice.id },
    element("span", { class: "name" }, `${voice.name} · ${voice.duration.toFixed(1)} s`),
    ...(severe ? [element("details", { class: "clip-problems" },
      element("summary", {}, `Clip problems (${report.findings.length})`),
      findingList(report))] : []),
    element("button", { type: "button", "aria-label": `Preview ${voice.name}`,
      onclick: async () => {
        try {
          const response = await api(voice.clip_url, { accept: "audio/*" });
          const player = $("library-player");
          setMedia(player, await response.blob());
          player.play().catch(() => {});
        } catch (error) {
          fail(status)(error);
        }
      } }, "Preview"),
    ...(readOnly ? [] : [rename, element("button", { type: "button",
      "aria-label": `Rename ${voice.name}`, onclick: async () => {
        try {
          const saved = await apiJson(voiceUrl(voice), { method: "PATCH",
            ...jsonBody({ name: rename.value.trim() }) });
          say(status, `Renamed to “${saved.name}”.`);
          loadVoices();
        } catch (error) {
          fail(status)(error);
        }
      } }, "Rename"), remove]));
}

async function loadModels() {
  try {
    const reply = await apiJson(`${API}/models/`);
    const models = Array.isArray(reply) ? reply : reply.results || reply.models || [];
    const usable = models.filter((m) => m.status !== "unavailable");
    $("model").replaceChildren(...usable.map((m) => element("option", { value: m.id }, m.id)));
    const preferred = usable.find((m) => m.is_default) || usable[0];
    if (preferred) {
      $("model").value = preferred.id;
    }
  } catch (error) {
    notice(error.message);
  }
}

function loadAll() {
  if (config.requireKey && !apiKey()) {
    return;
  }
  loadModels();
  loadVoices();
  loadJobs();
}

// --- wiring -------------------------------------------------------------------------------
setupKey();
transcriptHint();
textCount();
$("record").addEventListener("click", toggleRecording);
$("clip-file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) {
    setClip(file, file.name);
    say($("voice-status"), `Chose ${file.name}.`);
  }
});
$("save-voice").addEventListener("click", saveVoice);
$("gen-text").addEventListener("input", textCount);
$("speak-button").addEventListener("click", speak);
$("stop-button").addEventListener("click", stop);
$("download-button").addEventListener("click", download);
$("job-cancel").addEventListener("click", cancelJob);
$("job-refresh").addEventListener("click", loadJobs);
document.addEventListener("keydown", (event) => {
  // Ctrl+Enter in the text box speaks.
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)
      && event.target === $("gen-text")) {
    speak();
  }
});
loadAll();
