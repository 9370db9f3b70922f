using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;
using Microsoft.AspNetCore.WebUtilities;

namespace BreakGlassBot.Sandbox;

/// <summary>
/// The GitHub REST paths the bot's <see cref="GitHub.GitHubGateway"/> calls for a linked pull request and for detection (the
/// repository, its commits, the pull requests of a commit, the merged-PR search, an empty rule-suite list), over
/// <see cref="SandboxState"/>'s pull requests and commits. No teams, and the bot never merges: sandbox mode keeps
/// GitHub:BypassMode at RecordOnly. People merge on the page (<see cref="Merge"/>), and the sandbox delivers GitHub's webhooks.
/// </summary>
public sealed class StandInGitHub(SandboxState state, SandboxContext context)
{
    public const string BasePath = "/sandbox/github/api";
    const string Repo = BasePath + "/repos/{owner}/{repo}";
    const string Docs = "https://docs.github.com/rest";

    string ApiUrl => context.BaseUrl + BasePath;

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapGet(Repo, (string owner, string repo, HttpContext http) =>
            Guarded(http, $"GET repository {owner}/{repo}", () => IsOurs(owner, repo) ? Results.Json(RepositoryJson()) : NotFound()));

        app.MapGet(Repo + "/commits", (string owner, string repo, string? sha, string? since, string? until, int? page, int? per_page, HttpContext http) =>
            Guarded(http, $"GET commits of {owner}/{repo} {sha}", () => !IsOurs(owner, repo) ? NotFound() : state.Read(v =>
            {
                var branch = string.IsNullOrEmpty(sha) ? SandboxPeople.GitHubBranch : sha;
                var (from, to) = (At(since), At(until));
                var commits = v.Commits.Where(c => (c.Branch == branch || c.Sha == branch) && (from is null || c.At >= from) && (to is null || c.At <= to))
                    .OrderByDescending(c => c.At).ToList();
                return Paged(http, commits, page, per_page, CommitJson);
            })));

        app.MapGet(Repo + "/commits/{sha}/pulls", (string owner, string repo, string sha, int? page, int? per_page, HttpContext http) =>
            Guarded(http, $"GET pulls of commit {Short(sha)} in {owner}/{repo}", () => !IsOurs(owner, repo) ? NotFound() : state.Read(v =>
            {
                // As GitHub documents: the merged PR whose merge commit it is; for a commit not on the branch, the open PRs with it as head.
                var merged = v.PullRequests.Where(p => p.Merged && string.Equals(p.MergeCommitSha, sha, StringComparison.OrdinalIgnoreCase)).ToList();
                var found = merged.Count > 0 ? merged : v.PullRequests.Where(p => string.Equals(p.HeadSha, sha, StringComparison.OrdinalIgnoreCase)).ToList();
                return Paged(http, found, page, per_page, PullJson);
            })));

        // The stand-in has no rulesets, so GitHub's rule insights have recorded no bypass (Detection:RuleSuitesInterval may turn the poll on).
        app.MapGet(Repo + "/rulesets/rule-suites", (string owner, string repo, HttpContext http) =>
            Guarded(http, $"GET rule suites of {owner}/{repo}", () => IsOurs(owner, repo) ? Results.Json(new JsonArray()) : NotFound()));

        app.MapGet(BasePath + "/search/issues", (string? q, int? page, int? per_page, HttpContext http) =>
            Guarded(http, $"GET search/issues {q}", () => Search(http, q ?? "", page, per_page)));

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

