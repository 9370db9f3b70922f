using System.Globalization;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Sandbox;

/// <summary>
/// The GitHub REST paths the bot's <see cref="GitHub.GitHubGateway"/> calls for a linked pull request, over
/// <see cref="SandboxState"/>'s pull requests. No teams or merging: sandbox mode keeps GitHub:BypassMode at RecordOnly.
/// </summary>
public sealed class StandInGitHub(SandboxState state, SandboxContext context)
{
    public const string BasePath = "/sandbox/github/api";
    const string Repo = BasePath + "/repos/{owner}/{repo}";
    const string Docs = "https://docs.github.com/rest";

    string ApiUrl => context.BaseUrl + BasePath;

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapGet(Repo + "/pulls/{number:int}", (string owner, string repo, int number, HttpContext http) =>
            Guarded(http, $"GET pull {owner}/{repo}#{number}", () => state.Read(v =>
                Find(v, owner, repo, number) is { } pr ? Results.Json(PullJson(pr)) : NotFound())));

        app.MapPost(Repo + "/issues/{number:int}/labels", async (string owner, string repo, int number, HttpContext http) =>
        {
            var body = await ReadJsonAsync(http);
            // Octokit sends a bare array; GitHub also takes {"labels": [...]}.
            var names = (body as JsonArray ?? body?["labels"] as JsonArray ?? []).Select(n => n?.ToString() ?? "").Where(n => n.Length > 0).ToList();
            return Guarded(http, $"POST labels {string.Join(", ", names)} on {owner}/{repo}#{number}", () => state.Change(v =>
            {
                if (Find(v, owner, repo, number) is not { } pr) return NotFound();
                if (names.Count == 0) return Invalid("labels", "missing_field");
                foreach (var name in names)
                    if (!pr.Labels.Contains(name, StringComparer.OrdinalIgnoreCase)) pr.Labels.Add(name);
                return Results.Json(new JsonArray([.. pr.Labels.Select(l => (JsonNode)LabelJson(pr, l))]));
            }));
        });

        app.MapGet(Repo + "/issues/{number:int}/comments", (string owner, string repo, int number, int? page, int? per_page, HttpContext http) =>
            Guarded(http, $"GET comments of {owner}/{repo}#{number}", () => state.Read(v =>
                Find(v, owner, repo, number) is { } pr
                    ? Paged(http, pr.Comments, page, per_page, c => CommentJson(pr, c))
                    : NotFound())));

        app.MapPost(Repo + "/issues/{number:int}/comments", async (string owner, string repo, int number, HttpContext http) =>
        {
            var text = (await ReadJsonAsync(http))?["body"]?.ToString();
            return Guarded(http, $"POST comment on {owner}/{repo}#{number}", () => state.Change(v =>
            {
                if (Find(v, owner, repo, number) is not { } pr) return NotFound();
                if (string.IsNullOrWhiteSpace(text)) return Invalid("body", "missing_field");
                var comment = new SandboxGitHubComment
                {
                    Id = pr.Id * 1000 + pr.NextId++, Body = text, Login = SandboxPeople.GitHubBot, UserId = SandboxPeople.GitHubBotId, At = v.Now,
                };
                pr.Comments.Add(comment);
                var json = CommentJson(pr, comment);
                return Results.Json(json, statusCode: 201);
            }));
        });

