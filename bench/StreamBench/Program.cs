using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Streaming;
using ManimCloud.Streaming.Ffmpeg;

// Streaming benchmark (SPEC §5, issue 9): a Manim-like six-scene 1080p30 video of about a minute (flat background,
// text, moving shapes; made by ffmpeg's lavfi sources and drawing filters), transcoded
//   mc-whole  `manimcloud video transcode` of the whole video (a fresh workspace: every scene encoded),
//   mc-edit   `manimcloud video transcode` of v2, where one scene of six changed (five reused),
//   baseline  the straightforward way: one ffmpeg run per rendition over the full video, then a separate DASH (+HLS)
//             packaging pass (ffmpeg's dash muxer, -c copy), with the very same x264 settings (FfmpegArguments.VideoEncoder).
// Rounds are interleaved (baseline and mc alternate first); CPU is user+sys of the process and every child it waited
// for (/proc/self/stat cutime+cstime), wall is a stopwatch. Reports medians and the ratios the targets name.
// Usage: StreamBench --cli PATH [--rounds 3] [--seconds-per-scene 10] [--work DIR] [--out results.json]

var cli = Arg("--cli") ?? throw new ArgumentException("--cli PATH (the manimcloud executable) is required");
var rounds = int.Parse(Arg("--rounds") ?? "3", CultureInfo.InvariantCulture);
var sceneSeconds = double.Parse(Arg("--seconds-per-scene") ?? "10", CultureInfo.InvariantCulture);
var work = Directory.CreateDirectory(Path.Combine(Arg("--work") ?? Path.GetTempPath(), $"streambench-{Environment.ProcessId}")).FullName;
var outFile = Arg("--out");
const int Scenes = 6;
var tools = await FfmpegLocator.LocateAsync(null, null, CancellationToken.None);
var ladder = Ladder.Default;
Log($"ffmpeg {tools.Version} ({tools.Ffmpeg}); ladder {ladder.Fingerprint} (x264 {ladder.Preset}, tune {ladder.Tune}); {Environment.ProcessorCount} cores");

// The corpus: six scenes and a seventh (scene 3 edited), and the full video concatenated from the six.
var clips = Enumerable.Range(1, Scenes).Select(i => Path.Combine(work, $"scene_{i:D3}.mp4")).ToList();
var edited = Path.Combine(work, "scene_003_edited.mp4");
for (var i = 1; i <= Scenes; i++) await MakeSceneAsync(clips[i - 1], i, $"Scene {i}");
await MakeSceneAsync(edited, 3, "Scene 3 (edited)");
var full = Path.Combine(work, "full.mp4");
var list = Path.Combine(work, "concat.txt");
await File.WriteAllLinesAsync(list, clips.Select(c => $"file '{c}'"));
await Run(tools.Ffmpeg, ["-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", list, "-c", "copy", full]);
var duration = Scenes * sceneSeconds;
Log($"corpus: {Scenes} scenes x {sceneSeconds} s 1080p30 ({new FileInfo(full).Length / 1e6:0.0} MB full video) in {work}");

var results = new List<(string Form, int Round, double Wall, double Cpu)>();
for (var round = 0; round <= rounds; round++)
{
    var warmup = round == 0;
    var forms = round % 2 == 0 ? new[] { "baseline", "mc" } : ["mc", "baseline"];
    foreach (var form in forms)
    {
        if (form == "baseline")
        {
            var (wall, cpu) = await Measure(() => BaselineAsync(Path.Combine(work, $"baseline-{round}")));
            Report("baseline", round, wall, cpu, warmup);
        }
        else
        {
            var home = Path.Combine(work, $"ws-{round}");
            var id = await PrepareWorkspaceAsync(home);
            var (wall, cpu) = await Measure(() => Cli(home, "video", "transcode", id, "--engine", "local", "--json"));
            Report("mc-whole", round, wall, cpu, warmup);
            await Cli(home, "code", "put", await CodeFile(2), "--video", id);
            for (var i = 1; i <= Scenes; i++) await Cli(home, "video", "put", i == 3 ? edited : clips[i - 1], "--video", id, "--scene", i.ToString(CultureInfo.InvariantCulture));
            var (ewall, ecpu) = await Measure(() => Cli(home, "video", "transcode", id, "--engine", "local", "--json"));
            Report("mc-edit", round, ewall, ecpu, warmup);
            Directory.Delete(home, recursive: true);
        }
    }
}

