using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;
using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Sandbox;

public sealed record MessageInput(string User, string Channel, string? ThreadTs, string Text);
public sealed record ActionInput(string User, string Channel, string? Ts, string? EphemeralId, string ActionId, string? Value);
public sealed record SubmitInput(string User, string ViewId, Dictionary<string, string?>? Values);
public sealed record CloseInput(string User, string ViewId);
public sealed record DismissInput(string User, string EphemeralId);
public sealed record FlipInput(bool Done);
public sealed record MergeInput(string User);

/// <summary>The page, its assets and its API; the stand-in Slack, Jira and GitHub. Mapped only in sandbox mode, served to loopback only.</summary>
public static class SandboxEndpoints
{
    public const string ResourcePrefix = "sandbox/";
    static readonly Dictionary<string, string> Assets = new()
    {
        ["sandbox.css"] = "text/css; charset=utf-8",
        ["sandbox.js"] = "text/javascript; charset=utf-8",
    };

    // Everything the page loads comes from this server; nothing from a CDN or anywhere else.
    const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void Map(WebApplication app)
    {
        app.Use(async (http, next) =>
        {
            if (http.Request.Path.StartsWithSegments("/sandbox") || http.Request.Path == "/")
            {
                if (!SandboxGuard.Allows(http))
                {
                    http.Response.StatusCode = StatusCodes.Status403Forbidden;
                    await http.Response.WriteAsync("The BreakGlassBot sandbox answers only on this machine (127.0.0.1).");
                    return;
                }
                http.Response.Headers["X-BreakGlassBot-Mode"] = "sandbox";
            }
            await next(http);
        });

        app.MapGet("/", () => Results.Redirect("/sandbox"));
        app.MapGet("/sandbox", (HttpContext http) => Resource(http, "sandbox.html", "text/html; charset=utf-8"));
        app.MapGet("/sandbox/assets/{name}", (string name, HttpContext http) =>
            Assets.TryGetValue(name, out var type) ? Resource(http, name, type) : Results.NotFound());

        var api = app.MapGroup("/sandbox/api");
        api.MapGet("/state", StateAsync);
        api.MapPost("/message", async (MessageInput input, SandboxDriver driver, HttpContext http) =>
            Answer(await driver.SendAsync(input.User, input.Channel, input.ThreadTs, input.Text ?? "", http.RequestAborted)));
        api.MapPost("/action", async (ActionInput input, SandboxDriver driver, HttpContext http) =>
            Answer(await driver.ClickAsync(input.User, input.Channel, input.Ts, input.EphemeralId, input.ActionId, input.Value, http.RequestAborted)));
        api.MapPost("/submit", async (SubmitInput input, SandboxDriver driver, HttpContext http) =>
            Answer(await driver.SubmitAsync(input.User, input.ViewId, input.Values ?? [], http.RequestAborted)));
        api.MapPost("/close", (CloseInput input, SandboxDriver driver) =>
        {
            driver.Close(input.User, input.ViewId);
            return Answer(DriverResult.Done);
        });
        api.MapPost("/dismiss", (DismissInput input, SandboxState state) =>
        {
            state.Change(v => { v.Ephemerals.RemoveAll(e => e.Id == input.EphemeralId && e.User == input.User); }, persist: false);
            return Answer(DriverResult.Done);
        });
        api.MapPost("/jira/{key}", (string key, FlipInput input, StandInJira jira) =>
            jira.SetDone(key, input.Done) ? Answer(DriverResult.Done) : Answer(new DriverResult("No such issue.")));
        api.MapPost("/github/{index:int}", (int index, FlipInput input, StandInGitHub github) =>
            github.SetApproved(index, input.Done) ? Answer(DriverResult.Done) : Answer(new DriverResult("No such pull request.")));

        api.MapPost("/github/{index:int}/merge", async (int index, MergeInput input, StandInGitHub github, SandboxDriver driver, HttpContext http) =>
        {
            var merged = github.Merge(index, input.User);
            if (merged.Problem is not null) return Answer(new DriverResult(merged.Problem));
            // GitHub sends both for a merge on the web: the pull request closed (merged), and the push of its merge commit.
            var closed = await driver.DeliverGitHubAsync("pull_request", merged.PullRequestClosed!, http.RequestAborted);
            var push = await driver.DeliverGitHubAsync("push", merged.Push!, http.RequestAborted);
            return Answer(closed.Problem is null ? push : closed);
        });
        api.MapPost("/github/open", (StandInGitHub github) =>
        {
            github.Open();
            return Answer(DriverResult.Done);
        });

        app.MapPost(StandInSlack.ApiPath + "/{method}", (string method, HttpContext http, StandInSlack slack) => slack.CallAsync(method, http));
        app.MapPost(StandInSlack.ResponsePath + "/{id}", (string id, HttpContext http, StandInSlack slack) => slack.RespondAsync(id, http));
        app.Services.GetRequiredService<StandInJira>().Map(app);
        app.Services.GetRequiredService<StandInGitHub>().Map(app);
    }

