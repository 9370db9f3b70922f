using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Slack;

/// <summary>A message for chat.postMessage / chat.update / chat.postEphemeral / response_url.</summary>
public sealed record SlackMessage(string Text, JsonArray? Blocks = null)
{
    public string? ThreadTs { get; init; }
    /// <summary>Slack message metadata: lets the bot find its own post again (chat.postMessage has no idempotency key).</summary>
    public MessageMetadata? Metadata { get; init; }
    public bool ReplyBroadcast { get; init; }
}

public sealed record MessageMetadata(string EventType, IReadOnlyDictionary<string, string> Payload);
public sealed record PostedMessage(string Channel, string Ts);
public sealed record HistoryMessage(string Ts, string? Text, MessageMetadata? Metadata);
/// <summary>The user users.lookupByEmail found; <see cref="EmailConfirmed"/> is Slack's is_email_confirmed (null when it does not say).</summary>
public sealed record SlackUserByEmail(string Id, bool Deleted, bool IsBot, bool? EmailConfirmed);

/// <summary>users.info's answer, the parts the bot decides on: a guest (restricted or ultra-restricted) may not declare.</summary>
public sealed record SlackUserInfo(string Id, string? TeamId, bool IsRestricted, bool IsUltraRestricted, bool IsBot, bool Deleted)
{
    public bool IsGuest => IsRestricted || IsUltraRestricted;
}

/// <summary>Where the bot token is installed (auth.test) and the app it belongs to (bots.info); see SlackTenant.</summary>
public sealed record SlackInstallation(string TeamId, string? EnterpriseId, bool IsEnterpriseInstall, string? AppId);

