// The page of `lstmrec serve`: a pen canvas (pointer events: mouse, touch, stylus) whose strokes
// go to /v1/recognize after each stroke, and a microphone button and file picker whose audio goes
// to /v1/transcribe. No build step, nothing loaded from elsewhere.
//
// Ink follows the project's convention (the JSON ink files): strokes of [x, y, t] points, x right
// and y down in CSS pixels of the canvas, t in seconds from the first point.
"use strict";

const RECOGNIZE_DELAY_MS = 250; // after a stroke ends, before the ink is sent (debounce)
const RECORD_RATE = 16000; // Hz: recordings are resampled to this and sent as 16-bit WAV
const COLOURS = ["#d1495b", "#2e86ab", "#3b9c4b", "#e08e0b", "#7b4fb3", "#00798c", "#c2185b",
  "#8d6e3f", "#5c6bc0", "#558b2f"];
const PLAIN_INK = "#1d1d1f";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");

let limits = null; // from /v1/models
let strokes = []; // [[[x, y, t], ...], ...]
let current = null; // the stroke being drawn
let activePointer = null;
let t0 = null; // timeStamp (ms) of the first point since the last clear
let inkResult = null; // the last recognition, {..., strokes: how many strokes it covers}
let inkSeq = 0; // requests sent; an answer to an older one is dropped
let inkTimer = null;
let speechResult = null;

// ---------------------------------------------------------------------------------------------
// Messages and models

function showError(message) {
  $("error").textContent = message || "";
}

async function loadModels() {
  const res = await fetch("/v1/models");
  const models = await res.json();
  limits = models.limits;
  const names = ["speech", "ink"].map((role) =>
    models[role] ? `${role}: ${models[role].name} (${models[role].unit})` : `${role}: none`);
  $("models").textContent = names.join(" · ");
  for (const [role, panel, controls] of [["ink", "ink-panel", ["undo", "clear"]],
    ["speech", "speech-panel", ["record", "audio-file"]]]) {
    if (!models[role]) {
      $(panel).classList.add("off");
      controls.forEach((id) => { $(id).disabled = true; });
      $(panel).querySelector(".hint").textContent =
        `No ${role} model is loaded: start the server with --${role} MODEL.`;
    }
  }
  pad.dataset.enabled = models.ink ? "true" : "false";
}

// ---------------------------------------------------------------------------------------------
// The pen canvas

function resizePad() {
  const box = pad.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  pad.width = Math.round(box.width * dpr);
  pad.height = Math.round(box.height * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0); // draw in CSS pixels
  redraw();
}

function penPoint(e) {
  const box = pad.getBoundingClientRect();
  if (t0 === null) t0 = e.timeStamp;
  const round = (v, k) => Math.round(v * k) / k;
  return [round(e.clientX - box.left, 100), round(e.clientY - box.top, 100),
    round((e.timeStamp - t0) / 1000, 10000)];
}

function pointerEvents(e) {
  // Browsers merge fast pointer moves into one event per frame; the merged ones keep the detail.
  const merged = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  return merged.length ? merged : [e];
}

function onPointerDown(e) {
  if (pad.dataset.enabled !== "true" || activePointer !== null) return;
  if (e.pointerType === "mouse" && e.button !== 0) return;
  e.preventDefault();
  activePointer = e.pointerId;
  pad.setPointerCapture(e.pointerId);
  clearTimeout(inkTimer);
  inkSeq += 1; // an answer on its way is for less ink than there will be: dropped
  current = [penPoint(e)];
  strokes.push(current);
  redraw();
}

function onPointerMove(e) {
  if (e.pointerId !== activePointer || current === null) return;
  for (const ev of pointerEvents(e)) current.push(penPoint(ev));
  redraw();
}

function onPointerUp(e) {
  if (e.pointerId !== activePointer) return;
  const last = current[current.length - 1];
  const p = penPoint(e);
  if (p[0] !== last[0] || p[1] !== last[1]) current.push(p);
  current = null;
  activePointer = null;
  redraw();
  scheduleRecognize();
}

