using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Sandbox;

/// <summary>
/// The few Jira Cloud REST v3 endpoints the bot's <see cref="Jira.JiraClient"/> calls, over <see cref="SandboxState"/>'s issues
/// (SBX-1 to start with). The page moves an issue to Done or back, which is what the bot's review evidence reads.
/// </summary>
public sealed partial class StandInJira(SandboxState state, SandboxContext context)
{
    public const string BasePath = "/sandbox/jira";
    const string Api = BasePath + "/rest/api/3";
    const string DoneTransition = "31";
    const string ReopenTransition = "21";

    public void Map(IEndpointRouteBuilder app)
    {
        MapIssueAndComments(app);
        MapLabelsAndTransitions(app);
        MapCreateAndSearch(app);
        // Links in the bot's messages point here: show the issue on the page instead.
        app.MapGet(BasePath + "/browse/{key}", (string key) => Results.Redirect("/sandbox#jira:" + Uri.EscapeDataString(key)));
    }

    void MapIssueAndComments(IEndpointRouteBuilder app)
    {
        app.MapGet(Api + "/issue/{key}", (string key, HttpContext http) => Guarded(http, $"GET issue {key}", () =>
            state.Read(v => Find(v, key) is { } i ? Results.Json(IssueJson(i)) : NotFound(key))));
        app.MapGet(Api + "/issue/{key}/comment", (string key, int? startAt, int? maxResults, HttpContext http) => Guarded(http, $"GET comments of {key}", () =>
            state.Read(v =>
            {
                if (Find(v, key) is not { } i) return NotFound(key);
                var from = Math.Max(0, startAt ?? 0);
                var page = i.Comments.Skip(from).Take(Math.Clamp(maxResults ?? 50, 1, 100)).Select(c => (JsonNode)CommentJson(c)).ToList();
                return Results.Json(new JsonObject { ["startAt"] = from, ["maxResults"] = maxResults ?? 50, ["total"] = i.Comments.Count, ["comments"] = new JsonArray([.. page]) });
            })));
        app.MapPost(Api + "/issue/{key}/comment", async (string key, HttpContext http) =>
        {
            var body = await ReadJsonAsync(http);
            return Guarded(http, $"POST comment on {key}", () => state.Change(v =>
            {
                if (Find(v, key) is not { } i) return NotFound(key);
                if (body?["body"] is not JsonObject doc || doc["type"]?.ToString() != "doc")
                    return Results.Json(new JsonObject { ["errorMessages"] = new JsonArray(), ["errors"] = new JsonObject { ["comment"] = "Comment body is not valid!" } }, statusCode: 400);
                var comment = new SandboxJiraComment { Id = (10000 + i.Comments.Count + 1).ToString(), Body = doc.DeepClone(), Text = TextOf(doc), Author = "BreakGlassBot", At = v.Now };
                i.Comments.Add(comment);
                return Results.Json(CommentJson(comment), statusCode: 201);
            }));
        });
    }

    void MapLabelsAndTransitions(IEndpointRouteBuilder app)
    {
        app.MapPut(Api + "/issue/{key}", async (string key, HttpContext http) =>
        {
            var body = await ReadJsonAsync(http);
            return Guarded(http, $"PUT issue {key} (labels)", () => state.Change(v =>
            {
                if (Find(v, key) is not { } i) return NotFound(key);
                foreach (var op in (body?["update"]?["labels"] as JsonArray ?? []).OfType<JsonObject>())
                    if (op["add"]?.ToString() is { Length: > 0 } label && !i.Labels.Contains(label)) i.Labels.Add(label);
                return Results.NoContent();
            }));
        });
        app.MapGet(Api + "/issue/{key}/transitions", (string key, HttpContext http) => Guarded(http, $"GET transitions of {key}", () =>
            state.Read(v => Find(v, key) is { } i ? Results.Json(new JsonObject { ["transitions"] = new JsonArray([.. Transitions(i)]) }) : NotFound(key))));
        app.MapPost(Api + "/issue/{key}/transitions", async (string key, HttpContext http) =>
        {
            var body = await ReadJsonAsync(http);
            var id = body?["transition"]?["id"]?.ToString();
            return Guarded(http, $"POST transition {id} on {key}", () => state.Change(v =>
            {
                if (Find(v, key) is not { } i) return NotFound(key);
                if (id != DoneTransition && id != ReopenTransition)
                    return Results.Json(new JsonObject { ["errorMessages"] = new JsonArray("Transition id '" + id + "' is not valid for this issue."), ["errors"] = new JsonObject() }, statusCode: 400);
                i.Done = id == DoneTransition;
                return Results.NoContent();
            }));
        });
    }

