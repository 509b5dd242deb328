using System.Diagnostics;
using System.Text.RegularExpressions;
using ManimCloud.Domain;

namespace ManimCloud.Streaming;

/// <summary>The ffmpeg and ffprobe executables this process uses, checked to have what the ladder needs.</summary>
public sealed record FfmpegTools(string Ffmpeg, string Ffprobe, Version Version);

/// <summary>
/// The one place that finds ffmpeg (the transcode engine, the demo and the test renderer all ask here):
/// MANIMCLOUD_FFMPEG, else PATH. When it is missing and this process may install packages (root, apt-get), it
/// installs Debian's ffmpeg the way ./test.sh does, saying so on stderr; otherwise it says how to install it.
/// Checked once per process: version 4.4 or later with libx264 and the native AAC encoder.
/// </summary>
public static partial class FfmpegLocator
{
    /// <summary>The oldest ffmpeg whose HLS muxer writes fMP4 segments as the local engine expects.</summary>
    public static readonly Version MinimumVersion = new(4, 4);

    public const string InstallHint =
        "Install ffmpeg: `sudo apt-get install -y ffmpeg` (Debian/Ubuntu), `brew install ffmpeg` (macOS), or set MANIMCLOUD_FFMPEG to its path.";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static FfmpegTools? _found;

    /// <summary>
    /// Finds (and where allowed installs) ffmpeg. <paramref name="configured"/>: an explicit path (MANIMCLOUD_FFMPEG),
    /// used exactly; ffprobe is looked for beside it. <paramref name="log"/> receives what an installation does.
    /// </summary>
    public static async Task<FfmpegTools> LocateAsync(string? configured, Action<string>? log, CancellationToken ct)
    {
        if (_found is { } f && (configured is null || f.Ffmpeg == configured)) return f;
        await Gate.WaitAsync(ct);
        try
        {
            if (_found is { } again && (configured is null || again.Ffmpeg == configured)) return again;
            var ffmpeg = configured ?? FindOnPath("ffmpeg");
            if (configured is not null && !File.Exists(configured))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"MANIMCLOUD_FFMPEG names '{configured}', which does not exist.",
                    "Point MANIMCLOUD_FFMPEG at the ffmpeg executable, or unset it to use the one on PATH.");
            if (ffmpeg is null)
            {
                await InstallAsync(log ?? (m => Console.Error.WriteLine(m)), ct);
                ffmpeg = FindOnPath("ffmpeg") ?? throw Missing("ffmpeg was still not found on PATH after installing it.");
            }
            var ffprobe = Beside(ffmpeg, "ffprobe") ?? FindOnPath("ffprobe")
                ?? throw Missing($"ffprobe was not found beside {ffmpeg} or on PATH (it comes with ffmpeg).");
            var tools = new FfmpegTools(ffmpeg, ffprobe, await CheckAsync(ffmpeg, ct));
            _found = tools;
            return tools;
        }
        finally
        {
            Gate.Release();
        }
    }

    private static ManimCloudException Missing(string what) => new(ErrorKind.ClientError, what, InstallHint);

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static string? Beside(string ffmpeg, string name)
    {
        var dir = Path.GetDirectoryName(ffmpeg);
        var candidate = dir is null ? null : Path.Combine(dir, name + Path.GetExtension(ffmpeg));
        return candidate is not null && File.Exists(candidate) ? candidate : null;
    }

    /// <summary>Version and encoders: too old, or built without libx264 or aac, is refused with what to do.</summary>
    private static async Task<Version> CheckAsync(string ffmpeg, CancellationToken ct)
    {
        var (code, banner) = await CaptureAsync(ffmpeg, ["-hide_banner", "-version"], ct);
        if (code != 0)
            throw new ManimCloudException(ErrorKind.ClientError, $"{ffmpeg} -version failed ({code}): {banner.Trim()}", InstallHint);
        var m = VersionPattern().Match(banner);
        // Builds from git call themselves "N-12345-g…": new enough by definition.
        var version = m.Success ? new Version(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)) : new Version(99, 0);
        if (version < MinimumVersion)
            throw new ManimCloudException(ErrorKind.ClientError,
                $"{ffmpeg} is version {version}; the local transcoder needs ffmpeg {MinimumVersion} or later.", InstallHint);
        var (_, encoders) = await CaptureAsync(ffmpeg, ["-hide_banner", "-encoders"], ct);
        foreach (var (encoder, what) in new[] { ("libx264", "H.264 encoder libx264"), ("aac", "AAC encoder") })
            if (!Regex.IsMatch(encoders, $@"^\s*\S+\s+{encoder}\s", RegexOptions.Multiline))
                throw new ManimCloudException(ErrorKind.ClientError, $"{ffmpeg} was built without the {what} ({encoder}).",
                    "Install a full build: Debian's and Ubuntu's `ffmpeg` package, or a static build from ffmpeg.org; then set MANIMCLOUD_FFMPEG to it if it is not on PATH.");
        return version;
    }

    [GeneratedRegex(@"ffmpeg version n?(\d+)\.(\d+)")]
    private static partial Regex VersionPattern();

    /// <summary>
    /// Installs Debian's ffmpeg when this process is root with apt-get, printing each step; refuses with the command
    /// otherwise. MANIMCLOUD_FFMPEG_INSTALL=never forbids installing (a locked-down machine, or tests).
    /// </summary>
    private static async Task InstallAsync(Action<string> log, CancellationToken ct)
    {
        var aptGet = FindOnPath("apt-get");
        var mayInstall = !string.Equals(Environment.GetEnvironmentVariable("MANIMCLOUD_FFMPEG_INSTALL"), "never", StringComparison.OrdinalIgnoreCase);
        if (aptGet is null || !IsRoot() || !mayInstall)
            throw Missing(aptGet is null
                ? "ffmpeg was not found on PATH."
                : IsRoot()
                    ? "ffmpeg was not found on PATH (installing is off: MANIMCLOUD_FFMPEG_INSTALL=never)."
                    : "ffmpeg was not found on PATH, and installing it needs root.");
        foreach (var args in new[] { new[] { "update", "-qq" }, ["install", "-y", "-qq", "ffmpeg"] })
        {
            log($"ffmpeg is missing: running `apt-get {string.Join(' ', args)}`…");
            var psi = new ProcessStartInfo(aptGet) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEndAsync(ct);
            var error = p.StandardError.ReadToEndAsync(ct);
            await p.WaitForExitAsync(ct);
            if (p.ExitCode != 0)
                throw new ManimCloudException(ErrorKind.ClientError,
                    $"`apt-get {string.Join(' ', args)}` failed ({p.ExitCode}): {((await error).Trim() is { Length: > 0 } e ? e : (await output).Trim())}",
                    "Install ffmpeg by hand (`apt-get install -y ffmpeg`), or set MANIMCLOUD_FFMPEG to an ffmpeg executable.");
        }
        log("ffmpeg installed.");
    }

    /// <summary>.NET reads the user name from the effective uid (getpwuid(geteuid())) on Unix.</summary>
    private static bool IsRoot() => !OperatingSystem.IsWindows() && Environment.UserName == "root";

    private static async Task<(int Code, string Output)> CaptureAsync(string exe, string[] args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ManimCloudException(ErrorKind.ClientError, $"'{exe}' could not be run: {e.Message}", InstallHint, e);
        }
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync(ct);
            var stderr = p.StandardError.ReadToEndAsync(ct);
            await p.WaitForExitAsync(ct);
            return (p.ExitCode, await stdout + await stderr);
        }
    }
}
