namespace ManimCloud.Tests.Support;

/// <summary>The checkout the tests run from (the folder holding ManimCloud.slnx), for files tests read or run: docs, examples.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ManimCloud.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("ManimCloud.slnx not found above " + AppContext.BaseDirectory);
    }
}
