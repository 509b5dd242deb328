// A project's videos, newest first (GET /api/v1/projects/{project}/videos with a viewer token), each with links that
// ask the service for a signed playback link (GET /api/v1/videos/{id}/url) and open the player with it.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const project = decodeURIComponent(location.pathname.split("/")[2] || "");
  const tokenKey = "manimcloud.token";
  let next = null;
  $("project").textContent = project;
  document.title = `${project} · ManimCloud`;

  function problem(text) {
    $("problem").textContent = text;
    $("problem").hidden = !text;
  }

  async function read(path) {
    const token = sessionStorage.getItem(tokenKey) || "";
    const r = await fetch(path, { headers: { Accept: "application/json", Authorization: `Bearer ${token}` }, cache: "no-store" });
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error(body && body.detail ? `${body.detail} ${body.fix || ""}` : `The service answered ${r.status}.`);
    return body;
  }

  async function watch(id, format) {
    try {
      const link = await read(`/api/v1/videos/${id}/url${format === "dash" ? "?format=dash" : ""}`);
      location.assign(link.watch_path);
    } catch (e) {
      problem(e.message);
    }
  }

  function row(v) {
    const tr = $("videos").tBodies[0].insertRow();
    const title = tr.insertCell();
    title.textContent = v.title;
    title.title = v.video_id;
    tr.insertCell().textContent = v.status;
    const versions = Object.keys(v.renditions || {}).map(Number).sort((a, b) => a - b);
    tr.insertCell().textContent = versions.length ? versions.map((n) => `v${n}`).join(", ") : `v${v.current_version} (not transcoded)`;
    tr.insertCell().textContent = new Date(v.updated_at).toLocaleString();
    const cell = tr.insertCell();
    if (!versions.length) { cell.textContent = "—"; return; }
    for (const format of ["hls", "dash"]) {
      const a = document.createElement("a");
      a.href = "#";
      a.textContent = format === "hls" ? "Watch" : "DASH";
      a.addEventListener("click", (e) => { e.preventDefault(); watch(v.video_id, format); });
      cell.append(a, " ");
    }
  }

  async function load(more) {
    problem("");
    try {
      const page = await read(`/api/v1/projects/${encodeURIComponent(project)}/videos?limit=50${more && next ? `&next=${encodeURIComponent(next)}` : ""}`);
      if (!more) $("videos").tBodies[0].replaceChildren();
      page.videos.forEach(row);
      next = page.next || null;
      $("videos").hidden = false;
      $("more").hidden = !next;
      if (!page.videos.length && !more) problem("This project has no videos yet.");
    } catch (e) {
      problem(e.message);
    }
  }

  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(tokenKey, $("token").value.trim());
    load(false);
  });
  $("more").addEventListener("click", () => load(true));
  if (sessionStorage.getItem(tokenKey)) load(false);
})();
