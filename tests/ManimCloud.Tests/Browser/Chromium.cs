using Microsoft.Playwright;

namespace ManimCloud.Tests.Browser;

/// <summary>
/// Debian's Chromium (`/usr/bin/chromium`, from apt; ./test.sh installs it when missing) driven by Playwright. Playwright
/// never downloads a browser here: the executable is passed to <see cref="IBrowserType.LaunchAsync"/>. The browser may
/// reach loopback only (every other host name resolves to nothing). MANIMCLOUD_TEST_CHROMIUM names another executable;
/// MANIMCLOUD_TEST_BROWSER=off skips the browser tests, with that reason; otherwise a missing browser fails them.
/// </summary>
public static class Chromium
{
    public static string Executable { get; } = Environment.GetEnvironmentVariable("MANIMCLOUD_TEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>Why the browser tests are skipped (MANIMCLOUD_TEST_BROWSER=off), or null when they run.</summary>
    public static string? SkipReason => Environment.GetEnvironmentVariable("MANIMCLOUD_TEST_BROWSER") == "off"
        ? "MANIMCLOUD_TEST_BROWSER=off: the browser tests (Playwright + chromium) are switched off for this run." : null;

    /// <summary>A headless Chromium, or an exception that says how to get one.</summary>
    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(Executable))
            throw new InvalidOperationException($"{Executable} is missing, so the browser tests cannot run: install Debian's Chromium with "
                + "`apt-get install -y chromium` (./test.sh does), name another build with MANIMCLOUD_TEST_CHROMIUM, "
                + "or set MANIMCLOUD_TEST_BROWSER=off to leave the browser tests out.");
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Executable,
                Headless = true,
                Timeout = 120_000, // a loaded 2-core machine starts a browser slowly
                Args =
                [
                    // Nothing beyond loopback: every other name resolves to nothing.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
                    "--no-proxy-server",
                    "--autoplay-policy=no-user-gesture-required",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                ],
            });
            return (playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }
}

/// <summary>A browser test: skipped only when MANIMCLOUD_TEST_BROWSER=off says so (a missing chromium fails it).</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Chromium.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A browser theory: skipped only when MANIMCLOUD_TEST_BROWSER=off says so.</summary>
public sealed class BrowserTheoryAttribute : TheoryAttribute
{
    public BrowserTheoryAttribute()
    {
        if (Chromium.SkipReason is { } reason) Skip = reason;
    }
}
