using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// The bot's real wiring (<see cref="Program.Create"/>) on a temporary data directory, built but never started: no
/// Kestrel, no hosted service, no outbox worker, no Hangfire server. The clock is a <see cref="FakeTimeProvider"/>,
/// Slack is <see cref="RecordingSlackApi"/> and Hangfire's client is <see cref="RecordingJobClient"/>. Tests call the
/// handlers directly and see what the user is told and what was recorded (change, audit trail, outbox steps, jobs).
/// </summary>
public sealed class InProcessBot : IAsyncDisposable
{
    public const string SigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    public const string BotToken = "xoxb-in-process-0000";
    public const string Channel = "C0CHANGES";
    public const string CommandChannel = "C2147483705";
    public const string Declarer = "U0DECLARER";
    public const string Admin = "U0ADMIN";
    /// <summary>Listed in Slack:Reviewers unless a test's settings say otherwise.</summary>
    public const string Reviewer = "U0REVIEWER";
    public const string Outsider = "U0OUTSIDER";
    public const string TriggerId = "13345224609.738474920.8088930838d88f008e0";
    static long commands;
    public const string ResponseUrl = "https://hooks.slack.com/actions/T0001/1/in-process";
    /// <summary>The fake clock's start: Monday 3 March 2031, 10:00 UTC.</summary>
    public static readonly DateTimeOffset Start = new(2031, 3, 3, 10, 0, 0, TimeSpan.Zero);

    public required WebApplication App { get; init; }
    public required FakeTimeProvider Clock { get; init; }
    public required RecordingSlackApi Slack { get; init; }
    public required RecordingJobClient Jobs { get; init; }
    public required string DataDirectory { get; init; }
    public required ConcurrentQueue<string> Logs { get; init; }

    public ChangeStore Store => Service<ChangeStore>();
    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <param name="settings">Configuration keys on top of the defaults; a null value removes a default.</param>
    public static InProcessBot Create(IDictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "bgb-inproc-" + Guid.NewGuid().ToString("N"));
        var all = new Dictionary<string, string?>
        {
            // No file watcher per host: the configuration never changes during a test.
            ["hostBuilder:reloadConfigOnChange"] = "false",
            ["Slack:SigningSecret"] = SigningSecret,
            ["Slack:BotToken"] = BotToken,
            // ISlackApi is replaced below; should anything still reach for the real client, it gets a closed loopback port.
            ["Slack:ApiBaseUrl"] = "http://127.0.0.1:9/api/",
            ["Slack:AnnouncementChannel"] = Channel,
            ["Slack:Admins:0"] = Admin,
            ["Slack:Reviewers:0"] = Reviewer,
            ["Storage:DataDirectory"] = directory,
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) all[k] = v;
        TestBot.WithDefaultDeclarers(all);