    static IResult Answer(DriverResult result) =>
        Results.Json(result.Problem is null ? new JsonObject { ["ok"] = true } : new JsonObject { ["ok"] = false, ["problem"] = result.Problem });

    static IResult Resource(HttpContext http, string name, string contentType)
    {
        using var stream = typeof(SandboxEndpoints).Assembly.GetManifestResourceStream(ResourcePrefix + name);
        if (stream is null) return Results.NotFound();
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        return Results.Text(text, contentType);
    }

    /// <summary>Long poll: answers at once when the state is newer than <c>since</c>, else when it changes (or after 20 s).</summary>
    static async Task<IResult> StateAsync(string? user, long? since, SandboxState state, SandboxContext context, IOptions<PolicyOptions> policy,
        IOptions<DetectionOptions> detection, HttpContext http)
    {
        try { await state.WaitForChangeAsync(since ?? 0, TimeSpan.FromSeconds(20), http.RequestAborted); }
        catch (OperationCanceledException) { return Results.Empty; }
        var me = SandboxPeople.Find(user)?.Id ?? SandboxPeople.Declarer;
        var p = policy.Value;
        var d = detection.Value;
        var snapshot = state.Read(v => Snapshot(v, me, context, p, d));
        http.Response.Headers.CacheControl = "no-store";
        return Results.Content(snapshot.ToJsonString(), "application/json");
    }

