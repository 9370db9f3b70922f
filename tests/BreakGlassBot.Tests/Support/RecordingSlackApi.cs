using System.Text.Json.Nodes;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Tests.Support;

/// <summary>One call the bot made on <see cref="ISlackApi"/>, named by the Web API method it stands for ("response_url" for a response URL).</summary>
public sealed record SlackCall(string Method)
{
    public string? Channel { get; init; }
    public string? User { get; init; }
    public string? Ts { get; init; }
    public SlackMessage? Message { get; init; }
    public string? TriggerId { get; init; }
    public JsonObject? View { get; init; }
    public string? ResponseUrl { get; init; }
    public bool Ephemeral { get; init; }
    public bool ReplaceOriginal { get; init; }
    public string? UserGroup { get; init; }

    /// <summary>The message's text and blocks, for "contains" checks.</summary>
    public string AllText => Message is null ? "" : Message.Text + " " + Message.Blocks?.ToJsonString();
}

/// <summary>
/// <see cref="ISlackApi"/> in memory: records every call and answers at once. Configurable answers: the members of each
/// user group, the bot's own user id (auth.test), and methods that fail (the call is recorded, then throws as Slack's client would).
/// </summary>
public sealed class RecordingSlackApi : ISlackApi
{
    public const string ViewId = "V0INPROCESS";
    readonly Lock gate = new();
    readonly List<SlackCall> calls = [];
    readonly List<(string Method, int Count, TaskCompletionSource<SlackCall> Done)> waiters = [];
    long ts = 1_900_000_000_000_000;

    /// <summary>usergroups.users.list answers: a group not listed answers no_such_subteam.</summary>
    public Dictionary<string, IReadOnlyList<string>> UserGroups { get; } = [];
    /// <summary>What auth.test says the bot's user is.</summary>
    public string BotUserId { get; set; } = "UBOT";
    /// <summary>Methods that fail with this Slack error (e.g. views.open → expired_trigger_id).</summary>
    public Dictionary<string, string> Failing { get; } = [];

    public IReadOnlyList<SlackCall> Calls { get { lock (gate) return [.. calls]; } }
    public IReadOnlyList<SlackCall> CallsTo(string method) => [.. Calls.Where(c => c.Method == method)];
    public IReadOnlyList<SlackCall> Responses => CallsTo("response_url");

