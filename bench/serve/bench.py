#!/usr/bin/env python3
"""Serving benchmarks (issue #11), against `manimcloud serve` as a user runs it (./manimcloud, local mode).

1. Segments: wrk fetches a transcoded video's CMAF segments (64 KiB–2 MiB) from ManimCloud's playback edge, every
   request carrying the signed grant and checked (policy, expiry, RSA signature), and the very same files (the
   workspace's blob folder) from nginx (Debian's, no checks: a static root), in one run: interleaved rounds (the
   order alternates), the same URL list in the same order for both, medians of requests per second and of p99.
   Target: ManimCloud >= 0.8x nginx's requests per second.
2. API: 10,000 videos seeded in one project through the API itself (POST, a few keep-alive connections), then wrk
   with 64 connections on GET /api/v1/videos/{id} (random ids among the 10,000) and on the project listing
   (GET /api/v1/projects/{p}/videos, the first page of 20), interleaved rounds, median p99. Target p99 <= 10 ms.

Usage: bench/serve/bench.py [--rounds 5] [--duration 10] [--connections 32] [--videos 10000] [--skip-api|--skip-segments]
       [--out bench/results/serve.json]
Needs wrk and nginx (apt-get install wrk nginx-light) and ffmpeg. Everything listens on 127.0.0.1.
The machine is small and shared (2 cores, other sessions building and testing; wrk, the server and nginx share
those cores too): read the figures as ratios within one run, not as absolutes.
"""
import argparse, concurrent.futures, http.client, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time
import urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "manimcloud")
MIN_SEGMENT, MAX_SEGMENT = 64 << 10, 2 << 20


def log(message):
    print(message, file=sys.stderr, flush=True)


def clean_env(extra):
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MANIMCLOUD_") or k.startswith("AWS_"))}
    env.update(extra)
    return env


def cli(env, *args):
    p = subprocess.run([CLI, "--json", *args], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"manimcloud {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout) if p.stdout.strip() else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {seconds} s")


# -- the video --------------------------------------------------------------------------------------------------------

def make_video(env, work, seconds):
    """A 1080p source with enough detail that the ladder's segments span 64 KiB to 2 MiB, transcoded locally."""
    src = os.path.join(work, "source.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-vf", "noise=alls=18:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", src], check=True)
    video = cli(env, "video", "create", "--project", "bench-serve", "--title", "Serving benchmark")
    vid = video["video_id"]
    cli(env, "video", "put", src, "--video", vid, "--full")
    started = time.perf_counter()
    cli(env, "video", "transcode", vid)
    log(f"transcoded {seconds} s of 1080p in {time.perf_counter() - started:.1f} s")
    link = cli(env, "video", "url", vid, "--expires", "12h")
    return vid, link


def segments(base, manifest_url):
    """Every segment the HLS manifests name, fetched through the edge once (HEAD: size and SHA-256 ETag)."""
    parsed = urllib.parse.urlsplit(manifest_url)
    master_path = parsed.path + "?" + parsed.query

    def get(path):
        with urllib.request.urlopen(base + path, timeout=30) as r:
            return r.read().decode()

    def uris(playlist_path, text):
        folder = playlist_path.split("?")[0].rsplit("/", 1)[0]
        found = []
        for line in text.splitlines():
            m = re.search(r'URI="([^"]+)"', line)
            if m:
                found.append(m.group(1))
            elif line and not line.startswith("#"):
                found.append(line.strip())
        return [u if u.startswith("/") else folder + "/" + u for u in found]

    out = []
    for variant in uris(master_path, get(master_path)):
        if ".m3u8" not in variant:
            continue
        for seg in uris(variant, get(variant)):
            if ".m3u8" in seg:
                continue
            req = urllib.request.Request(base + seg, method="HEAD")
            with urllib.request.urlopen(req, timeout=30) as r:
                size = int(r.headers["Content-Length"])
                sha = r.headers["ETag"].strip('"')
            out.append({"path": seg, "size": size, "sha256": sha})
    return out


# -- wrk ----------------------------------------------------------------------------------------------------------------

LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def write_lua(work, name, paths):
    listing = os.path.join(work, name + ".paths")
    with open(listing, "w") as f:
        f.write("\n".join(paths) + "\n")
    script = os.path.join(work, name + ".lua")
    with open(script, "w") as f:
        f.write(LUA % listing)
    return script


def to_ms(value):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    n, unit = float(m.group(1)), m.group(2)
    return n * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url, script, seconds, connections, threads=2, headers=()):
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", script]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    return {"rps": rps, "p50_ms": latency.get("50"), "p99_ms": latency.get("99"), "requests": requests,
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": sum(map(int, errors.groups())) if errors else 0,
            "transfer_per_s": f"{transfer.group(1)}{transfer.group(2)}" if transfer else None}


