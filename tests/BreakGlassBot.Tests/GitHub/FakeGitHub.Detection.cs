using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// What the detection of undeclared bypasses reads: rule suites (rule insights), the commits of a branch, the pull requests
/// of a commit, a repository's default branch, and the search for merged pull requests. One state, so that GET pull, the
/// search and commits/{sha}/pulls agree on a merge. A repository exists once something was added to it (a PR, a commit, a
/// rule suite, its default branch); any other answers 404. Route keys for <see cref="FakeServer.Fail"/>: "GET rule-suites",
/// "GET commit-pulls", "GET commits", "GET repo", "GET /search/issues".
/// </summary>
public sealed partial class FakeGitHub
{
    public sealed record Commit(string Sha, string Branch, string AuthorLogin, long AuthorId, string CommitterLogin, long CommitterId, DateTimeOffset At, string Message);

    sealed class RepoState
    {
        public string DefaultBranch { get; set; } = "master"; // the fixture repository's, and every fake PR's base
        public List<Commit> Commits { get; } = [];
        public List<JsonObject> RuleSuites { get; } = [];
    }

    readonly ConcurrentDictionary<string, RepoState> repos = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>GitHub serves at most this many results of one search (1,000), whatever total_count says; tests lower it.</summary>
    public int SearchResultCap { get; set; } = 1000;
    /// <summary>While true the merged-PR search answers incomplete_results: true (GitHub's search timed out).</summary>
    public bool SearchIncomplete { get; set; }
    /// <summary>Largest page the list endpoints serve, below the per_page asked for (tests shrink it to see paging).</summary>
    public int ListPageSize { get; set; } = 100;

    /// <summary>GitHub's own account that commits a merge made on the web.</summary>
    public const string WebFlowLogin = "web-flow";
    const long WebFlowId = 19864447;

    RepoState Repo(string owner, string repo) => repos.GetOrAdd($"{owner}/{repo}", _ => new RepoState());

    bool Exists(string owner, string repo) =>
        repos.ContainsKey($"{owner}/{repo}") || prs.Values.Any(p => Same(p.Owner, owner) && Same(p.Repo, repo));

    static bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    public void SetDefaultBranch(string owner, string repo, string branch) => Repo(owner, repo).DefaultBranch = branch;

    /// <summary>
    /// Marks an existing fake PR merged into <paramref name="baseRef"/>, with its merge commit on that branch: GET pull, the search
    /// and commits/{sha}/pulls then all tell of this merge.
    /// </summary>
    public Pr MergePullRequest(string owner, string repo, int number, string mergedBy, DateTimeOffset mergedAt, string mergeCommitSha, string baseRef = "master")
    {
        var pr = prs[$"{owner}/{repo}#{number}"];
        pr.Merged = true;
        pr.MergedAt = mergedAt;
        pr.MergedBy = mergedBy;
        pr.MergedSha = mergeCommitSha;
        pr.BaseRef = baseRef;
        var state = Repo(owner, repo);
        lock (state) state.Commits.Add(new Commit(mergeCommitSha, baseRef, mergedBy, Users.GetValueOrDefault(mergedBy, 1), WebFlowLogin, WebFlowId, mergedAt,
            $"Merge pull request #{number} from {pr.HeadRepository ?? owner + "/" + repo}\n\n{pr.Title}"));
        return pr;
    }

    /// <summary>A commit pushed straight to <paramref name="branch"/>: no pull request brought it.</summary>
    public Commit AddDirectPush(string owner, string repo, string branch, string sha, string pusherLogin, DateTimeOffset at, string message = "Fix all the bugs")
    {
        var id = Users.GetValueOrDefault(pusherLogin, 1);
        var commit = new Commit(sha, branch, pusherLogin, id, pusherLogin, id, at, message);
        var state = Repo(owner, repo);
        lock (state) state.Commits.Add(commit);
        return commit;
    }

    /// <summary>A rule suite in the shape of the official example (rule_suites_list.json), for this push or merge.</summary>
    public JsonObject AddRuleSuite(string owner, string repo, long id, string afterSha, string actor, string @ref, string result, DateTimeOffset at,
        string beforeSha = "893f768e172fb1bc9c5d6f3dd48557e45f14e01d")
    {
        var suite = RuleSuiteTemplate.Value.DeepClone().AsObject();
        suite["id"] = id;
        suite["actor_name"] = actor;
        suite["actor_id"] = Users.GetValueOrDefault(actor, 12);
        suite["before_sha"] = beforeSha;
        suite["after_sha"] = afterSha;
        suite["ref"] = @ref;
        suite["repository_name"] = repo;
        suite["pushed_at"] = Iso(at);
        suite["result"] = result;
        AddRuleSuiteJson(owner, repo, suite);
        return suite;
    }

