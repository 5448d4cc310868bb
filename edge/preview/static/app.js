// edge-pose live view: polls api/state, shows the MJPEG stream, and edits zones on a canvas over it.
"use strict";

const POLL_MS = 500;
const RULE_COLOURS = { include: "rgb(0,230,0)", exclude: "rgb(235,40,40)" };
const $ = (id) => document.getElementById(id);

let saved = null; // the zones in force, as the server last said: {rule: [{name, mode, points}]}
let edited = null; // the zones being edited (a copy of `saved` until saved)
let draft = null; // the polygon being drawn: {points: [[x, y], ...]}
let dirty = false;
const shown = { stats: "", tracks: "", events: "" }; // what each table shows: rebuilt only when it changes

function changed(part, value) {
  const key = JSON.stringify(value);
  if (shown[part] === key) return false;
  shown[part] = key;
  return true;
}

function text(value, digits) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number" && digits !== undefined) return value.toFixed(digits);
  return String(value);
}

function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

// --- the stream ---------------------------------------------------------------------------------

function startStream() {
  const img = $("live");
  img.addEventListener("error", () => setTimeout(() => { img.src = "stream.mjpg?retry=" + Date.now(); }, 2000));
  img.addEventListener("load", sizeCanvas);
  img.src = "stream.mjpg";
}

// --- state --------------------------------------------------------------------------------------

function showStats(state) {
  const s = state.stats || {};
  if (!changed("stats", [s, state.preview.viewers])) return;
  const rows = [
    ["frames per second", text(s.fps, 1)],
    ["inference ms (p50 / p95)", s.inference_ms_p50 === undefined ? "–" :
      `${text(s.inference_ms_p50, 1)} / ${text(s.inference_ms_p95, 1)}`],
    ["pipeline ms (p50 / p95)", s.pipeline_ms_p50 === undefined ? "–" :
      `${text(s.pipeline_ms_p50, 1)} / ${text(s.pipeline_ms_p95, 1)}`],
    ["CPU temperature °C", text(s.cpu_temp_c, 1)],
    ["camera", text(s.camera_state)],
    ["broker", text(s.broker)],
    ["events waiting in the outbox", text(s.outbox_depth)],
    ["model", text(s.model)],
    ["frames processed / dropped", s.frames === undefined ? "–" : `${s.frames} / ${s.frames_dropped}`],
    ["preview", `${text(s.preview)} (${text(state.preview.viewers)} watching)`],
  ];
  const body = $("stats").tBodies[0];
  body.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    const td = document.createElement("td");
    th.textContent = k;
    td.textContent = v;
    tr.append(th, td);
    return tr;
  }));
}

function showTracks(state) {
  if (!changed("tracks", state.tracks)) return;
  const body = $("tracks").tBodies[0];
  body.replaceChildren(...state.tracks.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.track = text(t.track_id);
    for (const v of [t.track_id, text(t.score, 2), text(t.trunk_deg, 0), text(t.upper_arm_left_deg, 0),
      text(t.upper_arm_right_deg, 0), t.reba_trunk, t.reba_upper_arm, t.reba_trunk_arm]) {
      const td = document.createElement("td");
      td.textContent = text(v);
      tr.append(td);
    }
    return tr;
  }));
}

function showEvents(state) {
  if (!changed("events", [state.events.map((e) => [e.id, e.state, e.ts]), state.snapshots.map((s) => s.event_id)])) {
    return; // unchanged: keep the list (and its snapshot images) as it is
  }
  const snapshots = new Map(state.snapshots.map((s) => [s.event_id, s]));
  const list = $("events");
  list.replaceChildren(...state.events.map((e) => {
    const li = document.createElement("li");
    li.dataset.type = e.type;
    li.dataset.state = e.state;
    li.dataset.id = e.id;
    li.className = e.severity;
    const at = new Date(e.received * 1000).toLocaleTimeString();
    li.textContent = `${at} ${e.type} ${e.state} (${e.severity}, track ${e.track_id}, ${text(e.duration_s, 1)} s)`;
    const snap = e.state === "start" ? snapshots.get(e.id) : undefined;
    if (snap) {
      const a = document.createElement("a");
      a.href = snap.url;
      a.target = "_blank";
      a.className = "snapshot";
      const img = document.createElement("img");
      img.src = snap.url;
      img.alt = `${snap.privacy} snapshot of ${e.type}`;
      a.append(img);
      li.append(a);
    }
    return li;
  }));
}

async function refresh() {
  try {
    const response = await fetch("api/state", { cache: "no-store" });
    if (!response.ok) throw new Error(`api/state: HTTP ${response.status}`);
    const state = await response.json();
    $("device").textContent = state.device;
    $("notice").textContent = state.notice;
    $("max-fps").textContent = text(state.preview.max_fps);
    $("viewers").textContent = text(state.preview.viewers);
    $("snapshots-mode").textContent = state.preview.snapshots;
    $("frame-no").textContent = state.frame ? text(state.frame.frame) : "–";
    $("connection").textContent = "";
    showStats(state);
    showTracks(state);
    showEvents(state);
    setRules(state.rules);
    saved = state.zones;
    if (!dirty) {
      edited = clone(saved);
      showZones();
    }
  } catch (err) {
    $("connection").textContent = `No answer from the camera (${err.message}); retrying.`;
  }
  setTimeout(refresh, POLL_MS);
}

// --- the zone editor ----------------------------------------------------------------------------

function setRules(rules) {
  const select = $("zone-rule");
  if (select.options.length === rules.length) return;
  select.replaceChildren(...rules.map((r) => new Option(r, r)));
}

