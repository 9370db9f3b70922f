using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace BreakGlassBot.Tests.Support;

public sealed record PostedSlackMessage(string Channel, string Ts, string? ThreadTs, string Text, JsonArray? Blocks, JsonObject? Metadata)
{
    public string? MetadataChangeId => Metadata?["event_payload"]?["change_id"]?.GetValue<string>();
    public string? MetadataNote => Metadata?["event_payload"]?["note"]?.GetValue<string>();
    public string AllText => Text + " " + Blocks?.ToJsonString();
}

/// <summary>
/// Slack's Web API on loopback (/api/{method}), answering with the fixture bodies. It keeps the messages
/// posted, so chat.update, conversations.history and conversations.replies behave like Slack's.
/// Also serves response_url webhooks at /response/{id}.
/// </summary>
public sealed partial class FakeSlack : FakeServer
{
    public const string BotToken = "xoxb-test-0000-secret-token";
    long tsCounter = 1_700_000_000_000_000;
    readonly ConcurrentDictionary<string, PostedSlackMessage> messages = new();

    public string ApiUrl => Url + "/api/";
    public string ResponseUrl(string id = "1") => $"{Url}/response/{id}";

    public IReadOnlyList<PostedSlackMessage> Messages => [.. messages.Values.OrderBy(m => m.Ts, StringComparer.Ordinal)];
    public IReadOnlyList<PostedSlackMessage> TopLevel(string channel) => [.. Messages.Where(m => m.Channel == channel && m.ThreadTs is null)];
    public IReadOnlyList<PostedSlackMessage> Thread(string channel, string ts) => [.. Messages.Where(m => m.Channel == channel && m.ThreadTs == ts)];
    public IReadOnlyList<PostedSlackMessage> Announcements(string changeId) => [.. Messages.Where(m => m.ThreadTs is null && m.MetadataChangeId == changeId)];
    public IReadOnlyList<RecordedCall> Responses => CallsTo("response_url");
    public Dictionary<string, string> Users { get; } = [];
    readonly ConcurrentDictionary<string, JsonObject> homeViews = new();
    /// <summary>The Home tab last published (views.publish) for each user.</summary>
    public IReadOnlyDictionary<string, JsonObject> HomeViews => homeViews;
    readonly ConcurrentDictionary<string, TaskCompletionSource> holds = new();

