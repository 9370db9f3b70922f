using System.Collections.Concurrent;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Sandbox;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BreakGlassBot.Tests.Sandbox;

/// <summary>The real bot in sandbox mode (Program.Create with --sandbox), on a free loopback port and a temp data directory.</summary>
public sealed class SandboxBot : IAsyncDisposable
{
    public required WebApplication App { get; init; }
    public required string Url { get; init; }
    public required string DataDirectory { get; init; }
    public required HttpClient Http { get; init; }
    public required ConcurrentQueue<string> Logs { get; init; }
    bool ownsDirectory;

    public ChangeStore Store => App.Services.GetRequiredService<ChangeStore>();
    public SandboxState State => App.Services.GetRequiredService<SandboxState>();
    public SandboxContext Context => App.Services.GetRequiredService<SandboxContext>();

    /// <summary>Starts with the fast clock, shrunk further so a test sees a reminder within seconds.</summary>
    public static Task<SandboxBot> StartAsync(params string[] extra) => StartAsync(TestBot.NewDataDirectory(), owns: true, extra);

    /// <summary>On a data directory the caller keeps (a restart test).</summary>
    public static Task<SandboxBot> StartInAsync(string dir, params string[] extra) => StartAsync(dir, owns: false, extra);

    static async Task<SandboxBot> StartAsync(string dir, bool owns, string[] extra)
    {
        string[] args =
        [
            "--sandbox", "--Sandbox:Port=0", $"--Sandbox:DataDirectory={dir}",
            "--Policy:ReminderInterval=00:00:03", "--Policy:ReviewWindow=00:01:00", "--Storage:PollingInterval=00:00:00.200",
            .. extra,
        ];
        var logs = new ConcurrentQueue<string>();
        var app = Program.Create(args, b => b.Logging.AddProvider(new CapturingLoggerProvider(logs)));
        await app.StartAsync();
        var url = app.Services.GetRequiredService<SandboxContext>().BaseUrl;
        return new SandboxBot { App = app, Url = url, DataDirectory = dir, Http = new HttpClient { BaseAddress = new Uri(url) }, Logs = logs, ownsDirectory = owns };
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        if (ownsDirectory) try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
    }
}
