using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// GitHub's REST API on loopback, answering with the fixture bodies (ids, logins and SHAs adapted in memory).
/// Stateful for pull requests, labels, comments, reviews, merges and team memberships. Route keys for
/// <see cref="FakeServer.Fail"/>: "GET pull", "POST labels", "GET comments", "POST comments", "GET reviews",
/// "PUT merge", "GET membership", "PUT membership", "DELETE membership", "POST access_tokens".
/// </summary>
public sealed partial class FakeGitHub(string pathPrefix = "") : FakeServer
{
    public const string Token = "ghp_test";
    public const string DefaultHead = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

    public sealed class Pr
    {
        public required string Owner { get; init; }
        public required string Repo { get; init; }
        public required int Number { get; init; }
        public string Title { get; set; } = "Amazing new feature";
        public string AuthorLogin { get; set; } = "octocat";
        public long AuthorId { get; set; } = 1;
        public string HeadSha { get; set; } = DefaultHead;
        public string BaseRef { get; set; } = "master";
        public bool Merged { get; set; }
        public DateTimeOffset? MergedAt { get; set; }
        /// <summary>The merge methods the base repository allows (its allow_merge_commit, allow_squash_merge, allow_rebase_merge).</summary>
        public HashSet<string> AllowedMergeMethods { get; } = ["merge", "squash", "rebase"];
        public ConcurrentQueue<string> Labels { get; } = new();
        public ConcurrentQueue<string> Comments { get; } = new();
        public List<JsonObject> Reviews { get; } = [];
        public string? MergedSha { get; set; }
        public string? MergedBy { get; set; }
        /// <summary>The base repository is private (base.repo.private).</summary>
        public bool Private { get; set; }
        /// <summary>owner/repo of the head; null: the PR's own repository (no fork).</summary>
        public string? HeadRepository { get; set; }
    }

    /// <summary>The login GET /user answers for the bot's token; the bot's merges are merged_by this login.</summary>
    public const string BotLogin = "breakglass-bot";

    readonly ConcurrentDictionary<string, Pr> prs = new(StringComparer.OrdinalIgnoreCase);
    long commentIds = 1000;

    /// <summary>The Authorization header every API call must carry (Octokit sends "token ..." for tokens).</summary>
    public string ExpectedAuthorization { get; set; } = "token " + Token;
    /// <summary>Members per "org/slug", with their membership state.</summary>
    public ConcurrentDictionary<string, string> TeamMembers { get; } = new(StringComparer.OrdinalIgnoreCase);
    public int ReviewPageSize { get; set; } = 100;
    /// <summary>The state a PUT membership creates: "active", or "pending" (GitHub invites someone who is not yet an org member).</summary>
    public string NewMembershipState { get; set; } = "active";

    // GitHub App: the public key that must have signed the JWT, the app id it names, the token handed out.
    public RSA? AppKey { get; set; }
    public long AppId { get; set; }
    public string InstallationToken { get; set; } = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
    public TimeSpan InstallationTokenLifetime { get; set; } = TimeSpan.FromHours(1);
    /// <summary>GitHub's clock, for JWT checks and token expiry; a test with a FakeTimeProvider shares its clock here.</summary>
    public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

    public string ApiUrl => Url + pathPrefix + "/";

    public Pr AddPr(string owner, string repo, int number, Action<Pr>? configure = null)
    {
        var pr = new Pr { Owner = owner, Repo = repo, Number = number };
        configure?.Invoke(pr);
        prs[$"{owner}/{repo}#{number}"] = pr;
        return pr;
    }

    public Pr PullRequest(string key) => prs[key];

