#!/usr/bin/env python3
"""Pipeline benchmarks (issue #12), run through ./manimcloud as a user would.

1. Latency on the embedded default (no AWS): `pipeline run` of a six-scene video from a prompt (template generator,
   ffmpeg test renderer), then `pipeline edit` of one scene; per step (code, reuse, render, upload, transcode,
   publish) and end to end. Rounds alternate run and edit on fresh workspaces; the figure is the ratio of medians
   edit / run (target <= 0.3).
2. Scale-out on moto (SQS + DynamoDB + S3 on loopback): 1, 2 and 4 `manimcloud worker` processes sharing one queue
   render a SCENES-scene video (unique code per run, so nothing is reused); scenes per minute over the render step
   (first scene started to last scene stored), and the queue's overhead per job (a job is a scene, or the assemble,
   transcode and publish steps): SQS requests and their milliseconds, the coordinator's sends and the workers' extends
   and deletes together (receives counted apart, their time being mostly long-poll waiting). Worker counts are
   interleaved per round.

Usage: bench/pipeline/bench.py [--rounds 3] [--workers 1,2,4] [--scenes 12] [--out bench/results/pipeline.json]
The machine is shared and small (2 cores): read figures as ratios within one run, not as absolutes.
"""
import argparse, json, os, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "manimcloud")


def clean_env(extra):
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MANIMCLOUD_") or k.startswith("AWS_"))}
    env.update(extra)
    return env


