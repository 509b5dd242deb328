namespace ManimCloud.Tests.Pipeline;

/// <summary>The fake `manim` executable beside the tests (Pipeline/fake-manim) and the log it keeps of what it rendered.</summary>
public static class FakeManim
{
    public static string Path
    {
        get
        {
            var path = System.IO.Path.Combine(AppContext.BaseDirectory, "Pipeline", "fake-manim");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            return path;
        }
    }

    /// <summary>Scenes rendered to the end, as the fake manim logged them ("done SCENE MODULE PID").</summary>
    public static List<string> Done(string log) => File.Exists(log)
        ? File.ReadAllLines(log).Where(l => l.StartsWith("done ")).Select(l => l.Split(' ')[1]).ToList()
        : [];

    public static List<string> Started(string log) => File.Exists(log)
        ? File.ReadAllLines(log).Where(l => l.StartsWith("start ")).Select(l => l.Split(' ')[1]).ToList()
        : [];
}
