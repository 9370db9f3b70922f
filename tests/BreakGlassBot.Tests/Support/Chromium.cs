using System.Diagnostics;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// Debian's headless Chromium for the tests that look at a page as a browser renders it: installed with apt-get when
/// missing and running as root (it cannot download a browser of its own here). BGB_TEST_CHROMIUM names another binary.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public string Binary { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Binary = await LocateOrInstallAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The Chromium binary: BGB_TEST_CHROMIUM, else Debian's, installed first when missing (as root). Shared by every browser fixture.</summary>
    public static async Task<string> LocateOrInstallAsync() =>
        Environment.GetEnvironmentVariable("BGB_TEST_CHROMIUM") is { Length: > 0 } configured ? configured
            : Find() ?? (await InstallAsync() ? Find() : null)
            ?? throw new InvalidOperationException("Chromium is not installed and could not be installed (apt-get install chromium as root), and BGB_TEST_CHROMIUM is not set.");

    static string? Find() => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    static async Task<bool> InstallAsync()
    {
        if (Environment.UserName != "root") return false;
        // Another apt-get may hold the lock (a PostgreSQL install in a parallel test): wait for it rather than fail.
        (string, string) env = ("DEBIAN_FRONTEND", "noninteractive");
        var update = await RunAsync("apt-get", TimeSpan.FromMinutes(5), ["-o", "DPkg::Lock::Timeout=300", "update", "-qq"], env);
        var install = await RunAsync("apt-get", TimeSpan.FromMinutes(10), ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "chromium"], env);
        return update.Code == 0 && install.Code == 0;
    }

    /// <summary>Loads <paramref name="url"/> in a fresh headless profile and returns the DOM after the page rendered.</summary>
    public async Task<string> DumpDomAsync(string url)
    {
        var profile = Path.Combine(Path.GetTempPath(), "bgb-chromium-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = await RunAsync(Binary, TimeSpan.FromSeconds(90),
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--no-default-browser-check", $"--user-data-dir={profile}", "--dump-dom", url,
            ]);
            if (code != 0 || stdout.Length == 0) throw new InvalidOperationException($"chromium exited {code}: {stderr}");
            return stdout;
        }
        finally
        {
            try { Directory.Delete(profile, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, TimeSpan timeout, string[] args, (string, string)? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is { } e) psi.Environment[e.Item1] = e.Item2;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}
