using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Channels;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.GitHub;

/// <summary>Audit events about people's GitHub accounts; about the bot, not a change (change 0). Actor: who did it.</summary>
public static class IdentityAuditTypes
{
    /// <summary>Data: slack_user, login, github_id, source (device-flow, sso-directory), replaced (the login linked before, if any; with replaced_github_id and replaced_source when it was verified).</summary>
    public const string Linked = "github_identity_linked";
    /// <summary>A device-flow link began. Data: slack_user, expires_at.</summary>
    public const string LinkStarted = "github_identity_link_started";
    /// <summary>A device-flow link ended without an account. Data: slack_user, reason.</summary>
    public const string LinkFailed = "github_identity_link_failed";
    /// <summary>Data: slack_user, login, github_id, source, by (self, admin or sso-directory).</summary>
    public const string Unlinked = "github_identity_unlinked";
    /// <summary>A verified account was found renamed on GitHub (same id). Data: slack_user, github_id, from, to.</summary>
    public const string Renamed = "github_identity_renamed";
    /// <summary>RecordOnly: a typed login kept as an unverified hint. Data: slack_user, login.</summary>
    public const string HintRecorded = "github_unverified_login_recorded";
}

/// <summary>A device-flow link waiting for the user to enter the code on GitHub; one per Slack user, kept until it ends.</summary>
public sealed class PendingDeviceLink
{
    public const string Collection = "github_device_links";

    public string Id { get; set; } = "";
    /// <summary>GitHub's device_code: a secret of this link, never logged.</summary>
    public string DeviceCode { get; set; } = "";
    public string UserCode { get; set; } = "";
    public string VerificationUri { get; set; } = "";
    public int IntervalSeconds { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset NextPollAt { get; set; }
    /// <summary>Slack's response_url of the command (valid 30 minutes): where the outcome is told, else by direct message.</summary>
    public string? ResponseUrl { get; set; }
    /// <summary>Held only between GitHub handing it over and GET /user answering, so a crash there loses nothing; then discarded.</summary>
    public string? AccessToken { get; set; }
}

public sealed record DeviceCode(string Code, string UserCode, string VerificationUri, int ExpiresIn, int Interval);

/// <summary>GitHub's answer to one poll of POST /login/oauth/access_token.</summary>
public abstract record TokenAnswer
{
    public sealed record Token(string AccessToken) : TokenAnswer;
    public sealed record Pending : TokenAnswer;
    public sealed record SlowDown(int? Interval) : TokenAnswer;
    public sealed record Expired : TokenAnswer;
    public sealed record Denied : TokenAnswer;
    public sealed record Refused(string Error) : TokenAnswer;
}

public sealed class DeviceFlowException(string message) : Exception(message);

/// <summary>GitHub's device-flow rules (docs: "Authorizing OAuth apps", device flow). Pure.</summary>
public static class DeviceFlowRules
{
    /// <summary>GitHub's interval when it names none, and what slow_down adds when it names no new one.</summary>
    public const int DefaultInterval = 5;
    public const int SlowDownStep = 5;

    public static int NextInterval(int current, TokenAnswer answer) =>
        answer is TokenAnswer.SlowDown s ? s.Interval ?? current + SlowDownStep : current;