double Median(string form, Func<(string Form, int Round, double Wall, double Cpu), double> pick)
{
    var xs = results.Where(r => r.Form == form).Select(pick).Order().ToList();
    return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[xs.Count / 2 - 1] + xs[xs.Count / 2]) / 2;
}
var summary = new JsonObject
{
    ["video_seconds"] = duration, ["rounds"] = rounds, ["cores"] = Environment.ProcessorCount,
    ["ladder"] = $"{ladder.Fingerprint} x264 {ladder.Preset}/{ladder.Tune}",
    ["load_average_at_end"] = File.ReadAllText("/proc/loadavg").Trim(),
};
foreach (var form in new[] { "baseline", "mc-whole", "mc-edit" })
    summary[form] = new JsonObject { ["wall_s"] = Math.Round(Median(form, r => r.Wall), 2), ["cpu_s"] = Math.Round(Median(form, r => r.Cpu), 2) };
summary["cpu_ratio_mc_vs_baseline"] = Math.Round(Median("mc-whole", r => r.Cpu) / Median("baseline", r => r.Cpu), 3);
summary["wall_ratio_mc_vs_video_duration"] = Math.Round(Median("mc-whole", r => r.Wall) / duration, 3);
summary["wall_ratio_edit_vs_whole"] = Math.Round(Median("mc-edit", r => r.Wall) / Median("mc-whole", r => r.Wall), 3);
summary["cpu_ratio_edit_vs_whole"] = Math.Round(Median("mc-edit", r => r.Cpu) / Median("mc-whole", r => r.Cpu), 3);
summary["runs"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject { ["form"] = r.Form, ["round"] = r.Round, ["wall_s"] = Math.Round(r.Wall, 2), ["cpu_s"] = Math.Round(r.Cpu, 2) }).ToArray());
Console.WriteLine();
Console.WriteLine($"| form | median wall (s) | median CPU (s) |");
Console.WriteLine($"|---|---|---|");
foreach (var form in new[] { "baseline", "mc-whole", "mc-edit" })
    Console.WriteLine($"| {form} | {Median(form, r => r.Wall):0.00} | {Median(form, r => r.Cpu):0.00} |");
Console.WriteLine($"\nCPU mc-whole / baseline = {summary["cpu_ratio_mc_vs_baseline"]} (target <= 0.6); wall mc-whole / video = {summary["wall_ratio_mc_vs_video_duration"]} (target <= 1); " +
    $"edit / whole wall = {summary["wall_ratio_edit_vs_whole"]} (target <= 0.3), CPU {summary["cpu_ratio_edit_vs_whole"]}");