def cli(env, *args, check=True):
    started = time.perf_counter()
    p = subprocess.run([CLI, "--json", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if check and p.returncode != 0:
        sys.exit(f"manimcloud {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout) if p.stdout.strip() else None, wall


def steps(report):
    return {s["step"]: s["seconds"] for s in report["steps"]}


def latency(rounds):
    runs, edits = [], []
    for r in range(rounds):
        home = tempfile.mkdtemp(prefix="mc-bench-pipe-")
        env = clean_env({"MANIMCLOUD_HOME": home, "MANIMCLOUD_RENDERER": "test"})
        run, run_wall = cli(env, "pipeline", "run", "--project", "bench", "--title", f"Bench {r}", "--prompt", "The theorem in six scenes")
        edit, edit_wall = cli(env, "pipeline", "edit", run["video_id"], "--prompt", "scene 3: slow down at the end")
        runs.append({"wall": run_wall, **steps(run)})
        edits.append({"wall": edit_wall, **steps(edit)})
        print(f"round {r + 1}: run {run_wall:.2f} s, edit {edit_wall:.2f} s", file=sys.stderr)
    keys = sorted({k for d in runs + edits for k in d})
    med = lambda rows, k: statistics.median(d.get(k, 0.0) for d in rows)
    table = {k: {"run_s": round(med(runs, k), 3), "edit_s": round(med(edits, k), 3)} for k in keys}
    return {"rounds": rounds, "median": table, "edit_over_run": round(med(edits, "wall") / med(runs, "wall"), 3), "runs": runs, "edits": edits}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def module(scenes, tag):
    body = [f"# run {tag}", "from manim import *", ""]
    for i in range(scenes):
        body += [f"class Scene{i + 1:02d}(Scene):", "    def construct(self):", f"        self.play(FadeIn(Text(\"{i + 1}\")))", f"        self.wait({1 + i % 3})", ""]
    return "\n".join(body)


def scale_out(worker_counts, rounds, scenes):
    port = free_port()
    moto = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/ManimCloud.Tests/Support/moto_serialized.py"), "127.0.0.1", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"})
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        home = tempfile.mkdtemp(prefix="mc-bench-coord-")
        base = {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "MANIMCLOUD_VIDEO_BUCKET": "bench-videos", "MANIMCLOUD_CODE_BUCKET": "bench-code", "MANIMCLOUD_TABLE": "bench-meta",
                "MANIMCLOUD_RENDERER": "test"}
        plan, _ = cli(clean_env({**base, "MANIMCLOUD_HOME": home}), "provision", "--queue")
        queue = json.load(open(os.path.join(home, "config.json")))["queue"]
        base["MANIMCLOUD_QUEUE"] = queue
        results = {n: [] for n in worker_counts}
        for r in range(rounds):
            for n in worker_counts:
                workers = []
                for w in range(n):
                    wenv = clean_env({**base, "MANIMCLOUD_HOME": tempfile.mkdtemp(prefix=f"mc-bench-w{w}-")})
                    workers.append(subprocess.Popen([CLI, "--json", "worker", "--concurrency", "1", "--poll", "2"], env=wenv,
                                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
                time.sleep(1.0)  # let them start polling
                code = os.path.join(home, f"bench-{r}-{n}.py")
                open(code, "w").write(module(scenes, f"{r}-{n}-{time.time()}"))
                report, wall = cli(clean_env({**base, "MANIMCLOUD_HOME": home}), "pipeline", "run", "--project", "bench", "--title", f"scale {n}", "--code", code)
                render_s = steps(report)["render"]
                usage = {"requests": 0, "ms": 0.0, "receives": 0, "receive_ms": 0.0, "completed": 0}
                for p in workers:
                    p.send_signal(signal.SIGTERM)
                for p in workers:
                    out, _ = p.communicate(timeout=60)
                    doc = json.loads(out)
                    usage["completed"] += doc["completed"]
                    for k in ("requests", "ms", "receives", "receive_ms"):
                        usage[k] += doc.get("sqs", {}).get(k, 0)
                coordinator = report.get("sqs", {})  # the jobs' SendMessage calls, made by `pipeline run`
                usage["requests"] += coordinator.get("requests", 0)
                usage["ms"] += coordinator.get("ms", 0.0)
                row = {"render_s": render_s, "wall_s": round(wall, 3), "scenes_per_min": round(scenes / render_s * 60, 1), **usage}
                results[n].append(row)
                print(f"round {r + 1}, {n} worker(s): {row['scenes_per_min']} scenes/min (render {render_s:.2f} s, run {wall:.2f} s)", file=sys.stderr)
        summary = {}
        for n, rows in results.items():
            jobs = sum(x["completed"] for x in rows)
            summary[n] = {
                "scenes_per_min_median": statistics.median(x["scenes_per_min"] for x in rows),
                "render_s_median": statistics.median(x["render_s"] for x in rows),
                "sqs_requests_per_job": round(sum(x["requests"] for x in rows) / jobs, 2),
                "sqs_ms_per_job": round(sum(x["ms"] for x in rows) / jobs, 2),
                "receives_per_job": round(sum(x["receives"] for x in rows) / jobs, 2),
                "receive_ms_per_job": round(sum(x["receive_ms"] for x in rows) / jobs, 2),
                "jobs_per_run": round(jobs / len(rows), 1),
            }
        one = summary[worker_counts[0]]["scenes_per_min_median"]
        for n in summary:
            summary[n]["speedup_vs_first"] = round(summary[n]["scenes_per_min_median"] / one, 2)
        return {"scenes": scenes, "rounds": rounds, "summary": summary, "rounds_detail": results}
    finally:
        moto.terminate()
        moto.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/pipeline.json"))
    ap.add_argument("--skip-scale", action="store_true")
    a = ap.parse_args()
    result = {"machine": f"{os.cpu_count()} cores, shared with other builds and tests", "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    result["latency"] = latency(a.rounds)
    if not a.skip_scale:
        result["scale_out"] = scale_out([int(x) for x in a.workers.split(",")], a.rounds, a.scenes)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(result, open(a.out, "w"), indent=2)
    print(json.dumps({"latency": result["latency"]["median"], "edit_over_run": result["latency"]["edit_over_run"],
                      "scale_out": result.get("scale_out", {}).get("summary")}, indent=2))


if __name__ == "__main__":
    main()
