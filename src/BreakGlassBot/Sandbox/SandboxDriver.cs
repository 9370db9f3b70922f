using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace BreakGlassBot.Sandbox;

/// <summary>What the page sees after an action: null when it went through, else what Slack would have shown.</summary>
public sealed record DriverResult(string? Problem)
{
    public static readonly DriverResult Done = new((string?)null);
}

/// <summary>
/// Slack's side of the requests into the bot: the page's actions become the payloads Slack would send, v0-signed and
/// POSTed over loopback to the bot's real /slack/* endpoints.
/// </summary>
public sealed class SandboxDriver(SandboxState state, SandboxContext context, IHttpClientFactory clients, TimeProvider time, ILogger<SandboxDriver> log)
{
    public const string ClientName = "sandbox-to-bot";
    const string VerificationToken = "sandbox-verification-token";

    /// <summary>Slack's v0 signature: "v0=" + hex HMAC-SHA256 of "v0:{timestamp}:{body}" keyed with the signing secret.</summary>
    public static string Sign(string secret, long timestamp, string body)
    {
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}"));
        return "v0=" + Convert.ToHexStringLower(mac);
    }

    /// <summary>The composer: a slash command, or a message in a channel, DM or thread (which the bot hears as an event).</summary>
    public Task<DriverResult> SendAsync(string user, string channel, string? threadTs, string text, CancellationToken ct)
    {
        text = text.Trim();
        if (SandboxPeople.Find(user) is null) return Task.FromResult(new DriverResult("Pick a person first."));
        if (!SandboxPeople.IsKnownChannel(channel) || (SandboxPeople.UserOfDirectChannel(channel) is { } owner && owner != user))
            return Task.FromResult(new DriverResult("That conversation is not yours."));
        if (text.Length == 0) return Task.FromResult(DriverResult.Done);
        return text.StartsWith('/') ? CommandAsync(user, channel, threadTs, text, ct) : MessageAsync(user, channel, threadTs, text, ct);
    }

    async Task<DriverResult> CommandAsync(string user, string channel, string? threadTs, string text, CancellationToken ct)
    {
        var space = text.IndexOfAny([' ', '\n']);
        var command = space < 0 ? text : text[..space];
        var args = space < 0 ? "" : text[(space + 1)..].Trim();
        if (command != Declaring.BreakGlassCommand.SlashCommandName)
        {
            Ephemeral(user, channel, threadTs, $"{Escape(command)} is not a valid command. In this sandbox the bot's command is `/breakglass`.");
            return DriverResult.Done;
        }
        var (trigger, responseUrl) = state.Change(v => (v.NewTrigger(user), v.NewResponseUrl(context.BaseUrl, user, channel, threadTs)), persist: false);
        var form = Form(
            ("token", VerificationToken), ("team_id", SandboxPeople.TeamId), ("team_domain", SandboxPeople.TeamDomain),
            ("channel_id", channel), ("channel_name", channel == SandboxPeople.Channel ? SandboxPeople.ChannelName : "directmessage"),
            ("user_id", user), ("user_name", SandboxPeople.UserName(user)), ("command", command), ("text", Escape(args)), // as Slack escapes typed text
            ("api_app_id", SandboxPeople.AppId), ("is_enterprise_install", "false"), ("response_url", responseUrl), ("trigger_id", trigger));
        var (status, body) = await PostAsync("/slack/commands", form, "application/x-www-form-urlencoded", $"{command} {args}".Trim(), ct);
        if (status != HttpStatusCode.OK)
        {
            // What Slack shows when an app's command endpoint fails.
            Ephemeral(user, channel, threadTs, $"{command} failed with the error \"http_service_error\" (BreakGlassBot answered HTTP {(int)status}). {Escape(Brief(body))}");
            return DriverResult.Done;
        }
        // The immediate answer of a slash command is shown like a response_url message.
        if (TryParse(body) is JsonObject reply && (reply["text"]?.ToString() is { Length: > 0 } || reply["blocks"] is JsonArray))
        {
            var replyText = reply["text"]?.ToString() ?? "";
            var blocks = reply["blocks"] is JsonArray b ? (JsonArray)b.DeepClone() : null;
            if (reply["response_type"]?.ToString() == "in_channel")
                state.Change(v => v.Messages.Add(new SandboxMessage { Channel = channel, Ts = v.NextTs(), ThreadTs = threadTs, User = SandboxPeople.BotUser, FromBot = true, Text = replyText, Blocks = blocks }));
            else
                Ephemeral(user, channel, threadTs, replyText, blocks);
        }
        return DriverResult.Done;
    }

    async Task<DriverResult> MessageAsync(string user, string channel, string? threadTs, string text, CancellationToken ct)
    {
        var escaped = Escape(text); // Slack escapes &, < and > in what people type
        var message = state.Change(v =>
        {
            if (threadTs is not null && v.Find(channel, threadTs) is null) return null;
            var m = new SandboxMessage { Channel = channel, Ts = v.NextTs(), ThreadTs = threadTs, User = user, Text = escaped };
            v.Messages.Add(m);
            return m;
        });
        if (message is null) return new DriverResult("That thread no longer exists.");
        var ev = new JsonObject
        {
            ["type"] = "message", ["channel"] = channel, ["user"] = user, ["text"] = escaped, ["ts"] = message.Ts,
            ["channel_type"] = channel.StartsWith('D') ? "im" : "channel", ["event_ts"] = message.Ts, ["team"] = SandboxPeople.TeamId,
        };
        if (threadTs is not null) ev["thread_ts"] = threadTs;
        var envelope = new JsonObject
        {
            ["token"] = VerificationToken, ["team_id"] = SandboxPeople.TeamId, ["api_app_id"] = SandboxPeople.AppId, ["event"] = ev,
            ["type"] = "event_callback", ["event_id"] = state.Change(v => v.NextId("Ev"), persist: false),
            ["event_time"] = time.GetUtcNow().ToUnixTimeSeconds(),
            ["authorizations"] = new JsonArray(new JsonObject { ["team_id"] = SandboxPeople.TeamId, ["user_id"] = SandboxPeople.BotUser, ["is_bot"] = true }),
        };
        var (status, body) = await PostAsync("/slack/events", envelope.ToJsonString(), "application/json", "message event" + (threadTs is null ? "" : " (thread reply)"), ct);
        return status == HttpStatusCode.OK ? DriverResult.Done : new DriverResult($"The bot did not accept the event (HTTP {(int)status}): {Brief(body)}");
    }

    /// <summary>A click on a button of a message (or of an ephemeral message) the person can see.</summary>
    public async Task<DriverResult> ClickAsync(string user, string channel, string? ts, string? ephemeralId, string actionId, string? value, CancellationToken ct)
    {
        var found = state.Read(v =>
        {
            if (ephemeralId is not null)
                return v.Ephemerals.FirstOrDefault(e => e.Id == ephemeralId && e.User == user) is { Blocks: { } eb } e
                    ? new Clicked(eb, null, e.Ts, e.ThreadTs, Ephemeral: true) : null;
            var m = ts is null ? null : v.Find(channel, ts);
            return m is { Blocks: { } mb } ? new Clicked(mb, m, m.Ts, m.ThreadTs, Ephemeral: false) : null;
        });
        if (found is null) return new DriverResult("That message is gone.");
        var (blockId, button) = FindButton(found.Blocks, actionId, value);
        if (button is null) return new DriverResult("That button is not on the message.");
        if (SandboxPeople.UserOfDirectChannel(channel) is { } owner && owner != user) return new DriverResult("That conversation is not yours.");

        var (trigger, responseUrl) = state.Change(v => (v.NewTrigger(user), v.NewResponseUrl(context.BaseUrl, user, channel, found.ThreadTs)), persist: false);
        var now = time.GetUtcNow();
        var payload = new JsonObject
        {
            ["type"] = "block_actions",
            ["user"] = UserJson(user),
            ["api_app_id"] = SandboxPeople.AppId,
            ["token"] = VerificationToken,
            ["container"] = new JsonObject { ["type"] = "message", ["message_ts"] = found.Ts, ["channel_id"] = channel, ["is_ephemeral"] = found.Ephemeral },
            ["trigger_id"] = trigger,
            ["team"] = new JsonObject { ["id"] = SandboxPeople.TeamId, ["domain"] = SandboxPeople.TeamDomain },
            ["enterprise"] = null,
            ["is_enterprise_install"] = false,
            ["channel"] = new JsonObject { ["id"] = channel, ["name"] = channel == SandboxPeople.Channel ? SandboxPeople.ChannelName : "directmessage" },
            ["state"] = new JsonObject { ["values"] = new JsonObject() },
            ["response_url"] = responseUrl,
            ["actions"] = new JsonArray(new JsonObject
            {
                ["action_id"] = actionId, ["block_id"] = blockId, ["text"] = button["text"]?.DeepClone(), ["value"] = button["value"]?.DeepClone(),
                ["style"] = button["style"]?.DeepClone(), ["type"] = "button", ["action_ts"] = $"{now.ToUnixTimeSeconds()}.{now.Millisecond * 1000:D6}",
            }),
        };
        if (found.Message is { } msg) payload["message"] = StandInSlack.ToJson(msg);
        var label = button["text"]?["text"]?.ToString() ?? actionId;
        var (status, body) = await PostAsync("/slack/interactions", "payload=" + Uri.EscapeDataString(payload.ToJsonString()), "application/x-www-form-urlencoded",
            $"block_actions \"{label}\"", ct);
        return status == HttpStatusCode.OK ? DriverResult.Done : new DriverResult($"The bot did not accept the click (HTTP {(int)status}): {Brief(body)}");
    }

    /// <summary>The modal's submit button: view_submission with the typed values, then what the bot answered (close, errors, update).</summary>
    public async Task<DriverResult> SubmitAsync(string user, string viewId, IReadOnlyDictionary<string, string?> values, CancellationToken ct)
    {
        var open = state.Read(v => v.Views.TryGetValue(user, out var view) && view.Id == viewId ? (JsonObject)view.View.DeepClone() : null);
        if (open is null) return new DriverResult("That form is no longer open.");
        var payload = new JsonObject
        {
            ["type"] = "view_submission",
            ["team"] = new JsonObject { ["id"] = SandboxPeople.TeamId, ["domain"] = SandboxPeople.TeamDomain },
            ["user"] = UserJson(user),
            ["api_app_id"] = SandboxPeople.AppId,
            ["token"] = VerificationToken,
            ["trigger_id"] = state.Change(v => v.NewTrigger(user), persist: false),
            ["view"] = SubmittedView(open, viewId, StateValues(open, values)),
            ["response_urls"] = new JsonArray(),
            ["is_enterprise_install"] = false,
            ["enterprise"] = null,
        };
        var (status, body) = await PostAsync("/slack/interactions", "payload=" + Uri.EscapeDataString(payload.ToJsonString()), "application/x-www-form-urlencoded",
            $"view_submission \"{open["callback_id"]}\"", ct);
        ApplyAnswer(user, viewId, status, TryParse(body) as JsonObject);
        return DriverResult.Done;
    }

    /// <summary>view.state.values as Slack sends them: per input block, its element's action_id and the typed or chosen value.</summary>
    static JsonObject StateValues(JsonObject open, IReadOnlyDictionary<string, string?> values)
    {
        var stateValues = new JsonObject();
        foreach (var block in (open["blocks"] as JsonArray ?? []).OfType<JsonObject>().Where(b => b["type"]?.ToString() == "input"))
        {
            var blockId = block["block_id"]?.ToString();
            if (blockId is null || block["element"] is not JsonObject element) continue;
            values.TryGetValue(blockId, out var typed);
            var type = element["type"]?.ToString();
            var entry = new JsonObject { ["type"] = type };
            if (type == "static_select")
            {
                var option = (element["options"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(o => o["value"]?.ToString() == typed);
                entry["selected_option"] = option?.DeepClone();
            }
            else entry["value"] = string.IsNullOrEmpty(typed) ? null : typed;
            stateValues[blockId] = new JsonObject { [element["action_id"]?.ToString() ?? "value"] = entry };
        }
        return stateValues;
    }

    static JsonObject SubmittedView(JsonObject open, string viewId, JsonObject stateValues)
    {
        var view = (JsonObject)open.DeepClone();
        view["id"] = viewId;
        view["team_id"] = SandboxPeople.TeamId;
        view["state"] = new JsonObject { ["values"] = stateValues };
        view["hash"] = viewId + ".1";
        view["app_id"] = SandboxPeople.AppId;
        view["bot_id"] = SandboxPeople.BotId;
        view["root_view_id"] = viewId;
        view["previous_view_id"] = null;
        return view;
    }

    void ApplyAnswer(string user, string viewId, HttpStatusCode status, JsonObject? answer) => state.Change(v =>
    {
        if (!v.Views.TryGetValue(user, out var current) || current.Id != viewId) return;
        if (status != HttpStatusCode.OK) { current.Problem = $"We had some trouble connecting (BreakGlassBot answered HTTP {(int)status}). Try again?"; current.Revision++; return; }
        switch (answer?["response_action"]?.ToString())
        {
            case "errors":
                current.Errors = (answer["errors"] as JsonObject ?? []).ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? "");
                current.Problem = null;
                current.Revision++;
                break;
            case "update" when answer["view"] is JsonObject next:
                current.View = (JsonObject)next.DeepClone();
                current.Errors = null;
                current.Problem = null;
                current.Revision++;
                break;
            default: // empty body or "clear": the modal closes
                v.Views.Remove(user);
                break;
        }
    });

    /// <summary>The modal's close button. The bot's modals do not ask for view_closed (notify_on_close), so Slack sends nothing.</summary>
    public void Close(string user, string viewId) => state.Change(v =>
    {
        if (v.Views.TryGetValue(user, out var current) && current.Id == viewId) v.Views.Remove(user);
    }, persist: false);

    /// <summary>
    /// GitHub's side: a webhook delivery as GitHub sends it (X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256 over the raw
    /// body with the webhook secret), POSTed over loopback to the bot's real /github/webhooks.
    /// </summary>
    public async Task<DriverResult> DeliverGitHubAsync(string eventName, JsonObject payload, CancellationToken ct)
    {
        var body = payload.ToJsonString();
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(context.GitHubWebhookSecret), Encoding.UTF8.GetBytes(body));
        using var request = new HttpRequestMessage(HttpMethod.Post, GitHub.GitHubWebhooks.Route) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-GitHub-Event", eventName);
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add(GitHub.GitHubSignature.Header, "sha256=" + Convert.ToHexStringLower(mac));
        request.Headers.UserAgent.ParseAdd("GitHub-Hookshot/sandbox");
        var what = $"POST {GitHub.GitHubWebhooks.Route} {eventName}{(payload["action"] is { } action ? " " + action : "")} (signed sha256)";
        try
        {
            using var response = await clients.CreateClient(ClientName).SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            state.Wire("to-bot", $"{what} → {(int)response.StatusCode}", response.IsSuccessStatusCode);
            return response.IsSuccessStatusCode ? DriverResult.Done : new DriverResult($"The bot did not accept the {eventName} webhook (HTTP {(int)response.StatusCode}): {Brief(text)}");
        }
        catch (HttpRequestException e)
        {
            log.LogWarning("Sandbox could not reach the bot at {Path}: {Error}", GitHub.GitHubWebhooks.Route, e.Message);
            state.Wire("to-bot", $"{what} → no answer", false);
            return new DriverResult($"The bot did not answer the {eventName} webhook.");
        }
    }

    async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, string body, string contentType, string what, CancellationToken ct)
    {
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        request.Headers.Add(Slack.SlackSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(Slack.SlackSignature.SignatureHeader, Sign(context.SigningSecret, timestamp, body));
        request.Headers.UserAgent.ParseAdd("Slackbot 1.0 (+https://api.slack.com/robots)");
        var started = time.GetTimestamp();
        try
        {
            using var response = await clients.CreateClient(ClientName).SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            var took = time.GetElapsedTime(started);
            // Slack gives up on an answer after 3 seconds; say so, since a real workspace would have shown an error.
            var slow = took > TimeSpan.FromSeconds(3) ? $", {took.TotalSeconds:0.0} s: Slack would have timed out" : "";
            state.Wire("to-bot", $"POST {path} {what} (signed v0) → {(int)response.StatusCode}{slow}", response.IsSuccessStatusCode && slow.Length == 0);
            return (response.StatusCode, text);
        }
        catch (HttpRequestException e)
        {
            log.LogWarning("Sandbox could not reach the bot at {Path}: {Error}", path, e.Message);
            state.Wire("to-bot", $"POST {path} {what} → no answer", false);
            return (HttpStatusCode.ServiceUnavailable, "no answer");
        }
    }

    void Ephemeral(string user, string channel, string? threadTs, string text, JsonArray? blocks = null) => state.Change(v =>
        v.Ephemerals.Add(new SandboxEphemeral { Id = v.NextId("E"), Channel = channel, ThreadTs = threadTs, User = user, Ts = v.NextTs(), Text = text, Blocks = blocks }),
        persist: false);

    sealed record Clicked(JsonArray Blocks, SandboxMessage? Message, string Ts, string? ThreadTs, bool Ephemeral);

    static (string? BlockId, JsonObject? Button) FindButton(JsonArray blocks, string actionId, string? value)
    {
        foreach (var block in blocks.OfType<JsonObject>())
        {
            var candidates = (block["elements"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            if (block["accessory"] is JsonObject accessory) candidates.Add(accessory);
            var button = candidates.FirstOrDefault(e => e["type"]?.ToString() == "button" && e["action_id"]?.ToString() == actionId
                && (value is null || e["value"]?.ToString() == value));
            if (button is not null) return (block["block_id"]?.ToString(), button);
        }
        return (null, null);
    }

    static JsonObject UserJson(string user) => new()
    {
        ["id"] = user, ["username"] = SandboxPeople.UserName(user), ["name"] = SandboxPeople.UserName(user), ["team_id"] = SandboxPeople.TeamId,
    };

    static string Form(params (string Key, string Value)[] fields) =>
        string.Join('&', fields.Select(f => Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(f.Value)));

    static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    static string Brief(string body) => body.Length <= 300 ? body : body[..300] + "…";

    static JsonNode? TryParse(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}