    /// <summary>Why the link ended without an account, in words for the user; null while it goes on or when it succeeded.</summary>
    public static string? Failure(TokenAnswer answer) => answer switch
    {
        TokenAnswer.Expired => "the code expired before it was entered on GitHub",
        TokenAnswer.Denied => "the authorisation was cancelled on GitHub",
        TokenAnswer.Refused r => $"GitHub refused the link (`{r.Error}`)",
        _ => null,
    };
}

/// <summary>
/// The calls of the device flow: on GitHub's web host (GitHub:WebBaseUrl, so GitHub Enterprise Server works) for the code and
/// the token, GET /user with the user's token, and GET /users/{login} with the bot's for admin-configured logins.
/// </summary>
internal sealed class GitHubIdentityClient(IHttpClientFactory http, IHttpMessageHandlerFactory handlers, IOptions<GitHubOptions> options,
    IGitHubCredentials credentials)
{
    public const string HttpClientName = "github-identity";
    const string DeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

    string ClientId => options.Value.ClientId ?? throw new DeviceFlowException("GitHub:ClientId is not set");

    public async Task<DeviceCode> StartAsync(CancellationToken ct)
    {
        // No scope: the token only needs to read the user's own public profile (GET /user).
        var json = await PostFormAsync("/login/device/code", new() { ["client_id"] = ClientId }, ct);
        if (Text(json, "error") is { } error) throw new DeviceFlowException($"GitHub refused to start the link (`{error}`)");
        return new DeviceCode(Text(json, "device_code") ?? throw new DeviceFlowException("GitHub sent no device code"),
            Text(json, "user_code") ?? "", Text(json, "verification_uri") ?? options.Value.WebBaseUrl.TrimEnd('/') + "/login/device",
            Number(json, "expires_in") ?? 900, Number(json, "interval") ?? DeviceFlowRules.DefaultInterval);
    }

    public async Task<TokenAnswer> PollAsync(string deviceCode, CancellationToken ct)
    {
        var json = await PostFormAsync("/login/oauth/access_token",
            new() { ["client_id"] = ClientId, ["device_code"] = deviceCode, ["grant_type"] = DeviceGrant }, ct);
        if (Text(json, "access_token") is { Length: > 0 } token) return new TokenAnswer.Token(token);
        return Text(json, "error") switch
        {
            "authorization_pending" => new TokenAnswer.Pending(),
            "slow_down" => new TokenAnswer.SlowDown(Number(json, "interval")),
            "expired_token" => new TokenAnswer.Expired(),
            "access_denied" => new TokenAnswer.Denied(),
            var other => new TokenAnswer.Refused(other ?? "no token"),
        };
    }

    /// <summary>The account the token belongs to. Throws <see cref="DeviceFlowException"/> when GitHub refuses the token.</summary>
    public async Task<(string Login, long Id)> GetUserAsync(string token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, GitHubGateway.BaseUri(options.Value) + "user");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.ParseAdd("application/vnd.github+json");
        request.Headers.UserAgent.ParseAdd("BreakGlassBot/1.0");
        using var response = await http.CreateClient(HttpClientName).SendAsync(request, ct);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new DeviceFlowException($"GitHub refused the new token ({(int)response.StatusCode})");
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        var root = doc.RootElement;
        return (root.GetProperty("login").GetString()!, root.GetProperty("id").GetInt64());
    }

    /// <summary>The numeric id of <paramref name="login"/>, with the bot's credentials; null when GitHub has no such user.</summary>
    public async Task<long?> GetUserIdAsync(string login, CancellationToken ct)
    {
        var client = GitHubGateway.CreateClient(handlers, GitHubGateway.BaseUri(options.Value), credentials);
        try { return (await client.User.Get(login)).Id; }
        catch (Octokit.NotFoundException) { return null; }
    }

    /// <summary>The current login of GitHub user <paramref name="id"/> (GET /user/{account_id}), with the bot's credentials; null when gone.</summary>
    public async Task<string?> GetLoginAsync(long id, CancellationToken ct)
    {
        var client = GitHubGateway.CreateClient(handlers, GitHubGateway.BaseUri(options.Value), credentials);
        try { return (await client.Connection.Get<Octokit.User>(new Uri($"user/{id}", UriKind.Relative), new Dictionary<string, string>())).Body?.Login; }
        catch (Octokit.NotFoundException) { return null; }
    }

