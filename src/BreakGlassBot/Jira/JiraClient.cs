using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Jira;

/// <summary>Jira Cloud (REST v3, ADF bodies, basic auth with e-mail + API token) or Data Center (REST v2, plain bodies, PAT as Bearer).</summary>
public enum JiraFlavor { Cloud, DataCenter }

/// <summary>An issue as the bot needs it. <see cref="Key"/> is the key Jira answered with (a moved issue answers under its new key).</summary>
public sealed record JiraIssue(string Id, string Key, string? Summary, string? StatusName, string? StatusCategoryKey, string? StatusCategoryName,
    IReadOnlyList<string> Labels);

public sealed record JiraComment(string Id, string Text);
public sealed record JiraTransition(string Id, string Name, string? ToStatus);
public sealed record JiraCreated(string Id, string Key);
public sealed record JiraNewIssue(string ProjectKey, string IssueType, string Summary, JiraDocument Description, IReadOnlyList<string> Labels);

/// <summary>A call Jira did not answer with success. <see cref="Reason"/> is short and says what to do; no credential is ever in it.</summary>
public sealed class JiraApiException(string operation, HttpStatusCode? status, string reason, string? details = null, TimeSpan? retryAfter = null,
    Exception? inner = null, bool malformed = false)
    : Exception($"Jira {operation} failed: {reason}", inner)
{
    public string Operation { get; } = operation;
    public HttpStatusCode? Status { get; } = status;
    public string Reason { get; } = reason;
    /// <summary>Jira's own words from <c>{errorMessages, errors}</c>, when the body had them.</summary>
    public string? Details { get; } = details;
    public TimeSpan? RetryAfter { get; } = retryAfter;
    /// <summary>Jira answered with success, but with a body the bot cannot use (not JSON, or without the issue key).</summary>
    public bool Malformed { get; } = malformed;

    /// <summary>Asking again gets the same answer: a 4xx other than 401, 408 and 429, or a success the bot cannot read.</summary>
    public bool WillNotChange => Malformed || (Status is { } s && (int)s is >= 400 and < 500 and not 401 and not 408 and not 429);
}

/// <summary>The Jira REST calls the bot makes. The one interface at the Jira boundary.</summary>
public interface IJiraApi
{
    JiraFlavor Flavor { get; }
    Task<JiraIssue> GetIssueAsync(string key, CancellationToken ct = default);
    Task<IReadOnlyList<JiraComment>> GetCommentsAsync(string key, CancellationToken ct = default);
    Task<JiraComment> AddCommentAsync(string key, JiraDocument body, CancellationToken ct = default);
    Task AddLabelAsync(string key, string label, CancellationToken ct = default);
    Task<IReadOnlyList<JiraTransition>> GetTransitionsAsync(string key, CancellationToken ct = default);
    Task TransitionAsync(string key, string transitionId, CancellationToken ct = default);
    Task<JiraCreated> CreateIssueAsync(JiraNewIssue issue, CancellationToken ct = default);
    Task<IReadOnlyList<JiraIssue>> SearchAsync(string jql, int maxResults = 20, CancellationToken ct = default);
}

/// <summary>Typed client over Jira's REST API: Jira:Email + Jira:ApiToken mean Cloud, Jira:PersonalAccessToken alone Data Center.</summary>
internal sealed class JiraClient(HttpClient http, IOptions<JiraOptions> options) : IJiraApi
{
    const string IssueFields = "summary,status,labels";

    public JiraFlavor Flavor => FlavorOf(options.Value);

    public static JiraFlavor FlavorOf(JiraOptions o) =>
        !string.IsNullOrWhiteSpace(o.Email) && !string.IsNullOrWhiteSpace(o.ApiToken) ? JiraFlavor.Cloud : JiraFlavor.DataCenter;

    string Api => Flavor == JiraFlavor.Cloud ? "rest/api/3/" : "rest/api/2/";

    public async Task<JiraIssue> GetIssueAsync(string key, CancellationToken ct = default)
    {
        var operation = "get issue " + key;
        return ParseIssue(Required(operation, await SendAsync(operation, HttpMethod.Get, $"issue/{Uri.EscapeDataString(key)}?fields={IssueFields}", null, ct)));
    }