    static JsonObject Snapshot(SandboxState.SandboxStateView v, string me, SandboxContext context, PolicyOptions p, DetectionOptions d)
    {
        var dm = SandboxPeople.DirectChannel(me);
        var messages = new JsonObject
        {
            [SandboxPeople.Channel] = new JsonArray([.. v.Messages.Where(m => m.Channel == SandboxPeople.Channel).Select(m => (JsonNode)MessageJson(m))]),
            [dm] = new JsonArray([.. v.Messages.Where(m => m.Channel == dm).Select(m => (JsonNode)MessageJson(m))]),
        };
        return new JsonObject
        {
            ["version"] = v.Version,
            ["now"] = v.Now.ToString("O"),
            ["me"] = me,
            ["sandbox"] = new JsonObject
            {
                ["reason"] = context.Reason,
                ["fastClock"] = context.FastClock,
                ["reviewWindow"] = Describe(p.ReviewWindow),
                ["reminderInterval"] = Describe(p.ReminderInterval),
                ["escalateAfter"] = Describe(p.EscalateAfter),
                ["dataDirectory"] = context.DataDirectory,
                ["detection"] = new JsonObject
                {
                    ["enabled"] = d.Enabled, ["gracePeriod"] = Describe(d.GracePeriod), ["checkInterval"] = Describe(d.CheckInterval),
                    ["repository"] = SandboxPeople.GitHubRepository, ["branch"] = SandboxPeople.GitHubBranch,
                },
            },
            ["bot"] = new JsonObject { ["id"] = SandboxPeople.BotUser, ["name"] = SandboxPeople.BotName },
            ["people"] = new JsonArray([.. SandboxPeople.All.Select(x => (JsonNode)new JsonObject { ["id"] = x.Id, ["name"] = x.Name, ["role"] = x.Role })]),
            ["channel"] = new JsonObject { ["id"] = SandboxPeople.Channel, ["name"] = SandboxPeople.ChannelName },
            ["dm"] = dm,
            ["messages"] = messages,
            ["ephemerals"] = new JsonArray([.. v.Ephemerals.Where(e => e.User == me).Select(e => (JsonNode)new JsonObject
            {
                ["id"] = e.Id, ["channel"] = e.Channel, ["threadTs"] = e.ThreadTs, ["ts"] = e.Ts, ["text"] = e.Text, ["blocks"] = e.Blocks?.DeepClone(),
            })]),
            ["view"] = v.Views.TryGetValue(me, out var view) ? new JsonObject
            {
                ["id"] = view.Id, ["revision"] = view.Revision, ["view"] = view.View.DeepClone(), ["problem"] = view.Problem,
                ["errors"] = view.Errors is null ? null : new JsonObject([.. view.Errors.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))]),
            } : null,
            ["jira"] = JiraJson(v),
            ["pullRequests"] = PullRequestsJson(v),
            ["wire"] = new JsonArray([.. v.WireLog.Reverse().Take(40).Select(w => (JsonNode)new JsonObject
            {
                ["at"] = w.At.ToString("O"), ["direction"] = w.Direction, ["what"] = w.What, ["ok"] = w.Ok,
            })]),
        };
    }

    static JsonArray JiraJson(SandboxState.SandboxStateView v) => new([.. v.Jira.Select(i => (JsonNode)new JsonObject
    {
        ["key"] = i.Key, ["summary"] = i.Summary, ["status"] = i.StatusName, ["done"] = i.Done,
        ["labels"] = new JsonArray([.. i.Labels.Select(l => (JsonNode)JsonValue.Create(l))]),
        ["comments"] = new JsonArray([.. i.Comments.Select(c => (JsonNode)new JsonObject { ["author"] = c.Author, ["at"] = c.At.ToString("O"), ["text"] = c.Text })]),
    })]);

    static JsonArray PullRequestsJson(SandboxState.SandboxStateView v) => new([.. v.PullRequests.Select(pr => (JsonNode)new JsonObject
    {
        ["ref"] = pr.Ref, ["url"] = pr.Url, ["title"] = pr.Title, ["author"] = pr.Author, ["approved"] = pr.Approved,
        ["base"] = pr.BaseRef, ["merged"] = pr.Merged, ["mergedBy"] = pr.MergedBy, ["mergedAt"] = pr.MergedAt?.ToString("O"),
        ["reviewer"] = SandboxPeople.GitHubReviewer,
        ["labels"] = new JsonArray([.. pr.Labels.Select(l => (JsonNode)JsonValue.Create(l))]),
        ["reviews"] = new JsonArray([.. pr.Reviews.Select(r => (JsonNode)new JsonObject { ["user"] = r.Login, ["state"] = r.State, ["at"] = r.SubmittedAt.ToString("O") })]),
        ["comments"] = new JsonArray([.. pr.Comments.Select(c => (JsonNode)new JsonObject { ["author"] = c.Login, ["at"] = c.At.ToString("O"), ["text"] = c.Body })]),
    })]);

    static string Describe(TimeSpan span) =>
        span < TimeSpan.FromHours(1) && span.Seconds != 0 && span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m {span.Seconds}s" : ReviewPolicy.Format(span);

    static JsonObject MessageJson(SandboxMessage m) => new()
    {
        ["ts"] = m.Ts, ["threadTs"] = m.IsReply ? m.ThreadTs : null, ["user"] = m.FromBot ? SandboxPeople.BotUser : m.User, ["fromBot"] = m.FromBot,
        ["text"] = m.Text, ["blocks"] = m.Blocks?.DeepClone(), ["edited"] = m.Edited, ["broadcast"] = m.Broadcast,
    };
}

/// <summary>
/// Only this machine may use the sandbox: the caller must be on loopback, and the page and its API must be asked for by a
/// loopback host name (so a web page elsewhere cannot reach it through DNS rebinding).
/// </summary>
public static class SandboxGuard
{
    public static bool Allows(HttpContext http)
    {
        if (http.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote)) return false;
        var host = http.Request.Host.Host.Trim('[', ']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }
}
