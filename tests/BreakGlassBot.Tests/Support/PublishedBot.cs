using System.Diagnostics;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// <c>dotnet publish</c> of the bot into a temp folder, once per test class: what an operator or a container image runs,
/// with the published appsettings.json beside it (the build output the other tests use may differ).
/// </summary>
public sealed class PublishedBot : IAsyncLifetime
{
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "breakglass-publish-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        var project = Path.Combine(Fixtures.RepositoryRoot, "src", "BreakGlassBot", "BreakGlassBot.csproj");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Release into its own obj/bin, so the Debug build the test run uses is not touched; no MSBuild node outlives it.
        foreach (var a in new[] { "publish", project, "-c", "Release", "-o", Directory, "--nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"dotnet publish failed:\n{await stdout}\n{await stderr}");
        Assert.True(File.Exists(Path.Combine(Directory, "BreakGlassBot.dll")));
        Assert.True(File.Exists(Path.Combine(Directory, "appsettings.json")));
    }

    public Task DisposeAsync()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}
