// The upload page: tus-js-client against the service's tus endpoint. An interrupted request is retried from the offset
// the service has (HEAD); an upload of the same file started in an earlier visit is resumed (its URL is remembered in
// localStorage by tus-js-client's fingerprint). Once stored, the page shows what the service stored and its SHA-256.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const tokenKey = "manimcloud.token";
  let upload = null;
  let paused = false;
  $("token").value = sessionStorage.getItem(tokenKey) || "";

  const log = (text) => { const li = document.createElement("li"); li.textContent = `${new Date().toLocaleTimeString()} ${text}`; $("log").append(li); };
  const state = (text, name) => { $("state").textContent = text; document.body.dataset.upload = name; };
  const fail = (text) => { $("problem").textContent = text; $("problem").hidden = false; state("The upload stopped.", "failed"); };
  const slot = (value) => (/^\d{1,3}$/.test(value) ? `scene_${value.padStart(3, "0")}` : value);

  async function stored(url, token) {
    const r = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" }, cache: "no-store" });
    const body = await r.json().catch(() => null);
    if (!r.ok || !body) throw new Error(body && body.detail ? body.detail : `The service answered ${r.status}.`);
    return body;
  }

  $("form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("problem").hidden = true;
    const file = $("file").files[0];
    const token = $("token").value.trim();
    sessionStorage.setItem(tokenKey, token);
    const chunk = Number($("chunk").value);
    upload = new tus.Upload(file, {
      endpoint: "/api/v1/uploads/",
      headers: { Authorization: `Bearer ${token}` },
      metadata: { video: $("video").value.trim(), slot: slot($("slot").value.trim()), filename: file.name, filetype: file.type || "video/mp4" },
      chunkSize: chunk > 0 ? chunk : Infinity,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      onShouldRetry(err, retryAttempt) {
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
        const retry = status === 0 || status === 409 || status === 423 || status >= 500;
        if (retry) log(`The connection failed (${status ? "HTTP " + status : "network error"}); retry ${retryAttempt + 1}, resuming from the service's offset.`);
        return retry;
      },
      onProgress(sent, total) {
        $("progress").value = total ? sent / total : 0;
        state(`${sent} of ${total} bytes sent`, "sending");
      },
      onError(err) {
        const response = err.originalResponse;
        let text = err.message;
        if (response) {
          try { const p = JSON.parse(response.getBody()); text = `${p.detail} ${p.fix || ""}`; } catch { /* not a problem document */ }
        }
        $("pause").disabled = true;
        fail(text);
      },
      async onSuccess() {
        $("pause").disabled = true;
        log(`All ${file.size} bytes sent.`);
        try {
          const s = await stored(upload.url, token);
          if (s.state !== "complete" || !s.media) throw new Error(s.error || `The upload is ${s.state}.`);
          state(`Stored ${s.media.slot} of video ${s.media.video_id} (version ${s.media.version}): ${s.media.size} bytes, SHA-256 ${s.media.sha256}`, "stored");
          $("state").dataset.sha256 = s.media.sha256;
        } catch (err) {
          fail(err.message);
        }
      },
    });
    const previous = await upload.findPreviousUploads();
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      log(`Resuming the upload of ${file.name} begun ${new Date(previous[0].creationTime).toLocaleString()}.`);
    } else {
      log(`Uploading ${file.name} (${file.size} bytes).`);
    }
    paused = false;
    $("pause").textContent = "Pause";
    $("pause").disabled = false;
    upload.start();
  });

  $("pause").addEventListener("click", () => {
    if (!upload) return;
    paused = !paused;
    if (paused) { upload.abort(); log("Paused."); state("Paused.", "paused"); $("pause").textContent = "Resume"; }
    else { log("Resuming."); upload.start(); $("pause").textContent = "Pause"; }
  });
})();