function pointColours() {
  // One colour per pen point: the colour of the recognised character whose span holds it.
  const colours = strokes.map((s) => s.map(() => PLAIN_INK));
  if (!inkResult || inkResult.strokes !== strokes.length) return colours;
  inkResult.chars.forEach((c, i) => {
    if (c.char === " ") return;
    let [s, p] = c.start;
    const [s1, p1] = c.end;
    while (s < s1 || (s === s1 && p <= p1)) {
      if (s >= colours.length) break;
      if (p < colours[s].length) colours[s][p] = COLOURS[i % COLOURS.length];
      p += 1;
      if (p >= colours[s].length && s < s1) { s += 1; p = 0; }
    }
  });
  return colours;
}

function redraw() {
  const box = pad.getBoundingClientRect();
  ctx.clearRect(0, 0, box.width, box.height);
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  const colours = pointColours();
  strokes.forEach((stroke, s) => {
    if (stroke.length === 1) {
      ctx.fillStyle = colours[s][0];
      ctx.beginPath();
      ctx.arc(stroke[0][0], stroke[0][1], 1.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    for (let i = 1; i < stroke.length; i += 1) {
      ctx.strokeStyle = colours[s][i];
      ctx.beginPath();
      ctx.moveTo(stroke[i - 1][0], stroke[i - 1][1]);
      ctx.lineTo(stroke[i][0], stroke[i][1]);
      ctx.stroke();
    }
  });
}

function lineBreaks(result) {
  // Ink written in several lines reads as its lines' texts with a space between them (the
  // answer's "lines"): the indices in result.chars of those spaces.
  const breaks = new Set();
  if (!result.lines || result.lines.length < 2) return breaks;
  let at = -1;
  for (const line of result.lines.filter((t) => t.length > 0)) {
    if (at >= 0) breaks.add(at);
    at += line.length + 1;
  }
  return breaks;
}

function showInk(result, status) {
  const box = $("ink-result");
  const text = $("ink-text");
  text.replaceChildren();
  if (result) {
    const breaks = lineBreaks(result);
    result.chars.forEach((c, i) => {
      const span = document.createElement("span");
      span.textContent = c.char;
      if (breaks.has(i)) {
        span.className = "line-break"; // each line of the ink on a row of its own
      } else if (c.char !== " ") {
        span.className = "ch";
        span.style.color = COLOURS[i % COLOURS.length];
      }
      text.appendChild(span);
    });
  }
  box.dataset.strokes = String(result ? result.strokes : strokes.length);
  box.dataset.status = status;
  redraw();
}

function scheduleRecognize() {
  clearTimeout(inkTimer);
  inkTimer = setTimeout(recognize, RECOGNIZE_DELAY_MS);
}

async function recognize() {
  const seq = ++inkSeq;
  const n = strokes.length;
  if (strokes.reduce((k, s) => k + s.length, 0) < 2) { // nothing to read yet
    inkResult = null;
    showInk(null, "idle");
    return;
  }
  $("ink-result").dataset.status = "busy";
  try {
    const res = await fetch("/v1/recognize", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ strokes: strokes, name: "canvas" }),
    });
    const body = await res.json();
    if (seq !== inkSeq) return; // newer ink is on its way
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    inkResult = { ...body, strokes: n };
    showError("");
    showInk(inkResult, "ok");
  } catch (err) {
    if (seq !== inkSeq) return;
    inkResult = null;
    showError(`handwriting: ${err.message}`);
    showInk(null, "error");
  }
}

function undo() {
  strokes.pop();
  inkResult = null;
  if (!strokes.length) t0 = null;
  showInk(null, "busy");
  scheduleRecognize();
}

function clearInk() {
  strokes = [];
  t0 = null;
  inkResult = null;
  inkSeq += 1; // an answer still on its way is for ink that is gone
  clearTimeout(inkTimer);
  showError("");
  showInk(null, "idle");
}

// ---------------------------------------------------------------------------------------------
// Speech: the file picker and the microphone

function setSpeechStatus(status, message) {
  $("speech-status").dataset.status = status;
  $("speech-status").textContent = message;
}

function showTranscript(body) {
  speechResult = body;
  const list = $("phones");
  list.replaceChildren();
  const items = body.phones || (body.chars || []).map((c) => ({ phone: c.char, ...c }));
  for (const p of items) {
    const li = document.createElement("li");
    li.dataset.start = String(p.start);
    li.dataset.end = String(p.end);
    const sym = document.createElement("span");
    sym.className = "sym";
    sym.textContent = p.phone === " " ? "␣" : p.phone;
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = `${p.start.toFixed(2)}–${p.end.toFixed(2)}`;
    li.append(sym, time);
    list.appendChild(li);
  }
  const picture = $("picture");
  if (body.picture_png) {
    picture.src = `data:image/png;base64,${body.picture_png}`;
    picture.hidden = false;
  } else {
    picture.hidden = true;
  }
  const what = body.phones ? `${body.phones.length} phones` : `"${body.text}"`;
  setSpeechStatus("ok", `${body.file}: ${body.duration.toFixed(2)} s, ${what}`);
}