Console.WriteLine($"load average at the end: {summary["load_average_at_end"]}");
if (outFile is not null) await File.WriteAllTextAsync(outFile, summary.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
Directory.Delete(work, recursive: true);
return 0;

void Report(string form, int round, double wall, double cpu, bool warmup)
{
    Log($"round {round}{(warmup ? " (warm-up, not counted)" : "")}: {form,-9} wall {wall,7:0.00} s  cpu {cpu,7:0.00} s");
    if (!warmup) results.Add((form, round, wall, cpu));
}

// The straightforward ladder: each rendition encoded by its own ffmpeg run over the full video (each decoding it),
// then one DASH packaging pass over the three MP4s that writes the MPD and, from the same segments, HLS playlists.
async Task BaselineAsync(string dir)
{
    Directory.CreateDirectory(dir);
    var plan = ladder.For(1920, 1080);
    var outputs = new List<string>();
    foreach (var r in plan)
    {
        var output = Path.Combine(dir, $"{r.Name}.mp4");
        await Run(tools.Ffmpeg, ["-nostdin", "-loglevel", "error", "-y", "-i", full, "-map", "0:v:0", "-vf", FfmpegArguments.Scale(r),
            .. FfmpegArguments.VideoEncoder(ladder, r, 30), "-an", output]);
        outputs.Add(output);
    }
    List<string> package = ["-nostdin", "-loglevel", "error", "-y"];
    foreach (var o in outputs) package.AddRange(["-i", o]);
    for (var i = 0; i < outputs.Count; i++) package.AddRange(["-map", $"{i}:v:0"]);
    package.AddRange(["-c", "copy", "-f", "dash", "-seg_duration", ladder.SegmentSeconds.ToString(CultureInfo.InvariantCulture),
        "-use_template", "1", "-use_timeline", "1", "-hls_playlist", "1", Path.Combine(dir, "manifest.mpd")]);
    await Run(tools.Ffmpeg, package);
    Directory.Delete(dir, recursive: true);
}

async Task<string> PrepareWorkspaceAsync(string home)
{
    var created = JsonNode.Parse(await Cli(home, "video", "create", "--project", "bench", "--title", "Six scenes", "--json"))!;
    var id = (string)created["video_id"]!;
    await Cli(home, "code", "put", await CodeFile(1), "--video", id);
    for (var i = 1; i <= Scenes; i++) await Cli(home, "video", "put", clips[i - 1], "--video", id, "--scene", i.ToString(CultureInfo.InvariantCulture));
    await Cli(home, "video", "update", id, "--status", "uploaded");
    return id;
}

async Task<string> CodeFile(int version)
{
    var path = Path.Combine(work, $"v{version}.py");
    await File.WriteAllTextAsync(path, $"from manim import *\n\nclass Six(Scene):  # version {version}\n    pass\n");
    return path;
}

// A Manim-looking scene: dark flat background, a title, a formula fading in, a square sliding and a shape turning.
async Task MakeSceneAsync(string output, int scene, string title)
{
    var font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    var d = sceneSeconds.ToString(CultureInfo.InvariantCulture);
    var colors = new[] { "0x58c4dd", "0x83c167", "0xfc6255", "0xffff00", "0x9a72ac", "0xf0ac5f" };
    var graph = $"color=c=0x1e1e2e:s=1920x1080:r=30:d={d}[bg];color=c={colors[scene % 6]}:s=240x240:r=30:d={d}[sq];" +
        $"color=c={colors[(scene + 2) % 6]}:s=200x200:r=30:d={d},format=rgba,rotate=a=t*0.8:c=none:ow=290:oh=290[rot];" +
        $"[bg][sq]overlay=x='200+mod(t*{100 + 20 * scene}\\,1200)':y=420:eval=frame[a];[a][rot]overlay=x=1450:y='300+150*sin(t*1.5)':eval=frame[b];" +
        $"[b]drawtext=fontfile={font}:text='{title}':fontsize=84:fontcolor=white:x=(w-tw)/2:y=110," +
        $"drawtext=fontfile={font}:text='f(x) = x^{scene} + {scene}x':fontsize=64:fontcolor=0xffff00:x=(w-tw)/2:y=860:alpha='min(1\\,t/3)'[v]";
    // As Manim writes its clips: H.264, yuv420p, high quality.
    await Run(tools.Ffmpeg, ["-nostdin", "-loglevel", "error", "-y", "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "medium", "-crf", "18",
        "-pix_fmt", "yuv420p", "-movflags", "+faststart", output]);
}

async Task<string> Cli(string home, params string[] args)
{
    var psi = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in args) psi.ArgumentList.Add(a);
    psi.Environment["MANIMCLOUD_HOME"] = home;
    foreach (var k in psi.Environment.Keys.Where(k => k.StartsWith("AWS_") || (k.StartsWith("MANIMCLOUD_") && k != "MANIMCLOUD_HOME")).ToList()) psi.Environment.Remove(k);
    using var p = Process.Start(psi)!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEndAsync();
    await p.WaitForExitAsync();
    if (p.ExitCode != 0) throw new InvalidOperationException($"manimcloud {string.Join(' ', args)} failed ({p.ExitCode}): {await stderr}");
    return await stdout;
}

static async Task Run(string exe, IReadOnlyList<string> args)
{
    var psi = new ProcessStartInfo(exe) { RedirectStandardError = true };
    foreach (var a in args) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    var stderr = p.StandardError.ReadToEndAsync();
    await p.WaitForExitAsync();
    if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} failed ({p.ExitCode}): {await stderr}");
}

// CPU of this process plus every child it has waited for (user + system), in seconds.
static double CpuSeconds()
{
    var stat = File.ReadAllText("/proc/self/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    // After "pid (comm) ": state is field 3; utime, stime, cutime, cstime are fields 14–17.
    var ticks = new[] { 11, 12, 13, 14 }.Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
    return ticks / 100.0; // USER_HZ
}

static async Task<(double Wall, double Cpu)> Measure(Func<Task> work)
{
    var cpu = CpuSeconds();
    var sw = Stopwatch.StartNew();
    await work();
    return (sw.Elapsed.TotalSeconds, CpuSeconds() - cpu);
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static void Log(string message) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