    /// <summary>
    /// Calls to <paramref name="method"/> are recorded, then not answered until the returned source is completed: a Slack
    /// that is slow for exactly as long as the test needs, so "X happened while Y was still waiting" is asserted, not timed.
    /// </summary>
    public TaskCompletionSource Hold(string method) => holds.GetOrAdd(method, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    // Strict switches: what real Slack refuses when the app or workspace is set up that way.
    /// <summary>The App Home's Messages tab is off: chat.postMessage to a DM ("D…") answers <c>messages_tab_disabled</c>.</summary>
    public bool MessagesTabDisabled { get; set; }
    /// <summary>Scopes the token lacks: methods needing one answer <c>missing_scope</c> with <c>needed</c> and <c>provided</c>, as Slack does.</summary>
    public HashSet<string> MissingScopes { get; } = [];
    /// <summary>Deactivated users: conversations.open or chat.postMessage to them answers <c>user_disabled</c>.</summary>
    public HashSet<string> DeactivatedUsers { get; } = [];
    /// <summary>Bot users: conversations.open or chat.postMessage to them answers <c>cannot_dm_bot</c>.</summary>
    public HashSet<string> BotUsers { get; } = [];
    /// <summary>usergroups.users.list answers this error (<c>plan_upgrade_required</c>, <c>no_such_subteam</c>, …) while set.</summary>
    public string? UserGroupError { get; set; }

    /// <summary>The scopes the real app asks for (manifest.yml), less <see cref="MissingScopes"/>: Slack's <c>provided</c>.</summary>
    static readonly string[] AppScopes = ["chat:write", "chat:write.public", "commands", "im:write", "im:history", "channels:history", "groups:history", "usergroups:read", "users:read", "users:read.email"];

    static string? ScopeFor(string method, JsonObject args) => method switch
    {
        "chat.postMessage" or "chat.update" or "chat.postEphemeral" => "chat:write",
        "conversations.open" => "im:write",
        "conversations.history" or "conversations.replies" => Str(args, "channel") switch
        {
            ['D', ..] => "im:history",
            ['G', ..] => "groups:history",
            _ => "channels:history",
        },
        "users.info" or "bots.info" => "users:read",
        "usergroups.users.list" => "usergroups:read",
        "users.lookupByEmail" => "users:read.email",
        _ => null,
    };

    /// <summary>What real Slack would refuse this call with, given the switches; null when it is accepted.</summary>
    IResult? Refusal(string method, JsonObject args)
    {
        if (ScopeFor(method, args) is { } scope && MissingScopes.Contains(scope))
            return Json(new JsonObject { ["ok"] = false, ["error"] = "missing_scope", ["needed"] = scope,
                ["provided"] = string.Join(',', AppScopes.Where(a => !MissingScopes.Contains(a))) });
        var user = method switch
        {
            "conversations.open" => Str(args, "users"),
            "chat.postMessage" when Str(args, "channel") is ['D', .. var id] => id,
            "chat.postMessage" when Str(args, "channel") is ['U', ..] and var id => id,
            _ => null,
        };
        if (user is not null && DeactivatedUsers.Contains(user)) return Refuse("user_disabled");
        if (user is not null && BotUsers.Contains(user)) return Refuse("cannot_dm_bot");
        if (method == "chat.postMessage" && MessagesTabDisabled && Str(args, "channel") is ['D', ..]) return Refuse("messages_tab_disabled");
        if (method is "chat.postMessage" or "chat.update" && args["blocks"] is JsonArray blocks && BlockKitViolation(blocks) is not null)
            return Refuse("invalid_blocks");
        if (method == "usergroups.users.list" && UserGroupError is { } groupError) return Refuse(groupError);
        return null;
    }

    /// <summary>
    /// The first Block Kit limit a message breaks, or null (docs.slack.dev/reference/block-kit): at most 50 blocks in a message,
    /// a section's text at most 3000 characters, a header's 150, a button's text 75.
    /// </summary>
    public static string? BlockKitViolation(JsonArray blocks)
    {
        if (blocks.Count > 50) return $"{blocks.Count} blocks (at most 50)";
        foreach (var block in blocks.OfType<JsonObject>())
        {
            var type = Str(block, "type");
            var text = block["text"]?["text"]?.GetValue<string>() ?? "";
            if (type == "section" && text.Length > 3000) return $"section text of {text.Length} characters (at most 3000)";
            if (type == "header" && text.Length > 150) return $"header text of {text.Length} characters (at most 150)";
            var buttons = (block["elements"] as JsonArray ?? []).Append(block["accessory"]).OfType<JsonObject>().Where(e => Str(e, "type") == "button");
            foreach (var b in buttons)
                if ((b["text"]?["text"]?.GetValue<string>() ?? "").Length > 75) return "button text over 75 characters";
        }
        return null;
    }

    static IResult Refuse(string error) => Json(new JsonObject { ["ok"] = false, ["error"] = error });

    protected override string KeyOf(HttpContext http) =>
        http.Request.Path.StartsWithSegments("/response") ? "response_url" : http.Request.Path.Value!.Replace("/api/", "");

    protected override void Map(WebApplication app)
    {
        app.MapPost("/response/{id}", () => Results.Ok());
        app.MapPost("/api/{method}", async (string method, HttpContext http) =>
        {
            // Socket Mode's call takes the app-level token, not the bot token: a FakeSocketMode answers it.
            if (method == "apps.connections.open")
                return ConnectionsOpen?.Invoke(http.Request) ?? Json(new JsonObject { ["ok"] = false, ["error"] = "unknown_method" });
            if (http.Request.Headers.Authorization.ToString() != "Bearer " + BotToken)
                return Json(Fixtures.Object("slack/error_invalid_auth.json"));
            var args = await ReadArgsAsync(http.Request);
            if (holds.TryGetValue(method, out var hold))
                try { await hold.Task.WaitAsync(http.RequestAborted); } catch (OperationCanceledException) { return Results.Empty; }
            if (RestrictChannelMentions && method is "chat.postMessage" or "chat.update" && ChannelMentions(args).Count > 0)
                return Json(new JsonObject { ["ok"] = false, ["error"] = "restricted_action" });
            if (Refusal(method, args) is { } refused) return refused;
            return method switch
            {
                "chat.postMessage" => PostMessage(args),
                "chat.update" => Update(args),
                "chat.postEphemeral" => Json(Fixtures.Object("slack/chat_postEphemeral_ok.json")),
                "chat.getPermalink" => Json(new JsonObject { ["ok"] = true, ["channel"] = Str(args, "channel"),
                    ["permalink"] = $"https://example.slack.com/archives/{Str(args, "channel")}/p{Str(args, "message_ts")?.Replace(".", "")}" }),
                "views.open" => Json(Fixtures.Object("slack/views_open_ok.json")),
                "conversations.open" => OpenDm(args),
                "conversations.history" => History(args, thread: false),
                "conversations.replies" => History(args, thread: true),
                "users.info" => UserInfo(args),
                "bots.info" => Json(new JsonObject { ["ok"] = true, ["bot"] = new JsonObject { ["id"] = Str(args, "bot"), ["deleted"] = false,
                    ["name"] = "breakglassbot", ["app_id"] = AppId, ["user_id"] = "UBOT" } }),
                "views.publish" => PublishView(args),
                "usergroups.users.list" => Json(Fixtures.Object("slack/usergroups_users_list.json")),
                "users.lookupByEmail" => LookupByEmail(http.Request, args), // FakeSlack.LookupByEmail.cs
                "auth.test" => Json(new JsonObject { ["ok"] = true, ["user_id"] = "UBOT", ["bot_id"] = "BBOT", ["team_id"] = TeamId,
                    ["enterprise_id"] = EnterpriseId, ["is_enterprise_install"] = EnterpriseInstall }),
                _ => Json(new JsonObject { ["ok"] = false, ["error"] = "unknown_method" }),
            };
        });
    }

    // ---- users.info, and where the bot is installed (auth.test, bots.info) ----------------------------------------

    /// <summary>The workspace auth.test names (the one <see cref="TestBot.CommandForm"/> posts from), its org, and an org-wide install.</summary>
    public string TeamId { get; set; } = "T0001";
    public string? EnterpriseId { get; set; }
    public bool EnterpriseInstall { get; set; }
    /// <summary>The app bots.info names (the api_app_id <see cref="TestBot.CommandForm"/> carries).</summary>
    public string AppId { get; set; } = "A0APP";
    /// <summary>Multi-channel guests (users.info: is_restricted) and single-channel guests (also is_ultra_restricted).</summary>
    public HashSet<string> Guests { get; } = [];
    public HashSet<string> SingleChannelGuests { get; } = [];

    /// <summary>The fixture's user (docs' users.info example) as <c>user</c>, in <see cref="TeamId"/>, a guest when listed.</summary>
    IResult UserInfo(JsonObject args)
    {
        var id = Str(args, "user");
        if (string.IsNullOrEmpty(id)) return Json(Fixtures.Object("slack/users_info_error_user_not_found.json"));
        var reply = Fixtures.Object("slack/users_info.json");
        var user = reply["user"]!.AsObject();
        user["id"] = id;
        user["team_id"] = TeamId;
        user["is_admin"] = false;
        user["is_restricted"] = Guests.Contains(id) || SingleChannelGuests.Contains(id);
        user["is_ultra_restricted"] = SingleChannelGuests.Contains(id);
        return Json(reply);
    }

    /// <summary>Answers apps.connections.open (set by <see cref="FakeSocketMode.Attach"/>); faults still apply first.</summary>
    public Func<HttpRequest, IResult>? ConnectionsOpen { get; set; }

    /// <summary>
    /// A workspace that lets only admins notify a whole channel: chat.postMessage and chat.update answer restricted_action to a
    /// message that would (<see cref="ChannelMentions"/>).
    /// </summary>
    public bool RestrictChannelMentions { get; set; }

    /// <summary>
    /// What in a chat.postMessage/chat.update call Slack would turn into a channel-wide mention: an explicit &lt;!channel&gt;,
    /// &lt;!here&gt; or &lt;!everyone&gt; anywhere, or a bare @channel/@here/@everyone where Slack parses automatically, i.e. in a
    /// mrkdwn text object without "verbatim": true, and in the top-level text only with link_names (docs.slack.dev
    /// messaging/formatting-message-text, "Automatic parsing").
    /// </summary>
    public static IReadOnlyList<string> ChannelMentions(JsonObject args)
    {
        var found = new List<string>();
        var text = Str(args, "text") ?? "";
        found.AddRange(ExplicitChannelMention().Matches(text).Select(m => m.Value));
        if (Str(args, "link_names") is "1" or "true" or "True") found.AddRange(BareChannelMention().Matches(text).Select(m => m.Value));
        foreach (var o in TextObjects(args["blocks"]))
        {
            var t = o["text"]?.GetValue<string>() ?? "";
            found.AddRange(ExplicitChannelMention().Matches(t).Select(m => m.Value));
            if (IsAutoParsed(o)) found.AddRange(BareChannelMention().Matches(t).Select(m => m.Value));
        }
        return found;
    }

    /// <summary>The mrkdwn text objects of a message that Slack parses automatically (no "verbatim": true): #name becomes a link there.</summary>
    public static IReadOnlyList<string> AutoParsedTexts(PostedSlackMessage message) =>
        [.. TextObjects(message.Blocks).Where(IsAutoParsed).Select(o => o["text"]?.GetValue<string>() ?? "")];

    static bool IsAutoParsed(JsonObject o) => o["type"]?.GetValue<string>() == "mrkdwn" && o["verbatim"]?.GetValue<bool>() != true;

    static IEnumerable<JsonObject> TextObjects(JsonNode? node)
    {
        if (node is JsonArray array) { foreach (var item in array) foreach (var o in TextObjects(item)) yield return o; }
        else if (node is JsonObject o)
        {
            if (o["type"] is JsonValue type && type.GetValue<string>() is "mrkdwn" or "plain_text" && o["text"] is JsonValue) yield return o;
            foreach (var (_, child) in o) foreach (var inner in TextObjects(child)) yield return inner;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"<!(?:channel|here|everyone|group)(?:\|[^>]*)?>")]
    private static partial System.Text.RegularExpressions.Regex ExplicitChannelMention();

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<![\w@])@(?:channel|here|everyone)\b")]
    private static partial System.Text.RegularExpressions.Regex BareChannelMention();

