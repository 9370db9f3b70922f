using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// The real bot (Program.Create: real wiring, real LiteDB file, real Kestrel on loopback) pointed at fake
/// Slack/GitHub/Jira servers. Requests go in over HTTP, signed the way Slack signs them.
/// </summary>
public sealed class TestBot : IAsyncDisposable
{
    public const string SigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    public const string Channel = "C0CHANGES";
    public const string Declarer = "U0DECLARER";
    public const string Admin = "U0ADMIN";

    public required WebApplication App { get; init; }
    public required HttpClient Http { get; init; }
    public required string Url { get; init; }
    public required string DataDirectory { get; init; }
    public required FakeSlack Slack { get; init; }
    /// <summary>Every log line the bot wrote, for checks such as "no secret is ever logged".</summary>
    public required ConcurrentQueue<string> Logs { get; init; }
    bool ownsDirectory;

    public ChangeStore Store => App.Services.GetRequiredService<ChangeStore>();
    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary><see cref="Eventually.Until"/>, with what the job store and the open changes say when it times out.</summary>
    public async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        try { await Eventually.Until(condition, what, timeout); }
        catch (Xunit.Sdk.FailException e) { throw new Xunit.Sdk.XunitException(e.Message + "\n" + Diagnostics()); }
    }

    /// <summary>
    /// Hangfire's jobs of <typeparamref name="TJob"/> (only those whose first argument is <paramref name="changeId"/>, when given):
    /// how many are due or running (scheduled for a time already past, enqueued, fetched or processing), planned for later, and
    /// succeeded. A test that proves something does not happen waits until none is due: the bot has then had its chance.
    /// </summary>
    public JobCounts Jobs<TJob>(int? changeId = null)
    {
        const int all = 1000;
        var api = Service<Hangfire.JobStorage>().GetMonitoringApi();
        bool Mine(Hangfire.Common.Job? job) => job?.Type == typeof(TJob) && (changeId is null || Equals(job.Args[0], changeId.Value));
        var now = DateTime.UtcNow;
        var scheduled = api.ScheduledJobs(0, all).Select(j => j.Value).Where(j => Mine(j.Job)).ToList();
        var queued = api.Queues().Sum(q => api.EnqueuedJobs(q.Name, 0, all).Count(j => Mine(j.Value.Job)) + api.FetchedJobs(q.Name, 0, all).Count(j => Mine(j.Value.Job)));
        var processing = api.ProcessingJobs(0, all).Count(j => Mine(j.Value.Job));
        var later = scheduled.Count(j => j.EnqueueAt > now);
        return new JobCounts(scheduled.Count - later + queued + processing, later, api.SucceededJobs(0, all).Count(j => Mine(j.Value.Job)));
    }

    /// <summary>What the job store and the change documents say, for a failure message.</summary>
    public string Diagnostics()
    {
        var stats = Service<Hangfire.JobStorage>().GetMonitoringApi().GetStatistics();
        var servers = Service<Hangfire.JobStorage>().GetMonitoringApi().Servers();
        var changes = Store.OpenChanges().Select(c => $"{c.ChangeId} {c.Status} next-check {c.NextCheckAt:O} next-step {c.NextStepAt:O} steps [{string.Join(", ", c.Steps.Select(st => st.Kind + ":" + st.State + "@" + st.NextAttemptAt.ToString("O") + "#" + st.Attempts))}]");
        var api = Service<Hangfire.JobStorage>().GetMonitoringApi();
        var history = api.ScheduledJobs(0, 10).Select(j => j.Key).Concat(api.FailedJobs(0, 10).Select(j => j.Key))
            .Select(id => $"job {id}: " + string.Join(" <- ", api.JobDetails(id).History.Select(h => $"{h.StateName} {h.Reason} {string.Join(";", h.Data.Where(d => d.Key.StartsWith("Exception")).Select(d => d.Value[..Math.Min(d.Value.Length, 1500)]))}")));
        return string.Join("\n", history) + $"\njobs: enqueued {stats.Enqueued} scheduled {stats.Scheduled} processing {stats.Processing} succeeded {stats.Succeeded} failed {stats.Failed} servers {servers.Count} (workers {string.Join(",", servers.Select(x => x.WorkersCount))}); now {DateTimeOffset.UtcNow:O}\n"
            + string.Join("\n", changes) + "\n" + string.Join("\n", Logs.Where(l => l.StartsWith("Warning") || l.StartsWith("Error")).TakeLast(20));
    }

    public static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "bgb-test-" + Guid.NewGuid().ToString("N"));

    public static async Task<TestBot> StartAsync(FakeSlack slack, string? dataDirectory = null, IDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var owns = dataDirectory is null;
        dataDirectory ??= NewDataDirectory();
        var all = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Slack:SigningSecret"] = SigningSecret,
            ["Slack:BotToken"] = FakeSlack.BotToken,
            ["Slack:ApiBaseUrl"] = slack.ApiUrl,
            ["Slack:AnnouncementChannel"] = Channel,
            ["Slack:Admins:0"] = Admin,
            ["Storage:DataDirectory"] = dataDirectory,
            ["Storage:PollingInterval"] = "00:00:00.200",
            ["Storage:MaxRetryDelay"] = "00:00:00.400",
            ["Jira:SearchSettle"] = "00:00:00.400",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) all[k] = v;
        WithDefaultDeclarers(all);
        await OnPostgresWhenAskedAsync(all);
        // Many tests post Slack's own example payloads, each from its own workspace and app: the origin is checked only by
        // tests that name the expected one (Slack:TeamId, Slack:EnterpriseId, Slack:AppId) or ask for it (CheckOrigin).
        var checkOrigin = new[] { "Slack:TeamId", "Slack:EnterpriseId", "Slack:AppId", CheckOrigin }.Any(k => all.GetValueOrDefault(k) is not null);
        all.Remove(CheckOrigin);
        var logs = new ConcurrentQueue<string>();
        var app = Program.Create([.. all.Where(kv => kv.Value is not null).Select(kv => $"--{kv.Key}={kv.Value}")], builder =>
        {
            builder.Logging.AddProvider(new CapturingLoggerProvider(logs));
            if (!checkOrigin) builder.Services.AddSingleton<ISlackOriginCheck, AnyOrigin>();
            configure?.Invoke(builder);
        });
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestBot { App = app, Http = new HttpClient { BaseAddress = new Uri(url) }, Url = url, DataDirectory = dataDirectory, Slack = slack, Logs = logs, ownsDirectory = owns };
    }

    /// <summary>
    /// BGB_TEST_STORE=PostgreSql runs every bot a test starts on its own new database on the server BGB_TEST_POSTGRES names
    /// (the whole suite on the PostgreSQL engine; not part of CI's run). A test that chooses its store keeps its choice.
    /// </summary>
    static async Task OnPostgresWhenAskedAsync(Dictionary<string, string?> settings)
    {
        if (!string.Equals(Environment.GetEnvironmentVariable("BGB_TEST_STORE"), "PostgreSql", StringComparison.OrdinalIgnoreCase)
            || settings.ContainsKey("Storage:Store") || settings.ContainsKey("Sandbox:Enabled")) return;
        var server = Environment.GetEnvironmentVariable("BGB_TEST_POSTGRES")
            ?? throw new InvalidOperationException("BGB_TEST_STORE=PostgreSql needs BGB_TEST_POSTGRES, a connection string to a server the tests may create databases on.");
        // One database per data directory: a test that restarts its bot on the same directory finds its data again.
        var name = "bgb_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            Path.GetFullPath(settings["Storage:DataDirectory"]!))))[..24];
        await using (var conn = new Npgsql.NpgsqlConnection(server))
        {
            await conn.OpenAsync();
            await using var exists = new Npgsql.NpgsqlCommand($"SELECT 1 FROM pg_database WHERE datname = '{name}'", conn);
            if (await exists.ExecuteScalarAsync() is null)
            {
                await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", conn);
                await create.ExecuteNonQueryAsync();
            }
        }
        settings["Storage:Store"] = "PostgreSql";
        // Many bots live at once in a test run: small pools whose idle connections close soon, or the server runs out of clients.
        settings["Storage:ConnectionString"] = new Npgsql.NpgsqlConnectionStringBuilder(server)
        { Database = name, MaxPoolSize = 10, ConnectionIdleLifetime = 2, ConnectionPruningInterval = 1 }.ConnectionString;
    }

    /// <summary>A setting (not the bot's) that turns the origin check on without naming the workspace: it is learned from auth.test.</summary>
    public const string CheckOrigin = "Test:CheckOrigin";

    /// <summary>
    /// Team and MergeByBot refuse to start without Slack:Declarers: a test of those modes that names none gets <see cref="Declarer"/>
    /// (admins may declare anyway).
    /// </summary>
    public static void WithDefaultDeclarers(IDictionary<string, string?> settings)
    {
        if (settings.TryGetValue("GitHub:BypassMode", out var mode) && mode is not null && !mode.Equals("RecordOnly", StringComparison.OrdinalIgnoreCase)
            && !settings.Any(kv => kv.Key.StartsWith("Slack:Declarers", StringComparison.OrdinalIgnoreCase) && kv.Value is not null))
            settings["Slack:Declarers:0"] = Declarer;
    }

    static long triggers;

    /// <summary>
    /// A slash command as Slack posts it. Each form has its own trigger_id, as each real invocation has: two identical commands
    /// sent in one second are then two requests, not a replay of one (the bot answers a replay with the first answer).
    /// </summary>
    public static string CommandForm(string text, string user = Declarer, string? triggerId = FreshTrigger, string? responseUrl = null,
        string teamId = "T0001", string appId = "A0APP", string? enterpriseId = null) =>
        new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = "gIkuvaNzQIHg97ATvDxqgjtO", ["team_id"] = teamId, ["team_domain"] = "example", ["channel_id"] = "C2147483705",
            ["channel_name"] = "incident", ["user_id"] = user, ["user_name"] = user.ToLowerInvariant(), ["command"] = "/breakglass",
            ["text"] = text, ["response_url"] = responseUrl ?? "https://hooks.slack.com/commands/1234/5678",
            ["trigger_id"] = triggerId == FreshTrigger ? $"13345224609.{Interlocked.Increment(ref triggers)}.8088930838d88f008e0" : triggerId ?? "",
            ["api_app_id"] = appId,
        }.Concat(enterpriseId is null ? [] : [KeyValuePair.Create("enterprise_id", enterpriseId)])).ReadAsStringAsync().Result;

    const string FreshTrigger = "fresh";

    public Task<HttpResponseMessage> SendSignedAsync(string path, string body, string contentType = "application/x-www-form-urlencoded") =>
        Http.SendAsync(SlackSigner.Request(Url + path, SigningSecret, body, contentType));

    public Task<HttpResponseMessage> CommandAsync(string text, string user = Declarer) => SendSignedAsync("/slack/commands", CommandForm(text, user));

    public async Task<JsonObject> CommandJsonAsync(string text, string user = Declarer)
    {
        var response = await CommandAsync(text, user);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    public Task<HttpResponseMessage> InteractionAsync(JsonNode payload) =>
        SendSignedAsync("/slack/interactions", "payload=" + Uri.EscapeDataString(payload.ToJsonString()));

    public Task<HttpResponseMessage> EventAsync(JsonNode envelope) =>
        SendSignedAsync("/slack/events", envelope.ToJsonString(), "application/json");

    /// <summary>Stops the bot and releases its data directory (a restart on it may follow); the directory stays.</summary>
    public async Task StopAsync()
    {
        if (stopped) return;
        stopped = true;
        // Under a loaded machine Hangfire's server can miss the host's shutdown deadline and throw while stopping;
        // that is the end of the test host, not a result of the test.
        try { await App.StopAsync(); } catch (OperationCanceledException) { }
        await App.DisposeAsync();
    }

    bool stopped;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await StopAsync();
        if (ownsDirectory) try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Accepts every workspace and app: the default for tests that post Slack's example payloads (see <see cref="TestBot.StartAsync"/>).</summary>
public sealed class AnyOrigin : ISlackOriginCheck
{
    public ValueTask<OriginCheck> CheckAsync(RequestOrigin origin, CancellationToken ct) => ValueTask.FromResult(OriginCheck.Accepted);
}

/// <summary>See <see cref="TestBot.Jobs{TJob}"/>.</summary>
public readonly record struct JobCounts(int Due, int Later, int Succeeded);

public sealed class CapturingLoggerProvider(ConcurrentQueue<string> sink) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(sink, categoryName);
    public void Dispose() { }

    sealed class Logger(ConcurrentQueue<string> sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