    /// <summary>
    /// A review in the shape of the fixture pull_reviews_list.json, for another user and state, given on
    /// <paramref name="commitId"/> (a review counts only on the PR's head; <see cref="DefaultHead"/> is every fake PR's).
    /// </summary>
    public static JsonObject Review(long id, string login, long userId, string state, DateTimeOffset? submittedAt, string fixture = "github/pull_reviews_list.json",
        string commitId = DefaultHead)
    {
        var node = Fixtures.Json(fixture);
        var review = (node is JsonArray a ? a[0]! : node).DeepClone().AsObject();
        review["id"] = id;
        review["user"]!["login"] = login;
        review["user"]!["id"] = userId;
        review["state"] = state;
        review["submitted_at"] = submittedAt?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        review["commit_id"] = commitId;
        return review;
    }

    public IReadOnlyList<RecordedCall> CallsTo(string method, string path) =>
        [.. Calls.Where(c => c.Method == method && c.Path == pathPrefix + path)];

    [GeneratedRegex(@"^/repos/(?<o>[^/]+)/(?<r>[^/]+)/(?:pulls|issues)/(?<n>\d+)(?<rest>/[a-z_]+)?$")]
    private static partial Regex RepoPath();

    [GeneratedRegex(@"^/orgs/(?<org>[^/]+)/teams/(?<slug>[^/]+)/memberships/(?<login>[^/]+)$")]
    private static partial Regex MembershipPath();

    string Local(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        return pathPrefix.Length > 0 && path.StartsWith(pathPrefix, StringComparison.Ordinal) ? path[pathPrefix.Length..] : path;
    }

    protected override string KeyOf(HttpContext http)
    {
        var path = Local(http);
        var method = http.Request.Method;
        if (path.StartsWith("/app/installations/", StringComparison.Ordinal)) return "POST access_tokens";
        if (IsGraphql(http)) return "POST graphql";
        if (MembershipPath().IsMatch(path)) return method + " membership";
        if (OrgsKey(method, path) is { } orgsKey) return orgsKey;
        if (DetectionKey(method, path) is { } detectionKey) return detectionKey;
        var m = RepoPath().Match(path);
        if (!m.Success) return method + " " + path;
        return m.Groups["rest"].Value switch
        {
            "" => method + " pull",
            "/labels" => method + " labels",
            "/comments" => method + " comments",
            "/reviews" => method + " reviews",
            "/merge" => method + " merge",
            var rest => method + " " + rest,
        };
    }

    /// <summary>What was wrong with the requests by GitHub's OpenAPI description; <see cref="BotTest"/> fails a test that leaves any.</summary>
    public ConcurrentQueue<string> SchemaViolations { get; } = new();

