using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.GitHub;

/// <summary>An external identity of the organisation's SAML/SCIM directory that a GitHub account has claimed.</summary>
public sealed record DirectoryIdentity(string Guid, string Login, long GitHubId, IReadOnlyList<string> PrimaryEmails);

/// <summary>One page of external identities; <see cref="Unclaimed"/> counts those with no GitHub account linked (user: null).</summary>
public sealed record DirectoryPage(IReadOnlyList<DirectoryIdentity> Identities, int Unclaimed, string? NextCursor, TimeSpan? WaitBeforeNext);

/// <summary>The directory could not be read (whole); <see cref="RetryAfter"/> when GitHub's rate limit says how long to wait.</summary>
public sealed class DirectoryException(string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>How one refresh ended. Incomplete: something could not be read, so nobody was unlinked.</summary>
public sealed record DirectoryRefresh(bool Complete, int Identities, int Linked, int Unlinked, int Ambiguous, TimeSpan? RetryAfter = null, string? Error = null);

/// <summary>Matching e-mails to identities, pure.</summary>
public static class DirectoryMatching
{
    /// <summary>Each e-mail's identity; an e-mail that two GitHub accounts share is ambiguous and matches nobody.</summary>
    public static (IReadOnlyDictionary<string, DirectoryIdentity> ByEmail, IReadOnlyList<string> Ambiguous) ByEmail(IEnumerable<DirectoryIdentity> identities)
    {
        var groups = identities.SelectMany(i => i.PrimaryEmails.Select(e => (Email: Normalize(e), Identity: i)))
            .GroupBy(x => x.Email, StringComparer.Ordinal).ToList();
        var ambiguous = groups.Where(g => g.Select(x => x.Identity.GitHubId).Distinct().Count() > 1).Select(g => g.Key).ToList();
        var byEmail = groups.Where(g => !ambiguous.Contains(g.Key)).ToDictionary(g => g.Key, g => g.First().Identity, StringComparer.Ordinal);
        return (byEmail, ambiguous);
    }

    public static string Normalize(string email) => email.Trim().ToLowerInvariant();

    /// <summary>Whether Slack's user may be matched: active, a person, and an address Slack does not call unconfirmed.</summary>
    public static bool Eligible(SlackUserByEmail user) => !user.Deleted && !user.IsBot && user.EmailConfirmed != false;
}

/// <summary>
/// GitHub's GraphQL API for the organisation's external identities (organization.samlIdentityProvider.externalIdentities), with
/// the bot's credentials. The token must see them: an org owner's classic token with read:org (or admin:org), authorised for
/// the organisation's SAML SSO, or a GitHub App with the organisation permission Members (read). Enterprise-level SAML is
/// another query (enterprise.ownerInfo.samlIdentityProvider) and is not supported.
/// </summary>
internal sealed class SsoDirectoryClient(IHttpClientFactory http, IOptions<GitHubOptions> options, IGitHubCredentials credentials, TimeProvider time)
{
    // membersOnly: identities of people no longer in the organisation (SCIM keeps their metadata) are not listed.
    internal const string Query = """
        query($org: String!, $after: String) {
          organization(login: $org) {
            samlIdentityProvider {
              externalIdentities(first: 100, after: $after, membersOnly: true) {
                pageInfo { hasNextPage endCursor }
                nodes {
                  guid
                  samlIdentity { nameId emails { value primary } }
                  scimIdentity { username emails { value primary } }
                  user { login databaseId }
                }
              }
            }
          }
        }
        """;

    /// <summary>GitHub.com: api.github.com/graphql; GitHub Enterprise Server: &lt;host&gt;/api/graphql beside &lt;host&gt;/api/v3/.</summary>
    public static Uri GraphqlUri(GitHubOptions o)
    {
        var api = GitHubGateway.BaseUri(o);
        return api.AbsolutePath.EndsWith("/api/v3/", StringComparison.OrdinalIgnoreCase) ? new Uri(api, "../graphql") : new Uri(api, "graphql");
    }

    public async Task<DirectoryPage> PageAsync(string organization, string? after, CancellationToken ct)
    {
        var token = (await credentials.GetCredentials()).Password;
        var body = new JsonObject { ["query"] = Query, ["variables"] = new JsonObject { ["org"] = organization, ["after"] = after } };
        using var request = new HttpRequestMessage(HttpMethod.Post, GraphqlUri(options.Value))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("bearer", token);
        request.Headers.UserAgent.ParseAdd("BreakGlassBot/1.0");
        using var response = await http.CreateClient(GitHubGateway.HttpClientName).SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        var now = time.GetUtcNow();
        if (RateLimitWait(response, text, now) is { } wait) throw new DirectoryException("GitHub's GraphQL rate limit is used up", wait);
        if (response.StatusCode == HttpStatusCode.Unauthorized) credentials.Invalidate();
        if (!response.IsSuccessStatusCode) throw new DirectoryException($"GitHub answered HTTP {(int)response.StatusCode}");
        JsonNode? root;
        try { root = JsonNode.Parse(text); }
        catch (JsonException) { throw new DirectoryException("GitHub answered with something that is not JSON"); }
        // GraphQL answers 200 with "errors" (no such organisation, a token that may not see it): nothing of it is trusted.
        if (root?["errors"] is JsonArray { Count: > 0 } errors)
            throw new DirectoryException("GitHub's GraphQL errors: " + string.Join("; ", errors.Select(e => $"{e?["type"]} {e?["message"]}")));
        var provider = root?["data"]?["organization"]?["samlIdentityProvider"]
            ?? throw new DirectoryException($"organisation {organization} shows no SAML identity provider to this token (SAML on the enterprise is not supported)");
        var connection = provider["externalIdentities"] ?? throw new DirectoryException("GitHub sent no externalIdentities");
        var identities = new List<DirectoryIdentity>();
        var unclaimed = 0;
        foreach (var node in connection["nodes"] as JsonArray ?? [])
        {
            if (node?["user"] is not JsonObject user || user["login"]?.GetValue<string>() is not { Length: > 0 } login
                || user["databaseId"] is not JsonValue id || !id.TryGetValue<long>(out var githubId))
            {
                unclaimed++;
                continue;
            }
            var emails = Primary(node["samlIdentity"]).Concat(Primary(node["scimIdentity"])).Select(DirectoryMatching.Normalize).Distinct().ToList();
            identities.Add(new DirectoryIdentity(node["guid"]?.GetValue<string>() ?? "", login, githubId, emails));
        }
        var info = connection["pageInfo"];
        var next = info?["hasNextPage"]?.GetValue<bool>() == true ? info["endCursor"]?.GetValue<string>() : null;
        // The limit is spent: the next page waits for the reset rather than failing.
        var pause = next is not null && Header(response, "x-ratelimit-remaining") == "0" ? ResetIn(response, now) : null;
        return new DirectoryPage(identities, unclaimed, next, pause);
    }

    static IEnumerable<string> Primary(JsonNode? attributes) =>
        (attributes?["emails"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(e => e["primary"] is JsonValue p && p.TryGetValue<bool>(out var primary) && primary)
            .Select(e => e["value"]?.GetValue<string>()).OfType<string>().Where(v => v.Contains('@'));

    /// <summary>How long GitHub asks to wait: 429, a 403 with the limit used up or Retry-After, or a 200 whose error is RATE_LIMITED.</summary>
    static TimeSpan? RateLimitWait(HttpResponseMessage response, string body, DateTimeOffset now)
    {
        var limited = response.StatusCode == HttpStatusCode.TooManyRequests
            || (response.StatusCode == HttpStatusCode.Forbidden && (Header(response, "x-ratelimit-remaining") == "0" || response.Headers.RetryAfter is not null))
            || body.Contains("\"RATE_LIMITED\"", StringComparison.Ordinal);
        if (!limited) return null;
        if (response.Headers.RetryAfter?.Delta is { } delta) return Positive(delta);
        return ResetIn(response, now) ?? TimeSpan.FromMinutes(1);
    }

    static TimeSpan? ResetIn(HttpResponseMessage response, DateTimeOffset now) =>
        long.TryParse(Header(response, "x-ratelimit-reset"), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
            ? Positive(DateTimeOffset.FromUnixTimeSeconds(epoch) - now)
            : null;

    static TimeSpan Positive(TimeSpan t) => t < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : t;

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}

/// <summary>
/// GitHub:SsoDirectory: at start-up and every RefreshInterval, reads every external identity of the organisation, finds each
/// claimed identity's Slack user by its primary e-mail (users.lookupByEmail) and links them (source sso-directory, audited).
/// The directory is authoritative for the people it maps: a device-flow link to another account is replaced (the audit event
/// names both); an admin's People:&lt;id&gt;:GitHub still wins. Links it made are removed once a complete refresh no longer
/// maps the person (deprovisioned); a refresh that could not read everything links what it found and unlinks nobody.
/// </summary>
internal sealed partial class SsoDirectory(SsoDirectoryClient client, ISlackApi slack, ChangeStore store, People people, IdentityLinks links,
    IOptions<GitHubOptions> options, IOptions<StorageOptions> storage, TimeProvider time, ILogger<SsoDirectory> log) : BackgroundService
{
    /// <summary>Slack's 429s on users.lookupByEmail are waited out this many times per address before the refresh gives up.</summary>
    const int SlackRetries = 5;
    readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    int started, attempts;

    /// <summary>Refreshes begun so far.</summary>
    public int Started => Volatile.Read(ref started);
    /// <summary>Refreshes ended so far (complete or not).</summary>
    public int Attempts => Volatile.Read(ref attempts);
    public DirectoryRefresh? Last { get; private set; }

    /// <summary>Refresh now instead of at the next interval.</summary>
    public void Nudge() => wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(o.SsoDirectory.Organization)) return;
        if (!o.IsConfigured) { LogNoGitHub(log); return; }
        for (var failures = 0; !stoppingToken.IsCancellationRequested;)
        {
            DirectoryRefresh outcome;
            wake.Reader.TryRead(out _); // a refresh asked for before this one began is this one
            Interlocked.Increment(ref started);
            try { outcome = await RefreshAsync(o.SsoDirectory.Organization.Trim(), stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e) { outcome = new DirectoryRefresh(false, 0, 0, 0, 0, Error: e.GetType().Name); }
            Last = outcome;
            Interlocked.Increment(ref attempts);
            failures = outcome.Complete ? 0 : failures + 1;
            if (!outcome.Complete) LogIncomplete(log, outcome.Error ?? "unknown", outcome.Linked);
            var wait = outcome.Complete ? o.SsoDirectory.RefreshInterval
                : outcome.RetryAfter ?? TimeSpan.FromTicks(Math.Min(storage.Value.PollingInterval.Ticks * (1L << Math.Min(failures, 20)), storage.Value.MaxRetryDelay.Ticks));
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            await Task.WhenAny(Task.Delay(wait, time, waiting.Token), wake.Reader.WaitToReadAsync(waiting.Token).AsTask());
            await waiting.CancelAsync();
        }
    }

    internal async Task<DirectoryRefresh> RefreshAsync(string organization, CancellationToken ct)
    {
        // 1. Every claimed identity, all pages. Nothing is changed before the directory is read whole.
        var identities = new List<DirectoryIdentity>();
        var unclaimed = 0;
        string? cursor = null;
        do
        {
            DirectoryPage page;
            try { page = await client.PageAsync(organization, cursor, ct); }
            catch (Exception e) when (!ct.IsCancellationRequested && e is DirectoryException or GitHubException or HttpRequestException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException)
            {
                return new DirectoryRefresh(false, identities.Count, 0, 0, 0, (e as DirectoryException)?.RetryAfter ?? (e as GitHubException)?.RetryAfter, e.Message);
            }
            identities.AddRange(page.Identities);
            unclaimed += page.Unclaimed;
            // A cursor that does not move would page forever: read as an error, so nothing is unlinked on a partial list.
            if (page.NextCursor is not null && page.NextCursor == cursor)
                return new DirectoryRefresh(false, identities.Count, 0, 0, 0, Error: "GitHub repeated the page cursor");
            cursor = page.NextCursor;
            if (cursor is not null && page.WaitBeforeNext is { } pause) await Task.Delay(pause, time, ct);
        } while (cursor is not null);

        // 2. E-mail to identity, then e-mail to Slack user. Two accounts on one e-mail, or one Slack user on two accounts: nobody.
        var (byEmail, ambiguousEmails) = DirectoryMatching.ByEmail(identities);
        foreach (var email in ambiguousEmails)
            LogAmbiguousEmail(log, email, string.Join(", ", identities.Where(i => i.PrimaryEmails.Contains(email)).Select(i => i.Login).Distinct()));
        var found = new Dictionary<string, List<DirectoryIdentity>>(StringComparer.Ordinal);
        var complete = true;
        string? slackError = null;
        foreach (var (email, identity) in byEmail)
        {
            var user = await LookUpAsync(email, ct);
            if (user is LookUp.Failed failed) { complete = false; slackError = failed.Error; continue; }
            if (user is not LookUp.Found { User: var u } || !DirectoryMatching.Eligible(u)) continue;
            if (!found.TryGetValue(u.Id, out var list)) found[u.Id] = list = [];
            if (!list.Any(i => i.GitHubId == identity.GitHubId)) list.Add(identity);
        }
        var ambiguous = ambiguousEmails.Count;
        var matches = new Dictionary<string, DirectoryIdentity>(StringComparer.Ordinal);
        foreach (var (slackUser, list) in found)
        {
            if (list.Count == 1) { matches[slackUser] = list[0]; continue; }
            ambiguous++;
            LogAmbiguousUser(log, slackUser, string.Join(", ", list.Select(i => i.Login)));
        }

        // 3. Link what the directory says, unless an admin configured the person or the link already says the same.
        var linked = 0;
        foreach (var (slackUser, identity) in matches)
        {
            if (people.ConfiguredGitHubLogin(slackUser) is not null) continue;
            var current = people.VerifiedGitHub(slackUser);
            // A device-flow link to the same account stays: it proves the same, and the person made it.
            if (current is not null && current.GitHubId == identity.GitHubId && (current.Source != IdentitySources.SsoDirectory || current.Login == identity.Login))
                continue;
            links.Link(slackUser, identity.Login, identity.GitHubId, IdentitySources.SsoDirectory, "bot");
            LogLinked(log, slackUser, identity.Login, identity.GitHubId, current?.Login ?? "-");
            linked++;
        }
        if (!complete)
            return new DirectoryRefresh(false, identities.Count, linked, 0, ambiguous, Error: "Slack users.lookupByEmail failed: " + slackError);

        // 4. Only after a complete read: the directory's own links it no longer makes are removed (deprovisioned, e-mail changed).
        var unlinked = 0;
        foreach (var stale in store.Documents<GitHubIdentity>(People.IdentityCollection)
                     .Where(i => i.Source == IdentitySources.SsoDirectory && !matches.ContainsKey(i.Id)).ToList())
        {
            links.Unlink(stale.Id, "bot", by: IdentitySources.SsoDirectory);
            LogUnlinked(log, stale.Id, stale.Login, stale.GitHubId);
            unlinked++;
        }
        LogRefreshed(log, identities.Count, unclaimed, matches.Count, linked, unlinked, ambiguous);
        return new DirectoryRefresh(true, identities.Count, linked, unlinked, ambiguous);
    }

    abstract record LookUp
    {
        public sealed record Found(SlackUserByEmail User) : LookUp;
        public sealed record None : LookUp;
        public sealed record Failed(string Error) : LookUp;
    }

    async Task<LookUp> LookUpAsync(string email, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return await slack.LookupUserByEmailAsync(email, ct) is { } user ? new LookUp.Found(user) : new LookUp.None(); }
            catch (SlackApiException e) when (e.RetryAfter is { } after && attempt < SlackRetries)
            {
                await Task.Delay(after, time, ct); // Tier 3: a large directory meets Slack's limit; wait as Slack asks
            }
            catch (SlackApiException e) { return new LookUp.Failed(e.Error); }
        }
    }

    [LoggerMessage(EventId = 6210, Level = LogLevel.Information, Message = "SSO directory: {Identities} identities ({Unclaimed} unclaimed), {Matched} matched to Slack users, {Linked} linked, {Unlinked} unlinked, {Ambiguous} ambiguous")]
    static partial void LogRefreshed(ILogger logger, int identities, int unclaimed, int matched, int linked, int unlinked, int ambiguous);
    [LoggerMessage(EventId = 6211, Level = LogLevel.Warning, Message = "SSO directory: refresh incomplete, nobody unlinked, trying again: {Error} ({Linked} linked meanwhile)")]
    static partial void LogIncomplete(ILogger logger, string error, int linked);
    [LoggerMessage(EventId = 6212, Level = LogLevel.Warning, Message = "SSO directory: e-mail {Email} belongs to several GitHub accounts ({Logins}); it matches nobody")]
    static partial void LogAmbiguousEmail(ILogger logger, string email, string logins);
    [LoggerMessage(EventId = 6213, Level = LogLevel.Warning, Message = "SSO directory: Slack user {User} matches several GitHub accounts ({Logins}); linked to none")]
    static partial void LogAmbiguousUser(ILogger logger, string user, string logins);
    [LoggerMessage(EventId = 6214, Level = LogLevel.Information, Message = "SSO directory: linked {User} to GitHub account {Login} ({Id}); before: {Before}")]
    static partial void LogLinked(ILogger logger, string user, string login, long id, string before);
    [LoggerMessage(EventId = 6216, Level = LogLevel.Warning, Message = "SSO directory: GitHub:SsoDirectory:Organization is set but GitHub is not configured (GitHub:Token or the GitHub App); the directory is off")]
    static partial void LogNoGitHub(ILogger logger);
    [LoggerMessage(EventId = 6215, Level = LogLevel.Information, Message = "SSO directory: unlinked {User} from {Login} ({Id}): no longer in the directory")]
    static partial void LogUnlinked(ILogger logger, string user, string login, long id);
}

public static class SsoDirectorySetup
{
    /// <summary>The directory client and its refresher; the refresher does nothing unless GitHub:SsoDirectory:Organization is set.</summary>
    public static IServiceCollection AddSsoDirectory(this IServiceCollection s)
    {
        s.AddSingleton<SsoDirectoryClient>();
        s.AddSingleton<SsoDirectory>();
        s.AddHostedService(sp => sp.GetRequiredService<SsoDirectory>());
        return s;
    }
}
