using System.Globalization;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;
using Microsoft.AspNetCore.WebUtilities;

namespace BreakGlassBot.Sandbox;

/// <summary>
/// Slack's side of every Web API call <see cref="Slack.SlackApiClient"/> makes, and response_url, answered from
/// <see cref="SandboxState"/> in Slack's shapes and refusals (<c>{"ok": false, "error": "..."}</c>).
/// </summary>
public sealed class StandInSlack(SandboxState state, SandboxContext context)
{
    public const string ApiPath = "/sandbox/slack/api";
    public const string ResponsePath = "/sandbox/slack/response";

    public async Task<IResult> CallAsync(string method, HttpContext http)
    {
        var args = await ReadArgsAsync(http.Request, http.RequestAborted);
        var auth = http.Request.Headers.Authorization.ToString();
        var authorized = auth.StartsWith("Bearer ", StringComparison.Ordinal) && ApiKeys.Matches([context.BotToken], auth[7..]);
        var reply = !authorized ? Error("invalid_auth") : method switch
        {
            "chat.postMessage" => PostMessage(args),
            "chat.update" => Update(args),
            "chat.postEphemeral" => PostEphemeral(args),
            "chat.getPermalink" => Permalink(args),
            "views.open" => OpenView(args),
            "conversations.open" => OpenDirect(args),
            "conversations.history" => History(args),
            "conversations.replies" => Replies(args),
            "views.publish" => PublishView(args),
            "usergroups.users.list" => Ok(new JsonObject { ["users"] = new JsonArray(SandboxPeople.Reviewer1, SandboxPeople.Reviewer2) }),
            // Everyone in the sandbox is a full member; the bot belongs to the sandbox's app.
            "users.info" => Ok(new JsonObject { ["user"] = new JsonObject { ["id"] = Str(args, "user"), ["team_id"] = SandboxPeople.TeamId,
                ["is_restricted"] = false, ["is_ultra_restricted"] = false, ["is_bot"] = false, ["deleted"] = false } }),
            "bots.info" => Ok(new JsonObject { ["bot"] = new JsonObject { ["id"] = SandboxPeople.BotId, ["app_id"] = SandboxPeople.AppId } }),
            "auth.test" => Ok(new JsonObject
            {
                ["url"] = context.BaseUrl + "/sandbox", ["team"] = "BreakGlass Sandbox", ["user"] = "breakglassbot",
                ["team_id"] = SandboxPeople.TeamId, ["user_id"] = SandboxPeople.BotUser, ["bot_id"] = SandboxPeople.BotId,
            }),
            _ => Error("unknown_method"),
        };
        var ok = reply["ok"]?.GetValue<bool>() == true;
        state.Wire("from-bot", $"{method} {Summary(method, args)} → {(ok ? "ok" : reply["error"]?.ToString())}", ok);
        return Results.Content(reply.ToJsonString(), "application/json");
    }

    /// <summary>A response_url POST: an ephemeral answer to the person who clicked or typed, or a message in the channel.</summary>
    public async Task<IResult> RespondAsync(string id, HttpContext http)
    {
        var args = await ReadArgsAsync(http.Request, http.RequestAborted);
        var target = state.Read(v => v.ResponseTarget(id));
        if (target is not { } t)
        {
            state.Wire("from-bot", "response_url (unknown or expired) → 404", false);
            return Results.NotFound();
        }
        var text = Str(args, "text") ?? "";
        var blocks = Node(args, "blocks") as JsonArray;
        var inChannel = Str(args, "response_type") == "in_channel";
        state.Change(v =>
        {
            if (inChannel)
                v.Messages.Add(new SandboxMessage { Channel = t.Channel, Ts = v.NextTs(), ThreadTs = t.ThreadTs, User = SandboxPeople.BotUser, FromBot = true, Text = text, Blocks = blocks });
            else
                v.Ephemerals.Add(new SandboxEphemeral { Id = v.NextId("E"), Channel = t.Channel, ThreadTs = t.ThreadTs, User = t.User, Ts = v.NextTs(), Text = text, Blocks = blocks });
        });
        state.Wire("from-bot", $"response_url → {(inChannel ? "message in channel" : "ephemeral to " + Name(t.User))}", true);
        return Results.Text("ok");
    }