    /// <summary>A rule suite as given (e.g. straight from the fixture).</summary>
    public void AddRuleSuiteJson(string owner, string repo, JsonObject suite)
    {
        var state = Repo(owner, repo);
        lock (state) state.RuleSuites.Add(suite);
    }

    // Parsed once: a search of a thousand merges shapes a thousand items.
    static readonly Lazy<JsonObject> RuleSuiteTemplate = new(() => Fixtures.Json("github/rule_suites_list.json").AsArray()[0]!.AsObject());
    static readonly Lazy<JsonObject> CommitTemplate = new(() => Fixtures.Json("github/commits_list.json").AsArray()[0]!.AsObject());
    static readonly Lazy<JsonObject> CommitPullTemplate = new(() => Fixtures.Json("github/commit_pulls_list.json").AsArray()[0]!.AsObject());
    static readonly Lazy<JsonObject> SearchItemTemplate = new(() => Fixtures.Object("github/search_issues_prs_result.json")["items"]!.AsArray()[0]!.AsObject());

    static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^/repos/(?<o>[^/]+)/(?<r>[^/]+)(?<rest>/rulesets/rule-suites|/commits|/commits/(?<sha>[^/]+)/pulls)?$")]
    private static partial Regex DetectionPath();

    static string? DetectionKey(string method, string path)
    {
        var m = DetectionPath().Match(path);
        if (!m.Success) return null;
        return method + " " + (m.Groups["rest"].Value switch
        {
            "" => "repo",
            "/rulesets/rule-suites" => "rule-suites",
            "/commits" => "commits",
            _ => "commit-pulls",
        });
    }

    /// <summary>The detection routes; false when the path is none of them.</summary>
    async Task<bool> Detection(HttpContext http, string path)
    {
        var m = DetectionPath().Match(path);
        if (!m.Success || http.Request.Method != "GET") return false;
        var (owner, repo) = (Uri.UnescapeDataString(m.Groups["o"].Value), Uri.UnescapeDataString(m.Groups["r"].Value));
        if (!Exists(owner, repo))
        {
            await Write(http, 404, new JsonObject { ["message"] = "Not Found", ["documentation_url"] = "https://docs.github.com/rest/repos/repos#get-a-repository", ["status"] = "404" });
            return true;
        }
        var state = Repo(owner, repo);
        switch (DetectionKey("GET", path))
        {
            case "GET repo": await Write(http, 200, RepositoryJson(owner, repo, state.DefaultBranch)); break;
            case "GET rule-suites": await Page(http, RuleSuites(http, state)); break;
            case "GET commits": await Page(http, BranchCommits(http, owner, repo, state)); break;
            default: await Page(http, CommitPulls(owner, repo, Uri.UnescapeDataString(m.Groups["sha"].Value), state)); break;
        }
        return true;
    }

    static JsonObject RepositoryJson(string owner, string repo, string defaultBranch)
    {
        var o = Fixtures.Object("github/repo_get.json");
        o["name"] = repo;
        o["full_name"] = $"{owner}/{repo}";
        o["owner"]!["login"] = owner;
        o["url"] = $"https://api.github.com/repos/{owner}/{repo}";
        o["html_url"] = $"https://github.com/{owner}/{repo}";
        o["default_branch"] = defaultBranch;
        return o;
    }

    /// <summary>Filtered as GitHub documents: rule_suite_result (default all), ref (refs/… exact, else any branch or tag of that name),
    /// actor_name, and time_period (default day) counted back from <see cref="Clock"/>; newest first.</summary>
    List<JsonNode> RuleSuites(HttpContext http, RepoState state)
    {
        var q = http.Request.Query;
        var result = q["rule_suite_result"].ToString() is { Length: > 0 } r ? r : "all";
        var @ref = q["ref"].ToString();
        var actor = q["actor_name"].ToString();
        var period = (q["time_period"].ToString() is { Length: > 0 } t ? t : "day") switch
        {
            "hour" => TimeSpan.FromHours(1), "week" => TimeSpan.FromDays(7), "month" => TimeSpan.FromDays(30), _ => TimeSpan.FromDays(1),
        };
        var since = Clock() - period;
        List<JsonObject> all;
        lock (state) all = [.. state.RuleSuites];
        return [.. all
            .Where(s => result == "all" || Same(s["result"]?.ToString(), result))
            .Where(s => @ref.Length == 0 || (@ref.StartsWith("refs/", StringComparison.Ordinal)
                ? s["ref"]?.ToString() == @ref
                : s["ref"]?.ToString() == "refs/heads/" + @ref || s["ref"]?.ToString() == "refs/tags/" + @ref))
            .Where(s => actor.Length == 0 || Same(s["actor_name"]?.ToString(), actor))
            .Where(s => DateTimeOffset.Parse(s["pushed_at"]!.ToString(), CultureInfo.InvariantCulture) >= since)
            .OrderByDescending(s => DateTimeOffset.Parse(s["pushed_at"]!.ToString(), CultureInfo.InvariantCulture))
            .Select(s => (JsonNode)s.DeepClone())];
    }

