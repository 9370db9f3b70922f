using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.Jira;

/// <summary>
/// Jira's REST API on loopback, Cloud (/rest/api/3, basic auth, ADF bodies) and Data Center (/rest/api/2, Bearer PAT,
/// string bodies) at once, answering with the fixture bodies in tests/BreakGlassBot.Tests/Fixtures/jira. It keeps issues,
/// comments, labels, transitions and created issues, so the bot's repeated steps meet the state their first attempt left.
/// </summary>
public sealed partial class FakeJira : FakeServer
{
    public const string Email = "bot@example.com";
    public const string ApiToken = "ATATT-jira-api-token-secret";
    public const string Pat = "jira-dc-personal-access-token-secret";
    public static string BasicAuth => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Email}:{ApiToken}"));

    // Route keys for Fail(key, ...) and CallsTo(key).
    public const string GetIssue = "issue.get";
    public const string EditIssue = "issue.edit";
    public const string CreateIssue = "issue.create";
    public const string ListComments = "comment.list";
    public const string AddComment = "comment.add";
    public const string ListTransitions = "transition.list";
    public const string DoTransition = "transition.do";
    public const string Search = "search";

    public sealed record Transition(string Id, string Name, string ToStatus, string ToCategoryKey, string ToCategoryName);

    public sealed class Issue
    {
        public required string Id { get; init; }
        public required string Key { get; set; }
        public string Project => Key[..Key.IndexOf('-')];
        public string Summary { get; set; } = "";
        public string IssueType { get; set; } = "Task";
        public JsonNode? Description { get; set; }
        public string StatusName { get; set; } = "In Progress";
        public string CategoryKey { get; set; } = "indeterminate";
        public string CategoryName { get; set; } = "In Progress";
        public List<string> Labels { get; } = [];
        /// <summary>The body as posted: an ADF object (v3) or a string (v2).</summary>
        public List<(string Id, JsonNode Body)> Comments { get; } = [];
        public List<Transition> Transitions { get; } = [];
        /// <summary>When POST /issue created it (seeded issues: never, so search always shows them).</summary>
        public DateTime CreatedAt { get; set; } = DateTime.MinValue;
    }

    readonly ConcurrentDictionary<string, Issue> issues = new();
    readonly ConcurrentDictionary<string, string> moved = new();
    readonly Lock gate = new();
    int nextId = 10100, nextComment = 20000;

    /// <summary>Issues per project key created through POST /issue start at this number.</summary>
    public int NextCreatedNumber { get; set; } = 100;
    /// <summary>Jira returns at most this many comments per page (the client must follow startAt).</summary>
    public int CommentPageSize { get; set; } = 50;
    public IEnumerable<Issue> Issues => issues.Values;
    public IReadOnlyCollection<string> Projects { get; set; } = ["OPS"];
    /// <summary>
    /// How long search takes to show an issue created through POST /issue: Jira Cloud's search is eventually consistent
    /// ("recent updates might not be immediately visible", its description of /search/jql says). Zero: at once.
    /// </summary>
    public TimeSpan SearchLag { get; set; }
    /// <summary>Projects whose create screen has no Labels field: Jira refuses fields.labels on a create there.</summary>
    public HashSet<string> ProjectsWithoutLabelsOnCreate { get; } = [];
    /// <summary>Projects with no Labels field on any screen: Jira refuses labels on a create and on an edit.</summary>
    public HashSet<string> ProjectsWithoutLabels { get; } = [];

    public Issue Add(string key, string summary = "Payments outage", string status = "In Progress", string categoryKey = "indeterminate",
        string categoryName = "In Progress", params Transition[] transitions)
    {
        var issue = new Issue { Id = Interlocked.Increment(ref nextId).ToString(), Key = key, Summary = summary, StatusName = status, CategoryKey = categoryKey, CategoryName = categoryName };
        issue.Transitions.AddRange(transitions);
        issues[key] = issue;
        return issue;
    }

    /// <summary>The issue now lives under <paramref name="newKey"/>; the old key still answers, with the new key.</summary>
    public void Move(string oldKey, string newKey)
    {
        var issue = issues[oldKey];
        issues.TryRemove(oldKey, out _);
        issue.Key = newKey;
        issues[newKey] = issue;
        moved[oldKey] = newKey;
    }

    public Issue this[string key] => issues[key];

    Issue? Find(string key) => issues.TryGetValue(moved.TryGetValue(key, out var now) ? now : key, out var issue) ? issue : null;

    /// <summary>The plain text of a stored comment body, whichever format it was posted in.</summary>
    public static string TextOf(JsonNode body) => body is JsonValue v ? v.ToString() : string.Join("\n",
        body["content"]!.AsArray().Select(p => string.Concat(p!["content"]?.AsArray().Select(t => t!["text"]?.GetValue<string>()) ?? [])));

    protected override string KeyOf(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        var method = http.Request.Method;
        if (path.EndsWith("/search/jql") || path.EndsWith("/search")) return Search;
        if (path.EndsWith("/comment")) return method == "GET" ? ListComments : AddComment;
        if (path.EndsWith("/transitions")) return method == "GET" ? ListTransitions : DoTransition;
        if (path.EndsWith("/issue")) return CreateIssue;
        return method switch { "GET" => GetIssue, "PUT" => EditIssue, _ => method + " " + path };
    }

    /// <summary>What was wrong with the Cloud requests by Jira's OpenAPI description; <see cref="BotTest"/> fails a test that leaves any.</summary>
    public ConcurrentQueue<string> SchemaViolations { get; } = new();

    protected override void Map(WebApplication app)
    {
        // Cloud requests are checked against Jira Cloud's own description first, and refused as Jira refuses a malformed one.
        // Data Center's /rest/api/2 has no published OpenAPI description to check against (Fixtures/openapi/SOURCES.md).
        app.Use(async (http, next) =>
        {
            // A Data Center base URL may carry a context path (https://host/jira): the API path starts at /rest/api/.
            var path = http.Request.Path.Value ?? "";
            var api = path.IndexOf("/rest/api/", StringComparison.Ordinal) is var at and >= 0 ? path[at..] : path;
            var problems = api.StartsWith("/rest/api/2/", StringComparison.Ordinal) ? [] : await OpenApiCheck.Jira.CheckAsync(http.Request, api);
            if (problems.Count == 0) { await next(http); return; }
            foreach (var problem in problems) SchemaViolations.Enqueue(problem);
            http.Response.StatusCode = 400;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(new JsonObject { ["errorMessages"] = new JsonArray([.. problems.Select(p => (JsonNode)JsonValue.Create(p))]), ["errors"] = new JsonObject() }.ToJsonString());
        });

        // Authentication first, the way Jira does it: Cloud (v3) takes e-mail + API token, Data Center (v2) a PAT.
        app.Use(async (http, next) =>
        {
            var path = http.Request.Path.Value ?? "";
            var auth = http.Request.Headers.Authorization.ToString();
            var ok = path.StartsWith("/rest/api/3/") ? auth == BasicAuth : path.StartsWith("/rest/api/2/") && auth == "Bearer " + Pat;
            if (!ok)
            {
                http.Response.StatusCode = 401;
                http.Response.ContentType = "text/plain";
                await http.Response.WriteAsync("Client must be authenticated to access this resource.");
                return;
            }
            await next(http);
        });

        app.MapGet("/rest/api/{v:int}/issue/{key}", (int v, string key) =>
            Find(key) is { } issue ? Json(IssueBody(issue, v, full: true)) : NotFound());

        app.MapPut("/rest/api/{v:int}/issue/{key}", async (string key, HttpRequest request) =>
        {
            if (Find(key) is not { } issue) return NotFound();
            var body = await ReadAsync(request);
            if (ProjectsWithoutLabels.Contains(issue.Project) && body?["update"]?["labels"] is not null)
                return FieldError("labels", "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown.");
            lock (gate)
                foreach (var op in body?["update"]?["labels"]?.AsArray() ?? [])
                    if (op?["add"]?.GetValue<string>() is { } label && !issue.Labels.Contains(label)) issue.Labels.Add(label);
            return Results.NoContent();
        });

        app.MapGet("/rest/api/{v:int}/issue/{key}/comment", (int v, string key, int? startAt, int? maxResults) =>
        {
            if (Find(key) is not { } issue) return NotFound();
            List<(string Id, JsonNode Body)> all;
            lock (gate) all = [.. issue.Comments];
            var from = startAt ?? 0;
            var page = all.Skip(from).Take(Math.Min(maxResults ?? 50, CommentPageSize));
            return Json(new JsonObject
            {
                ["startAt"] = from, ["maxResults"] = CommentPageSize, ["total"] = all.Count,
                ["comments"] = new JsonArray([.. page.Select(c => (JsonNode)CommentBody(issue, c.Id, c.Body, v))]),
            });
        });

        app.MapPost("/rest/api/{v:int}/issue/{key}/comment", async (int v, string key, HttpRequest request) =>
        {
            if (Find(key) is not { } issue) return NotFound();
            var body = (await ReadAsync(request))?["body"];
            if (!ValidBody(body, v)) return BadRequest(v == 3 ? "Operation value must be an Atlassian Document (see the Atlassian Document Format)" : "Operation value must be a string");
            string id;
            lock (gate)
            {
                id = (++nextComment).ToString();
                issue.Comments.Add((id, body!.DeepClone()));
            }
            return Results.Content(CommentBody(issue, id, body!, v).ToJsonString(), "application/json", statusCode: 201);
        });

        app.MapGet("/rest/api/{v:int}/issue/{key}/transitions", (int v, string key) =>
        {
            if (Find(key) is not { } issue) return NotFound();
            var template = Fixtures.Object("jira/jira_transitions.json")["transitions"]![0]!;
            return Json(new JsonObject
            {
                // Workflows offer transitions out of the current status: none leads back into it.
                ["transitions"] = new JsonArray([.. issue.Transitions.Where(t => t.ToStatus != issue.StatusName).Select(t =>
                {
                    var node = template.DeepClone().AsObject();
                    node["id"] = t.Id;
                    node["name"] = t.Name;
                    node["to"]!["name"] = t.ToStatus;
                    // The spec example's category keys ("in-flight") are placeholders; real ones are new/indeterminate/done.
                    node["to"]!["statusCategory"]!["key"] = t.ToCategoryKey;
                    node["to"]!["statusCategory"]!["name"] = t.ToCategoryName;
                    return (JsonNode)node;
                })]),
            });
        });

        app.MapPost("/rest/api/{v:int}/issue/{key}/transitions", async (string key, HttpRequest request) =>
        {
            if (Find(key) is not { } issue) return NotFound();
            var id = (await ReadAsync(request))?["transition"]?["id"]?.GetValue<string>();
            var t = issue.Transitions.FirstOrDefault(x => x.Id == id);
            if (t is null) return Results.Content(new JsonObject { ["errorMessages"] = new JsonArray($"Transition id '{id}' is not valid for this issue."), ["errors"] = new JsonObject() }.ToJsonString(), "application/json", statusCode: 400);
            lock (gate)
            {
                issue.StatusName = t.ToStatus;
                issue.CategoryKey = t.ToCategoryKey;
                issue.CategoryName = t.ToCategoryName;
            }
            return Results.NoContent();
        });

        app.MapPost("/rest/api/{v:int}/issue", async (int v, HttpRequest request) =>
        {
            var fields = (await ReadAsync(request))?["fields"];
            var project = fields?["project"]?["key"]?.GetValue<string>();
            if (project is null || !Projects.Contains(project))
                return Results.Content(new JsonObject { ["errorMessages"] = new JsonArray(), ["errors"] = new JsonObject { ["project"] = "valid project is required" } }.ToJsonString(), "application/json", statusCode: 400);
            if (!ValidBody(fields!["description"], v)) return BadRequest("Operation value must be an Atlassian Document");
            // As Jira Cloud: a summary is one line of at most 255 characters, and whole characters.
            var summary = fields["summary"]?.GetValue<string>() ?? "";
            if (summary.IndexOfAny(['\r', '\n']) >= 0) return FieldError("summary", "The summary is invalid because it contains newline characters.");
            if (summary.Length > 255) return FieldError("summary", "Summary must be less than 255 characters.");
            if (HasLoneSurrogate(summary)) return FieldError("summary", "The summary is not valid text.");
            if ((ProjectsWithoutLabelsOnCreate.Contains(project) || ProjectsWithoutLabels.Contains(project)) && fields["labels"] is not null)
                return FieldError("labels", "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown.");
            Issue issue;
            lock (gate)
            {
                issue = Add($"{project}-{NextCreatedNumber++}", fields["summary"]?.GetValue<string>() ?? "", "To Do", "new", "To Do");
                issue.CreatedAt = DateTime.UtcNow;
                issue.IssueType = fields["issuetype"]?["name"]?.GetValue<string>() ?? "";
                issue.Description = fields["description"]?.DeepClone();
                issue.Labels.AddRange(fields["labels"]?.AsArray().Select(l => l!.GetValue<string>()) ?? []);
            }
            var reply = Fixtures.Object("jira/jira_issue_create_response.json");
            reply["id"] = issue.Id;
            reply["key"] = issue.Key;
            reply["self"] = $"{Url}/rest/api/{v}/issue/{issue.Id}";
            return Results.Content(reply.ToJsonString(), "application/json", statusCode: 201);
        });

        // Cloud's /search/jql answers {issues, nextPageToken?}; Data Center's /search answers {startAt, maxResults, total, issues}.
        app.MapGet("/rest/api/3/search/jql", (string jql) => Json(new JsonObject { ["issues"] = SearchResults(jql, 3), ["isLast"] = true }));
        app.MapGet("/rest/api/2/search", (string jql) =>
        {
            var found = SearchResults(jql, 2);
            return Json(new JsonObject { ["startAt"] = 0, ["maxResults"] = 50, ["total"] = found.Count, ["issues"] = found });
        });
    }

    /// <summary>Understands the query shapes the bot sends: project = "P" AND summary ~ "\"phrase\"" (and labels = "x").</summary>
    JsonArray SearchResults(string jql, int v)
    {
        var phrase = PhrasePattern().Match(jql) is { Success: true } m ? m.Groups[1].Value : "";
        var label = LabelPattern().Match(jql) is { Success: true } l ? l.Groups[1].Value : null;
        var project = ProjectPattern().Match(jql) is { Success: true } p ? p.Groups[1].Value : null;
        // Jira's text search matches words, not prefixes: "BG-1" finds "[BG-1] ..." but also "BG 1 ..." - close enough here.
        var indexed = DateTime.UtcNow - SearchLag;
        return new JsonArray([.. issues.Values.Where(i => i.CreatedAt <= indexed && i.Summary.Contains(phrase, StringComparison.OrdinalIgnoreCase)
                && (label is null || i.Labels.Contains(label)) && (project is null || i.Project == project))
            .Select(i => (JsonNode)IssueBody(i, v, full: false))]);
    }

    [GeneratedRegex("summary ~ \"\\\\\"(.+?)\\\\\"\"")]
    private static partial Regex PhrasePattern();
    [GeneratedRegex("labels = \"([^\"]+)\"")]
    private static partial Regex LabelPattern();
    [GeneratedRegex("project = \"([^\"]+)\"")]
    private static partial Regex ProjectPattern();

    JsonObject IssueBody(Issue issue, int v, bool full)
    {
        // The spec's GET-issue example has no summary/status/labels; the fake adds them where Jira puts them.
        var body = full ? Fixtures.Object("jira/jira_issue_get.json") : new JsonObject { ["fields"] = new JsonObject() };
        body["id"] = issue.Id;
        body["key"] = issue.Key;
        body["self"] = $"{Url}/rest/api/{v}/issue/{issue.Id}";
        var fields = body["fields"]!.AsObject();
        lock (gate)
        {
            fields["summary"] = issue.Summary;
            fields["labels"] = new JsonArray([.. issue.Labels.Select(l => (JsonNode)JsonValue.Create(l))]);
            fields["status"] = new JsonObject
            {
                ["self"] = $"{Url}/rest/api/{v}/status/1", ["name"] = issue.StatusName, ["id"] = "1",
                ["statusCategory"] = new JsonObject { ["self"] = $"{Url}/rest/api/{v}/statuscategory/3", ["id"] = 3, ["key"] = issue.CategoryKey, ["name"] = issue.CategoryName },
            };
        }
        return body;
    }

    JsonObject CommentBody(Issue issue, string id, JsonNode body, int v)
    {
        var reply = Fixtures.Object("jira/jira_comment_add_response.json");
        reply["id"] = id;
        reply["body"] = body.DeepClone();
        reply["self"] = $"{Url}/rest/api/{v}/issue/{issue.Id}/comment/{id}";
        reply.Remove("visibility"); // the bot's comments are public
        return reply;
    }

    static bool ValidBody(JsonNode? body, int v) =>
        v == 3 ? body is JsonObject o && o["type"]?.GetValue<string>() == "doc" && o["version"]?.GetValue<int>() == 1 && o["content"] is JsonArray
               : body is JsonValue s && s.TryGetValue<string>(out _);

    static async Task<JsonNode?> ReadAsync(HttpRequest request)
    {
        var text = await new StreamReader(request.Body).ReadToEndAsync();
        return string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text);
    }

    static IResult Json(JsonNode node) => Results.Content(node.ToJsonString(), "application/json");

    /// <summary>Jira's usual 404 body (not in the fixtures: Atlassian publishes no example for it).</summary>
    public const string NotFoundBody = """{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}""";
    static IResult NotFound() => Results.Content(NotFoundBody, "application/json", statusCode: 404);

    static IResult FieldError(string field, string message) =>
        Results.Content(new JsonObject { ["errorMessages"] = new JsonArray(), ["errors"] = new JsonObject { [field] = message } }.ToJsonString(), "application/json", statusCode: 400);

    static bool HasLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) return true;
        }
        return false;
    }

    static IResult BadRequest(string message) =>
        Results.Content(new JsonObject { ["errorMessages"] = new JsonArray(), ["errors"] = new JsonObject { ["comment"] = message } }.ToJsonString(), "application/json", statusCode: 400);

    public static Fault Status(int code, string? body = null, int? retryAfterSeconds = null) => new Fault.Status(code, body,
        retryAfterSeconds is { } s ? new Dictionary<string, string> { ["Retry-After"] = s.ToString() } : null);
}