    IResult PostMessage(JsonObject args)
    {
        var channel = Str(args, "channel") ?? "";
        var ts = NextTs();
        var msg = new PostedSlackMessage(channel, ts, Str(args, "thread_ts"), Str(args, "text") ?? "", args["blocks"] as JsonArray, args["metadata"] as JsonObject);
        messages[ts] = msg;
        var reply = Fixtures.Object("slack/chat_postMessage_ok.json");
        reply["channel"] = channel;
        reply["ts"] = ts;
        reply["message"]!["ts"] = ts;
        reply["message"]!["text"] = msg.Text;
        return Json(reply);
    }

    /// <summary>Slack's checks that matter here: a Home view of at most 100 blocks (else invalid_blocks, as Slack answers), for a user.</summary>
    IResult PublishView(JsonObject args)
    {
        var view = args["view"] is JsonValue v && v.TryGetValue<string>(out var text) ? JsonNode.Parse(text) as JsonObject : args["view"] as JsonObject;
        if (view is null || Str(view, "type") != "home" || Str(args, "user_id") is not { Length: > 0 } user)
            return Json(new JsonObject { ["ok"] = false, ["error"] = "invalid_arguments" });
        if (view["blocks"] is not JsonArray { Count: <= 100 } blocks)
            return Json(new JsonObject { ["ok"] = false, ["error"] = "invalid_blocks",
                ["response_metadata"] = new JsonObject { ["messages"] = new JsonArray("[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]") } });
        homeViews[user] = view;
        var answer = (JsonObject)view.DeepClone();
        answer["id"] = "VHOME" + user;
        answer["team_id"] = "T1";
        answer["hash"] = "1712345678.abcdef01";
        return Json(new JsonObject { ["ok"] = true, ["view"] = answer });
    }