        var clock = new FakeTimeProvider(Start);
        var slack = new RecordingSlackApi();
        var jobs = new RecordingJobClient();
        var logs = new ConcurrentQueue<string>();
        var app = Program.Create([.. all.Where(kv => kv.Value is not null).Select(kv => $"--{kv.Key}={kv.Value}")], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new CapturingLoggerProvider(logs));
            builder.Services.RemoveAll<TimeProvider>();
            builder.Services.AddSingleton<TimeProvider>(clock);
            builder.Services.RemoveAll<ISlackApi>();
            builder.Services.AddSingleton<ISlackApi>(slack);
            builder.Services.RemoveAll<IBackgroundJobClient>();
            builder.Services.AddSingleton<IBackgroundJobClient>(jobs);
            configure?.Invoke(builder);
        });
        return new InProcessBot { App = app, Clock = clock, Slack = slack, Jobs = jobs, DataDirectory = directory, Logs = logs };
    }

    // ---- Slash commands -------------------------------------------------------------------------------------------

    /// <summary>/breakglass as Slack posts it (the form), parsed by the bot's own parser.</summary>
    public static SlashCommand SlashCommandFor(string text, string user = Declarer, string? triggerId = TriggerId)
    {
        var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = "gIkuvaNzQIHg97ATvDxqgjtO", ["team_id"] = "T0001", ["team_domain"] = "example", ["channel_id"] = CommandChannel,
            ["channel_name"] = "incident", ["user_id"] = user, ["user_name"] = user.ToLowerInvariant(), ["command"] = "/breakglass",
            ["text"] = text, ["response_url"] = "https://hooks.slack.com/commands/1234/5678", ["trigger_id"] = triggerId ?? "",
            ["api_app_id"] = "A0APP",
        }).ReadAsStringAsync().GetAwaiter().GetResult();
        Assert.True(BreakGlassBot.Slack.SlashCommand.TryParse(form, out var command), "the command form parses");
        return command;
    }

    /// <summary>Hands the command to the registered slash-command handler, as /slack/commands does.</summary>
    /// <remarks>
    /// Each command with text gets its own trigger_id, as each real invocation has (a declaration is keyed by it); a bare
    /// command keeps <see cref="TriggerId"/>, which the form tests look for in views.open.
    /// </remarks>
    public Task<CommandReply> CommandAsync(string text, string user = Declarer, string? triggerId = TriggerId)
    {
        if (triggerId == TriggerId && text.Trim().Length > 0) triggerId = $"{TriggerId}.{Interlocked.Increment(ref commands)}";
        var command = SlashCommandFor(text, user, triggerId);
        var handlers = App.Services.GetServices<ISlashCommandHandler>().ToList();
        var handler = handlers.FirstOrDefault(h => string.Equals(h.Command, command.Command, StringComparison.OrdinalIgnoreCase)) ?? handlers.First();
        return handler.HandleAsync(command, CancellationToken.None);
    }

    /// <summary>The text of the reply to <paramref name="text"/>, checked to be for the caller only.</summary>
    public async Task<string> ReplyAsync(string text, string user = Declarer)
    {
        var reply = await CommandAsync(text, user);
        Assert.False(reply.InChannel, "a /breakglass reply is shown to the caller only");
        return reply.Text;
    }

    // ---- Interactions ---------------------------------------------------------------------------------------------

    /// <summary>A block_actions payload (a button click) as Slack posts it, parsed by the bot's own parser.</summary>
    public static InteractionPayload Click(string user, string actionId, string? value, string channel = Channel, string? responseUrl = ResponseUrl,
        string actionTs = "1548426417.840180", string? triggerId = TriggerId, string blockId = "breakglass_review")
    {
        var payload = new JsonObject
        {
            ["type"] = "block_actions",
            ["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant(), ["name"] = user.ToLowerInvariant(), ["team_id"] = "T0001" },
            ["api_app_id"] = "A0APP",
            ["token"] = "9s8d9as89d8as9d8as989",
            ["container"] = new JsonObject { ["type"] = "message", ["message_ts"] = "1548261231.000200", ["channel_id"] = channel, ["is_ephemeral"] = false },
            ["trigger_id"] = triggerId,
            ["team"] = new JsonObject { ["id"] = "T0001", ["domain"] = "example" },
            ["channel"] = new JsonObject { ["id"] = channel, ["name"] = "changes" },
            ["message"] = new JsonObject { ["type"] = "message", ["ts"] = "1548261231.000200", ["text"] = "announcement" },
            ["response_url"] = responseUrl,
            ["actions"] = new JsonArray(new JsonObject
            {
                ["action_id"] = actionId, ["block_id"] = blockId, ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = "Button" },
                ["value"] = value, ["type"] = "button", ["action_ts"] = actionTs,
            }),
        };
        return Parse(payload);
    }

    /// <summary>A view_submission payload as Slack posts it. <paramref name="values"/>: block id → element state (see <see cref="Typed"/>, <see cref="Picked"/>).</summary>
    public static InteractionPayload Submission(string callbackId, string viewId, string user, JsonObject values, string? privateMetadata = null)
    {
        var payload = new JsonObject
        {
            ["type"] = "view_submission",
            ["team"] = new JsonObject { ["id"] = "T0001", ["domain"] = "example" },
            ["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant(), ["name"] = user.ToLowerInvariant(), ["team_id"] = "T0001" },
            ["api_app_id"] = "A0APP",
            ["token"] = "9s8d9as89d8as9d8as989",
            ["trigger_id"] = TriggerId,
            ["view"] = new JsonObject
            {
                ["id"] = viewId, ["team_id"] = "T0001", ["type"] = "modal", ["callback_id"] = callbackId, ["private_metadata"] = privateMetadata,
                ["hash"] = "156772938.1827394", ["state"] = new JsonObject { ["values"] = values },
            },
        };
        return Parse(payload);
    }

    /// <summary>The state of a plain_text_input in block <paramref name="blockId"/>.</summary>
    public static (string BlockId, JsonObject State) Typed(string blockId, string value) =>
        (blockId, new JsonObject { ["value"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = value } });

    /// <summary>The state of a static_select in block <paramref name="blockId"/>.</summary>
    public static (string BlockId, JsonObject State) Picked(string blockId, string value) =>
        (blockId, new JsonObject { ["value"] = new JsonObject { ["type"] = "static_select", ["selected_option"] = new JsonObject { ["value"] = value } } });

    public static JsonObject Values(params (string BlockId, JsonObject State)[] fields)
    {
        var values = new JsonObject();
        foreach (var (block, state) in fields) values[block] = state;
        return values;
    }

    static InteractionPayload Parse(JsonObject payload)
    {
        Assert.True(InteractionPayload.TryParse("payload=" + Uri.EscapeDataString(payload.ToJsonString()), out var parsed), "the interaction payload parses");
        return parsed;
    }

    /// <summary>Hands a view_submission to the handler of its callback id, as /slack/interactions does; the JSON answer, or null for an empty 200.</summary>
    public async Task<JsonObject?> SubmitAsync(InteractionPayload payload)
    {
        var handler = App.Services.GetServices<IViewSubmissionHandler>().FirstOrDefault(v => v.CallbackId == payload.View!.CallbackId);
        return handler is null ? null : await ExecuteAsync(await handler.SubmitAsync(payload, CancellationToken.None));
    }

    /// <summary>Hands a block_actions click to the handler of its action id, as /slack/interactions does; false when no handler takes it.</summary>
    public async Task<bool> ActAsync(InteractionPayload payload)
    {
        foreach (var action in payload.Actions ?? [])
            if (App.Services.GetServices<IBlockActionHandler>().FirstOrDefault(a => a.ActionIds.Contains(action.ActionId)) is { } handler)
            {
                var answer = await ExecuteAsync(await handler.ActAsync(payload, action, CancellationToken.None));
                Assert.Null(answer); // a click is acknowledged with an empty 200; the answer goes to response_url
                return true;
            }
        return false;
    }

    /// <summary>Runs an endpoint result against an in-memory response: the JSON body, or null when there is none. Anything but 200 fails.</summary>
    public async Task<JsonObject?> ExecuteAsync(IResult result)
    {
        var http = new DefaultHttpContext { RequestServices = App.Services };
        using var body = new MemoryStream();
        http.Response.Body = body;
        await result.ExecuteAsync(http);
        Assert.Equal(StatusCodes.Status200OK, http.Response.StatusCode);
        return body.Length == 0 ? null : JsonNode.Parse(body.ToArray())!.AsObject();
    }

    // ---- Events ---------------------------------------------------------------------------------------------------

    /// <summary>An Events API message event as Slack posts it (a reply in a thread when <paramref name="threadTs"/> is set).</summary>
    public static EventEnvelope Message(string user, string? text, string? threadTs, string ts = "1900000099.000100", string channel = Channel,
        string? botId = null, string? subtype = null, string eventId = "Ev0INPROCESS")
    {
        var e = new JsonObject { ["type"] = "message", ["user"] = user, ["text"] = text, ["ts"] = ts, ["channel"] = channel, ["channel_type"] = "channel" };
        if (threadTs is not null) e["thread_ts"] = threadTs;
        if (botId is not null) e["bot_id"] = botId;
        if (subtype is not null) e["subtype"] = subtype;
        var envelope = new JsonObject
        {
            ["token"] = "XXYYZZ", ["team_id"] = "T0001", ["api_app_id"] = "A0APP", ["event"] = e, ["type"] = "event_callback",
            ["event_id"] = eventId, ["event_time"] = 1900000099,
        };
        Assert.True(EventEnvelope.TryParse(envelope.ToJsonString(), out var parsed), "the event parses");
        return parsed;
    }

    /// <summary>Hands an event to every event handler, as the inbox worker does.</summary>
    public async Task HandleEventAsync(EventEnvelope envelope)
    {
        foreach (var handler in App.Services.GetServices<ISlackEventHandler>()) await handler.HandleAsync(envelope, CancellationToken.None);
    }

    /// <summary>Every string in a Block Kit tree (texts, button values), one per line, unescaped: what a person reads.</summary>
    public static string TextOf(JsonNode? node) => node switch
    {
        JsonObject o => string.Join('\n', o.Select(kv => TextOf(kv.Value)).Where(t => t.Length > 0)),
        JsonArray a => string.Join('\n', a.Select(TextOf).Where(t => t.Length > 0)),
        JsonValue v when v.TryGetValue<string>(out var text) => text,
        _ => "",
    };

    // ---- The record -----------------------------------------------------------------------------------------------

    /// <summary>Declares through the real <see cref="Declarations"/> at the fake clock's now.</summary>
    public async Task<EmergencyChange> DeclareAsync(string summary = "Roll back the payments deploy", string user = Declarer,
        IReadOnlyList<PullRequestRef>? prs = null, IReadOnlyList<string>? jira = null) =>
        (await Service<Declarations>().DeclareAsync(new DeclarationRequest(user, user.ToLowerInvariant(), summary, null, null, null, prs ?? [],
            [.. (jira ?? []).Select(k => new JiraIssueKey(k))], SourceKey: null, CommandChannel))).Change;

    /// <summary>Records the announcement as the announce step would have: the change's thread exists.</summary>
    public string Announce(int id)
    {
        var ts = $"1900000000.{id:D6}";
        Store.Update(id, c =>
        {
            c.Announcement = new Announcement { Channel = Channel, Ts = ts, Permalink = $"https://example.slack.com/archives/{Channel}/p1900000000{id:D6}", PostedAt = Clock.GetUtcNow() };
            return [new AuditEvent { ChangeNumber = c.Id, At = Clock.GetUtcNow(), Actor = "bot", Type = AuditTypes.Announced, Data = new() { ["channel"] = Channel, ["ts"] = ts } }];
        });
        return ts;
    }

    public EmergencyChange Change(int id = 1) => Store.Get(id) ?? throw new Xunit.Sdk.XunitException($"BG-{id} does not exist");
    public IReadOnlyList<AuditEvent> Audit(int id = 1) => Store.AuditTrail(id);
    public IReadOnlyList<AuditEvent> Audit(string type, int id = 1) => [.. Store.AuditTrail(id).Where(e => e.Type == type)];

    /// <summary>The change's outbox steps still to do, as "kind" or "kind:target".</summary>
    public IReadOnlyList<string> PendingSteps(int id = 1) =>
        [.. Change(id).Steps.Where(s => s.State == StepState.Pending).Select(s => s.Target is null ? s.Kind : $"{s.Kind}:{s.Target}")];

    /// <summary>What the thread note with this key says about the change as it is now (as the thread-note step renders it).</summary>
    public string? ThreadNote(int id, string key) =>
        App.Services.GetServices<IThreadNoteSource>().Select(s => s.Render(Change(id), key)).FirstOrDefault(t => t is not null);

    /// <summary>The direct message that a pending direct-message step with target "user|key" would send now.</summary>
    public SlackMessage? DirectMessage(int id, string target)
    {
        var bar = target.IndexOf('|');
        var (user, key) = (target[..bar], target[(bar + 1)..]);
        return App.Services.GetServices<IDirectMessageSource>().Select(s => s.Render(Change(id), key, user, Clock.GetUtcNow())).FirstOrDefault(m => m is not null);
    }

    public async ValueTask DisposeAsync()
    {
        // On a thread of its own: the store's Dispose blocks until its writer thread ends, and that thread is woken through
        // the thread pool. Blocking a pool thread here (two cores: a pool of two) could keep the wake-up waiting for the
        // pool to grow, about half a second.
        await Task.Factory.StartNew(() => App.DisposeAsync().AsTask().GetAwaiter().GetResult(), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try { Directory.Delete(DataDirectory, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (IOException) { }
    }
}