async function transcribe(blob, name, converted = false) {
  setSpeechStatus("busy", `transcribing ${name}…`);
  showError("");
  const form = new FormData();
  form.append("file", blob, name);
  try {
    const res = await fetch("/v1/transcribe?picture=true", { method: "POST", body: form });
    const body = await res.json();
    if (res.status === 400 && !converted && /not an audio file/.test(body.error || "")) {
      // A format libsndfile does not read (AAC, WebM, ...): decode it here, send it as WAV.
      const wav = await toWav(blob);
      return transcribe(wav, name.replace(/\.[^.]*$/, "") + ".wav", true);
    }
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    showTranscript(body);
  } catch (err) {
    setSpeechStatus("error", "");
    showError(`speech: ${err.message}`);
  }
}

async function toWav(blob) {
  // Decoded by the browser, resampled to RECORD_RATE, averaged to mono, written as 16-bit PCM.
  const context = new AudioContext({ sampleRate: RECORD_RATE });
  try {
    const audio = await context.decodeAudioData(await blob.arrayBuffer());
    const mono = new Float32Array(audio.length);
    for (let c = 0; c < audio.numberOfChannels; c += 1) {
      const data = audio.getChannelData(c);
      for (let i = 0; i < data.length; i += 1) mono[i] += data[i] / audio.numberOfChannels;
    }
    return wavBlob(mono, audio.sampleRate);
  } finally {
    context.close();
  }
}

function wavBlob(samples, rate) {
  const view = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + 2 * samples.length, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // size of the fmt chunk
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, 2 * rate, true); // bytes per second
  view.setUint16(32, 2, true); // bytes per frame
  view.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  view.setUint32(40, 2 * samples.length, true);
  samples.forEach((v, i) => {
    const x = Math.max(-1, Math.min(1, v));
    view.setInt16(44 + 2 * i, x < 0 ? x * 32768 : x * 32767, true);
  });
  return new Blob([view], { type: "audio/wav" });
}

let recorder = null;
let stopTimer = null;

async function toggleRecording() {
  if (recorder) {
    recorder.stop();
    return;
  }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    showError("speech: this browser gives no microphone here (it needs https, or " +
      "http://127.0.0.1 / localhost)");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showError(`speech: no microphone (${err.message})`);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = async () => {
    clearTimeout(stopTimer);
    stream.getTracks().forEach((t) => t.stop());
    const blob = new Blob(chunks, { type: recorder.mimeType });
    recorder = null;
    $("record").textContent = "Record";
    $("record").classList.remove("on");
    try {
      await transcribe(await toWav(blob), "recording.wav", true);
    } catch (err) {
      setSpeechStatus("error", "");
      showError(`speech: the recording could not be decoded (${err.message})`);
    }
  };
  recorder.start();
  $("record").textContent = "Stop";
  $("record").classList.add("on");
  setSpeechStatus("busy", "recording…");
  const maxMs = 1000 * (limits ? limits.audio_seconds : 60);
  stopTimer = setTimeout(() => recorder && recorder.stop(), maxMs - 500);
}

// ---------------------------------------------------------------------------------------------
// Start

pad.addEventListener("pointerdown", onPointerDown);
pad.addEventListener("pointermove", onPointerMove);
pad.addEventListener("pointerup", onPointerUp);
pad.addEventListener("pointercancel", onPointerUp);
$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearInk);
$("record").addEventListener("click", toggleRecording);
$("audio-file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) transcribe(file, file.name);
});
window.addEventListener("resize", resizePad);
resizePad();
loadModels().catch((err) => showError(`cannot reach the server (${err.message})`));

// For scripts and tests: what the page holds (copies).
window.lstmrecPage = {
  strokes: () => JSON.parse(JSON.stringify(strokes)),
  inkResult: () => inkResult && JSON.parse(JSON.stringify(inkResult)),
  speechResult: () => speechResult && JSON.parse(JSON.stringify(speechResult)),
};