    /// <summary>GET commits?sha=&amp;since=&amp;until=: the branch's commits (default branch when sha is absent), newest first.</summary>
    List<JsonNode> BranchCommits(HttpContext http, string owner, string repo, RepoState state)
    {
        var q = http.Request.Query;
        var branch = q["sha"].ToString() is { Length: > 0 } b ? b : state.DefaultBranch;
        DateTimeOffset? At(string name) => q[name].ToString() is { Length: > 0 } v ? DateTimeOffset.Parse(v, CultureInfo.InvariantCulture) : null;
        var (since, until) = (At("since"), At("until"));
        List<Commit> all;
        lock (state) all = [.. state.Commits];
        return [.. all.Where(c => c.Branch == branch || c.Sha == branch)
            .Where(c => (since is null || c.At >= since) && (until is null || c.At <= until))
            .OrderByDescending(c => c.At)
            .Select(c => (JsonNode)CommitJson(owner, repo, c))];
    }

    static JsonObject CommitJson(string owner, string repo, Commit c)
    {
        var o = CommitTemplate.Value.DeepClone().AsObject();
        o["sha"] = c.Sha;
        o["url"] = $"https://api.github.com/repos/{owner}/{repo}/commits/{c.Sha}";
        o["html_url"] = $"https://github.com/{owner}/{repo}/commit/{c.Sha}";
        o["commit"]!["message"] = c.Message;
        o["commit"]!["author"]!["name"] = c.AuthorLogin;
        o["commit"]!["author"]!["date"] = Iso(c.At);
        o["commit"]!["committer"]!["name"] = c.CommitterLogin;
        o["commit"]!["committer"]!["date"] = Iso(c.At);
        o["author"]!["login"] = c.AuthorLogin;
        o["author"]!["id"] = c.AuthorId;
        o["committer"]!["login"] = c.CommitterLogin;
        o["committer"]!["id"] = c.CommitterId;
        return o;
    }

    /// <summary>
    /// The merged PR whose merge commit this is; for a commit not on the default branch also the PRs with it as head (as GitHub
    /// documents). Empty for a commit no PR brought, and for a commit the fake does not know (GitHub answers 422 for those).
    /// </summary>
    List<JsonNode> CommitPulls(string owner, string repo, string sha, RepoState state)
    {
        var mine = prs.Values.Where(p => Same(p.Owner, owner) && Same(p.Repo, repo)).ToList();
        var merged = mine.Where(p => p.Merged && p.MergedSha == sha).ToList();
        bool onDefault;
        lock (state) onDefault = state.Commits.Any(c => c.Sha == sha && c.Branch == state.DefaultBranch);
        var found = merged.Count > 0 || onDefault ? merged : mine.Where(p => p.HeadSha == sha).ToList();
        return [.. found.OrderBy(p => p.Number).Select(p => (JsonNode)CommitPullJson(p))];
    }

    static JsonObject CommitPullJson(Pr pr)
    {
        var o = CommitPullTemplate.Value.DeepClone().AsObject();
        o["number"] = pr.Number;
        o["url"] = $"https://api.github.com/repos/{pr.Owner}/{pr.Repo}/pulls/{pr.Number}";
        o["html_url"] = $"https://github.com/{pr.Owner}/{pr.Repo}/pull/{pr.Number}";
        o["title"] = pr.Title;
        o["state"] = pr.Merged ? "closed" : "open";
        o["user"]!["login"] = pr.AuthorLogin;
        o["user"]!["id"] = pr.AuthorId;
        o["head"]!["sha"] = pr.HeadSha;
        o["base"]!["ref"] = pr.BaseRef;
        o["base"]!["repo"]!["full_name"] = $"{pr.Owner}/{pr.Repo}";
        // The fixture's PR is open yet has merged_at: make it say one thing.
        o["merged_at"] = pr.MergedAt is { } at && pr.Merged ? Iso(at) : null;
        o["closed_at"] = pr.MergedAt is { } c && pr.Merged ? Iso(c) : null;
        o["merge_commit_sha"] = pr.MergedSha;
        return o;
    }