    // The fixture's shape, with one DM channel per user ("D" + user id) so tests can tell recipients apart.
    static IResult OpenDm(JsonObject args)
    {
        var reply = Fixtures.Object("slack/conversations_open_ok.json");
        reply["channel"]!["id"] = "D" + Str(args, "users");
        return Json(reply);
    }

    /// <summary>Direct messages the bot sent to <paramref name="user"/>.</summary>
    public IReadOnlyList<PostedSlackMessage> DirectMessages(string user) => [.. Messages.Where(m => m.Channel == "D" + user)];

    IResult Update(JsonObject args)
    {
        var ts = Str(args, "ts") ?? "";
        if (!messages.TryGetValue(ts, out var old)) return Json(Fixtures.Object("slack/chat_update_error_cant_update_message.json"));
        messages[ts] = old with { Text = Str(args, "text") ?? old.Text, Blocks = args["blocks"] as JsonArray ?? old.Blocks };
        var reply = Fixtures.Object("slack/chat_update_ok.json");
        reply["channel"] = old.Channel;
        reply["ts"] = ts;
        return Json(reply);
    }

    IResult History(JsonObject args, bool thread)
    {
        var channel = Str(args, "channel");
        var ts = Str(args, "ts");
        var found = Messages.Where(m => m.Channel == channel && (thread ? m.ThreadTs == ts || m.Ts == ts : m.ThreadTs is null))
            .Select(m => new JsonObject
            {
                ["type"] = "message", ["ts"] = m.Ts, ["text"] = m.Text,
                ["metadata"] = m.Metadata?.DeepClone(),
            });
        return Json(new JsonObject { ["ok"] = true, ["messages"] = new JsonArray([.. found]), ["has_more"] = false });
    }