# -- nginx ----------------------------------------------------------------------------------------------------------------

def start_nginx(work, root, port):
    prefix = os.path.join(work, "nginx")
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  types {{ video/mp4 m4s mp4; }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
""")
    p = subprocess.Popen(["nginx", "-p", prefix, "-c", conf, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return p


def median(rows, key):
    return round(statistics.median(r[key] for r in rows), 3)


def serve_segments(a, work, env, serve_url, blobs):
    vid, link = make_video(env, work, a.seconds)
    all_segments = segments(serve_url, link["url"])
    chosen = [s for s in all_segments if MIN_SEGMENT <= s["size"] <= MAX_SEGMENT]
    if not chosen:
        sys.exit(f"no segment between 64 KiB and 2 MiB among {len(all_segments)}: sizes {sorted(s['size'] for s in all_segments)}")
    sizes = sorted(s["size"] for s in chosen)
    log(f"{len(chosen)} of {len(all_segments)} segments in range, {sizes[0]} to {sizes[-1]} bytes, median {statistics.median(sizes):.0f}")

    # The grant must be checked: the same path without it is refused.
    bare = chosen[0]["path"].split("?")[0]
    try:
        urllib.request.urlopen(serve_url + bare, timeout=10)
        sys.exit("the edge served a segment without its grant: signature checks are not on")
    except urllib.error.HTTPError as e:
        if e.code != 403:
            raise

    for s in chosen:
        if not os.path.exists(os.path.join(blobs, s["sha256"][:2], s["sha256"])):
            sys.exit(f"segment {s['path']} has no blob {s['sha256']} in {blobs}")
    mc_script = write_lua(work, "mc", [s["path"] for s in chosen])
    ng_script = write_lua(work, "nginx", [f"/{s['sha256'][:2]}/{s['sha256']}" for s in chosen])

    port = free_port()
    nginx = start_nginx(work, blobs, port)
    try:
        nginx_url = f"http://127.0.0.1:{port}"
        try:
            wait_http(nginx_url + f"/{chosen[0]['sha256'][:2]}/{chosen[0]['sha256']}")
        except SystemExit:
            with open(os.path.join(work, "nginx", "logs", "error.log")) as f:
                sys.exit(f"nginx did not serve the blob folder; its error log:\n{f.read()[-2000:]}")
        for name, url, script in (("manimcloud", serve_url, mc_script), ("nginx", nginx_url, ng_script)):
            wrk(url, script, 3, a.connections)  # warm-up: JIT tiers, page cache, connection setup
        results = {"manimcloud": [], "nginx": []}
        for r in range(a.rounds):
            order = [("manimcloud", serve_url, mc_script), ("nginx", nginx_url, ng_script)]
            if r % 2:
                order.reverse()
            for name, url, script in order:
                row = wrk(url, script, a.duration, a.connections)
                results[name].append(row)
                log(f"round {r + 1} {name:10}: {row['rps']:8.1f} req/s, p99 {row['p99_ms']:.2f} ms, {row['transfer_per_s']}/s"
                    + (f", {row['non_2xx']} non-2xx" if row["non_2xx"] else "") + (f", {row['socket_errors']} socket errors" if row["socket_errors"] else ""))
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    summary = {n: {"rps_median": median(rows, "rps"), "p99_ms_median": median(rows, "p99_ms"), "p50_ms_median": median(rows, "p50_ms"),
                   "non_2xx": sum(x["non_2xx"] for x in rows), "socket_errors": sum(x["socket_errors"] for x in rows)} for n, rows in results.items()}
    ratios = [m["rps"] / n["rps"] for m, n in zip(results["manimcloud"], results["nginx"])]
    return {"video_id": vid, "segments": len(chosen), "segment_bytes": {"min": sizes[0], "median": statistics.median(sizes), "max": sizes[-1]},
            "connections": a.connections, "duration_s": a.duration, "rounds": a.rounds, "summary": summary,
            "rps_ratio_of_medians": round(summary["manimcloud"]["rps_median"] / summary["nginx"]["rps_median"], 3),
            "rps_ratio_per_round": [round(x, 3) for x in ratios], "rounds_detail": results}


# -- API ----------------------------------------------------------------------------------------------------------------

def seed(serve_url, token, project, count, connections=4):
    host, port = urllib.parse.urlsplit(serve_url).netloc.split(":")
    body = json.dumps({"title": "seeded"}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker(n):
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        ids = []
        for i in range(n):
            c.request("POST", f"/api/v1/projects/{project}/videos", body=json.dumps({"title": f"seeded {i}"}).encode(), headers=headers)
            r = c.getresponse()
            data = r.read()
            if r.status != 201:
                sys.exit(f"seeding: {r.status} {data[:500]!r}")
            ids.append(json.loads(data)["video_id"])
        c.close()
        return ids

    started = time.perf_counter()
    share = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]
    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        ids = [i for part in pool.map(worker, share) for i in part]
    return ids, time.perf_counter() - started


def api(a, work, env, serve_url):
    project = "bench-api"
    token = cli(env, "token", "create", "--role", "editor", "--project", project, "--description", "serve bench")["token"]
    ids, seconds = seed(serve_url, token, project, a.videos)
    log(f"seeded {len(ids)} videos through the API in {seconds:.1f} s ({len(ids) / seconds:.0f}/s)")
    auth = [f"Authorization: Bearer {token}"]
    shuffled = ids[:]
    import random
    random.Random(7).shuffle(shuffled)
    show = write_lua(work, "show", [f"/api/v1/videos/{i}" for i in shuffled])
    listing = write_lua(work, "list", [f"/api/v1/projects/{project}/videos"])
    page = json.loads(urllib.request.urlopen(urllib.request.Request(serve_url + f"/api/v1/projects/{project}/videos",
                                                                    headers={"Authorization": f"Bearer {token}"})).read())
    assert len(page["videos"]) == 20 and page["next"], "the listing should return a first page of 20 with a page token"
    for script in (show, listing):
        wrk(serve_url, script, 3, 64, headers=auth)
    results = {"show": [], "list": []}
    for r in range(a.rounds):
        order = [("show", show), ("list", listing)]
        if r % 2:
            order.reverse()
        for name, script in order:
            row = wrk(serve_url, script, a.duration, 64, headers=auth)
            results[name].append(row)
            log(f"round {r + 1} {name:5}: {row['rps']:8.1f} req/s, p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms"
                + (f", {row['non_2xx']} non-2xx" if row["non_2xx"] else ""))
    summary = {n: {"rps_median": median(rows, "rps"), "p50_ms_median": median(rows, "p50_ms"), "p99_ms_median": median(rows, "p99_ms"),
                   "p99_ms_worst": max(x["p99_ms"] for x in rows), "non_2xx": sum(x["non_2xx"] for x in rows)} for n, rows in results.items()}
    return {"videos": len(ids), "seed_seconds": round(seconds, 1), "connections": 64, "duration_s": a.duration, "rounds": a.rounds,
            "summary": summary, "rounds_detail": results}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections for the segment runs")
    ap.add_argument("--seconds", type=int, default=24, help="length of the benchmark video")
    ap.add_argument("--videos", type=int, default=10000)
    ap.add_argument("--skip-api", action="store_true")
    ap.add_argument("--skip-segments", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the workspace and nginx folder")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/serve.json"))
    a = ap.parse_args()
    for tool in ("wrk", "nginx", "ffmpeg"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install wrk nginx-light ffmpeg")

    work = tempfile.mkdtemp(prefix="mc-bench-serve-")
    os.chmod(work, 0o755)  # mkdtemp makes it 0700: nginx's workers (nobody) must reach the blob folder inside
    home = os.path.join(work, "home")
    port = free_port()
    serve_url = f"http://127.0.0.1:{port}"
    # The CLI signs playback URLs for the service's own address (a signed policy names scheme, host and port, as
    # CloudFront's do): without MANIMCLOUD_PUBLIC_URL it would sign for :8080 and the edge here would refuse them.
    env = clean_env({"MANIMCLOUD_HOME": home, "MANIMCLOUD_RATE_LIMIT": "0", "MANIMCLOUD_PUBLIC_URL": serve_url})
    cli(env, "status")  # creates the workspace (and builds ./manimcloud first when the sources changed)
    server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
    result = {"machine": f"{os.cpu_count()} cores, shared with other sessions' builds and tests", "load_before": os.getloadavg(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv)}
    try:
        wait_http(serve_url + "/healthz")
        if not a.skip_segments:
            result["segments"] = serve_segments(a, work, env, serve_url, os.path.join(home, "blobs"))
        if not a.skip_api:
            result["api"] = api(a, work, env, serve_url)
    finally:
        server.terminate()
        server.wait(timeout=30)
        result["load_after"] = os.getloadavg()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    brief = {k: result[k]["summary"] for k in ("segments", "api") if k in result}
    if "segments" in result:
        brief["rps_ratio_of_medians"] = result["segments"]["rps_ratio_of_medians"]
        brief["segment_bytes"] = result["segments"]["segment_bytes"]
    print(json.dumps(brief, indent=2))


if __name__ == "__main__":
    main()
