// The player page, /watch/{video}?v=N[&format=dash]&Policy=…&Signature=…&Key-Pair-Id=… (the link `video url` prints).
// The grant in the address authorises everything the page reads: the video's versions (GET /api/v1/videos/{id}/watch),
// the code diff, and the manifests, whose segment URIs the service signs with the same grant. Plays with hls.js
// (or dash.js with format=dash), loaded only when needed; no framework, nothing from another origin but the CDN's.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const video = $("video");
  const videoId = decodeURIComponent(location.pathname.split("/")[2] || "");
  const params = new URLSearchParams(location.search);
  const format = params.get("format") === "dash" ? "dash" : "hls";
  const grantNames = ["Policy", "Expires", "Signature", "Key-Pair-Id"];
  // The grant exactly as written in the address (its base64 is URL-safe, so it is passed on byte for byte).
  const grant = location.search.replace(/^\?/, "").split("&").filter((p) => grantNames.includes(p.split("=")[0])).join("&");
  const api = `/api/v1/videos/${encodeURIComponent(videoId)}`;

  let info = null;       // GET …/watch
  let current = null;    // the version being played
  let engine = null;     // { kind, destroy(), levels(), select(value) }
  let storyboard = [];   // [{ start, end, url, x, y, w, h }]
  let fatal = false;

  // ---- problems -------------------------------------------------------------------------------------------------
  // What a refused grant means to a viewer; the service's detail and fix follow.
  const headlines = {
    Expired: "This playback link has expired.",
    BadSignature: "This playback link is not valid: it was altered, or signed with a key this service does not trust.",
    Malformed: "This playback link is incomplete or damaged.",
    UnknownKeyPair: "This playback link was signed with a key this service does not trust.",
    Missing: "This page needs a signed playback link.",
    NotYetValid: "This playback link is not valid yet.",
    IpNotAllowed: "This playback link is not valid from your network address.",
    NotCovered: "This playback link is for another video.",
  };

  class Problem extends Error {
    constructor(status, body) {
      super((body && body.detail) || `The service answered ${status}.`);
      this.status = status;
      this.title = (body && body.title) || `HTTP ${status}`;
      this.fix = (body && body.fix) || "";
    }
  }

  function showProblem(headline, detail, fix, state) {
    $("problem-title").textContent = headline;
    $("problem-detail").textContent = detail || "";
    $("problem-fix").textContent = fix || "";
    $("problem").hidden = false;
    $("player").dataset.state = state || "error";
    $("play").disabled = true;
  }

  function showRefusal(e) {
    if (e instanceof Problem && e.status === 403)
      showProblem(headlines[e.title] || "This playback link was refused.", e.message, e.fix, "refused");
    else if (e instanceof Problem)
      showProblem(e.status === 404 ? "Nothing to play." : "The video could not be loaded.", e.message, e.fix);
    else
      showProblem("The video could not be loaded.", String(e && e.message ? e.message : e), "Reload the page; if it persists, check that the service is running.");
  }

  async function read(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" });
    let body = null;
    try { body = await r.json(); } catch { /* not JSON */ }
    if (!r.ok) throw new Problem(r.status, body);
    return body;
  }

  const withGrant = (path) => (grant ? path + (path.includes("?") ? "&" : "?") + grant : path);

  // A fatal player error: when the edge refused a request (403), the page asks the service why (the same grant, the
  // same verdict) and says so; anything else is reported as a playback failure.
  async function onFatal(what, status) {
    if (fatal) return;
    fatal = true;
    if (engine) engine.destroy();
    try {
      await read(withGrant(`${api}/watch`));
    } catch (e) {
      if (e instanceof Problem && e.status === 403) return showRefusal(e);
    }
    showProblem(status === 403 ? "The service refused this video's files." : "Playback failed.", what,
      status === 403 ? "Ask for a new link (`manimcloud video url VIDEO`)." : "Reload the page; try the other format (HLS/DASH).");
  }

  // ---- players --------------------------------------------------------------------------------------------------
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      if (document.querySelector(`script[src="${src}"]`)) return resolve();
      const s = document.createElement("script");
      s.src = src;
      s.onload = () => resolve();
      s.onerror = () => reject(new Error(`${src} did not load.`));
      document.head.appendChild(s);
    });
  }

  async function hlsEngine(version) {
    await loadScript("/assets/vendor/hls.min.js");
    const Hls = window.Hls;
    if (!Hls || !Hls.isSupported()) {
      if (video.canPlayType("application/vnd.apple.mpegurl")) { // Safari: native HLS, its own quality choice
        video.src = version.hls;
        return { kind: "hls (native)", destroy() { video.removeAttribute("src"); video.load(); }, levels: () => [], select() {} };
      }
      throw new Error("This browser has neither Media Source Extensions nor native HLS.");
    }
    const hls = new Hls({ enableWorker: true, capLevelToPlayerSize: false, startLevel: -1 });
    const ready = new Promise((resolve) => hls.once(Hls.Events.MANIFEST_PARSED, resolve));
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      const status = data.response && data.response.code;
      onFatal(`${data.type}: ${data.details}${status ? ` (HTTP ${status})` : ""}`, status);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, () => updateStatus());
    // hls.js 1.7.4 places each scene after a discontinuity at the previous scene's end plus the first frame's
    // composition offset, so the media runs a little past the playlist's duration and it never signals the end of the
    // stream: playback would stall in the last tenths of a second. When it stalls there with everything buffered,
    // the stream is ended here (hls.js's own BUFFER_EOS, which calls MediaSource.endOfStream()) and the video ends.
    const endAtStall = () => {
      const b = video.buffered;
      const end = b.length ? b.end(b.length - 1) : 0;
      if (end >= version.duration_seconds - 0.1 && video.currentTime >= version.duration_seconds - 0.5) hls.trigger(Hls.Events.BUFFER_EOS, {});
    };
    video.addEventListener("waiting", endAtStall);
    hls.on(Hls.Events.ERROR, (_, data) => { if (!data.fatal && data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) endAtStall(); });
    hls.loadSource(version.hls);
    hls.attachMedia(video);
    await ready;
    return {
      kind: "hls",
      destroy() { video.removeEventListener("waiting", endAtStall); hls.destroy(); },
      levels: () => hls.levels.map((l, i) => ({ value: String(i), width: l.width, height: l.height, bitrate: l.bitrate })),
      select(value) { hls.currentLevel = value === "auto" ? -1 : Number(value); }, // immediate switch (the buffer is flushed)
      auto: () => hls.autoLevelEnabled,
    };
  }

  async function dashEngine(version) {
    await loadScript("/assets/vendor/dash.mediaplayer.min.js");
    const dashjs = window.dashjs;
    const player = dashjs.MediaPlayer().create();
    const events = dashjs.MediaPlayer.events;
    player.updateSettings({ debug: { logLevel: (dashjs.Debug && dashjs.Debug.LOG_LEVEL_WARNING) || 3 }, streaming: { abr: { autoSwitchBitrate: { video: true } } } });
    const ready = new Promise((resolve) => player.on(events.STREAM_INITIALIZED, resolve));
    player.on(events.ERROR, (e) => {
      const err = e && e.error;
      const status = err && err.data && err.data.response && err.data.response.status;
      onFatal(`dash.js error ${err && err.code !== undefined ? err.code : ""}: ${(err && err.message) || "unknown"}`, status);
    });
    player.on(events.QUALITY_CHANGE_RENDERED, () => updateStatus());
    player.initialize(video, version.dash, false);
    await ready;
    const reps = () => player.getRepresentationsByType("video") || [];
    return {
      kind: "dash",
      destroy() { player.reset(); },
      levels: () => reps().map((r) => ({ value: String(r.id), width: r.width, height: r.height, bitrate: r.bandwidth })),
      select(value) {
        const auto = value === "auto";
        player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: auto } } } });
        if (!auto) player.setRepresentationForTypeById("video", value, true);
      },
    };
  }

  // ---- playing a version ----------------------------------------------------------------------------------------
  async function play(version) {
    fatal = false;
    if (engine) { engine.destroy(); engine = null; }
    current = version;
    $("player").dataset.state = "loading";
    $("play").disabled = true;
    if (version.poster) video.poster = version.poster; else video.removeAttribute("poster");
    renderChapters(version);
    loadStoryboard(version);
    try {
      engine = format === "dash" ? await dashEngine(version) : await hlsEngine(version);
    } catch (e) {
      if (!fatal) showProblem("The player could not start.", String(e.message || e), "Try the other format (HLS/DASH) or another browser.");
      return;
    }
    if (fatal) return;
    fillQuality();
    $("play").disabled = false;
    $("player").dataset.state = "ready";
    updateStatus();
  }

  function fillQuality() {
    const select = $("quality");
    select.replaceChildren(new Option("Auto", "auto"));
    const levels = engine.levels().slice().sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
    for (const l of levels)
      select.add(new Option(`${l.height}p (${l.width}×${l.height}, ${(l.bitrate / 1e6).toFixed(2)} Mb/s)`, l.value));
    select.disabled = levels.length === 0;
  }

  function updateStatus() {
    if (!current) return;
    const parts = [];
    if (video.videoHeight) parts.push(`Showing ${video.videoHeight}p (${video.videoWidth}×${video.videoHeight})`);
    parts.push($("quality").value === "auto" ? "quality: auto" : `quality: ${$("quality").selectedOptions[0].text.split(" ")[0]}`);
    parts.push(format === "dash" ? "DASH (dash.js)" : engine && engine.kind === "hls (native)" ? "HLS (native)" : "HLS (hls.js)");
    parts.push(`version ${current.version}`);
    $("status").textContent = parts.join(" · ");
  }

  // ---- controls -------------------------------------------------------------------------------------------------
  const clock = (s) => {
    if (!Number.isFinite(s)) s = 0;
    const m = Math.floor(s / 60), sec = Math.floor(s % 60);
    return `${m}:${String(sec).padStart(2, "0")}`;
  };
  const duration = () => (Number.isFinite(video.duration) && video.duration > 0 ? video.duration : current ? current.duration_seconds : 0);

  function renderProgress() {
    const d = duration();
    const t = video.currentTime;
    $("played").style.width = d ? `${Math.min(100, (t / d) * 100)}%` : "0";
    const b = video.buffered.length ? video.buffered.end(video.buffered.length - 1) : 0;
    $("buffered").style.width = d ? `${Math.min(100, (b / d) * 100)}%` : "0";
    $("time").textContent = `${clock(t)} / ${clock(d)}`;
    const seek = $("seek");
    seek.setAttribute("aria-valuemax", String(Math.round(d)));
    seek.setAttribute("aria-valuenow", String(Math.round(t)));
    seek.setAttribute("aria-valuetext", `${clock(t)} of ${clock(d)}`);
    for (const li of $("chapters").children) li.classList.toggle("current", t >= Number(li.dataset.start) && t < Number(li.dataset.end));
  }

  function timeAt(event) {
    const r = $("seek").getBoundingClientRect();
    return Math.max(0, Math.min(1, (event.clientX - r.left) / r.width)) * duration();
  }

  function wireControls() {
    $("play").addEventListener("click", () => (video.paused ? video.play().catch((e) => showProblem("The browser would not play.", String(e.message || e), "")) : video.pause()));
    $("mute").addEventListener("click", () => { video.muted = !video.muted; });
    video.addEventListener("volumechange", () => { $("mute").textContent = video.muted ? "Unmute" : "Mute"; $("mute").setAttribute("aria-pressed", String(video.muted)); });
    video.addEventListener("play", () => { $("play").textContent = "Pause"; $("player").dataset.state = "playing"; });
    video.addEventListener("pause", () => { $("play").textContent = "Play"; if (!fatal) $("player").dataset.state = "paused"; });
    video.addEventListener("ended", () => { $("play").textContent = "Play"; });
    for (const e of ["timeupdate", "progress", "durationchange", "seeked"]) video.addEventListener(e, renderProgress);
    video.addEventListener("resize", updateStatus);
    video.addEventListener("click", () => $("play").click());
    const seek = $("seek");
    seek.addEventListener("click", (e) => { video.currentTime = timeAt(e); });
    seek.addEventListener("keydown", (e) => {
      const step = { ArrowLeft: -5, ArrowRight: 5 }[e.key];
      if (step) { video.currentTime = Math.max(0, Math.min(duration(), video.currentTime + step)); e.preventDefault(); }
    });
    seek.addEventListener("mousemove", (e) => showPreview(timeAt(e), e.clientX));
    seek.addEventListener("mouseleave", () => { $("preview").hidden = true; });
    $("quality").addEventListener("change", () => { if (engine) engine.select($("quality").value); updateStatus(); });
    $("version").addEventListener("change", () => switchVersion(Number($("version").value)));
    $("compare").addEventListener("change", () => showDiff());
    document.addEventListener("keydown", (e) => {
      if (e.key === " " && e.target === document.body) { $("play").click(); e.preventDefault(); }
    });
  }

  // ---- chapters and storyboard ----------------------------------------------------------------------------------
  function renderChapters(version) {
    const list = $("chapters");
    const marks = $("marks");
    list.replaceChildren();
    marks.replaceChildren();
    const total = version.duration_seconds || 1;
    for (const c of version.chapters || []) {
      const li = document.createElement("li");
      li.dataset.start = c.start;
      li.dataset.end = c.end;
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = `${c.title} — ${clock(c.start)}`;
      if (c.encoded_in_version !== version.version) b.title = `Unchanged since version ${c.encoded_in_version} (its segments are reused)`;
      b.addEventListener("click", () => { video.currentTime = c.start + 0.01; });
      li.append(b);
      list.append(li);
      if (c.start > 0) {
        const m = document.createElement("span");
        m.style.left = `${(c.start / total) * 100}%`;
        m.title = c.title;
        marks.append(m);
      }
    }
  }

  // WebVTT cues whose payload is a sprite sheet with a media fragment: `sprite_001.jpg#xywh=x,y,w,h`.
  async function loadStoryboard(version) {
    storyboard = [];
    if (!version.storyboard) return;
    try {
      const r = await fetch(version.storyboard, { cache: "force-cache" });
      if (!r.ok) return;
      const text = await r.text();
      const base = new URL(version.storyboard, location.href);
      const toSeconds = (t) => t.split(":").reduce((acc, p) => acc * 60 + parseFloat(p), 0);
      for (const block of text.replace(/\r/g, "").split(/\n\n+/)) {
        const lines = block.split("\n").filter((l) => l.trim().length);
        const at = lines.findIndex((l) => l.includes("-->"));
        if (at < 0 || !lines[at + 1]) continue;
        const [from, to] = lines[at].split("-->").map((s) => toSeconds(s.trim().split(" ")[0]));
        const [file, fragment] = lines[at + 1].trim().split("#xywh=");
        if (!fragment) continue;
        const [x, y, w, h] = fragment.split(",").map(Number);
        const url = new URL(file, base);
        url.search = base.search; // the sheets are covered by the same grant as the WebVTT file
        storyboard.push({ start: from, end: to, url: url.href, x, y, w, h });
      }
      for (const sheet of new Set(storyboard.map((c) => c.url))) new Image().src = sheet; // warm the cache for hovering
    } catch { /* previews are a nicety; the video plays without them */ }
  }

  function showPreview(t, clientX) {
    const preview = $("preview");
    const cue = storyboard.find((c) => t >= c.start && t < c.end) || storyboard[storyboard.length - 1];
    const chapter = current && (current.chapters || []).find((c) => t >= c.start && t < c.end);
    const image = $("preview-image");
    if (cue) {
      image.style.width = `${cue.w}px`;
      image.style.height = `${cue.h}px`;
      image.style.backgroundImage = `url("${cue.url}")`;
      image.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      image.hidden = false;
    } else {
      image.hidden = true;
    }
    $("preview-label").textContent = chapter ? `${clock(t)} · ${chapter.title}` : clock(t);
    const stage = $("stage").getBoundingClientRect();
    preview.style.left = `${Math.max(90, Math.min(stage.width - 90, clientX - stage.left))}px`;
    preview.hidden = false;
  }

  // ---- versions and the code diff -------------------------------------------------------------------------------
  function fillVersions() {
    const select = $("version");
    select.replaceChildren();
    const latest = info.versions[info.versions.length - 1].version;
    for (const v of info.versions) select.add(new Option(`v${v.version}${v.version === latest ? " (latest)" : ""}`, String(v.version)));
    select.value = String(current.version);
    select.disabled = info.versions.length < 2;
    fillCompare();
  }

  // The version to compare with: the code version before the one played (or after it, for the first).
  function fillCompare() {
    const select = $("compare");
    const others = (info.code_versions || []).filter((n) => n !== current.version);
    select.replaceChildren();
    for (const n of others) select.add(new Option(`v${n}`, String(n)));
    const before = others.filter((n) => n < current.version);
    const pick = before.length ? before[before.length - 1] : others[0];
    if (pick !== undefined) select.value = String(pick);
    select.disabled = others.length === 0;
  }

  async function showDiff() {
    const other = Number($("compare").value);
    const hasCode = (info.code_versions || []).includes(current.version);
    const pre = $("diff");
    if (!hasCode) {
      $("diff-title").textContent = `Code of v${current.version}`;
      $("diff-summary").textContent = "This version has no stored code.";
      pre.replaceChildren();
      return;
    }
    const [from, to] = Number.isFinite(other) && other > 0 ? [Math.min(other, current.version), Math.max(other, current.version)] : [current.version, current.version];
    try {
      const diff = await read(withGrant(`${api}/watch/diff?from=${from}&to=${to}`));
      $("diff-title").textContent = from === to ? `Code of v${to}` : `Code: v${from} → v${to}`;
      $("diff-summary").textContent = from === to ? `${diff.lines.length} lines` : `${diff.added} line(s) added, ${diff.removed} removed (the version playing is v${current.version})`;
      pre.dataset.from = String(from);
      pre.dataset.to = String(to);
      pre.replaceChildren(...diff.lines.map((l) => {
        const span = document.createElement("span");
        span.className = l.op === "+" ? "add" : l.op === "-" ? "del" : "same";
        const ln = document.createElement("span");
        ln.className = "ln";
        ln.textContent = l.op === "-" ? (l.old ?? "") : (l.new ?? "");
        span.append(ln, `${l.op === " " ? " " : l.op} ${l.text}`);
        return span;
      }));
    } catch (e) {
      $("diff-summary").textContent = e instanceof Problem && e.status === 403 ? (headlines[e.title] || e.message) : `The diff could not be loaded: ${e.message}`;
      pre.replaceChildren();
    }
  }

  async function switchVersion(n) {
    const version = info.versions.find((v) => v.version === n);
    if (!version || (current && current.version === n)) return;
    const q = new URLSearchParams();
    q.set("v", String(n));
    if (format === "dash") q.set("format", "dash");
    history.replaceState(null, "", `${location.pathname}?${q}${grant ? "&" + grant : ""}`);
    updateFormatSwitch(n);
    fillCompareFor(version);
    showDiff();
    await play(version);
  }

  function fillCompareFor(version) {
    current = version;
    fillCompare();
  }

  function updateFormatSwitch(n) {
    const a = $("format-switch");
    const other = format === "dash" ? "hls" : "dash";
    a.textContent = other === "dash" ? "Play with DASH" : "Play with HLS";
    a.href = `${location.pathname}?v=${n}${other === "dash" ? "&format=dash" : ""}${grant ? "&" + grant : ""}`;
  }

  // ---- start ----------------------------------------------------------------------------------------------------
  async function start() {
    wireControls();
    try {
      info = await read(withGrant(`${api}/watch`));
    } catch (e) {
      $("title").textContent = "Video";
      return showRefusal(e);
    }
    document.title = `${info.title} · ManimCloud`;
    $("title").textContent = info.title;
    const wanted = Number(params.get("v"));
    current = info.versions.find((v) => v.version === wanted) || info.versions[info.versions.length - 1];
    fillVersions();
    updateFormatSwitch(current.version);
    showDiff();
    await play(current);
  }

  start();
})();