    string NextTs()
    {
        var n = Interlocked.Increment(ref tsCounter);
        return $"{n / 1_000_000}.{n % 1_000_000:D6}";
    }

    static string? Str(JsonObject o, string key) => o[key] is JsonValue v ? v.ToString() : null;

    static IResult Json(JsonNode node) => Results.Content(node.ToJsonString(), "application/json");

    static async Task<JsonObject> ReadArgsAsync(HttpRequest request)
    {
        var body = await new StreamReader(request.Body).ReadToEndAsync();
        if (request.ContentType?.StartsWith("application/json") == true)
            return JsonNode.Parse(body)!.AsObject();
        var form = new FormReader(body).ReadForm();
        var o = new JsonObject();
        foreach (var (k, v) in form) o[k] = v.ToString();
        return o;
    }

    /// <summary>Slack's own 429, as in the fixture: status 429, Retry-After, {"ok":false,"error":"ratelimited"}.</summary>
    public static Fault RateLimited(int retryAfterSeconds = 1) => new Fault.Status(429, Fixtures.Text("slack/chat_postMessage_ratelimited.json"),
        new Dictionary<string, string> { ["Retry-After"] = retryAfterSeconds.ToString() });

    public static Fault Error(string fixture) => new Fault.Status(200, Fixtures.Text(fixture));
}