    JsonObject PostMessage(JsonObject args)
    {
        var channel = Str(args, "channel");
        var text = Str(args, "text") ?? "";
        var blocks = Node(args, "blocks") as JsonArray;
        if (!SandboxPeople.IsKnownChannel(channel)) return Error("channel_not_found");
        if (text.Length == 0 && blocks is null) return Error("no_text");
        var thread = Str(args, "thread_ts");
        return state.Change(v =>
        {
            if (thread is not null && v.Find(channel!, thread) is null) return Error("thread_not_found");
            var m = new SandboxMessage
            {
                Channel = channel!, Ts = v.NextTs(), ThreadTs = thread, User = SandboxPeople.BotUser, FromBot = true, Text = text, Blocks = blocks,
                Metadata = Node(args, "metadata") as JsonObject, Broadcast = Str(args, "reply_broadcast") is "true" or "True",
            };
            v.Messages.Add(m);
            return Ok(new JsonObject { ["channel"] = m.Channel, ["ts"] = m.Ts, ["message"] = ToJson(m) });
        });
    }

    JsonObject Update(JsonObject args)
    {
        var channel = Str(args, "channel") ?? "";
        var ts = Str(args, "ts") ?? "";
        var text = Str(args, "text");
        var blocks = Node(args, "blocks") as JsonArray;
        var metadata = Node(args, "metadata") as JsonObject;
        return state.Change(v =>
        {
            var m = v.Find(channel, ts);
            if (m is null) return Error("message_not_found");
            if (!m.FromBot) return Error("cant_update_message");
            if (text is not null) m.Text = text;
            m.Blocks = blocks;
            if (metadata is not null) m.Metadata = metadata;
            m.Edited = true;
            return Ok(new JsonObject { ["channel"] = channel, ["ts"] = ts, ["text"] = m.Text });
        });
    }

    JsonObject PostEphemeral(JsonObject args)
    {
        var channel = Str(args, "channel");
        var user = Str(args, "user");
        if (!SandboxPeople.IsKnownChannel(channel)) return Error("channel_not_found");
        if (SandboxPeople.Find(user) is null) return Error("user_not_in_channel");
        return state.Change(v =>
        {
            var e = new SandboxEphemeral { Id = v.NextId("E"), Channel = channel!, ThreadTs = Str(args, "thread_ts"), User = user!, Ts = v.NextTs(),
                Text = Str(args, "text") ?? "", Blocks = Node(args, "blocks") as JsonArray };
            v.Ephemerals.Add(e);
            return Ok(new JsonObject { ["message_ts"] = e.Ts });
        });
    }

    JsonObject Permalink(JsonObject args)
    {
        var channel = Str(args, "channel") ?? "";
        var ts = Str(args, "message_ts") ?? "";
        var found = state.Read(v => v.Find(channel, ts) is not null);
        return found
            ? Ok(new JsonObject { ["channel"] = channel, ["permalink"] = $"{context.BaseUrl}/sandbox#thread:{channel}:{ts}" })
            : Error("message_not_found");
    }

    JsonObject OpenView(JsonObject args)
    {
        if (Node(args, "view") is not JsonObject view || Str(view, "type") != "modal") return Error("invalid_arguments");
        return state.Change(v =>
        {
            // trigger_id is single-use and short-lived, and tells whose screen the modal opens on.
            var user = v.TakeTrigger(Str(args, "trigger_id"));
            if (user is null) return Error("expired_trigger_id");
            var open = new SandboxView { Id = v.NextId("V"), User = user, View = view, Revision = 1 };
            v.Views[user] = open;
            var answer = (JsonObject)view.DeepClone();
            answer["id"] = open.Id;
            answer["team_id"] = SandboxPeople.TeamId;
            answer["state"] = new JsonObject { ["values"] = new JsonObject() };
            answer["hash"] = $"{open.Id}.{open.Revision}";
            answer["app_id"] = SandboxPeople.AppId;
            answer["bot_id"] = SandboxPeople.BotId;
            return Ok(new JsonObject { ["view"] = answer });
        });
    }

    static JsonObject OpenDirect(JsonObject args)
    {
        var user = Str(args, "users");
        return SandboxPeople.Find(user) is null
            ? Error("user_not_found")
            : Ok(new JsonObject { ["no_op"] = true, ["already_open"] = true, ["channel"] = new JsonObject { ["id"] = SandboxPeople.DirectChannel(user!) } });
    }

    JsonObject History(JsonObject args)
    {
        var channel = Str(args, "channel");
        if (!SandboxPeople.IsKnownChannel(channel)) return Error("channel_not_found");
        var oldest = double.TryParse(Str(args, "oldest"), NumberStyles.Float, CultureInfo.InvariantCulture, out var o) ? o : 0;
        var found = state.Read(v => v.Messages
            .Where(m => m.Channel == channel && (!m.IsReply || m.Broadcast) && TsValue(m.Ts) >= oldest)
            .OrderByDescending(m => m.Ts, StringComparer.Ordinal)
            .Select(m => (JsonNode)ToJson(m, v.Messages)).ToList());
        return Ok(new JsonObject { ["messages"] = new JsonArray([.. found]), ["has_more"] = false, ["response_metadata"] = new JsonObject { ["next_cursor"] = "" } });
    }

