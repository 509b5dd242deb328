using ManimCloud.Pipeline;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Pipeline;

/// <summary>
/// The code step's python3: a pyenv shim is resolved to the interpreter pyenv would run (without paying the shim's
/// start-up on every validation), and anything it cannot be sure of falls back to the shim itself.
/// </summary>
public class PythonInterpreterTests
{
    private sealed class FakePyenv : IDisposable
    {
        private readonly TempDir _dir = new();
        public string Root => Path.Combine(_dir.Path, "pyenv");
        public string Shims => Path.Combine(Root, "shims");
        public string Shim => Path.Combine(Shims, "python3");
        public string Project => Path.Combine(_dir.Path, "project", "sub");

        public FakePyenv()
        {
            Directory.CreateDirectory(Shims);
            Directory.CreateDirectory(Project);
            // As `pyenv rehash` writes it.
            File.WriteAllText(Shim, $"#!/usr/bin/env bash\nset -e\nprogram=\"${{0##*/}}\"\n\nexport PYENV_ROOT=\"{Root}\"\nexec \"{Root}/libexec/pyenv\" exec \"$program\" \"$@\"\n");
            foreach (var v in new[] { "3.11.7", "3.12.1" }) Install(v);
            File.WriteAllText(Path.Combine(Root, "version"), "3.11.7\n");
        }

        public string Install(string version)
        {
            var bin = Path.Combine(Root, "versions", version, "bin");
            Directory.CreateDirectory(bin);
            File.WriteAllBytes(Path.Combine(bin, "python3"), [0x7F, (byte)'E', (byte)'L', (byte)'F']);
            return Path.Combine(bin, "python3");
        }

        public string Resolve(string? pyenvVersion = null, string? cwd = null) =>
            PythonInterpreter.Resolve($"/nonexistent{Path.PathSeparator}{Shims}{Path.PathSeparator}/usr/bin",
                name => name == "PYENV_VERSION" ? pyenvVersion : null, cwd ?? _dir.Path);

        public void Dispose() => _dir.Dispose();
    }

    [Fact]
    public void A_pyenv_shim_resolves_to_the_version_pyenv_would_pick()
    {
        using var pyenv = new FakePyenv();
        // The global version ($PYENV_ROOT/version).
        Assert.Equal(Path.Combine(pyenv.Root, "versions", "3.11.7", "bin", "python3"), pyenv.Resolve());
        // A .python-version above the current folder wins over the global one, PYENV_VERSION over both.
        File.WriteAllText(Path.Combine(pyenv.Project, "..", ".python-version"), "# pinned\n3.12.1\n");
        Assert.Equal(Path.Combine(pyenv.Root, "versions", "3.12.1", "bin", "python3"), pyenv.Resolve(cwd: pyenv.Project));
        Assert.Equal(Path.Combine(pyenv.Root, "versions", "3.11.7", "bin", "python3"), pyenv.Resolve("3.11.7:3.12.1", pyenv.Project));
    }

    [Fact]
    public void What_pyenv_would_have_to_work_out_itself_is_left_to_the_shim()
    {
        using var pyenv = new FakePyenv();
        Assert.Equal(pyenv.Shim, pyenv.Resolve("system"));
        Assert.Equal(pyenv.Shim, pyenv.Resolve("3.9.1")); // not installed: pyenv's own error, or its fallback
        Assert.Equal(pyenv.Shim, pyenv.Resolve("3.11")); // a prefix pyenv may resolve
        Assert.Equal(pyenv.Shim, pyenv.Resolve("../../etc"));
    }

    [Fact]
    public void A_python3_that_is_no_shim_is_used_as_it_is_and_none_on_PATH_stays_python3()
    {
        using var dir = new TempDir();
        var real = Path.Combine(dir.Path, "python3");
        File.WriteAllBytes(real, new byte[8192]);
        Assert.Equal(real, PythonInterpreter.Resolve(dir.Path, _ => null, dir.Path));
        Assert.Equal("python3", PythonInterpreter.Resolve(Path.Combine(dir.Path, "nothing-here"), _ => null, dir.Path));
    }
}