    async Task<JsonElement> PostFormAsync(string path, Dictionary<string, string> form, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, (options.Value.LoginBaseUrl ?? options.Value.WebBaseUrl).TrimEnd('/') + path) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Accept.ParseAdd("application/json"); // GitHub answers form-encoded otherwise
        request.Headers.UserAgent.ParseAdd("BreakGlassBot/1.0");
        using var response = await http.CreateClient(HttpClientName).SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if ((int)response.StatusCode >= 500) throw new HttpRequestException($"GitHub answered {(int)response.StatusCode}");
        try { return JsonDocument.Parse(body).RootElement.Clone(); }
        catch (JsonException) { throw new DeviceFlowException($"GitHub answered {(int)response.StatusCode} without JSON: is GitHub:WebBaseUrl right?"); }
    }

    static string? Text(JsonElement json, string name) =>
        json.ValueKind == JsonValueKind.Object && json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static int? Number(JsonElement json, string name) =>
        json.ValueKind == JsonValueKind.Object && json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
}

/// <summary>
/// Links and unlinks verified GitHub accounts, with an audit event each; afterwards grants that waited for an account are
/// tried again and the person's approvals are counted again.
/// </summary>
internal sealed partial class IdentityLinks(ChangeStore store, People people, OutboxQueue outbox, IReevaluation tracker, ISlackApi slack,
    IOptions<GitHubOptions> options, TimeProvider time, ILogger<IdentityLinks> log)
{
    /// <summary>Stores the verified account; returns the changes whose bypass grant is being tried again.</summary>
    public IReadOnlyList<string> Link(string slackUser, string login, long id, string source, string actor)
    {
        var now = time.GetUtcNow();
        var previous = people.VerifiedGitHub(slackUser);
        var hint = people.UnverifiedGitHubLogin(slackUser);
        store.SaveDocument<GitHubIdentity>(People.IdentityCollection, slackUser, _ => new GitHubIdentity
        {
            Id = slackUser, Login = login, GitHubId = id, Source = source, VerifiedAt = now,
        });
        if (hint is not null) store.UnlinkAccount(slackUser, People.GitHub); // the verified account replaces the typed hint
        var data = new Dictionary<string, string>
        {
            ["slack_user"] = slackUser, ["login"] = login, ["github_id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture), ["source"] = source,
        };
        if ((previous?.Login ?? hint) is { } replaced) data["replaced"] = replaced;
        if (previous is not null)
        {
            // A directory link may replace a device-flow one: the event names both accounts and how each was known.
            data["replaced_github_id"] = previous.GitHubId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            data["replaced_source"] = previous.Source;
        }
        store.Append(new AuditEvent { ChangeNumber = 0, At = now, Actor = actor, Type = IdentityAuditTypes.Linked, Data = data });
        return AfterChange(slackUser, now);
    }

    /// <summary>
    /// The login to act for: a verified account's current one, read by its id (it may have been renamed since it was linked,
    /// and the old name may be someone else's now); the stored one when GitHub cannot say.
    /// </summary>
    public async Task<string> CurrentLoginAsync(string slackUser, GitHubAccount account, GitHubIdentityClient client, CancellationToken ct)
    {
        if (account.Source == IdentitySources.Admin || account.Id is not { } id) return account.Login;
        string? current;
        try { current = await client.GetLoginAsync(id, ct); }
        catch (Exception e) when (e is Octokit.ApiException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested) { return account.Login; }
        if (current is null || current == account.Login) return account.Login;
        var now = time.GetUtcNow();
        store.SaveDocument<GitHubIdentity>(People.IdentityCollection, slackUser, stored =>
        {
            if (stored is not null && stored.GitHubId == id) stored.Login = current;
            return stored ?? new GitHubIdentity { Id = slackUser, Login = current, GitHubId = id, Source = account.Source, VerifiedAt = now };
        });
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = now, Actor = "bot", Type = IdentityAuditTypes.Renamed,
            Data = new() { ["slack_user"] = slackUser, ["github_id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture), ["from"] = account.Login, ["to"] = current },
        });
        return current;
    }

    /// <summary>Removes the verified account and any hint; null when there was neither.</summary>
    /// <param name="by">Who removed it, for the audit event; unset: self or admin, by <paramref name="actor"/>.</param>
    public string? Unlink(string slackUser, string actor, string? by = null)
    {
        var verified = people.VerifiedGitHub(slackUser);
        var hint = people.UnverifiedGitHubLogin(slackUser);
        if (verified is null && hint is null) return null;
        if (verified is not null) store.DeleteDocument<GitHubIdentity>(People.IdentityCollection, slackUser);
        if (hint is not null) store.UnlinkAccount(slackUser, People.GitHub);
        var now = time.GetUtcNow();
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = now, Actor = actor, Type = IdentityAuditTypes.Unlinked, Data = new()
            {
                ["slack_user"] = slackUser, ["login"] = verified?.Login ?? hint!,
                ["github_id"] = verified?.GitHubId.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
                ["source"] = verified?.Source ?? IdentitySources.Unverified, ["by"] = by ?? (actor == slackUser ? "self" : "admin"),
            },
        });
        AfterChange(slackUser, now);
        return verified?.Login ?? hint;
    }

    /// <summary>Team grants that gave up for want of an account are queued again; the person's approvals are counted again.</summary>
    IReadOnlyList<string> AfterChange(string slackUser, DateTimeOffset now)
    {
        var retried = new List<string>();
        if (people.GitHubLogin(slackUser) is { } login)
            foreach (var open in store.OpenChangesOf(slackUser))
                if (store.Update(open.Id, c => RetryGrant(c, slackUser, login, now)).Result) retried.Add(open.ChangeId.ToString());
        foreach (var change in store.OpenChanges().Where(c => c.Approvals.Any(a => a.Reviewer == slackUser)))
            tracker.Reevaluate(change.Id);
        outbox.Nudge();
        return retried;
    }

    /// <summary>A Team grant that gave up because no account was known: try again now. True when it was queued again.</summary>
    Decision<bool> RetryGrant(EmergencyChange c, string user, string login, DateTimeOffset now)
    {
        var notGranted = c.Bypass is null || c.Bypass.GrantedAt == default;
        if (options.Value.BypassMode != BypassMode.Team || !notGranted
            || !c.Steps.Any(s => s.Kind == GitHubStepKinds.BypassGrant && s.State == StepState.Abandoned)
            || c.Steps.Any(s => s.Kind == GitHubStepKinds.BypassGrant && s.State == StepState.Pending))
            return Decision<bool>.Only(false);
        OutboxQueue.Enqueue(c, GitHubStepKinds.BypassGrant, now);
        return new([new AuditEvent { ChangeNumber = c.Id, At = now, Actor = user, Type = GitHubAuditTypes.AccountLinked,
            Data = new() { ["login"] = login, ["then"] = "bypass grant retried" } }], true);
    }

    /// <summary>Tells the user how their link ended: in the command's place while its response_url lives, else by direct message.</summary>
    public async Task TellAsync(string slackUser, string? responseUrl, DateTimeOffset startedAt, string text, CancellationToken ct)
    {
        var message = new SlackMessage(text, Blocks.List(Blocks.Section(text)));
        try
        {
            // Slack keeps a response_url for 30 minutes.
            if (responseUrl is not null && time.GetUtcNow() - startedAt < TimeSpan.FromMinutes(29))
            {
                await slack.RespondAsync(responseUrl, message, ct: ct);
                return;
            }
            var channel = await slack.OpenDirectMessageAsync(slackUser, ct);
            await slack.PostMessageAsync(channel, message, ct);
        }
        catch (Exception e) when (e is SlackApiException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            LogTellFailed(log, slackUser, e is SlackApiException s ? s.Error : e.GetType().Name);
        }
    }

    [LoggerMessage(EventId = 6201, Level = LogLevel.Warning, Message = "Could not tell {User} how their GitHub link ended: {Error}")]
    static partial void LogTellFailed(ILogger logger, string user, string error);
}

