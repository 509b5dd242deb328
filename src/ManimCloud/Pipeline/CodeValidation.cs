using System.Diagnostics;
using System.Text;
using ManimCloud.Code;
using ManimCloud.Domain;

namespace ManimCloud.Pipeline;

/// <summary>What validating a module found: its scenes, and whether its syntax was checked by Python itself.</summary>
public sealed record ValidatedCode(string Code, ManimScenes Scenes, bool SyntaxChecked);

/// <summary>
/// Checks generated or given code before it is stored: UTF-8, parses as Python (`python3 -m py_compile` when Python
/// is there), and at least one Scene subclass. A failure says what is wrong and where; nothing is stored.
/// </summary>
public static class CodeValidation
{
    public static async Task<ValidatedCode> ValidateAsync(byte[] content, string what, CancellationToken ct)
    {
        if (content.Length == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{what} is empty.", "A Manim module needs at least one Scene subclass.");
        if (content.Length > ManimCloudClient.MaxCodeBytes)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{what} is {content.Length} bytes.", $"Code is limited to {ManimCloudClient.MaxCodeBytes >> 20} MiB.");
        CodeVersioning.EnsureUtf8(content, what);
        var code = Encoding.UTF8.GetString(content);
        var syntaxChecked = await CheckSyntaxAsync(code, what, ct);
        var scenes = ManimScenes.Parse(code);
        if (scenes.Scenes.Count == 0)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{what} has no Scene subclass, so there is nothing to render.",
                "Define at least one top-level class deriving from Scene (for example `class Intro(Scene):` with a construct method).");
        if (scenes.Scenes.Count > 999)
            throw new ManimCloudException(ErrorKind.InvalidInput, $"{what} has {scenes.Scenes.Count} scenes.", "A video has at most 999 scenes.");
        return new ValidatedCode(code, scenes, syntaxChecked);
    }

    /// <summary>
    /// Compiles the module with python3 (without running it); false when python3 is not installed. The interpreter is
    /// the one `python3` runs, resolved once (<see cref="PythonInterpreter"/>: a pyenv shim costs ~0.3 s a call).
    /// </summary>
    private static async Task<bool> CheckSyntaxAsync(string code, string what, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("manimcloud-pycheck-");
        try
        {
            var file = Path.Combine(dir.FullName, "scene.py");
            await File.WriteAllTextAsync(file, code, new UTF8Encoding(false), ct);
            var psi = new ProcessStartInfo(PythonInterpreter.Path) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "-B", "-m", "py_compile", file }) psi.ArgumentList.Add(a);
            psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
            psi.Environment["PYTHONPYCACHEPREFIX"] = dir.FullName;
            Process process;
            try
            {
                process = Process.Start(psi)!;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false;
            }
            using (process)
            {
                var stderr = process.StandardError.ReadToEndAsync(ct);
                _ = process.StandardOutput.ReadToEndAsync(ct);
                await process.WaitForExitAsync(ct);
                if (process.ExitCode == 0) return true;
                var message = (await stderr).Replace(file, "line").Trim();
                var lastLines = string.Join(" ", message.Split('\n').TakeLast(4).Select(l => l.Trim()));
                throw new ManimCloudException(ErrorKind.InvalidInput, $"{what} is not valid Python: {lastLines}",
                    "Fix the syntax error it names (the line number is in the module); nothing was stored.");
            }
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
