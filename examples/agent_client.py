#!/usr/bin/env python3
"""A renderer agent's side of ManimCloud, over `manimcloud serve`'s HTTP API, with the Python standard library only.

What a renderer agent in a Python pipeline does once it has code and rendered clips:

  1. create a video in a project           POST /api/v1/projects/{p}/videos
  2. store its Manim code (next version)   POST /api/v1/videos/{id}/code            (text/x-python)
  3. upload each clip, resumably (tus 1.0) POST /api/v1/uploads/ + PATCH …          (sha256 per chunk; resumes from HEAD)
  4. ask for the adaptive ladder           POST /api/v1/videos/{id}/transcode
  5. wait until the video is `ready`       GET  /api/v1/events?project=p             (server-sent events; polls as a fallback)
  6. get a signed playback URL             GET  /api/v1/videos/{id}/url

Usage:
  MANIMCLOUD_TOKEN=mct_… examples/agent_client.py --url http://127.0.0.1:8080 --project calculus-101 \\
      --title "Derivatives" --code scenes.py --clip scene1.mp4 --clip scene2.mp4 [--json]

The token needs the editor role (`manimcloud token create --role editor --project calculus-101`). Every refusal is
printed as the service's problem details (what happened and the fix) and the exit status is 1; 2 for bad arguments.
Import it to use `AgentClient` from your own agent code.
"""
import argparse, base64, hashlib, http.client, json, os, socket, sys, time, urllib.error, urllib.parse, urllib.request

TUS_VERSION = "1.0.0"


class ApiError(Exception):
    """A request the service refused (an RFC 9457 problem) or could not be reached."""

    def __init__(self, method, url, status, problem):
        self.method, self.url, self.status, self.problem = method, url, status, problem or {}
        super().__init__(self.describe())

    def describe(self):
        p = self.problem
        head = f"{self.method} {self.url}: " + (f"{self.status} {p.get('title', '')}".strip() if self.status else "no answer")
        lines = [head, f"error: {p.get('detail') or p.get('title') or 'the service gave no reason'}"]
        if p.get("fix"):
            lines.append(f"fix: {p['fix']}")
        return "\n".join(lines)