    public async Task<IReadOnlyList<JiraComment>> GetCommentsAsync(string key, CancellationToken ct = default)
    {
        var comments = new List<JiraComment>();
        // Jira pages comments and may return fewer than asked for: follow startAt until total is reached.
        for (var startAt = 0; ;)
        {
            var page = Required("read comments of " + key, await SendAsync("read comments of " + key, HttpMethod.Get,
                $"issue/{Uri.EscapeDataString(key)}/comment?startAt={startAt}&maxResults=100", null, ct));
            var items = page.TryGetProperty("comments", out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray().ToList() : [];
            comments.AddRange(items.Select(c => new JiraComment(Str(c, "id") ?? "", c.TryGetProperty("body", out var b) ? JiraDocument.TextOf(b) : "")));
            startAt += items.Count;
            var total = page.TryGetProperty("total", out var t) && t.TryGetInt32(out var n) ? n : startAt;
            if (items.Count == 0 || startAt >= total) return comments;
        }
    }

    public async Task<JiraComment> AddCommentAsync(string key, JiraDocument body, CancellationToken ct = default)
    {
        var request = new JsonObject { ["body"] = Render(body) };
        var root = Required("comment on " + key, await SendAsync("comment on " + key, HttpMethod.Post, $"issue/{Uri.EscapeDataString(key)}/comment", request, ct));
        return new JiraComment(Str(root, "id") ?? "", root.TryGetProperty("body", out var b) ? JiraDocument.TextOf(b) : body.ToPlainText());
    }

    public async Task AddLabelAsync(string key, string label, CancellationToken ct = default)
    {
        // "update" with "add" keeps the labels already there, and adding one twice is a no-op: safe to repeat.
        var request = new JsonObject { ["update"] = new JsonObject { ["labels"] = new JsonArray(new JsonObject { ["add"] = label }) } };
        await SendAsync($"label {key}", HttpMethod.Put, $"issue/{Uri.EscapeDataString(key)}", request, ct);
    }

    public async Task<IReadOnlyList<JiraTransition>> GetTransitionsAsync(string key, CancellationToken ct = default)
    {
        var root = Required("read transitions of " + key, await SendAsync("read transitions of " + key, HttpMethod.Get, $"issue/{Uri.EscapeDataString(key)}/transitions", null, ct));
        if (!root.TryGetProperty("transitions", out var list) || list.ValueKind != JsonValueKind.Array) return [];
        return [.. list.EnumerateArray().Select(t => new JiraTransition(Str(t, "id") ?? "", Str(t, "name") ?? "",
            t.TryGetProperty("to", out var to) ? Str(to, "name") : null))];
    }

    public async Task TransitionAsync(string key, string transitionId, CancellationToken ct = default)
    {
        // Answers 204 with no body.
        var request = new JsonObject { ["transition"] = new JsonObject { ["id"] = transitionId } };
        await SendAsync($"transition {key}", HttpMethod.Post, $"issue/{Uri.EscapeDataString(key)}/transitions", request, ct);
    }

    public async Task<JiraCreated> CreateIssueAsync(JiraNewIssue issue, CancellationToken ct = default)
    {
        var fields = new JsonObject
        {
            ["project"] = new JsonObject { ["key"] = issue.ProjectKey },
            ["issuetype"] = new JsonObject { ["name"] = issue.IssueType },
            ["summary"] = issue.Summary,
            ["description"] = Render(issue.Description),
        };
        // Sent only when there are labels: a create screen without the field refuses even an empty list.
        if (issue.Labels.Count > 0) fields["labels"] = new JsonArray([.. issue.Labels.Select(l => (JsonNode)JsonValue.Create(l))]);
        var operation = "create issue in " + issue.ProjectKey;
        var answer = await SendAsync(operation, HttpMethod.Post, "issue", new JsonObject { ["fields"] = fields }, ct);
        // A success without a usable key most likely created the issue: not given up, but retried, and the retry finds the
        // issue by its summary before it creates another (JiraCreateStep).
        if (answer is not { ValueKind: JsonValueKind.Object } root || Str(root, "key") is not { Length: > 0 } key)
            throw new JiraApiException(operation, HttpStatusCode.Created, "Jira's answer to the create has no issue key; the bot looks for the issue before creating again");
        return new JiraCreated(Str(root, "id") ?? "", key);
    }

    public async Task<IReadOnlyList<JiraIssue>> SearchAsync(string jql, int maxResults = 20, CancellationToken ct = default)
    {
        // Cloud removed GET /rest/api/3/search in 2025; /search/jql is its replacement. Data Center still has /search.
        var path = Flavor == JiraFlavor.Cloud ? "search/jql" : "search";
        var root = Required("search", await SendAsync("search", HttpMethod.Get, $"{path}?jql={Uri.EscapeDataString(jql)}&fields={IssueFields}&maxResults={maxResults}", null, ct));
        if (!root.TryGetProperty("issues", out var issues) || issues.ValueKind != JsonValueKind.Array) return [];
        return [.. issues.EnumerateArray().Select(ParseIssue)];
    }

    JsonNode Render(JiraDocument document) => Flavor == JiraFlavor.Cloud ? document.ToAdf() : JsonValue.Create(document.ToPlainText());

    internal static JiraIssue ParseIssue(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new JiraApiException("read issue", null, "Jira's answer is not an issue", malformed: true);
        var fields = root.TryGetProperty("fields", out var f) && f.ValueKind == JsonValueKind.Object ? f : default;
        JsonElement status = default, category = default;
        var hasFields = fields.ValueKind == JsonValueKind.Object;
        var hasStatus = hasFields && fields.TryGetProperty("status", out status) && status.ValueKind == JsonValueKind.Object;
        var hasCategory = hasStatus && status.TryGetProperty("statusCategory", out category) && category.ValueKind == JsonValueKind.Object;
        var labels = hasFields && fields.TryGetProperty("labels", out var l) && l.ValueKind == JsonValueKind.Array
            ? [.. l.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!)]
            : new List<string>();
        return new JiraIssue(Str(root, "id") ?? "", Str(root, "key") is { Length: > 0 } key ? key
                : throw new JiraApiException("read issue", null, "Jira's answer has no issue key", malformed: true),
            hasFields ? Str(fields, "summary") : null,
            hasStatus ? Str(status, "name") : null,
            hasCategory ? Str(category, "key") : null,
            hasCategory ? Str(category, "name") : null,
            labels);
    }