        app.MapGet(Repo + "/pulls/{number:int}/reviews", (string owner, string repo, int number, int? page, int? per_page, HttpContext http) =>
            Guarded(http, $"GET reviews of {owner}/{repo}#{number}", () => state.Read(v =>
                Find(v, owner, repo, number) is { } pr
                    ? Paged(http, pr.Reviews, page, per_page, r => ReviewJson(pr, r))
                    : NotFound())));
    }

    /// <summary>The page's "Approve PR" (an APPROVED review by a non-author) or "Dismiss approval" (kept, as DISMISSED, like GitHub).</summary>
    public bool SetApproved(int index, bool approved) => state.Change(v =>
    {
        if (index < 0 || index >= v.PullRequests.Count) return false;
        var pr = v.PullRequests[index];
        if (approved && !pr.Approved)
            pr.Reviews.Add(new SandboxGitHubReview
            {
                Id = pr.Id * 1000 + pr.NextId++, Login = SandboxPeople.GitHubReviewer, UserId = SandboxPeople.GitHubReviewerId, State = "APPROVED",
                Body = "Approved on the sandbox page.", SubmittedAt = v.Now, CommitId = pr.HeadSha,
            });
        if (!approved)
            foreach (var r in pr.Reviews.Where(r => r.State == "APPROVED")) r.State = "DISMISSED";
        v.AddWire("page", approved
            ? $"GitHub {pr.Ref} approved by {SandboxPeople.GitHubReviewer} on the page (the bot sees it at its next check)"
            : $"GitHub {pr.Ref} approval dismissed on the page", true);
        return true;
    });

    IResult Guarded(HttpContext http, string what, Func<IResult> answer)
    {
        // Octokit sends "Token <token>" for a personal access token and "Bearer <jwt>" for an app; GitHub takes either scheme.
        var header = http.Request.Headers.Authorization.ToString();
        var space = header.IndexOf(' ');
        var scheme = space < 0 ? "" : header[..space];
        var presented = space < 0 ? "" : header[(space + 1)..].Trim();
        var known = (scheme.Equals("token", StringComparison.OrdinalIgnoreCase) || scheme.Equals("bearer", StringComparison.OrdinalIgnoreCase))
            && ApiKeys.Matches([context.GitHubToken], presented);
        var result = known
            ? answer()
            : Results.Json(new JsonObject { ["message"] = "Bad credentials", ["documentation_url"] = Docs, ["status"] = "401" }, statusCode: 401);
        var status = (result as IStatusCodeHttpResult)?.StatusCode ?? 200;
        state.Wire("from-bot", $"GitHub {what} → {status}", status < 400);
        return result;
    }

    static SandboxPullRequest? Find(SandboxState.SandboxStateView v, string owner, string repo, int number) =>
        v.PullRequests.FirstOrDefault(p => p.Number == number
            && string.Equals(p.Owner, owner, StringComparison.OrdinalIgnoreCase) && string.Equals(p.Repo, repo, StringComparison.OrdinalIgnoreCase));

    static IResult NotFound() =>
        Results.Json(new JsonObject { ["message"] = "Not Found", ["documentation_url"] = Docs, ["status"] = "404" }, statusCode: 404);

    static IResult Invalid(string field, string code) => Results.Json(new JsonObject
    {
        ["message"] = "Validation Failed",
        ["errors"] = new JsonArray(new JsonObject { ["resource"] = "Issue", ["code"] = code, ["field"] = field }),
        ["documentation_url"] = Docs,
        ["status"] = "422",
    }, statusCode: 422);

    /// <summary>GitHub's paging: page and per_page (at most 100), and a Link header with rel="next" and rel="last" while more remain.</summary>
    IResult Paged<T>(HttpContext http, List<T> all, int? page, int? perPage, Func<T, JsonObject> json)
    {
        var size = Math.Clamp(perPage ?? 30, 1, 100);
        var current = Math.Max(1, page ?? 1);
        var last = Math.Max(1, (all.Count + size - 1) / size);
        if (current < last)
        {
            var path = ApiUrl + http.Request.Path.Value![BasePath.Length..];
            string Link(int p, string rel) => $"<{path}?per_page={size}&page={p}>; rel=\"{rel}\"";
            http.Response.Headers["Link"] = Link(current + 1, "next") + ", " + Link(last, "last");
        }
        return Results.Json(new JsonArray([.. all.Skip((current - 1) * size).Take(size).Select(x => (JsonNode)json(x))]));
    }

    JsonObject UserJson(string login, long id) => new()
    {
        ["login"] = login,
        ["id"] = id,
        ["node_id"] = "U_sandbox" + id.ToString(CultureInfo.InvariantCulture),
        ["avatar_url"] = "",
        ["gravatar_id"] = "",
        ["url"] = $"{ApiUrl}/users/{login}",
        ["html_url"] = $"https://github.com/{login}",
        ["type"] = "User",
        ["site_admin"] = false,
    };

    JsonObject BranchJson(SandboxPullRequest pr, string branch, string sha) => new()
    {
        ["label"] = $"{pr.Owner}:{branch}",
        ["ref"] = branch,
        ["sha"] = sha,
        ["user"] = UserJson(pr.Owner, 7_000_001),
        ["repo"] = null,
    };

    JsonObject PullJson(SandboxPullRequest pr)
    {
        var api = $"{ApiUrl}/repos/{pr.Owner}/{pr.Repo}";
        return new JsonObject
        {
            ["url"] = $"{api}/pulls/{pr.Number}",
            ["id"] = pr.Id,
            ["node_id"] = "PR_sandbox" + pr.Id.ToString(CultureInfo.InvariantCulture),
            ["html_url"] = pr.Url,
            ["diff_url"] = pr.Url + ".diff",
            ["patch_url"] = pr.Url + ".patch",
            ["issue_url"] = $"{api}/issues/{pr.Number}",
            ["commits_url"] = $"{api}/pulls/{pr.Number}/commits",
            ["review_comments_url"] = $"{api}/pulls/{pr.Number}/comments",
            ["review_comment_url"] = $"{api}/pulls/comments{{/number}}",
            ["comments_url"] = $"{api}/issues/{pr.Number}/comments",
            ["statuses_url"] = $"{api}/statuses/{pr.HeadSha}",
            ["number"] = pr.Number,
            ["state"] = "open",
            ["locked"] = false,
            ["title"] = pr.Title,
            ["user"] = UserJson(pr.Author, pr.AuthorId),
            ["body"] = "Reverts the payments deploy of 2026.11 (sandbox pull request).",
            ["labels"] = new JsonArray([.. pr.Labels.Select(l => (JsonNode)LabelJson(pr, l))]),
            ["milestone"] = null,
            ["active_lock_reason"] = null,
            ["created_at"] = Time(pr.CreatedAt),
            ["updated_at"] = Time(pr.CreatedAt),
            ["closed_at"] = null,
            ["merged_at"] = null,
            ["merge_commit_sha"] = null,
            ["assignee"] = null,
            ["assignees"] = new JsonArray(),
            ["requested_reviewers"] = new JsonArray(),
            ["requested_teams"] = new JsonArray(),
            ["head"] = BranchJson(pr, pr.HeadRef, pr.HeadSha),
            ["base"] = BranchJson(pr, pr.BaseRef, "0e3d5f7a9c1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f"),
            ["author_association"] = "MEMBER",
            ["auto_merge"] = null,
            ["draft"] = false,
            ["merged"] = false,
            ["mergeable"] = true,
            ["rebaseable"] = true,
            ["mergeable_state"] = pr.Approved ? "clean" : "blocked",
            ["merged_by"] = null,
            ["comments"] = pr.Comments.Count,
            ["review_comments"] = 0,
            ["maintainer_can_modify"] = false,
            ["commits"] = 1,
            ["additions"] = 12,
            ["deletions"] = 40,
            ["changed_files"] = 3,
        };
    }

    JsonObject LabelJson(SandboxPullRequest pr, string name) => new()
    {
        ["id"] = 4_000_000_000L + pr.Labels.FindIndex(l => string.Equals(l, name, StringComparison.OrdinalIgnoreCase)) + 1,
        ["node_id"] = "LA_sandbox_" + name,
        ["url"] = $"{ApiUrl}/repos/{pr.Owner}/{pr.Repo}/labels/{Uri.EscapeDataString(name)}",
        ["name"] = name,
        ["color"] = "b60205",
        ["default"] = false,
        ["description"] = null,
    };

    JsonObject CommentJson(SandboxPullRequest pr, SandboxGitHubComment c) => new()
    {
        ["id"] = c.Id,
        ["node_id"] = "IC_sandbox" + c.Id.ToString(CultureInfo.InvariantCulture),
        ["url"] = $"{ApiUrl}/repos/{pr.Owner}/{pr.Repo}/issues/comments/{c.Id}",
        ["html_url"] = $"{pr.Url}#issuecomment-{c.Id}",
        ["body"] = c.Body,
        ["user"] = UserJson(c.Login, c.UserId),
        ["created_at"] = Time(c.At),
        ["updated_at"] = Time(c.At),
        ["issue_url"] = $"{ApiUrl}/repos/{pr.Owner}/{pr.Repo}/issues/{pr.Number}",
        ["author_association"] = "NONE",
    };

    JsonObject ReviewJson(SandboxPullRequest pr, SandboxGitHubReview r) => new()
    {
        ["id"] = r.Id,
        ["node_id"] = "PRR_sandbox" + r.Id.ToString(CultureInfo.InvariantCulture),
        ["user"] = UserJson(r.Login, r.UserId),
        ["body"] = r.Body,
        ["state"] = r.State,
        ["html_url"] = $"{pr.Url}#pullrequestreview-{r.Id}",
        ["pull_request_url"] = $"{ApiUrl}/repos/{pr.Owner}/{pr.Repo}/pulls/{pr.Number}",
        ["_links"] = new JsonObject
        {
            ["html"] = new JsonObject { ["href"] = $"{pr.Url}#pullrequestreview-{r.Id}" },
            ["pull_request"] = new JsonObject { ["href"] = $"{ApiUrl}/repos/{pr.Owner}/{pr.Repo}/pulls/{pr.Number}" },
        },
        ["submitted_at"] = Time(r.SubmittedAt),
        ["commit_id"] = r.CommitId,
        ["author_association"] = "COLLABORATOR",
    };

    static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    static async Task<JsonNode?> ReadJsonAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted);
        try { return JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}