    /// <summary>
    /// The <paramref name="count"/>th call to <paramref name="method"/>, once it is made. For answers sent after the
    /// handler returned (click replies go out on the thread pool): a signal, not a poll; fails after 10 s.
    /// </summary>
    public Task<SlackCall> WaitForAsync(string method, int count = 1)
    {
        lock (gate)
        {
            var made = calls.Where(c => c.Method == method).ToList();
            if (made.Count >= count) return Task.FromResult(made[count - 1]);
            var done = new TaskCompletionSource<SlackCall>(TaskCreationOptions.RunContinuationsAsynchronously);
            waiters.Add((method, count, done));
            return done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    void Record(SlackCall call)
    {
        lock (gate)
        {
            calls.Add(call);
            var made = calls.Count(c => c.Method == call.Method);
            foreach (var w in waiters.Where(w => w.Method == call.Method && w.Count == made).ToList())
            {
                waiters.Remove(w);
                w.Done.TrySetResult(call);
            }
        }
        if (Failing.TryGetValue(call.Method, out var error)) throw new SlackApiException(call.Method, error);
    }

    string NextTs()
    {
        var n = Interlocked.Increment(ref ts);
        return $"{n / 1_000_000}.{n % 1_000_000:D6}";
    }

    public Task<PostedMessage> PostMessageAsync(string channel, SlackMessage message, CancellationToken ct = default)
    {
        var posted = NextTs();
        Record(new SlackCall("chat.postMessage") { Channel = channel, Message = message, Ts = posted });
        return Task.FromResult(new PostedMessage(channel, posted));
    }

    public Task UpdateMessageAsync(string channel, string ts, SlackMessage message, CancellationToken ct = default)
    {
        Record(new SlackCall("chat.update") { Channel = channel, Ts = ts, Message = message });
        return Task.CompletedTask;
    }

    public Task PostEphemeralAsync(string channel, string user, SlackMessage message, CancellationToken ct = default)
    {
        Record(new SlackCall("chat.postEphemeral") { Channel = channel, User = user, Message = message });
        return Task.CompletedTask;
    }

    public Task<string> GetPermalinkAsync(string channel, string ts, CancellationToken ct = default)
    {
        Record(new SlackCall("chat.getPermalink") { Channel = channel, Ts = ts });
        return Task.FromResult($"https://example.slack.com/archives/{channel}/p{ts.Replace(".", "")}");
    }

    public Task<string> OpenViewAsync(string triggerId, JsonObject view, CancellationToken ct = default)
    {
        Record(new SlackCall("views.open") { TriggerId = triggerId, View = view });
        return Task.FromResult(ViewId);
    }

    public Task<string> OpenDirectMessageAsync(string user, CancellationToken ct = default)
    {
        Record(new SlackCall("conversations.open") { User = user });
        return Task.FromResult("D" + user);
    }

    public Task<string> PublishViewAsync(string user, JsonObject view, CancellationToken ct = default)
    {
        Record(new SlackCall("views.publish") { User = user, View = view });
        return Task.FromResult(ViewId);
    }

    public Task<IReadOnlyList<string>> GetUserGroupMembersAsync(string userGroup, CancellationToken ct = default)
    {
        Record(new SlackCall("usergroups.users.list") { UserGroup = userGroup });
        lock (gate)
            return UserGroups.TryGetValue(userGroup, out var members)
                ? Task.FromResult(members)
                : throw new SlackApiException("usergroups.users.list", "no_such_subteam");
    }

    public Task<IReadOnlyList<HistoryMessage>> GetHistoryAsync(string channel, DateTimeOffset oldest, CancellationToken ct = default)
    {
        Record(new SlackCall("conversations.history") { Channel = channel });
        return Task.FromResult<IReadOnlyList<HistoryMessage>>([]);
    }

    public Task<IReadOnlyList<HistoryMessage>> GetRepliesAsync(string channel, string threadTs, CancellationToken ct = default)
    {
        Record(new SlackCall("conversations.replies") { Channel = channel, Ts = threadTs });
        return Task.FromResult<IReadOnlyList<HistoryMessage>>([]);
    }

    public Task<(string UserId, string? BotId)> AuthTestAsync(CancellationToken ct = default)
    {
        Record(new SlackCall("auth.test"));
        return Task.FromResult<(string, string?)>((BotUserId, "B0BOT"));
    }

    public Task RespondAsync(string responseUrl, SlackMessage message, bool ephemeral = true, bool replaceOriginal = false, CancellationToken ct = default)
    {
        Record(new SlackCall("response_url") { ResponseUrl = responseUrl, Message = message, Ephemeral = ephemeral, ReplaceOriginal = replaceOriginal });
        return Task.CompletedTask;
    }

    /// <summary>users.info answers for these users: restricted (a multi-channel guest). Everyone else is a full member.</summary>
    public HashSet<string> Guests { get; } = [];

    public Task<SlackUserInfo> UserInfoAsync(string user, CancellationToken ct = default)
    {
        Record(new SlackCall("users.info") { User = user });
        lock (gate) return Task.FromResult(new SlackUserInfo(user, "T0001", Guests.Contains(user), false, false, false));
    }

    public Task<SlackInstallation> InstallationAsync(CancellationToken ct = default)
    {
        Record(new SlackCall("installation"));
        return Task.FromResult(new SlackInstallation("T0001", null, false, "A0APP"));
    }

    public Task<SlackUserByEmail?> LookupUserByEmailAsync(string email, CancellationToken ct = default)
    {
        Record(new SlackCall("users.lookupByEmail"));
        return Task.FromResult<SlackUserByEmail?>(null);
    }
}
