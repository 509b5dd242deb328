using System.Text.RegularExpressions;

namespace ManimCloud.Pipeline;

/// <summary>
/// The interpreter `python3` runs here, found once per process. A pyenv shim (a bash script that runs `pyenv exec`,
/// about 0.3 s a call) is resolved without running it, the way pyenv resolves it: the version from PYENV_VERSION, else
/// the nearest `.python-version` from PYENV_DIR (default: the current folder) upwards, else `$PYENV_ROOT/version`;
/// that version's `bin/python3` when it is installed. In every other case (no shim, "system", a version pyenv would
/// have to search for, a shim of another tool) it is the `python3` found on PATH itself, which is always right.
/// </summary>
public static partial class PythonInterpreter
{
    private static readonly Lazy<string> Found = new(() => Resolve(Environment.GetEnvironmentVariable("PATH"), Environment.GetEnvironmentVariable,
        Environment.CurrentDirectory));

    /// <summary>What to start for `python3`: a full path, or "python3" when it is not on PATH (starting it then fails as it would).</summary>
    public static string Path => Found.Value;

    public static string Resolve(string? path, Func<string, string?> env, string currentDirectory)
    {
        var onPath = (path ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => System.IO.Path.Combine(d, "python3")).FirstOrDefault(File.Exists);
        if (onPath is null) return "python3";
        if (PyenvRoot(onPath) is not { } root) return onPath;
        var version = env("PYENV_VERSION") is { Length: > 0 } v ? v.Split(':')[0] : LocalVersion(env("PYENV_DIR") ?? currentDirectory) ?? FirstWord(System.IO.Path.Combine(root, "version"));
        if (version is null or "system" || version.Contains('/') || version.Contains("..")) return onPath;
        var interpreter = System.IO.Path.Combine(root, "versions", version, "bin", "python3");
        return File.Exists(interpreter) ? interpreter : onPath;
    }

    /// <summary>PYENV_ROOT as a pyenv shim sets it (`export PYENV_ROOT="…"` … `libexec/pyenv" exec`), or null when this is not such a shim.</summary>
    private static string? PyenvRoot(string file)
    {
        try
        {
            if (new FileInfo(file).Length > 4096) return null; // an interpreter, not a shim script
            var text = File.ReadAllText(file);
            var m = ShimRoot().Match(text);
            return m.Success && text.Contains("/libexec/pyenv\" exec", StringComparison.Ordinal) ? m.Groups[1].Value : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string? LocalVersion(string dir)
    {
        for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
        {
            var file = System.IO.Path.Combine(d.FullName, ".python-version");
            if (File.Exists(file)) return FirstWord(file);
        }
        return null;
    }

    private static string? FirstWord(string file)
    {
        try
        {
            return File.Exists(file)
                ? File.ReadLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).SelectMany(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).FirstOrDefault()
                : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    [GeneratedRegex("^export PYENV_ROOT=\"([^\"]+)\"$", RegexOptions.Multiline)]
    private static partial Regex ShimRoot();
}
