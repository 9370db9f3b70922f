using Microsoft.Playwright;

namespace BreakGlassBot.Tests.Sandbox;

/// <summary>
/// Headless Chromium for the browser tests: Debian's chromium package (installed with apt-get when missing and running as
/// root; Playwright cannot download its own browsers here), driven by Playwright's bundled driver. BGB_TEST_CHROMIUM names
/// another executable.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    // Without the background-networking flags Chromium keeps trying to reach Google's hosts on a closed network.
    static readonly string[] Flags =
        ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    IPlaywright? playwright;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var path = await Support.Chromium.LocateOrInstallAsync();
        playwright = await Playwright.CreateAsync();
        // Playwright gives every launch a new empty profile (--user-data-dir in a temp folder).
        Browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = path, Headless = true, Args = Flags });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        playwright?.Dispose();
    }
}

/// <summary>Runs alone, after the parallel tests: a browser competing for two cores slows everyone's timing-based assertions.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChromiumCollection : ICollectionFixture<Chromium>
{
    public const string Name = "chromium";
}