/// <summary>A Slack Web API call that did not succeed. <see cref="RetryAfter"/> is set for HTTP 429.</summary>
public sealed class SlackApiException(string method, string error, HttpStatusCode? status = null, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception($"Slack {method} failed: {error}", inner)
{
    public string Method { get; } = method;
    public string Error { get; } = error;
    public HttpStatusCode? Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>The Slack Web API methods the bot calls. The one interface at the Slack boundary.</summary>
public interface ISlackApi
{
    Task<PostedMessage> PostMessageAsync(string channel, SlackMessage message, CancellationToken ct = default);
    Task UpdateMessageAsync(string channel, string ts, SlackMessage message, CancellationToken ct = default);
    Task PostEphemeralAsync(string channel, string user, SlackMessage message, CancellationToken ct = default);
    Task<string> GetPermalinkAsync(string channel, string ts, CancellationToken ct = default);
    Task<string> OpenViewAsync(string triggerId, JsonObject view, CancellationToken ct = default);
    Task<string> OpenDirectMessageAsync(string user, CancellationToken ct = default);
    /// <summary>views.publish: the Home tab of <paramref name="user"/>; returns the view id.</summary>
    Task<string> PublishViewAsync(string user, JsonObject view, CancellationToken ct = default);
    Task<IReadOnlyList<string>> GetUserGroupMembersAsync(string userGroup, CancellationToken ct = default);
    Task<IReadOnlyList<HistoryMessage>> GetHistoryAsync(string channel, DateTimeOffset oldest, CancellationToken ct = default);
    Task<IReadOnlyList<HistoryMessage>> GetRepliesAsync(string channel, string threadTs, CancellationToken ct = default);
    Task<(string UserId, string? BotId)> AuthTestAsync(CancellationToken ct = default);
    Task RespondAsync(string responseUrl, SlackMessage message, bool ephemeral = true, bool replaceOriginal = false, CancellationToken ct = default);
    /// <summary>users.info (scope users:read).</summary>
    Task<SlackUserInfo> UserInfoAsync(string user, CancellationToken ct = default);
    /// <summary>auth.test, then bots.info for the app id (scope users:read).</summary>
    Task<SlackInstallation> InstallationAsync(CancellationToken ct = default);
    /// <summary>users.lookupByEmail (scope users:read.email): the workspace user with that e-mail; null when Slack knows none (users_not_found).</summary>
    Task<SlackUserByEmail?> LookupUserByEmailAsync(string email, CancellationToken ct = default);
}

/// <summary>Typed client over Slack's Web API: bot token as Bearer, JSON bodies, checks <c>ok</c>.</summary>
internal sealed class SlackApiClient(HttpClient http, IOptions<SlackOptions> options) : ISlackApi
{
    public async Task<PostedMessage> PostMessageAsync(string channel, SlackMessage message, CancellationToken ct = default)
    {
        var body = MessageBody(message);
        body["channel"] = channel;
        var reply = await CallAsync("chat.postMessage", body, ct);
        return new PostedMessage(reply.GetProperty("channel").GetString()!, reply.GetProperty("ts").GetString()!);
    }

    public async Task UpdateMessageAsync(string channel, string ts, SlackMessage message, CancellationToken ct = default)
    {
        var body = MessageBody(message);
        body["channel"] = channel;
        body["ts"] = ts;
        await CallAsync("chat.update", body, ct);
    }

    public async Task PostEphemeralAsync(string channel, string user, SlackMessage message, CancellationToken ct = default)
    {
        var body = MessageBody(message);
        body["channel"] = channel;
        body["user"] = user;
        await CallAsync("chat.postEphemeral", body, ct);
    }

    public async Task<string> GetPermalinkAsync(string channel, string ts, CancellationToken ct = default)
    {
        var reply = await CallAsync("chat.getPermalink", new JsonObject { ["channel"] = channel, ["message_ts"] = ts }, ct, form: true);
        return reply.GetProperty("permalink").GetString()!;
    }

    public async Task<string> OpenViewAsync(string triggerId, JsonObject view, CancellationToken ct = default)
    {
        var reply = await CallAsync("views.open", new JsonObject { ["trigger_id"] = triggerId, ["view"] = view }, ct);
        return reply.GetProperty("view").GetProperty("id").GetString()!;
    }

    public async Task<string> OpenDirectMessageAsync(string user, CancellationToken ct = default)
    {
        var reply = await CallAsync("conversations.open", new JsonObject { ["users"] = user }, ct);
        return reply.GetProperty("channel").GetProperty("id").GetString()!;
    }

    public async Task<string> PublishViewAsync(string user, JsonObject view, CancellationToken ct = default)
    {
        var reply = await CallAsync("views.publish", new JsonObject { ["user_id"] = user, ["view"] = view }, ct);
        return reply.GetProperty("view").GetProperty("id").GetString()!;
    }

    public async Task<IReadOnlyList<string>> GetUserGroupMembersAsync(string userGroup, CancellationToken ct = default)
    {
        var reply = await CallAsync("usergroups.users.list", new JsonObject { ["usergroup"] = userGroup }, ct, form: true);
        return [.. reply.GetProperty("users").EnumerateArray().Select(u => u.GetString()!)];
    }

    public Task<IReadOnlyList<HistoryMessage>> GetHistoryAsync(string channel, DateTimeOffset oldest, CancellationToken ct = default) =>
        ReadMessagesAsync("conversations.history", new JsonObject
        {
            ["channel"] = channel,
            ["oldest"] = (oldest.ToUnixTimeMilliseconds() / 1000.0).ToString("F6", System.Globalization.CultureInfo.InvariantCulture),
        }, ct);

    public Task<IReadOnlyList<HistoryMessage>> GetRepliesAsync(string channel, string threadTs, CancellationToken ct = default) =>
        ReadMessagesAsync("conversations.replies", new JsonObject { ["channel"] = channel, ["ts"] = threadTs }, ct);

    async Task<IReadOnlyList<HistoryMessage>> ReadMessagesAsync(string method, JsonObject query, CancellationToken ct)
    {
        var messages = new List<HistoryMessage>();
        string? cursor = null;
        do
        {
            var args = (JsonObject)query.DeepClone();
            args["include_all_metadata"] = "true";
            args["limit"] = "200";
            if (cursor is not null) args["cursor"] = cursor;
            var reply = await CallAsync(method, args, ct, form: true);
            foreach (var m in reply.GetProperty("messages").EnumerateArray())
            {
                MessageMetadata? metadata = null;
                if (m.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object && md.TryGetProperty("event_type", out var type))
                {
                    var payload = new Dictionary<string, string>();
                    if (md.TryGetProperty("event_payload", out var p) && p.ValueKind == JsonValueKind.Object)
                        foreach (var prop in p.EnumerateObject()) payload[prop.Name] = prop.Value.ToString();
                    metadata = new MessageMetadata(type.GetString() ?? "", payload);
                }
                messages.Add(new HistoryMessage(m.GetProperty("ts").GetString()!, m.TryGetProperty("text", out var t) ? t.GetString() : null, metadata));
            }
            cursor = reply.TryGetProperty("response_metadata", out var rm) && rm.TryGetProperty("next_cursor", out var nc) ? nc.GetString() : null;
        } while (!string.IsNullOrEmpty(cursor));
        return messages;
    }

    public async Task<(string UserId, string? BotId)> AuthTestAsync(CancellationToken ct = default)
    {
        var reply = await CallAsync("auth.test", new JsonObject(), ct, form: true);
        return (reply.GetProperty("user_id").GetString()!, reply.TryGetProperty("bot_id", out var b) ? b.GetString() : null);
    }

    public async Task<SlackUserInfo> UserInfoAsync(string user, CancellationToken ct = default)
    {
        var reply = await CallAsync("users.info", new JsonObject { ["user"] = user }, ct, form: true);
        if (!reply.TryGetProperty("user", out var u) || u.ValueKind != JsonValueKind.Object || !u.TryGetProperty("id", out _))
            throw new SlackApiException("users.info", "invalid_response");
        static bool Flag(JsonElement o, string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
        return new SlackUserInfo(u.GetProperty("id").GetString()!, u.TryGetProperty("team_id", out var t) ? t.GetString() : null,
            Flag(u, "is_restricted"), Flag(u, "is_ultra_restricted"), Flag(u, "is_bot"), Flag(u, "deleted"));
    }

    public async Task<SlackInstallation> InstallationAsync(CancellationToken ct = default)
    {
        var auth = await CallAsync("auth.test", new JsonObject(), ct, form: true);
        static string? Text(JsonElement o, string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        string? app = null;
        // bots.info needs users:read: an install that lacks it still tells its workspace, and the app id stays unknown.
        if (Text(auth, "bot_id") is { Length: > 0 } botId)
            try { app = Text((await CallAsync("bots.info", new JsonObject { ["bot"] = botId }, ct, form: true)).GetProperty("bot"), "app_id"); }
            catch (SlackApiException e) when (e.Error != "ratelimited") { }
        return new SlackInstallation(Text(auth, "team_id") ?? "", Text(auth, "enterprise_id") is { Length: > 0 } org ? org : null,
            auth.TryGetProperty("is_enterprise_install", out var install) && install.ValueKind == JsonValueKind.True, app);
    }

    public async Task<SlackUserByEmail?> LookupUserByEmailAsync(string email, CancellationToken ct = default)
    {
        JsonElement reply;
        // Form only (the method takes no JSON). Slack answers users_not_found for an unknown address and a deactivated user alike.
        try { reply = await CallAsync("users.lookupByEmail", new JsonObject { ["email"] = email }, ct, form: true); }
        catch (SlackApiException e) when (e.Error == "users_not_found") { return null; }
        var user = reply.GetProperty("user");
        static bool Flag(JsonElement o, string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
        return new SlackUserByEmail(user.GetProperty("id").GetString()!, Flag(user, "deleted"), Flag(user, "is_bot"),
            user.TryGetProperty("is_email_confirmed", out var c) && c.ValueKind is JsonValueKind.True or JsonValueKind.False ? c.GetBoolean() : null);
    }

    public async Task RespondAsync(string responseUrl, SlackMessage message, bool ephemeral = true, bool replaceOriginal = false, CancellationToken ct = default)
    {
        var body = MessageBody(message);
        body["response_type"] = ephemeral ? "ephemeral" : "in_channel";
        body["replace_original"] = replaceOriginal;
        // response_url is a pre-authorised webhook: no bot token goes with it.
        using var request = new HttpRequestMessage(HttpMethod.Post, responseUrl) { Content = Json(body) };
        using var response = await SendAsync("response_url", request, ct);
        var answer = (await response.Content.ReadAsStringAsync(ct)).Trim();
        var error = ResponseUrlError(answer);
        if (!response.IsSuccessStatusCode && error is null or "invalid_response" or "unreadable_json") error = $"http_{(int)response.StatusCode}";
        if (error is not null) throw new SlackApiException("response_url", error, response.StatusCode);
    }

    /// <summary>
    /// Slack may answer a response_url with a 200 that refuses (<c>{"ok":false,"error":"…"}</c>) or with plain text
    /// (<c>ok</c>, or an error such as <c>expired_url</c>): the error, or null when it said ok (or nothing).
    /// </summary>
    internal static string? ResponseUrlError(string answer)
    {
        if (answer.Length == 0 || answer == "ok") return null;
        if (answer.StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(answer);
                var root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("ok", out var ok))
                    return ok.ValueKind == JsonValueKind.True ? null
                        : root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() ?? "unknown_error" : "unknown_error";
            }
            catch (JsonException) { return "unreadable_json"; }
            return "invalid_response";
        }
        // Plain-text errors are short codes; anything else (an HTML error page) is named only as unexpected.
        return answer.Length <= 64 && answer.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? answer : "invalid_response";
    }

    static JsonObject MessageBody(SlackMessage message)
    {
        var body = new JsonObject { ["text"] = message.Text };
        if (message.Blocks is not null) body["blocks"] = message.Blocks.DeepClone();
        if (message.ThreadTs is not null) body["thread_ts"] = message.ThreadTs;
        if (message.ReplyBroadcast) body["reply_broadcast"] = true;
        if (message.Metadata is { } md)
        {
            var payload = new JsonObject();
            foreach (var (k, v) in md.Payload) payload[k] = v;
            body["metadata"] = new JsonObject { ["event_type"] = md.EventType, ["event_payload"] = payload };
        }
        // Never let user text become @channel or a link: Slack parses nothing unless asked.
        body["unfurl_links"] = false;
        return body;
    }

    static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    async Task<JsonElement> CallAsync(string method, JsonObject args, CancellationToken ct, bool form = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, method);
        // Some read methods only take form arguments; write methods take JSON.
        request.Content = form
            ? new FormUrlEncodedContent(args.Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.ToString() ?? "")))
            : Json(args);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.BotToken);
        using var response = await SendAsync(method, request, ct);
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
            throw new SlackApiException(method, "ratelimited", response.StatusCode, RetryAfterOf(response) ?? TimeSpan.FromSeconds(1));
        if (!response.IsSuccessStatusCode)
            throw new SlackApiException(method, $"http_{(int)response.StatusCode}", response.StatusCode);
        JsonElement root;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: ct);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e) { throw new SlackApiException(method, "unreadable_json", response.StatusCode, inner: e); }
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("ok", out var ok))
            throw new SlackApiException(method, "invalid_response", response.StatusCode);
        if (ok.ValueKind != JsonValueKind.True)
        {
            var error = root.TryGetProperty("error", out var e) ? e.GetString() ?? "unknown_error" : "unknown_error";
            throw new SlackApiException(method, error, response.StatusCode, error == "ratelimited" ? RetryAfterOf(response) ?? TimeSpan.FromSeconds(1) : null);
        }
        return root;
    }

    async Task<HttpResponseMessage> SendAsync(string method, HttpRequestMessage request, CancellationToken ct)
    {
        try { return await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct); }
        catch (HttpRequestException e) { throw new SlackApiException(method, "connection_failed", inner: e); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw new SlackApiException(method, "timeout", inner: e); }
        catch (Polly.Timeout.TimeoutRejectedException e) { throw new SlackApiException(method, "timeout", inner: e); }
    }

    internal static TimeSpan? RetryAfterOf(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            // An HTTP-date is read against the server's own Date header, so no local clock is involved.
            { Date: { } date } when response.Headers.Date is { } sent => date > sent ? date - sent : TimeSpan.Zero,
            _ => null,
        };
}