class AgentClient:
    def __init__(self, base_url, token, timeout=60.0, log=None):
        self.base = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.log = log or (lambda message: None)

    # -- plumbing ---------------------------------------------------------------------------------------------------

    def _url(self, path):
        return path if path.startswith("http") else self.base + path

    def request(self, method, path, body=None, headers=None, expect=(200,), timeout=None):
        """One request; returns (status, headers, body bytes). A status outside `expect` raises ApiError."""
        url = self._url(path)
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        req = urllib.request.Request(url, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
                status, rh, data = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, rh, data = e.code, e.headers, e.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
            raise ApiError(method, url, None, {"detail": f"{getattr(e, 'reason', e)}",
                                               "fix": f"Check that `manimcloud serve` runs and answers at {self.base}."}) from e
        if status not in expect:
            problem = None
            if (rh.get("Content-Type") or "").split(";")[0] in ("application/problem+json", "application/json") and data:
                try:
                    problem = json.loads(data)
                except ValueError:
                    pass
            text = data.decode("utf-8", "replace")[:500].strip()
            raise ApiError(method, url, status, problem or {"title": http.client.responses.get(status, ""),
                                                            "detail": text or f"{status} {http.client.responses.get(status, '')} with no body"})
        return status, rh, data

    def json(self, method, path, doc=None, expect=(200,), headers=None):
        body = None if doc is None else json.dumps(doc).encode()
        h = {"Accept": "application/json", **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
        _, _, data = self.request(method, path, body, h, expect)
        return json.loads(data) if data else None

    # -- the agent's steps --------------------------------------------------------------------------------------------

    def create_video(self, project, title, description=None, tags=None):
        doc = {"title": title}
        if description:
            doc["description"] = description
        if tags:
            doc["tags"] = tags
        video = self.json("POST", f"/api/v1/projects/{q(project)}/videos", doc, expect=(201,))
        self.log(f"created video {video['video_id']} in {project}")
        return video

    def put_code(self, video_id, source):
        _, _, data = self.request("POST", f"/api/v1/videos/{q(video_id)}/code", source.encode("utf-8"),
                                  {"Content-Type": "text/x-python; charset=utf-8", "Accept": "application/json"}, expect=(201,))
        record = json.loads(data)
        self.log(f"stored code v{record.get('version')} ({len(source.encode())} bytes)")
        return record

    def upload(self, video_id, slot, path, chunk=4 << 20, attempts=5):
        """tus 1.0 upload of one clip (slot scene_001…, or full): created once, PATCHed in chunks with a sha256
        checksum each; after a dropped connection it asks HEAD for the offset and continues from there."""
        size = os.path.getsize(path)
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                        (("video", video_id), ("slot", slot), ("filename", os.path.basename(path))))
        _, rh, _ = self.request("POST", "/api/v1/uploads/", b"", {"Tus-Resumable": TUS_VERSION, "Upload-Length": str(size),
                                                                 "Upload-Metadata": meta}, expect=(201,))
        location = urllib.parse.urljoin(self.base + "/", rh["Location"])
        offset, failures = 0, 0
        with open(path, "rb") as f:
            while offset < size:
                f.seek(offset)
                data = f.read(chunk)
                checksum = "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()
                try:
                    _, rh, _ = self.request("PATCH", location, data, {"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(offset),
                                                                      "Content-Type": "application/offset+octet-stream",
                                                                      "Upload-Checksum": checksum}, expect=(204,))
                    offset = int(rh["Upload-Offset"])
                except ApiError as e:
                    # Unreachable, a checksum mismatch (460) or an offset the service does not have (409): resume from HEAD.
                    if e.status not in (None, 409, 460, 500, 502, 503, 504) or failures + 1 >= attempts:
                        raise
                    failures += 1
                    time.sleep(min(8.0, 0.5 * 2 ** failures))
                    _, rh, _ = self.request("HEAD", location, None, {"Tus-Resumable": TUS_VERSION}, expect=(200,))
                    offset = int(rh["Upload-Offset"])
                    self.log(f"upload of {os.path.basename(path)} resumes at byte {offset} ({e.status or 'no answer'})")
        state = self.json("GET", location)
        if state.get("state") == "failed" or state.get("error"):
            raise ApiError("GET", location, 422, {"title": "Upload refused", "detail": state.get("error") or json.dumps(state),
                                                   "fix": "Upload an MP4 clip (H.264) as the renderer wrote it."})
        self.log(f"uploaded {os.path.basename(path)} as {slot} ({size} bytes)")
        return state

    def transcode(self, video_id, version=None):
        path = f"/api/v1/videos/{q(video_id)}/transcode" + (f"?version={version}" if version else "")
        job = self.json("POST", path, {}, expect=(200, 202))
        self.log(f"transcode requested for {video_id}")
        return job

    def video(self, video_id):
        return self.json("GET", f"/api/v1/videos/{q(video_id)}")

    def wait_ready(self, video_id, project, timeout=600.0):
        """Waits for status `ready` on the event stream (server-sent events), checking the record whenever the
        stream is quiet or drops, so a change made before the stream opened is not missed. `error` raises."""
        deadline = time.monotonic() + timeout
        last_id = None
        while True:
            video = self.video(video_id)
            if video["status"] == "ready":
                return video
            if video["status"] == "error":
                raise ApiError("GET", f"/api/v1/videos/{video_id}", None, {"title": "Video failed",
                               "detail": f"video {video_id} is in status error: {video.get('status_reason')}",
                               "fix": "Read the reason, fix the clip or code, upload again and request the transcode again."})
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApiError("GET", f"/api/v1/videos/{video_id}", None, {"title": "Timed out",
                               "detail": f"video {video_id} is still {video['status']} after {timeout:.0f} s",
                               "fix": "Wait longer (--timeout), or look at `manimcloud status` / `jobs list` on the service."})
            status = self._watch(video_id, project, min(left, 20.0), last_id)
            if isinstance(status, tuple):
                last_id, status = status
            if status in ("ready", "error"):
                continue  # read the record once more: it carries the renditions (or the reason)

    def _watch(self, video_id, project, seconds, last_id):
        """Reads the event stream for up to `seconds`; returns (last event id, the video's newest status seen)."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        req = urllib.request.Request(self._url(f"/api/v1/events?project={q(project)}"), headers=headers)
        seen, event, data, until = None, None, [], time.monotonic() + seconds
        try:
            with urllib.request.urlopen(req, timeout=max(1.0, seconds)) as stream:
                while time.monotonic() < until:
                    line = stream.readline()
                    if not line:
                        break
                    line = line.decode("utf-8").rstrip("\r\n")
                    if line.startswith("id:"):
                        last_id = line[3:].strip()
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "":
                        if event == "video.status_changed" and data:
                            payload = json.loads("\n".join(data)).get("data", {})
                            if payload.get("video_id") == video_id:
                                seen = payload.get("status")
                                self.log(f"status {seen}")
                                if seen in ("ready", "error"):
                                    break
                        event, data = None, []
        except (socket.timeout, TimeoutError, urllib.error.URLError, ConnectionError):
            pass  # a quiet or dropped stream: the caller reads the record and opens it again
        return last_id, seen

    def playback_url(self, video_id, fmt="hls", expires="2h"):
        link = self.json("GET", f"/api/v1/videos/{q(video_id)}/url?format={fmt}&expires={q(expires)}")
        self.log(f"playback: {link['url']}")
        return link

    def publish(self, project, title, code_path, clips, timeout=600.0):
        """The whole of it: a video from code and clips to a signed playback URL."""
        video = self.create_video(project, title)
        vid = video["video_id"]
        with open(code_path, encoding="utf-8") as f:
            code = self.put_code(vid, f.read())
        uploads = [self.upload(vid, f"scene_{i:03d}", clip) for i, clip in enumerate(clips, 1)]
        self.transcode(vid)
        ready = self.wait_ready(vid, project, timeout)
        link = self.playback_url(vid)
        return {"video_id": vid, "project": project, "code_version": code.get("version"), "uploads": uploads,
                "status": ready["status"], "playback": link}


def q(s):
    return urllib.parse.quote(str(s), safe="")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Publish Manim code and rendered clips through `manimcloud serve` (a renderer agent).")
    ap.add_argument("--url", default=os.environ.get("MANIMCLOUD_URL", "http://127.0.0.1:8080"), help="the service (default $MANIMCLOUD_URL or http://127.0.0.1:8080)")
    ap.add_argument("--token", default=os.environ.get("MANIMCLOUD_TOKEN"), help="an editor token (default $MANIMCLOUD_TOKEN)")
    ap.add_argument("--project", required=True)
    ap.add_argument("--title", required=True)
    ap.add_argument("--code", required=True, help="the Manim .py file")
    ap.add_argument("--clip", action="append", required=True, help="a rendered scene clip (MP4), in scene order; repeat for each scene")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for `ready` (default 600)")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON document")
    a = ap.parse_args(argv)
    if not a.token:
        ap.error("no token: pass --token or set MANIMCLOUD_TOKEN (`manimcloud token create --role editor`)")
    for path in [a.code, *a.clip]:
        if not os.path.isfile(path):
            ap.error(f"{path} is not a file")
    client = AgentClient(a.url, a.token, log=lambda m: print(m, file=sys.stderr))
    try:
        result = client.publish(a.project, a.title, a.code, a.clip, a.timeout)
    except ApiError as e:
        print(e.describe(), file=sys.stderr)
        if a.json:
            print(json.dumps({"error": e.problem, "status": e.status, "request": f"{e.method} {e.url}"}))
        return 1
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"video {result['video_id']} is {result['status']}\nplay: {result['playback'].get('watch_url') or result['playback']['url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