    void MapCreateAndSearch(IEndpointRouteBuilder app)
    {
        app.MapPost(Api + "/issue", async (HttpContext http) =>
        {
            var fields = (await ReadJsonAsync(http))?["fields"];
            return Guarded(http, "POST issue (create)", () => state.Change(v =>
            {
                var project = fields?["project"]?["key"]?.ToString();
                if (project != "SBX")
                    return Results.Json(new JsonObject { ["errorMessages"] = new JsonArray(), ["errors"] = new JsonObject { ["project"] = "valid project is required" } }, statusCode: 400);
                var n = v.Jira.Count + 1;
                var issue = new SandboxJiraIssue { Id = (10000 + n).ToString(), Key = $"SBX-{n}", Summary = fields?["summary"]?.ToString() ?? "",
                    Labels = [.. (fields?["labels"] as JsonArray ?? []).Select(l => l?.ToString() ?? "").Where(l => l.Length > 0)] };
                v.Jira.Add(issue);
                return Results.Json(new JsonObject { ["id"] = issue.Id, ["key"] = issue.Key, ["self"] = $"{context.BaseUrl}{Api}/issue/{issue.Id}" }, statusCode: 201);
            }));
        });
        app.MapGet(Api + "/search/jql", (string? jql, HttpContext http) => Guarded(http, "GET search", () =>
        {
            // Only what the bot asks: summary ~ "\"BG-n\"" among the break-glass issues.
            var term = jql is null ? null : QuotedTerm().Match(jql) is { Success: true } m ? m.Groups[1].Value : null;
            return state.Read(v => Results.Json(new JsonObject
            {
                ["issues"] = new JsonArray([.. v.Jira.Where(i => term is null || i.Summary.Contains(term, StringComparison.OrdinalIgnoreCase)).Select(i => (JsonNode)IssueJson(i))]),
            }));
        }));
    }

    /// <summary>The page's "Move to Done" / "Reopen": what a reviewer would do in Jira.</summary>
    public bool SetDone(string key, bool done) => state.Change(v =>
    {
        if (Find(v, key) is not { } i) return false;
        i.Done = done;
        v.AddWire("page", $"Jira {i.Key} moved to {i.StatusName} on the page", true);
        return true;
    });

    IResult Guarded(HttpContext http, string what, Func<IResult> answer)
    {
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{context.JiraEmail}:{context.JiraToken}"));
        var result = ApiKeys.Matches([expected], http.Request.Headers.Authorization.ToString())
            ? answer()
            : Results.Json(new JsonObject { ["errorMessages"] = new JsonArray("You are not authenticated. Authentication required to perform this operation."), ["errors"] = new JsonObject() }, statusCode: 401);
        var status = (result as IStatusCodeHttpResult)?.StatusCode ?? 200;
        state.Wire("from-bot", $"Jira {what} → {status}", status < 400);
        return result;
    }

    static SandboxJiraIssue? Find(SandboxState.SandboxStateView v, string key) =>
        v.Jira.FirstOrDefault(i => string.Equals(i.Key, key, StringComparison.OrdinalIgnoreCase) || i.Id == key);

    static IResult NotFound(string key) => Results.Json(new JsonObject
    {
        ["errorMessages"] = new JsonArray("Issue does not exist or you do not have permission to see it."), ["errors"] = new JsonObject(),
    }, statusCode: 404);

    static JsonObject IssueJson(SandboxJiraIssue i) => new()
    {
        ["id"] = i.Id,
        ["key"] = i.Key,
        ["fields"] = new JsonObject
        {
            ["summary"] = i.Summary,
            ["status"] = new JsonObject
            {
                ["name"] = i.StatusName, ["id"] = i.Done ? "10002" : "10001",
                ["statusCategory"] = new JsonObject { ["key"] = i.CategoryKey, ["name"] = i.CategoryName, ["id"] = i.Done ? 3 : 4 },
            },
            ["labels"] = new JsonArray([.. i.Labels.Select(l => (JsonNode)JsonValue.Create(l))]),
        },
    };

    static JsonObject CommentJson(SandboxJiraComment c) => new()
    {
        ["id"] = c.Id,
        ["author"] = new JsonObject { ["displayName"] = c.Author },
        ["body"] = c.Body?.DeepClone(),
        ["created"] = c.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture) + "+0000",
    };

    static IEnumerable<JsonNode> Transitions(SandboxJiraIssue i) => i.Done
        ? [new JsonObject { ["id"] = ReopenTransition, ["name"] = "Back to review", ["to"] = new JsonObject { ["name"] = "In Review" } }]
        : [new JsonObject { ["id"] = DoneTransition, ["name"] = "Done", ["to"] = new JsonObject { ["name"] = "Done" } }];

    static string TextOf(JsonNode doc) => Jira.JiraDocument.TextOf(System.Text.Json.JsonSerializer.SerializeToElement(doc)).Trim();

    static async Task<JsonNode?> ReadJsonAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted);
        try { return JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    [GeneratedRegex("summary\\s*~\\s*\"\\\\\"([^\"\\\\]+)\\\\\"\"")]
    private static partial Regex QuotedTerm();
}
