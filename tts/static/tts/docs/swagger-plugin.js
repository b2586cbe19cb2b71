// Swagger UI plugin for the text-to-speech docs page (loaded by tts/docs/swagger_ui.html).
//
// 1. Raw audio replies get a player and a download link built from the bytes already
//    received. (Swagger UI's own player points at the request URL, which the browser then
//    fetches again with GET: a 405 and a dead player.)
// 2. Switching the request body between the form and JSON shows a body that can be sent:
//    the JSON example, not Swagger UI's internal form state.
// 3. When the page refuses to send a request (a required field is missing), it says why
//    next to the Execute button instead of doing nothing.
// 4. Optional form fields left empty are not sent ("Send empty value" starts unticked):
//    Swagger UI would send `ref_audio=` next to a saved `voice`, a 400.
// 5. Raw PCM replies play (wrapped in a WAV header for the player; the download stays raw),
//    and downloads are named by the format's usual extension (speech.mp3, not speech.mpeg).
"use strict";

window.TtsDocs = (() => {
  const objectUrls = new WeakMap();

  const objectUrl = (blob) => {
    if (!objectUrls.has(blob)) {
      objectUrls.set(blob, URL.createObjectURL(blob));
    }
    return objectUrls.get(blob);
  };

  const header = (headers, name) => {
    const key = Object.keys(headers || {}).find((k) => k.toLowerCase() === name);
    return key === undefined ? "" : String(headers[key]);
  };

  // The usual file extension of each audio media type the API sends.
  const EXTENSIONS = {
    mpeg: "mp3", mp3: "mp3", wav: "wav", "x-wav": "wav", wave: "wav", "vnd.wave": "wav",
    flac: "flac", "x-flac": "flac", ogg: "ogg", opus: "ogg", aac: "aac", "x-aac": "aac",
    pcm: "pcm", l16: "pcm",
  };

  const subtypeOf = (contentType) =>
    ((contentType || "").split("/")[1] || "").split(";")[0].trim().toLowerCase();

  const downloadName = (headers, contentType) => {
    const match = /filename="?([^";]+)"?/i.exec(header(headers, "content-disposition"));
    const subtype = subtypeOf(contentType);
    return match ? match[1] : `speech.${EXTENSIONS[subtype] || subtype || "audio"}`;
  };

  // Raw 16-bit mono PCM with a WAV header in front: what a browser's player can play.
  const wavFromPcm = (blob, sampleRate) => {
    const view = new DataView(new ArrayBuffer(44));
    const text = (offset, value) => [...value].forEach((c, i) =>
      view.setUint8(offset + i, c.charCodeAt(0)));
    text(0, "RIFF");
    view.setUint32(4, 36 + blob.size, true);
    text(8, "WAVEfmt ");
    view.setUint32(16, 16, true);
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, sampleRate, true);
    view.setUint32(28, sampleRate * 2, true);
    view.setUint16(32, 2, true);
    view.setUint16(34, 16, true);
    text(36, "data");
    view.setUint32(40, blob.size, true);
    return new Blob([view.buffer, blob], { type: "audio/wav" });
  };

  const playable = new WeakMap();
  const playableBlob = (props) => {
    const blob = props.content;
    if (EXTENSIONS[subtypeOf(props.contentType)] !== "pcm") {
      return blob;
    }
    if (!playable.has(blob)) {
      const rate = parseInt(header(props.headers, "x-sample-rate"), 10) || 24000;
      playable.set(blob, wavFromPcm(blob, rate));
    }
    return playable.get(blob);
  };

  const audioBody = (React, props) => {
    const url = objectUrl(props.content);
    const name = downloadName(props.headers, props.contentType);
    return React.createElement(
      "div", { className: "tts-audio" },
      React.createElement("audio", {
        controls: true, preload: "metadata", src: objectUrl(playableBlob(props)),
        "aria-label": "The audio of the reply",
      }),
      React.createElement("a", { className: "tts-download", href: url, download: name },
        `Download ${name}`));
  };

  const isAudio = (props) =>
    /^audio\//i.test(props.contentType || "") && props.content instanceof Blob;

  // --- request body -----------------------------------------------------------------------
  const jsonExample = (system, path, method, mediaType) => {
    const content = system.specSelectors.specJson().getIn(
      ["paths", path, method, "requestBody", "content", mediaType]);
    if (!content) {
      return undefined;
    }
    const examples = content.get("examples");
    let value = content.get("example");
    if (examples && examples.size) {
      const active = system.oas3Selectors.activeExamplesMember(
        path, method, "requestBody", "requestBody");
      value = (examples.get(active) || examples.first()).get("value");
    }
    if (value === undefined) {
      return undefined;
    }
    return JSON.stringify(value && value.toJS ? value.toJS() : value, null, 2);
  };

  const afterMediaTypeChange = (system, payload) => {
    const [path, method] = payload.pathMethod;
    const current = system.oas3Selectors.requestBodyValue(path, method);
    const wantsText = /json|text/i.test(payload.value || "");
    if (wantsText && current !== undefined && typeof current !== "string") {
      // Form state ({field: {value, errors}}) is no JSON body: start from the example.
      system.oas3Actions.setRequestBodyValue(
        { value: jsonExample(system, path, method, payload.value) || "", pathMethod: [path, method] });
    }
  };

  // --- why a request was not sent ---------------------------------------------------------
  const HINTS = { ref_audio: "choose a clip of the voice to clone" };

  const unsentReasons = (system, path, method) => {
    const reasons = [];
    const body = system.oas3Selectors.requestBodyValue(path, method);
    if (body && typeof body !== "string" && body.forEach) {
      body.forEach((field, name) => {
        const errors = field && field.get ? field.get("errors") : null;
        if (errors && errors.size) {
          reasons.push(`${name}: ${errors.join(", ")}${HINTS[name] ? ` (${HINTS[name]})` : ""}`);
        }
      });
    }
    const bodyErrors = system.oas3Selectors.requestBodyErrors(path, method);
    if (bodyErrors && bodyErrors.size) {
      reasons.push(...bodyErrors.toJS());
    }
    const operation = system.specSelectors.operationWithMeta(path, method);
    const parameters = operation ? operation.get("parameters") : null;
    if (parameters) {
      parameters.forEach((parameter) => {
        const errors = parameter.get("errors");
        if (errors && errors.size) {
          reasons.push(`${parameter.get("name")}: ${errors.toJS().map(String).join(", ")}`);
        }
      });
    }
    return reasons;
  };

  const plugin = () => ({
    wrapComponents: {
      // Starts unticked: an optional field left empty is left out of the request.
      ParameterIncludeEmpty: (Original, system) => (props) => system.React.createElement(
        Original, { ...props, isIncludedOptions: { ...(props.isIncludedOptions || {}),
          defaultValue: false } }),
      responseBody: (Original, system) => (props) =>
        isAudio(props) ? audioBody(system.React, props) : system.React.createElement(Original, props),
      execute: (Original, system) => (props) => {
        const React = system.React;
        const reasons = unsentReasons(system, props.path, props.method);
        return React.createElement(
          React.Fragment, null, React.createElement(Original, props),
          reasons.length ? React.createElement(
            "p", { className: "tts-not-sent", role: "alert" },
            `Not sent: ${reasons.join("; ")}.`) : null);
      },
    },
    statePlugins: {
      oas3: {
        wrapActions: {
          setRequestContentType: (action, system) => (payload) => {
            const result = action(payload);
            afterMediaTypeChange(system, payload);
            return result;
          },
        },
      },
    },
  });

  return { plugin };
})();