/// <summary>
/// Polls GitHub for device-flow links as its rules say (interval, slow_down, expired_token, access_denied). The links live in
/// the store, so a restart picks up where it left off; one loop polls them one at a time.
/// </summary>
internal sealed partial class DeviceFlowPoller(ChangeStore store, GitHubIdentityClient client, IdentityLinks links, IOptions<StorageOptions> storage,
    TimeProvider time, ILogger<DeviceFlowPoller> log) : BackgroundService
{
    readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Nudge() => wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await PollDueAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e) { LogSweepFailed(log, e.GetType().Name); }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(storage.Value.PollingInterval);
            try { await wake.Reader.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
        }
    }

    internal async Task PollDueAsync(CancellationToken ct)
    {
        foreach (var link in store.Documents<PendingDeviceLink>(PendingDeviceLink.Collection).Where(l => l.NextPollAt <= time.GetUtcNow()))
        {
            try { await PollAsync(link, ct); }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Whatever went wrong with this link, it is tried again on its interval, not on every sweep.
                LogPollFailed(log, link.Id, e.GetType().Name);
                Save(link, l => l.NextPollAt = time.GetUtcNow() + Interval(Math.Max(l.IntervalSeconds, DeviceFlowRules.DefaultInterval)));
            }
        }
    }

    async Task PollAsync(PendingDeviceLink link, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var token = link.AccessToken;
        if (token is null)
        {
            if (now >= link.ExpiresAt) { await FailAsync(link, DeviceFlowRules.Failure(new TokenAnswer.Expired())!, ct); return; }
            TokenAnswer answer;
            try { answer = await client.PollAsync(link.DeviceCode, ct); }
            catch (DeviceFlowException e) { await FailAsync(link, e.Message, ct); return; }
            catch (Exception e) when (Passing(e, ct))
            {
                LogPollFailed(log, link.Id, e.GetType().Name);
                Save(link, l => l.NextPollAt = now + Interval(Math.Max(l.IntervalSeconds, DeviceFlowRules.DefaultInterval)));
                return;
            }
            if (DeviceFlowRules.Failure(answer) is { } failure) { await FailAsync(link, failure, ct); return; }
            if (answer is not TokenAnswer.Token t)
            {
                var interval = DeviceFlowRules.NextInterval(link.IntervalSeconds, answer);
                Save(link, l => { l.IntervalSeconds = interval; l.NextPollAt = now + Interval(interval); });
                return;
            }
            token = t.AccessToken;
            Save(link, l => l.AccessToken = t.AccessToken);
        }
        (string Login, long Id) user;
        try { user = await client.GetUserAsync(token, ct); }
        catch (DeviceFlowException e) { await FailAsync(link, e.Message, ct); return; }
        catch (Exception e) when (Passing(e, ct))
        {
            LogPollFailed(log, link.Id, e.GetType().Name);
            Save(link, l => l.NextPollAt = now + Interval(Math.Max(l.IntervalSeconds, DeviceFlowRules.DefaultInterval)));
            return;
        }
        // The token is discarded with the pending link: the bot keeps only who the account is.
        store.DeleteDocument<PendingDeviceLink>(PendingDeviceLink.Collection, link.Id);
        var retried = links.Link(link.Id, user.Login, user.Id, IdentitySources.DeviceFlow, link.Id);
        LogLinked(log, link.Id, user.Login, user.Id);
        await links.TellAsync(link.Id, link.ResponseUrl, link.StartedAt,
            $":white_check_mark: GitHub confirmed your account: `{Blocks.Escape(user.Login)}` (id {user.Id}) is now linked to you."
            + (retried.Count > 0 ? $" Granting the bypass for {string.Join(", ", retried)} now; the thread says when it is done." : ""), ct);
    }

    async Task FailAsync(PendingDeviceLink link, string reason, CancellationToken ct)
    {
        store.DeleteDocument<PendingDeviceLink>(PendingDeviceLink.Collection, link.Id);
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = time.GetUtcNow(), Actor = "bot", Type = IdentityAuditTypes.LinkFailed,
            Data = new() { ["slack_user"] = link.Id, ["reason"] = reason },
        });
        await links.TellAsync(link.Id, link.ResponseUrl, link.StartedAt,
            $":x: Your GitHub account was not linked: {reason}. Type `/breakglass link github` to try again.", ct);
    }

    /// <summary>Saves a change to the link unless a newer <c>/breakglass link github</c> replaced it meanwhile.</summary>
    void Save(PendingDeviceLink link, Action<PendingDeviceLink> change) =>
        store.SaveDocument<PendingDeviceLink>(PendingDeviceLink.Collection, link.Id, stored =>
        {
            if (stored is null || stored.DeviceCode != link.DeviceCode) return stored ?? link;
            change(stored);
            return stored;
        });

    static TimeSpan Interval(int seconds) => TimeSpan.FromSeconds(Math.Max(seconds, 0));

    static bool Passing(Exception e, CancellationToken ct) =>
        !ct.IsCancellationRequested && e is HttpRequestException or TaskCanceledException or TimeoutException or Octokit.ApiException;

    [LoggerMessage(EventId = 6202, Level = LogLevel.Warning, Message = "Device-flow poll for {User} failed, trying again: {Error}")]
    static partial void LogPollFailed(ILogger logger, string user, string error);
    [LoggerMessage(EventId = 6203, Level = LogLevel.Error, Message = "Device-flow poll sweep failed: {Error}")]
    static partial void LogSweepFailed(ILogger logger, string error);
    [LoggerMessage(EventId = 6204, Level = LogLevel.Information, Message = "{User} linked GitHub account {Login} ({Id}), verified by device flow")]
    static partial void LogLinked(ILogger logger, string user, string login, long id);
}

