using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// The built bot as a real child process (`dotnet BreakGlassBot.dll`), configured through command-line arguments,
/// so a test can SIGKILL or SIGTERM it at a chosen point and start it again on the same data directory.
/// Unlike <see cref="TestBot"/>, nothing survives in memory: only what the bot wrote to disk.
/// </summary>
public sealed class BotProcess : IAsyncDisposable
{
    readonly Process process;
    public string Url { get; }
    public string DataDirectory { get; }
    /// <summary>Everything the process wrote to stdout and stderr.</summary>
    public ConcurrentQueue<string> Output { get; }
    public HttpClient Http { get; }
    public int Id => process.Id;
    public bool HasExited => process.HasExited;
    public int ExitCode => process.ExitCode;

    BotProcess(Process process, string url, string dataDirectory, ConcurrentQueue<string> output)
    {
        this.process = process;
        Url = url;
        DataDirectory = dataDirectory;
        Output = output;
        Http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>The same settings <see cref="TestBot"/> uses, for a process on <paramref name="dataDirectory"/>.</summary>
    /// <param name="listen">How the bot's port reaches it: <c>--urls</c> by default, else the environment variables this returns (e.g. ASPNETCORE_URLS).</param>
    /// <param name="appDirectory">Where BreakGlassBot.dll is: the test's own output by default, or a <c>dotnet publish</c> folder.</param>
    public static async Task<BotProcess> StartAsync(FakeSlack slack, string dataDirectory, IDictionary<string, string?>? settings = null,
        Func<int, IDictionary<string, string>>? listen = null, string? appDirectory = null)
    {
        appDirectory ??= AppContext.BaseDirectory;
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var all = new Dictionary<string, string?>
        {
            ["urls"] = listen is null ? url : null,
            ["Slack:SigningSecret"] = TestBot.SigningSecret,
            ["Slack:BotToken"] = FakeSlack.BotToken,
            ["Slack:ApiBaseUrl"] = slack.ApiUrl,
            ["Slack:AnnouncementChannel"] = TestBot.Channel,
            ["Slack:Admins:0"] = TestBot.Admin,
            ["Storage:DataDirectory"] = dataDirectory,
            ["Storage:PollingInterval"] = "00:00:00.200",
            ["Storage:MaxRetryDelay"] = "00:00:00.400",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) all[k] = v;
        TestBot.WithDefaultDeclarers(all);

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = appDirectory,
        };
        start.ArgumentList.Add(Path.Combine(appDirectory, "BreakGlassBot.dll"));
        foreach (var (k, v) in all.Where(kv => kv.Value is not null)) start.ArgumentList.Add($"--{k}={v}");
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (k, v) in listen?.Invoke(port) ?? new Dictionary<string, string>()) start.Environment[k] = v;

        var output = new ConcurrentQueue<string>();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var bot = new BotProcess(process, url, dataDirectory, output);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (process.HasExited)
                Assert.Fail($"The bot exited with {process.ExitCode} before it was healthy:\n{string.Join('\n', output)}");
            try
            {
                using var health = await bot.Http.GetAsync("/healthz");
                if (health.StatusCode == HttpStatusCode.OK) return bot;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline)
            {
                await bot.DisposeAsync();
                Assert.Fail($"The bot was not healthy within 30 s:\n{string.Join('\n', output)}");
            }
            await Task.Delay(50); // the polling interval of the wait for /healthz (it fails at once when the process exits)
        }
    }

    static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public Task<HttpResponseMessage> SendSignedAsync(string path, string body, string contentType = "application/x-www-form-urlencoded") =>
        Http.SendAsync(SlackSigner.Request(Url + path, TestBot.SigningSecret, body, contentType));

    public Task<HttpResponseMessage> CommandAsync(string text, string user = TestBot.Declarer) =>
        SendSignedAsync("/slack/commands", TestBot.CommandForm(text, user));

    /// <summary>SIGKILL (what <see cref="Process.Kill()"/> sends on Linux): no shutdown code runs.</summary>
    public void Kill()
    {
        if (!process.HasExited) process.Kill();
        process.WaitForExit();
    }

    /// <summary>SIGTERM, as systemd, Docker or Kubernetes stop a service; waits for the process to end.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        await SignalAsync("TERM");
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { Assert.Fail($"The bot did not stop within {timeout} of SIGTERM"); }
    }

    /// <summary>
    /// SIGSTOP: the process is frozen, holding its connections, claims and locks but doing nothing (a replica stalled by the
    /// machine); <see cref="ResumeAsync"/> lets it go on where it stopped.
    /// </summary>
    public async Task PauseAsync() => Assert.True(await SignalAsync("STOP") == 0, $"kill -STOP {process.Id} failed");

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public async Task ResumeAsync() => Assert.True(await SignalAsync("CONT") == 0, $"kill -CONT {process.Id} failed");

    async Task<int> SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {process.Id}")!;
        await kill.WaitForExitAsync();
        return kill.ExitCode;
    }

    /// <summary>Waits until /readyz answers 200: every hosted service started and the store answers (on PostgreSQL: the schema is there).</summary>
    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            if (process.HasExited) Assert.Fail($"The bot exited with {process.ExitCode} before it was ready:\n{string.Join('\n', Output)}");
            try
            {
                using var ready = await Http.GetAsync("/readyz");
                if (ready.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) Assert.Fail($"The bot was not ready within {timeout}:\n{string.Join('\n', Output)}");
            await Task.Delay(50); // the polling interval of the wait for /readyz (it fails at once when the process exits)
        }
    }

    /// <summary>Opens the bot's LiteDB file; only once the process is gone (one LiteDatabase per file at a time).</summary>
    public static T ReadStore<T>(string dataDirectory, Func<ChangeStore, T> read)
    {
        using var store = new ChangeStore(Path.Combine(dataDirectory, "breakglass.db"));
        return read(store);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!process.HasExited) process.Kill();
        await process.WaitForExitAsync();
        process.Dispose();
    }
}