    /// <summary>
    /// The page's "Merge" as <paramref name="user"/>'s GitHub account: GitHub lets a maintainer merge without a review (an admin
    /// bypass), so the stand-in does too. The merge commit goes on the base branch; the webhooks GitHub would send follow.
    /// </summary>
    public MergeOutcome Merge(int index, string user) => state.Change(v =>
    {
        if (index < 0 || index >= v.PullRequests.Count) return new MergeOutcome("No such pull request.", null, null);
        if (!SandboxPeople.GitHubAccounts.TryGetValue(user, out var account)) return new MergeOutcome("Pick a person first.", null, null);
        var pr = v.PullRequests[index];
        if (pr.Merged) return new MergeOutcome($"{pr.Ref} is already merged.", null, null);
        var before = v.Commits.Where(c => c.Branch == pr.BaseRef).OrderByDescending(c => c.At).FirstOrDefault()?.Sha ?? BaseSha;
        var sha = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        (pr.Merged, pr.MergedAt, pr.MergedBy, pr.MergedById, pr.MergeCommitSha) = (true, v.Now, account.Login, account.Id, sha);
        var commit = new SandboxCommit
        {
            Sha = sha, Branch = pr.BaseRef, AuthorLogin = account.Login, AuthorId = account.Id, At = v.Now, PullRequest = pr.Number,
            Message = $"Merge pull request #{pr.Number} from {pr.Owner}/{pr.HeadRef}\n\n{pr.Title}",
        };
        v.Commits.Add(commit);
        v.AddWire("page", $"GitHub {pr.Ref} merged into {pr.BaseRef} by {account.Login} on the page ({(pr.Approved ? "approved" : "no approving review")})", true);
        var sender = UserJson(account.Login, account.Id);
        var closed = new JsonObject
        {
            ["action"] = "closed", ["number"] = pr.Number, ["pull_request"] = PullJson(pr), ["repository"] = RepositoryJson(), ["sender"] = sender,
        };
        var push = new JsonObject
        {
            ["ref"] = "refs/heads/" + pr.BaseRef, ["before"] = before, ["after"] = sha, ["repository"] = RepositoryJson(),
            ["pusher"] = new JsonObject { ["name"] = account.Login, ["email"] = $"{account.Id}+{account.Login}@users.noreply.github.com" },
            ["sender"] = sender.DeepClone(), ["created"] = false, ["deleted"] = false, ["forced"] = false, ["base_ref"] = null,
            ["compare"] = $"https://github.com/{pr.Owner}/{pr.Repo}/compare/{before[..12]}...{sha[..12]}",
            ["commits"] = new JsonArray(PushCommitJson(commit)), ["head_commit"] = PushCommitJson(commit),
        };
        return new MergeOutcome(null, closed, push);
    });