/// <summary>
/// Reads the numeric id of each admin-configured login once (GET /users/{login}) and keeps it, so a PR by that account still
/// matches after a rename. Runs in the background from start-up, retrying until each is known or GitHub says there is no such user.
/// </summary>
internal sealed partial class AdminLoginResolver(ChangeStore store, People people, GitHubIdentityClient client, IOptions<GitHubOptions> options,
    IOptions<StorageOptions> storage, TimeProvider time, ILogger<AdminLoginResolver> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.IsConfigured) return;
        var todo = people.ConfiguredGitHubLogins().Select(p => p.Login).Distinct(StringComparer.OrdinalIgnoreCase)
            .Where(l => people.ResolvedId(l) is null).ToList();
        for (var attempt = 1; todo.Count > 0 && !stoppingToken.IsCancellationRequested; attempt++)
        {
            foreach (var login in todo.ToList())
            {
                try
                {
                    var id = await client.GetUserIdAsync(login, stoppingToken);
                    todo.Remove(login);
                    if (id is null) { LogUnknownLogin(log, login); continue; }
                    store.SaveDocument<ResolvedLogin>(People.ResolvedCollection, login.ToLowerInvariant(),
                        _ => new ResolvedLogin { Id = login.ToLowerInvariant(), GitHubId = id.Value, ResolvedAt = time.GetUtcNow() });
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
                catch (Exception e) { LogResolveFailed(log, login, e.GetType().Name); }
            }
            if (todo.Count == 0) return;
            var wait = TimeSpan.FromTicks(Math.Min(storage.Value.PollingInterval.Ticks * (1L << Math.Min(attempt, 20)), storage.Value.MaxRetryDelay.Ticks));
            try { await Task.Delay(wait, time, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    [LoggerMessage(EventId = 6205, Level = LogLevel.Warning, Message = "People: GitHub has no user {Login}; check the People:<id>:GitHub entry that names it")]
    static partial void LogUnknownLogin(ILogger logger, string login);
    [LoggerMessage(EventId = 6206, Level = LogLevel.Warning, Message = "Could not read the id of GitHub user {Login} yet: {Error}")]
    static partial void LogResolveFailed(ILogger logger, string login, string error);
}