    /// <summary>
    /// GET /search/issues with base: — the merged PRs of the fake's state: total_count of all that match, at most
    /// <see cref="SearchResultCap"/> served, in pages. False for any other search (the count of <see cref="MergedPulls"/> answers it).
    /// </summary>
    async Task<bool> SearchMerged(HttpContext http)
    {
        var terms = http.Request.Query["q"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var @base = terms.FirstOrDefault(t => t.StartsWith("base:", StringComparison.Ordinal))?[5..];
        if (@base is null) return false;
        var repoNames = terms.Where(t => t.StartsWith("repo:", StringComparison.Ordinal)).Select(t => t[5..]).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var range = terms.FirstOrDefault(t => t.StartsWith("merged:", StringComparison.Ordinal))?[7..].Split("..");
        if (!terms.Contains("is:pr") || !terms.Contains("is:merged") || range is not { Length: 2 } || repoNames.Count == 0)
        {
            await Write(http, 422, new JsonObject { ["message"] = "Validation Failed", ["documentation_url"] = "https://docs.github.com/v3/search/" });
            return true;
        }
        var from = DateTimeOffset.Parse(range[0], CultureInfo.InvariantCulture);
        var to = DateTimeOffset.Parse(range[1], CultureInfo.InvariantCulture);
        // merged: compares whole seconds, both ends included.
        var matching = prs.Values
            .Where(p => p.Merged && p.MergedAt is { } at && repoNames.Contains($"{p.Owner}/{p.Repo}") && p.BaseRef == @base
                && at >= from && at < to.AddSeconds(1))
            .OrderBy(p => p.Number).ToList();
        var served = matching.Take(SearchResultCap).Select(p => (JsonNode)SearchItemJson(p)).ToList();
        await Page(http, served, new JsonObject { ["total_count"] = matching.Count, ["incomplete_results"] = SearchIncomplete });
        return true;
    }

    static JsonObject SearchItemJson(Pr pr)
    {
        var o = SearchItemTemplate.Value.DeepClone().AsObject();
        o["number"] = pr.Number;
        o["title"] = pr.Title;
        o["url"] = $"https://api.github.com/repos/{pr.Owner}/{pr.Repo}/issues/{pr.Number}";
        o["repository_url"] = $"https://api.github.com/repos/{pr.Owner}/{pr.Repo}";
        o["html_url"] = $"https://github.com/{pr.Owner}/{pr.Repo}/pull/{pr.Number}";
        o["user"]!["login"] = pr.AuthorLogin;
        o["user"]!["id"] = pr.AuthorId;
        o["state"] = "closed";
        o["closed_at"] = pr.MergedAt is { } at ? Iso(at) : null;
        // The schema's merged_at, which the example leaves out.
        o["pull_request"] = new JsonObject
        {
            ["url"] = $"https://api.github.com/repos/{pr.Owner}/{pr.Repo}/pulls/{pr.Number}",
            ["html_url"] = $"https://github.com/{pr.Owner}/{pr.Repo}/pull/{pr.Number}",
            ["diff_url"] = $"https://github.com/{pr.Owner}/{pr.Repo}/pull/{pr.Number}.diff",
            ["patch_url"] = $"https://github.com/{pr.Owner}/{pr.Repo}/pull/{pr.Number}.patch",
            ["merged_at"] = pr.MergedAt is { } m ? Iso(m) : null,
        };
        return o;
    }

    /// <summary>
    /// One page (page, per_page as asked, per_page at most <see cref="ListPageSize"/>) with GitHub's Link header; as an array, or as
    /// <paramref name="envelope"/>'s "items" (the search's shape).
    /// </summary>
    async Task Page(HttpContext http, List<JsonNode> all, JsonObject? envelope = null)
    {
        var perPage = Math.Clamp(int.TryParse(http.Request.Query["per_page"], out var pp) ? pp : 30, 1, Math.Max(1, ListPageSize));
        var page = int.TryParse(http.Request.Query["page"], out var p) && p > 0 ? p : 1;
        var pages = Math.Max(1, (all.Count + perPage - 1) / perPage);
        string PageUrl(int n)
        {
            var query = http.Request.Query.ToDictionary(kv => kv.Key, kv => (string?)kv.Value.ToString());
            query["per_page"] = perPage.ToString(CultureInfo.InvariantCulture);
            query["page"] = n.ToString(CultureInfo.InvariantCulture);
            return QueryHelpers.AddQueryString(Url + http.Request.Path, query);
        }
        if (page < pages) http.Response.Headers["Link"] = $"<{PageUrl(page + 1)}>; rel=\"next\", <{PageUrl(pages)}>; rel=\"last\"";
        var items = new JsonArray([.. all.Skip((page - 1) * perPage).Take(perPage)]);
        if (envelope is null) { await Write(http, 200, items); return; }
        envelope["items"] = items;
        await Write(http, 200, envelope);
    }
}