    /// <summary>The page's "New pull request": another open PR by the declarer, so merging can be tried again.</summary>
    public SandboxPullRequest Open() => state.Change(v =>
    {
        var number = v.PullRequests.Max(p => p.Number) + 1;
        var pr = SandboxState.NewPullRequest(number, $"Hotfix payments timeout (#{number})", $"hotfix-payments-{number}",
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)), v.Now);
        v.PullRequests.Add(pr);
        v.AddWire("page", $"GitHub {pr.Ref} opened by {pr.Author} on the page", true);
        return pr;
    });

    IResult Search(HttpContext http, string q, int? page, int? perPage)
    {
        var terms = q.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string? Term(string prefix) => terms.FirstOrDefault(t => t.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];
        var repos = terms.Where(t => t.StartsWith("repo:", StringComparison.Ordinal)).Select(t => t[5..]).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var range = Term("merged:")?.Split("..");
        // Only the searches the bot makes (merged PRs of repositories in a window, optionally into one branch).
        if (!terms.Contains("is:pr") || !terms.Contains("is:merged") || repos.Count == 0 || range is not { Length: 2 }
            || At(range[0]) is not { } from || At(range[1]) is not { } to)
            return Results.Json(new JsonObject { ["message"] = "Validation Failed", ["documentation_url"] = Docs + "/search/search", ["status"] = "422" }, statusCode: 422);
        var @base = Term("base:");
        return state.Read(v =>
        {
            // merged: compares whole seconds, both ends included.
            var matching = v.PullRequests.Where(p => p.Merged && p.MergedAt is { } at && repos.Contains($"{p.Owner}/{p.Repo}")
                && (@base is null || p.BaseRef == @base) && at >= from && at < to.AddSeconds(1)).OrderBy(p => p.Number).ToList();
            return Paged(http, matching, page, perPage, SearchItemJson, new JsonObject { ["total_count"] = matching.Count, ["incomplete_results"] = false });
        });
    }

    static bool IsOurs(string owner, string repo) =>
        string.Equals($"{owner}/{repo}", SandboxPeople.GitHubRepository, StringComparison.OrdinalIgnoreCase);

    static DateTimeOffset? At(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;

    static string Short(string sha) => sha.Length > 7 ? sha[..7] : sha;

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
    /// <remarks>The links keep the other query parameters (sha, since, q): the bot follows rel="next" as given.</remarks>
    IResult Paged<T>(HttpContext http, List<T> all, int? page, int? perPage, Func<T, JsonObject> json, JsonObject? envelope = null)
    {
        var size = Math.Clamp(perPage ?? 30, 1, 100);
        var current = Math.Max(1, page ?? 1);
        var last = Math.Max(1, (all.Count + size - 1) / size);
        if (current < last)
        {
            var path = ApiUrl + http.Request.Path.Value![BasePath.Length..];
            string Link(int p, string rel)
            {
                var query = http.Request.Query.Where(kv => kv.Key is not ("page" or "per_page")).ToDictionary(kv => kv.Key, kv => (string?)kv.Value.ToString());
                (query["per_page"], query["page"]) = (size.ToString(CultureInfo.InvariantCulture), p.ToString(CultureInfo.InvariantCulture));
                return $"<{QueryHelpers.AddQueryString(path, query)}>; rel=\"{rel}\"";
            }
            http.Response.Headers["Link"] = Link(current + 1, "next") + ", " + Link(last, "last");
        }
        var items = new JsonArray([.. all.Skip((current - 1) * size).Take(size).Select(x => (JsonNode)json(x))]);
        if (envelope is null) return Results.Json(items);
        envelope["items"] = items;
        return Results.Json(envelope);
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
        ["user"] = UserJson(pr.Owner, OwnerId),
        ["repo"] = RepositoryJson(),
    };

    const long OwnerId = 7_000_001;
    // The base branch before any merge the page made.
    const string BaseSha = "0e3d5f7a9c1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f";

    JsonObject RepositoryJson()
    {
        var full = SandboxPeople.GitHubRepository;
        var api = $"{ApiUrl}/repos/{full}";
        return new JsonObject
        {
            ["id"] = 1_042_000_000,
            ["node_id"] = "R_sandbox1042",
            ["name"] = SandboxPeople.GitHubRepo,
            ["full_name"] = full,
            ["private"] = true,
            ["owner"] = UserJson(SandboxPeople.GitHubOwner, OwnerId),
            ["html_url"] = $"https://github.com/{full}",
            ["description"] = "The sandbox's stand-in repository",
            ["fork"] = false,
            ["url"] = api,
            ["pulls_url"] = api + "/pulls{/number}",
            ["default_branch"] = SandboxPeople.GitHubBranch,
            ["allow_merge_commit"] = true,
            ["allow_squash_merge"] = true,
            ["allow_rebase_merge"] = true,
            ["visibility"] = "private",
        };
    }

    JsonObject CommitJson(SandboxCommit c)
    {
        var full = SandboxPeople.GitHubRepository;
        JsonObject Actor(string name) => new() { ["name"] = name, ["email"] = $"{name}@users.noreply.github.com", ["date"] = Time(c.At) };
        return new JsonObject
        {
            ["sha"] = c.Sha,
            ["node_id"] = "C_sandbox" + c.Sha[..12],
            ["url"] = $"{ApiUrl}/repos/{full}/commits/{c.Sha}",
            ["html_url"] = $"https://github.com/{full}/commit/{c.Sha}",
            ["commit"] = new JsonObject
            {
                ["author"] = Actor(c.AuthorLogin),
                // A merge made on the web is committed by GitHub's own account.
                ["committer"] = Actor("GitHub"),
                ["message"] = c.Message,
                ["comment_count"] = 0,
            },
            ["author"] = UserJson(c.AuthorLogin, c.AuthorId),
            ["committer"] = UserJson("web-flow", 19_864_447),
            ["parents"] = new JsonArray(),
        };
    }

    static JsonObject PushCommitJson(SandboxCommit c)
    {
        JsonObject Actor(string login) => new() { ["name"] = login, ["email"] = $"{login}@users.noreply.github.com", ["username"] = login };
        return new JsonObject
        {
            ["id"] = c.Sha, ["tree_id"] = c.Sha[..20] + c.Sha[..20], ["distinct"] = true, ["message"] = c.Message, ["timestamp"] = Time(c.At),
            ["url"] = $"https://github.com/{SandboxPeople.GitHubRepository}/commit/{c.Sha}",
            ["author"] = Actor(c.AuthorLogin), ["committer"] = Actor("web-flow"),
            ["added"] = new JsonArray(), ["removed"] = new JsonArray(), ["modified"] = new JsonArray("payments/deploy.yml"),
        };
    }

    JsonObject SearchItemJson(SandboxPullRequest pr)
    {
        var api = $"{ApiUrl}/repos/{pr.Owner}/{pr.Repo}";
        return new JsonObject
        {
            ["url"] = $"{api}/issues/{pr.Number}",
            ["repository_url"] = api,
            ["html_url"] = pr.Url,
            ["id"] = pr.Id,
            ["node_id"] = "PR_sandbox" + pr.Id.ToString(CultureInfo.InvariantCulture),
            ["number"] = pr.Number,
            ["title"] = pr.Title,
            ["user"] = UserJson(pr.Author, pr.AuthorId),
            ["labels"] = new JsonArray([.. pr.Labels.Select(l => (JsonNode)LabelJson(pr, l))]),
            ["state"] = pr.Merged ? "closed" : "open",
            ["locked"] = false,
            ["comments"] = pr.Comments.Count,
            ["created_at"] = Time(pr.CreatedAt),
            ["updated_at"] = Time(pr.MergedAt ?? pr.CreatedAt),
            ["closed_at"] = pr.MergedAt is { } closed ? Time(closed) : null,
            ["pull_request"] = new JsonObject
            {
                ["url"] = $"{api}/pulls/{pr.Number}", ["html_url"] = pr.Url, ["diff_url"] = pr.Url + ".diff", ["patch_url"] = pr.Url + ".patch",
                ["merged_at"] = pr.MergedAt is { } m ? Time(m) : null,
            },
            ["body"] = Body,
            ["score"] = 1.0,
        };
    }

    const string Body = "Reverts the payments deploy of 2026.11 (sandbox pull request).";

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
            ["state"] = pr.Merged ? "closed" : "open",
            ["locked"] = false,
            ["title"] = pr.Title,
            ["user"] = UserJson(pr.Author, pr.AuthorId),
            ["body"] = Body,
            ["labels"] = new JsonArray([.. pr.Labels.Select(l => (JsonNode)LabelJson(pr, l))]),
            ["milestone"] = null,
            ["active_lock_reason"] = null,
            ["created_at"] = Time(pr.CreatedAt),
            ["updated_at"] = Time(pr.MergedAt ?? pr.CreatedAt),
            ["closed_at"] = pr.MergedAt is { } closed ? Time(closed) : null,
            ["merged_at"] = pr.MergedAt is { } merged ? Time(merged) : null,
            ["merge_commit_sha"] = pr.MergeCommitSha,
            ["assignee"] = null,
            ["assignees"] = new JsonArray(),
            ["requested_reviewers"] = new JsonArray(),
            ["requested_teams"] = new JsonArray(),
            ["head"] = BranchJson(pr, pr.HeadRef, pr.HeadSha),
            ["base"] = BranchJson(pr, pr.BaseRef, BaseSha),
            ["author_association"] = "MEMBER",
            ["auto_merge"] = null,
            ["draft"] = false,
            ["merged"] = pr.Merged,
            ["mergeable"] = pr.Merged ? null : true,
            ["rebaseable"] = pr.Merged ? null : true,
            ["mergeable_state"] = pr.Merged ? "unknown" : pr.Approved ? "clean" : "blocked",
            ["merged_by"] = pr.MergedBy is { } by ? UserJson(by, pr.MergedById ?? 0) : null,
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

/// <summary>What a merge on the page came to: a problem to show, or the pull_request (closed) and push webhooks GitHub would send.</summary>
public sealed record MergeOutcome(string? Problem, JsonObject? PullRequestClosed, JsonObject? Push);