    JsonObject Replies(JsonObject args)
    {
        var channel = Str(args, "channel") ?? "";
        var ts = Str(args, "ts") ?? "";
        var found = state.Read(v =>
        {
            var parent = v.Find(channel, ts);
            if (parent is null) return null;
            return v.Messages.Where(m => m.Channel == channel && (m.Ts == ts || m.ThreadTs == ts))
                .OrderBy(m => m.Ts, StringComparer.Ordinal).Select(m => (JsonNode)ToJson(m, v.Messages)).ToList();
        });
        return found is null ? Error("thread_not_found")
            : Ok(new JsonObject { ["messages"] = new JsonArray([.. found]), ["has_more"] = false, ["response_metadata"] = new JsonObject { ["next_cursor"] = "" } });
    }

    /// <summary>The page has no Home tab: a Home view is checked as Slack checks it and acknowledged, not kept.</summary>
    static JsonObject PublishView(JsonObject args)
    {
        if (Node(args, "view") is not JsonObject view || Str(view, "type") != "home") return Error("invalid_arguments");
        if (SandboxPeople.Find(Str(args, "user_id")) is null) return Error("user_not_found");
        if (view["blocks"] is not JsonArray { Count: <= 100 }) return Error("invalid_blocks");
        var answer = (JsonObject)view.DeepClone();
        answer["id"] = "VHOME" + Str(args, "user_id");
        answer["team_id"] = SandboxPeople.TeamId;
        answer["app_id"] = SandboxPeople.AppId;
        answer["bot_id"] = SandboxPeople.BotId;
        return Ok(new JsonObject { ["view"] = answer });
    }

    internal static JsonObject ToJson(SandboxMessage m, IEnumerable<SandboxMessage>? all = null)
    {
        var o = new JsonObject { ["type"] = "message", ["ts"] = m.Ts, ["text"] = m.Text };
        if (m.FromBot) { o["bot_id"] = SandboxPeople.BotId; o["user"] = SandboxPeople.BotUser; o["app_id"] = SandboxPeople.AppId; }
        else o["user"] = m.User;
        if (m.ThreadTs is not null) o["thread_ts"] = m.ThreadTs;
        if (all is not null && !m.IsReply)
        {
            var replies = all.Count(r => r.Channel == m.Channel && r.ThreadTs == m.Ts && r.IsReply);
            if (replies > 0) { o["thread_ts"] = m.Ts; o["reply_count"] = replies; }
        }
        if (m.Blocks is not null) o["blocks"] = m.Blocks.DeepClone();
        if (m.Metadata is not null) o["metadata"] = m.Metadata.DeepClone();
        if (m.Edited) o["edited"] = new JsonObject { ["user"] = SandboxPeople.BotUser, ["ts"] = m.Ts };
        return o;
    }

    static double TsValue(string ts) => double.TryParse(ts, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;

    static string Summary(string method, JsonObject args)
    {
        var channel = Str(args, "channel");
        var where = channel is null ? "" : channel == SandboxPeople.Channel ? "#" + SandboxPeople.ChannelName
            : SandboxPeople.UserOfDirectChannel(channel) is { } u ? "DM " + Name(u) : channel;
        if (Str(args, "thread_ts") is not null) where += " (thread)";
        if (method == "chat.postEphemeral" && Str(args, "user") is { } to) where += " to " + Name(to);
        if (method == "conversations.open" && Str(args, "users") is { } with) where = "with " + Name(with);
        return where;
    }

    static string Name(string user) => SandboxPeople.Find(user)?.Name ?? user;

    internal static JsonObject Ok(JsonObject body)
    {
        var o = new JsonObject { ["ok"] = true };
        foreach (var (k, v) in body.ToList()) { body.Remove(k); o[k] = v; }
        return o;
    }

    internal static JsonObject Error(string error) => new() { ["ok"] = false, ["error"] = error };

    static string? Str(JsonObject o, string key) => o[key] is JsonValue v ? v.ToString() : null;

    /// <summary>A JSON argument: an object in a JSON body, or a JSON string in a form body (Slack accepts both).</summary>
    static JsonNode? Node(JsonObject o, string key) => o[key] switch
    {
        JsonValue v when v.TryGetValue<string>(out var text) => TryParse(text),
        JsonNode n => n.DeepClone(),
        null => null,
    };

    static JsonNode? TryParse(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    internal static async Task<JsonObject> ReadArgsAsync(HttpRequest request, CancellationToken ct)
    {
        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync(ct);
        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
            return TryParse(body) as JsonObject ?? [];
        var o = new JsonObject();
        foreach (var (k, v) in new FormReader(body).ReadForm()) o[k] = v.ToString();
        return o;
    }
}