    static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var p) ? p.ValueKind switch
        {
            JsonValueKind.String => p.GetString(),
            JsonValueKind.Number => p.GetRawText(),
            _ => null,
        } : null;

    AuthenticationHeaderValue Authorization()
    {
        var o = options.Value;
        return Flavor == JiraFlavor.Cloud
            ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{o.Email}:{o.ApiToken}")))
            : new AuthenticationHeaderValue("Bearer", o.PersonalAccessToken);
    }

    async Task<JsonElement?> SendAsync(string operation, HttpMethod method, string path, JsonNode? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, Api + path);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Authorization = Authorization();
        HttpResponseMessage response;
        try { response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct); }
        catch (HttpRequestException e) { throw new JiraApiException(operation, null, "could not connect to Jira", inner: e); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw new JiraApiException(operation, null, "Jira did not answer in time", inner: e); }
        catch (Polly.Timeout.TimeoutRejectedException e) { throw new JiraApiException(operation, null, "Jira did not answer in time", inner: e); }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode) throw Failure(operation, response, text, options.Value);
            if (string.IsNullOrWhiteSpace(text)) return null; // 204: label, transition
            try
            {
                using var doc = JsonDocument.Parse(text);
                return doc.RootElement.Clone();
            }
            // Not JSON at all (a cut-off answer, a proxy's error page) passes like an outage: retried, not given up.
            // Well-formed JSON of the wrong shape (below) is how this Jira answers, and is given up.
            catch (JsonException e) { throw new JiraApiException(operation, response.StatusCode, "Jira answered with something that is not JSON", inner: e); }
        }
    }

    /// <summary>A call whose answer must be a JSON object: an empty success, or an array, is as unusable as one that is not JSON.</summary>
    static JsonElement Required(string operation, JsonElement? root) => root switch
    {
        { ValueKind: JsonValueKind.Object } r => r,
        null => throw new JiraApiException(operation, null, "Jira answered with an empty body", malformed: true),
        _ => throw new JiraApiException(operation, null, "Jira answered with JSON that is not an object", malformed: true),
    };

    static JiraApiException Failure(string operation, HttpResponseMessage response, string body, JiraOptions o)
    {
        var status = response.StatusCode;
        var details = ErrorsOf(body);
        var code = (int)status;
        var credentials = FlavorOf(o) == JiraFlavor.Cloud ? "Jira:Email and Jira:ApiToken" : "Jira:PersonalAccessToken";
        var reason = code switch
        {
            401 => $"Jira rejected the bot's credentials (HTTP 401); an admin should check {credentials}",
            403 => "the bot's Jira account is not allowed to do this (HTTP 403)",
            404 => "it does not exist, or the bot's Jira account cannot see it (HTTP 404)",
            429 => "Jira is rate-limiting the bot (HTTP 429)",
            >= 500 => $"Jira is unavailable (HTTP {code})",
            _ => $"Jira refused the request (HTTP {code})",
        };
        if (details is not null) reason += ": " + details;
        TimeSpan? retryAfter = code is 429 or 503 ? RetryAfterOf(response) : null;
        return new JiraApiException(operation, status, reason, details, retryAfter);
    }

    /// <summary>Jira's ErrorCollection <c>{"errorMessages": [...], "errors": {"field": "message"}}</c> in one line; null when the body is not one.</summary>
    internal static string? ErrorsOf(string body)
    {
        if (string.IsNullOrWhiteSpace(body)) return null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            var parts = new List<string>();
            if (root.TryGetProperty("errorMessages", out var messages) && messages.ValueKind == JsonValueKind.Array)
                parts.AddRange(messages.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.String).Select(m => m.GetString()!).Where(m => m.Length > 0));
            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                parts.AddRange(errors.EnumerateObject().Select(e => $"{e.Name}: {(e.Value.ValueKind == JsonValueKind.String ? e.Value.GetString() : e.Value.GetRawText())}"));
            return parts.Count == 0 ? null : string.Join("; ", parts);
        }
        catch (JsonException) { return null; }
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