function sizeCanvas() {
  const img = $("live");
  const canvas = $("editor");
  if (canvas.width !== img.clientWidth || canvas.height !== img.clientHeight) {
    canvas.width = img.clientWidth;
    canvas.height = img.clientHeight;
  }
  drawCanvas();
}

function drawPolygon(ctx, points, colour, closed, width) {
  if (points.length === 0) return;
  const w = ctx.canvas.width;
  const h = ctx.canvas.height;
  ctx.strokeStyle = colour;
  ctx.fillStyle = colour;
  ctx.lineWidth = width;
  ctx.setLineDash(closed ? [] : [6, 4]);
  ctx.beginPath();
  points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x * w, y * h) : ctx.lineTo(x * w, y * h)));
  if (closed) ctx.closePath();
  ctx.stroke();
  for (const [x, y] of points) {
    ctx.beginPath();
    ctx.arc(x * w, y * h, 4, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawCanvas() {
  const canvas = $("editor");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (edited && dirty) {
    // Unsaved zones of the selected rule; saved ones are drawn by the camera into the frame itself.
    for (const zone of edited[$("zone-rule").value] || []) {
      drawPolygon(ctx, zone.points, RULE_COLOURS[zone.mode], true, 2);
    }
  }
  if (draft) drawPolygon(ctx, draft.points, RULE_COLOURS[$("zone-mode").value], false, 2);
}

function zoneYaml() {
  const lines = [];
  for (const [rule, zones] of Object.entries(edited || {})) {
    if (zones.length === 0) continue;
    lines.push(`${rule}:`, "  zones:");
    for (const z of zones) {
      lines.push(`    - name: ${JSON.stringify(z.name)}`, `      mode: ${z.mode}`, "      points:");
      for (const [x, y] of z.points) lines.push(`        - [${x}, ${y}]`);
    }
  }
  return lines.length ? lines.join("\n") : "# no zones";
}

function showZones() {
  const list = $("zone-list");
  const items = [];
  for (const [rule, zones] of Object.entries(edited || {})) {
    zones.forEach((zone, i) => {
      const li = document.createElement("li");
      li.dataset.rule = rule;
      li.textContent = `${rule}: ${zone.name} (${zone.mode}, ${zone.points.length} corners) `;
      const del = document.createElement("button");
      del.type = "button";
      del.textContent = "Delete";
      del.addEventListener("click", () => {
        edited[rule].splice(i, 1);
        dirty = true;
        showZones();
      });
      li.append(del);
      items.push(li);
    });
  }
  list.replaceChildren(...items);
  $("zone-yaml").textContent = zoneYaml();
  drawCanvas();
}

function setDrawing(on) {
  $("editor").classList.toggle("drawing", on);
  $("zone-new").disabled = on;
  $("zone-finish").disabled = !on;
  $("zone-undo").disabled = !on;
  $("zone-cancel").disabled = !on;
}

function status(message, kind) {
  const el = $("zone-status");
  el.textContent = message;
  el.className = kind || "";
}

function finishDraft() {
  if (!draft) return;
  if (draft.points.length < 3) {
    status("A zone needs at least 3 corners.", "error");
    return;
  }
  const rule = $("zone-rule").value;
  edited[rule] = edited[rule] || [];
  edited[rule].push({ name: $("zone-name").value.trim(), mode: $("zone-mode").value, points: draft.points });
  draft = null;
  dirty = true;
  setDrawing(false);
  status(`Zone added to ${rule}; not saved yet.`);
  showZones();
}

async function saveZones() {
  status("Saving…");
  try {
    const response = await fetch("api/zones", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ zones: edited }),
    });
    const answer = await response.json();
    if (!response.ok) {
      status(`Not saved (HTTP ${response.status}): ${answer.error}`, "error");
      return;
    }
    saved = answer.zones;
    edited = clone(saved);
    dirty = false;
    status(`Saved to ${answer.saved_to} and applied to the running rules.`, "ok");
    showZones();
  } catch (err) {
    status(`Not saved: ${err.message}`, "error");
  }
}

function setUpEditor() {
  const canvas = $("editor");
  canvas.addEventListener("click", (ev) => {
    if (!draft) return;
    const rect = canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (ev.clientX - rect.left) / rect.width));
    const y = Math.min(1, Math.max(0, (ev.clientY - rect.top) / rect.height));
    draft.points.push([Number(x.toFixed(4)), Number(y.toFixed(4))]);
    drawCanvas();
  });
  canvas.addEventListener("dblclick", (ev) => {
    ev.preventDefault();
    if (draft && draft.points.length > 1) draft.points.pop(); // the double-click's second click
    finishDraft();
  });
  $("zone-new").addEventListener("click", () => {
    draft = { points: [] };
    setDrawing(true);
    status("Click the corners of the zone on the image.");
  });
  $("zone-finish").addEventListener("click", finishDraft);
  $("zone-undo").addEventListener("click", () => {
    if (draft) draft.points.pop();
    drawCanvas();
  });
  $("zone-cancel").addEventListener("click", () => {
    draft = null;
    setDrawing(false);
    status("");
    drawCanvas();
  });
  $("zone-save").addEventListener("click", saveZones);
  $("zone-revert").addEventListener("click", () => {
    edited = clone(saved);
    dirty = false;
    status("Back to the saved zones.");
    showZones();
  });
  $("zone-rule").addEventListener("change", drawCanvas);
  window.addEventListener("resize", sizeCanvas);
}

// The stream starts after the page's load event: an endless MJPEG response would otherwise hold it.
window.addEventListener("load", () => {
  setUpEditor();
  startStream();
  refresh();
});