    protected override void Map(WebApplication app)
    {
        // Every request is checked against GitHub's own description first, and refused as GitHub refuses a malformed one.
        app.Use(async (http, next) =>
        {
            // GitHub's sign-in host (device flow) is not part of the REST API's description.
            if (Local(http).StartsWith("/login/", StringComparison.Ordinal) || IsGraphql(http)) { await next(http); return; }
            var problems = await OpenApiCheck.GitHub.CheckAsync(http.Request, Local(http));
            if (problems.Count == 0) { await next(http); return; }
            foreach (var problem in problems) SchemaViolations.Enqueue(problem);
            await Write(http, 422, new JsonObject
            {
                ["message"] = "Invalid request.\n\n" + string.Join("\n", problems), ["documentation_url"] = "https://docs.github.com/rest", ["status"] = "422",
            });
        });
        app.Run(async http =>
        {
            var path = Local(http);
            var key = KeyOf(http);
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            if (key == "POST access_tokens") { await AccessToken(http, path); return; }
            if (path == "/login/device/code") { await DeviceCode(http, body); return; }
            if (path == "/login/oauth/access_token") { await DeviceToken(http, body); return; }
            if (IsGraphql(http)) { await Graphql(http, body); return; } // FakeGitHub.Graphql.cs
            if (key == "GET /user" && UserOfToken(http) is { } tokenUser)
            {
                await Write(http, 200, UserJson(tokenUser.Login, tokenUser.Id));
                return;
            }
            if (!string.Equals(http.Request.Headers.Authorization.ToString(), ExpectedAuthorization, StringComparison.OrdinalIgnoreCase))
            {
                await Write(http, 401, new JsonObject { ["message"] = "Bad credentials", ["documentation_url"] = "https://docs.github.com/rest" });
                return;
            }
            if (key == "GET /user")
            {
                await Write(http, 200, new JsonObject { ["login"] = BotLogin, ["id"] = 4242, ["type"] = "User", ["url"] = $"https://api.github.com/users/{BotLogin}" });
                return;
            }
            if (path == "/search/issues") { if (!await SearchMerged(http)) await Search(http); return; } // FakeGitHub.Detection.cs lists merged PRs
            if (method(http) == "GET" && path.StartsWith("/user/", StringComparison.Ordinal) && long.TryParse(path["/user/".Length..], out var accountId))
            {
                if (Users.FirstOrDefault(u => u.Value == accountId) is { Key: { } current }) await Write(http, 200, UserJson(current, accountId));
                else await Write(http, 404, new JsonObject { ["message"] = "Not Found", ["documentation_url"] = "https://docs.github.com/rest/users/users#get-a-user-using-their-id", ["status"] = "404" });
                return;
            }
            if (method(http) == "GET" && path.StartsWith("/users/", StringComparison.Ordinal))
            {
                var login = Uri.UnescapeDataString(path["/users/".Length..]);
                if (Users.TryGetValue(login, out var id)) await Write(http, 200, UserJson(Users.Keys.First(k => k.Equals(login, StringComparison.OrdinalIgnoreCase)), id));
                else await Write(http, 404, new JsonObject { ["message"] = "Not Found", ["documentation_url"] = "https://docs.github.com/rest/users/users#get-a-user", ["status"] = "404" });
                return;
            }
            if (MembershipPath().Match(path) is { Success: true } mm)
            {
                await Membership(http, $"{mm.Groups["org"].Value}/{mm.Groups["slug"].Value}", mm.Groups["login"].Value);
                return;
            }
            if (await Orgs(http, path)) return;
            if (await Detection(http, path)) return;
            var m = RepoPath().Match(path);
            if (!m.Success || !prs.TryGetValue($"{m.Groups["o"].Value}/{m.Groups["r"].Value}#{m.Groups["n"].Value}", out var pr))
            {
                await Write(http, 404, new JsonObject { ["message"] = "Not Found", ["documentation_url"] = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request", ["status"] = "404" });
                return;
            }
            switch (key)
            {
                case "GET pull": await Write(http, 200, PullJson(pr)); break;
                case "POST labels":
                    // GitHub also takes a bare array, but its OpenAPI description (checked above) only {"labels": [...]}.
                    var sent = JsonNode.Parse(body)!;
                    foreach (var label in (sent as JsonArray ?? sent["labels"]!.AsArray()).Select(l => l!.GetValue<string>()))
                        if (!pr.Labels.Contains(label)) pr.Labels.Enqueue(label);
                    var template = Fixtures.Json("github/labels_add_response_recorded.json").AsArray()[0]!;
                    await Write(http, 200, new JsonArray([.. pr.Labels.Select(l => { var o = template.DeepClone(); o["name"] = l; return o; })]));
                    break;
                case "GET comments":
                    await Write(http, 200, new JsonArray([.. pr.Comments.Select((c, i) => (JsonNode)CommentJson(pr, 1 + i, c))]));
                    break;
                case "POST comments":
                    var text = JsonNode.Parse(body)!["body"]!.GetValue<string>();
                    pr.Comments.Enqueue(text);
                    await Write(http, 201, CommentJson(pr, Interlocked.Increment(ref commentIds), text));
                    break;
                case "GET reviews": await Reviews(http, pr, path); break;
                case "PUT merge": await Merge(http, pr, JsonNode.Parse(body)!.AsObject()); break;
                default: await Write(http, 404, new JsonObject { ["message"] = "Not Found" }); break;
            }
        });
    }

    static string method(HttpContext http) => http.Request.Method;

    // ---- Sign-in (OAuth device flow) on the web host, and users. ----

    /// <summary>The client id of the bot's app: the device flow answers only to it.</summary>
    public const string ClientId = "Iv1.8a61f9b3a7aba766";
    const string DeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

    /// <summary>GitHub's users by login (GET /users/{login}, GET /user/{id}); octocat is the fixture PR's author, id 1. A rename: remove, add.</summary>
    public ConcurrentDictionary<string, long> Users { get; } = new(StringComparer.OrdinalIgnoreCase) { ["octocat"] = 1, ["hubot"] = 2 };
    /// <summary>The interval POST /login/device/code names (GitHub's is 5 s; tests keep it short).</summary>
    public int DeviceInterval { get; set; }
    /// <summary>The interval a slow_down answer names.</summary>
    public int SlowDownInterval { get; set; } = 1;
    /// <summary>What the token endpoint answers, in order, before anything else: "authorization_pending", "slow_down", "expired_token", "access_denied".</summary>
    public ConcurrentQueue<string> TokenErrors { get; } = new();
    /// <summary>Who enters the code on GitHub and authorises the app; null: nobody yet (authorization_pending).</summary>
    public (string Login, long Id)? Authorizer { get; set; }
    /// <summary>Every poll of the token endpoint: the device code and when it came.</summary>
    public ConcurrentQueue<(string DeviceCode, DateTimeOffset At)> TokenPolls { get; } = new();
    readonly ConcurrentDictionary<string, bool> deviceCodes = new();
    readonly ConcurrentDictionary<string, (string Login, long Id)> userTokens = new();
    int deviceCount;

    static JsonObject UserJson(string login, long id) => new()
    {
        ["login"] = login, ["id"] = id, ["node_id"] = "MDQ6VXNlcjE=", ["type"] = "User", ["site_admin"] = false,
        ["url"] = $"https://api.github.com/users/{login}", ["html_url"] = $"https://github.com/{login}",
    };

    (string Login, long Id)? UserOfToken(HttpContext http)
    {
        var auth = http.Request.Headers.Authorization.ToString();
        var token = auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? auth[7..] : auth.StartsWith("token ", StringComparison.OrdinalIgnoreCase) ? auth[6..] : "";
        return userTokens.TryGetValue(token, out var user) ? user : null;
    }

    static Dictionary<string, string> Form(HttpContext http, string body) =>
        http.Request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.Ordinal) == true
            ? Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(body).ToDictionary(kv => kv.Key, kv => kv.Value.ToString())
            : [];

    /// <summary>POST /login/device/code, as GitHub answers with Accept: application/json.</summary>
    async Task DeviceCode(HttpContext http, string body)
    {
        var form = Form(http, body);
        if (!http.Request.Headers.Accept.ToString().Contains("application/json")) { await WriteForm(http, "error=not_json"); return; }
        if (form.GetValueOrDefault("client_id") != ClientId) { await Write(http, 200, new JsonObject { ["error"] = "incorrect_client_credentials" }); return; }
        var code = $"3584d83530557fdd1f46af8289938c8ef79f9dc{Interlocked.Increment(ref deviceCount)}";
        deviceCodes[code] = true;
        await Write(http, 200, new JsonObject
        {
            ["device_code"] = code, ["user_code"] = "WDJB-MJHT", ["verification_uri"] = "https://github.com/login/device",
            ["expires_in"] = 900, ["interval"] = DeviceInterval,
        });
    }

    /// <summary>POST /login/oauth/access_token with the device grant: errors as GitHub sends them (200 with "error"), then a token.</summary>
    async Task DeviceToken(HttpContext http, string body)
    {
        var form = Form(http, body);
        var code = form.GetValueOrDefault("device_code") ?? "";
        TokenPolls.Enqueue((code, Clock()));
        JsonObject Error(string error) => new() { ["error"] = error, ["error_description"] = error.Replace('_', ' '), ["error_uri"] = "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow" };
        if (form.GetValueOrDefault("client_id") != ClientId) { await Write(http, 200, Error("incorrect_client_credentials")); return; }
        if (form.GetValueOrDefault("grant_type") != DeviceGrant) { await Write(http, 200, Error("unsupported_grant_type")); return; }
        if (!deviceCodes.ContainsKey(code)) { await Write(http, 200, Error("incorrect_device_code")); return; }
        if (TokenErrors.TryDequeue(out var error))
        {
            var answer = Error(error);
            if (error == "slow_down") answer["interval"] = SlowDownInterval;
            if (error is "expired_token" or "access_denied") deviceCodes.TryRemove(code, out _);
            await Write(http, 200, answer);
            return;
        }
        if (Authorizer is not { } user) { await Write(http, 200, Error("authorization_pending")); return; }
        deviceCodes.TryRemove(code, out _); // a device code gives one token
        var token = "gho_16C7e42F292c6912E7710c838347Ae178B4a" + Interlocked.Increment(ref deviceCount);
        userTokens[token] = user;
        Users[user.Login] = user.Id;
        await Write(http, 200, new JsonObject { ["access_token"] = token, ["token_type"] = "bearer", ["scope"] = "" });
    }

    static async Task WriteForm(HttpContext http, string body)
    {
        http.Response.ContentType = "application/x-www-form-urlencoded; charset=utf-8";
        await http.Response.WriteAsync(body);
    }

    JsonObject PullJson(Pr pr)
    {
        var o = Fixtures.Object("github/pull_get.json");
        o["number"] = pr.Number;
        o["url"] = $"https://api.github.com/repos/{pr.Owner}/{pr.Repo}/pulls/{pr.Number}";
        o["html_url"] = $"https://github.com/{pr.Owner}/{pr.Repo}/pull/{pr.Number}";
        o["title"] = pr.Title;
        o["user"]!["login"] = pr.AuthorLogin;
        o["user"]!["id"] = pr.AuthorId;
        o["head"]!["sha"] = pr.HeadSha;
        o["base"]!["ref"] = pr.BaseRef;
        o["base"]!["repo"]!["full_name"] = $"{pr.Owner}/{pr.Repo}";
        o["base"]!["repo"]!["private"] = pr.Private;
        o["head"]!["repo"]!["full_name"] = pr.HeadRepository ?? $"{pr.Owner}/{pr.Repo}";
        o["base"]!["repo"]!["allow_merge_commit"] = pr.AllowedMergeMethods.Contains("merge");
        o["base"]!["repo"]!["allow_squash_merge"] = pr.AllowedMergeMethods.Contains("squash");
        o["base"]!["repo"]!["allow_rebase_merge"] = pr.AllowedMergeMethods.Contains("rebase");
        // The fixture is inconsistent (merged:false with a merged_at); make it say one thing.
        o["state"] = pr.Merged ? "closed" : "open";
        o["merged"] = pr.Merged;
        o["merged_at"] = pr.MergedAt?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        o["closed_at"] = pr.MergedAt?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        o["merge_commit_sha"] = pr.MergedSha;
        if (!pr.Merged) o["merged_by"] = null;
        else if (pr.MergedBy is { } by) o["merged_by"]!["login"] = by;
        return o;
    }

    static JsonObject CommentJson(Pr pr, long id, string body)
    {
        var o = Fixtures.Object("github/issue_comment_create_response.json");
        o["id"] = id;
        o["body"] = body;
        o["issue_url"] = $"https://api.github.com/repos/{pr.Owner}/{pr.Repo}/issues/{pr.Number}";
        return o;
    }

    async Task Reviews(HttpContext http, Pr pr, string path)
    {
        var perPage = Math.Min(ReviewPageSize, int.TryParse(http.Request.Query["per_page"], out var pp) ? pp : 30);
        var page = int.TryParse(http.Request.Query["page"], out var p) ? p : 1;
        List<JsonObject> all;
        lock (pr.Reviews) all = [.. pr.Reviews];
        var pages = Math.Max(1, (all.Count + perPage - 1) / perPage);
        if (page < pages)
            http.Response.Headers["Link"] = $"<{Url}{pathPrefix}{path}?per_page={perPage}&page={page + 1}>; rel=\"next\", <{Url}{pathPrefix}{path}?per_page={perPage}&page={pages}>; rel=\"last\"";
        await Write(http, 200, new JsonArray([.. all.Skip((page - 1) * perPage).Take(perPage).Select(r => (JsonNode)r.DeepClone())]));
    }

    async Task Merge(HttpContext http, Pr pr, JsonObject request)
    {
        if (pr.Merged) { await Write(http, 405, new JsonObject { ["message"] = "Pull Request is not mergeable" }); return; }
        if (request["sha"]?.GetValue<string>() is { } sha && sha != pr.HeadSha)
        {
            await Write(http, 409, new JsonObject { ["message"] = "Head branch was modified. Review and try the merge again." });
            return;
        }
        // As GitHub: a method the repository does not allow is a 405; no merge_method means "merge".
        var method = request["merge_method"]?.GetValue<string>() ?? "merge";
        if (!pr.AllowedMergeMethods.Contains(method))
        {
            var what = method switch { "squash" => "Squash merges", "rebase" => "Rebase merges", _ => "Merge commits" };
            await Write(http, 405, new JsonObject { ["message"] = $"{what} are not allowed on this repository.", ["documentation_url"] = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request" });
            return;
        }
        pr.Merged = true;
        pr.MergedAt = DateTimeOffset.UtcNow;
        pr.MergedSha = "6dcb09b5b57875f334f61aebed695e2e4193db5f";
        pr.MergedBy = BotLogin;
        await Write(http, 200, new JsonObject { ["sha"] = pr.MergedSha, ["merged"] = true, ["message"] = "Pull Request successfully merged" });
    }

    async Task Membership(HttpContext http, string team, string login)
    {
        var key = $"{team}:{login}";
        JsonObject Details(string state) => new()
        {
            ["url"] = $"https://api.github.com/organizations/1/team/1/memberships/{login}", ["role"] = "member", ["state"] = state,
        };
        switch (http.Request.Method)
        {
            case "GET":
                if (TeamMembers.TryGetValue(key, out var state)) await Write(http, 200, Details(state));
                else await Write(http, 404, new JsonObject { ["message"] = "Not Found" });
                break;
            case "PUT":
                var now = TeamMembers.GetOrAdd(key, _ => NewTeamMembership(team, login));
                await Write(http, 200, Details(now));
                break;
            case "DELETE":
                if (TeamMembers.TryRemove(key, out _)) http.Response.StatusCode = 204;
                else await Write(http, 404, new JsonObject { ["message"] = "Not Found" });
                break;
        }
    }

    public bool IsMember(string team, string login) => TeamMembers.ContainsKey($"{team}:{login}");
    public void AddMember(string team, string login, string state = "active") => TeamMembers[$"{team}:{login}"] = state;

    /// <summary>POST /app/installations/{id}/access_tokens: only with a JWT signed (RS256) by the app's key, naming the app.</summary>
    async Task AccessToken(HttpContext http, string path)
    {
        var auth = http.Request.Headers.Authorization.ToString();
        if (AppKey is null || !auth.StartsWith("Bearer ", StringComparison.Ordinal) || !ValidJwt(auth[7..]))
        {
            await Write(http, 401, new JsonObject { ["message"] = "A JSON web token could not be decoded" });
            return;
        }
        var o = Fixtures.Object("github/app_installation_token_response.json");
        o["token"] = InstallationToken;
        o["expires_at"] = (Clock() + InstallationTokenLifetime).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        await Write(http, 201, o);
    }

    bool ValidJwt(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3) return false;
        var header = JsonNode.Parse(FromBase64Url(parts[0]))!;
        var payload = JsonNode.Parse(FromBase64Url(parts[1]))!;
        if (header["alg"]?.GetValue<string>() != "RS256") return false;
        if (payload["iss"]?.ToString() != AppId.ToString()) return false;
        var iat = payload["iat"]!.GetValue<long>();
        var exp = payload["exp"]!.GetValue<long>();
        var now = Clock().ToUnixTimeSeconds();
        if (exp - iat > 600 || iat > now + 5 || exp < now) return false;
        return AppKey!.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), FromBase64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    static byte[] FromBase64Url(string s)
    {
        s = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }

    static async Task Write(HttpContext http, int status, JsonNode body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        await http.Response.WriteAsync(body.ToJsonString());
    }

    /// <summary>GitHub's 429 with Retry-After.</summary>
    public static Fault TooManyRequests(int retryAfterSeconds) => new Fault.Status(429,
        """{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}""",
        new Dictionary<string, string> { ["Retry-After"] = retryAfterSeconds.ToString() });

    /// <summary>GitHub's primary rate limit: 403 with x-ratelimit-remaining 0 and the reset time (headers as in the recorded fixture).</summary>
    public static Fault RateLimited403(DateTimeOffset reset) => new Fault.Status(403,
        """{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}""",
        new Dictionary<string, string>
        {
            ["X-RateLimit-Limit"] = "5000", ["X-RateLimit-Remaining"] = "0", ["X-RateLimit-Used"] = "5000", ["X-RateLimit-Resource"] = "core",
            ["X-RateLimit-Reset"] = reset.ToUnixTimeSeconds().ToString(),
        });

    /// <summary>The search API's own limit used up (30 a minute): 403 naming the search resource, as GitHub answers it.</summary>
    public static Fault SearchRateLimited403(DateTimeOffset reset) => new Fault.Status(403,
        """{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/search/search#rate-limit"}""",
        new Dictionary<string, string>
        {
            ["X-RateLimit-Limit"] = "30", ["X-RateLimit-Remaining"] = "0", ["X-RateLimit-Used"] = "30", ["X-RateLimit-Resource"] = "search",
            ["X-RateLimit-Reset"] = reset.ToUnixTimeSeconds().ToString(),
        });

    public static Fault Status(int code, string message) =>
        new Fault.Status(code, new JsonObject { ["message"] = message, ["documentation_url"] = "https://docs.github.com/rest" }.ToJsonString());

    /// <summary>Merged pull requests per repository (owner/repo) and merge time, for GET /search/issues (route key "GET /search/issues").</summary>
    public ConcurrentQueue<(string Repository, DateTimeOffset MergedAt)> MergedPulls { get; } = new();

    /// <summary>GET /search/issues?q=repo:o/r ... is:pr is:merged merged:FROM..TO: total_count of <see cref="MergedPulls"/> matching (both ends included, as GitHub's).</summary>
    async Task Search(HttpContext http)
    {
        var q = http.Request.Query["q"].ToString();
        var terms = q.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var repos = terms.Where(t => t.StartsWith("repo:", StringComparison.Ordinal)).Select(t => t[5..]).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var range = terms.FirstOrDefault(t => t.StartsWith("merged:", StringComparison.Ordinal))?[7..].Split("..");
        if (!terms.Contains("is:pr") || !terms.Contains("is:merged") || range is not { Length: 2 } || repos.Count == 0)
        {
            await Write(http, 422, new JsonObject { ["message"] = "Validation Failed", ["documentation_url"] = "https://docs.github.com/v3/search/" });
            return;
        }
        var from = DateTimeOffset.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        var to = DateTimeOffset.Parse(range[1], System.Globalization.CultureInfo.InvariantCulture);
        var count = MergedPulls.Count(p => repos.Contains(p.Repository) && p.MergedAt >= from && p.MergedAt <= to);
        await Write(http, 200, new JsonObject { ["total_count"] = count, ["incomplete_results"] = false, ["items"] = new JsonArray() });
    }
}
