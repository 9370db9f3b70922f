using System.Diagnostics;
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
        var path = Find() ?? (await InstallAsync() ? Find() : null)
            ?? throw new InvalidOperationException("Chromium is not installed and could not be installed (apt-get install chromium, as root); or set BGB_TEST_CHROMIUM.");
        playwright = await Playwright.CreateAsync();
        // Playwright gives every launch a new empty profile (--user-data-dir in a temp folder).
        Browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = path, Headless = true, Args = Flags });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        playwright?.Dispose();
    }

    static string? Find()
    {
        var configured = Environment.GetEnvironmentVariable("BGB_TEST_CHROMIUM");
        if (!string.IsNullOrWhiteSpace(configured)) return configured;
        return new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);
    }

    static async Task<bool> InstallAsync()
    {
        if (Environment.UserName != "root") return false;
        // Another apt-get may hold the lock (a PostgreSQL install in a parallel test): wait for it rather than fail.
        return await RunAsync("apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq")
            && await RunAsync("apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "chromium");
    }

    static async Task<bool> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        await Task.WhenAll(stdout, stderr);
        return p.ExitCode == 0;
    }
}

/// <summary>Runs alone, after the parallel tests: a browser competing for two cores slows everyone's timing-based assertions.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChromiumCollection : ICollectionFixture<Chromium>
{
    public const string Name = "chromium";
}
