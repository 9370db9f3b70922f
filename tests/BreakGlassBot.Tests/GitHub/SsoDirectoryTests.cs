using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// The bot with GitHub:SsoDirectory:Organization set, against the fake GitHub's GraphQL endpoint and the fake Slack's
/// users.lookupByEmail. The interval is GitHub's default (hours): refreshes beyond the start-up one are asked for.
/// </summary>
public abstract class SsoDirectoryTest(string pathPrefix = "") : GitHubBotTest(pathPrefix)
{
    protected const string Team = "acme/breakglass";
    protected const string Org = "acme";
    protected const string MonaLogin = "monalisa";
    protected const long MonaId = 583231;
    protected const string MonaEmail = "monalisa@example.com";
    protected const string Other = "U0OTHER";

    protected virtual IDictionary<string, string?> More => new Dictionary<string, string?>();

    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var all = new Dictionary<string, string?> { ["GitHub:SsoDirectory:Organization"] = Org };
            foreach (var (k, v) in More) all[k] = v;
            return all;
        }
    }

    internal SsoDirectory Directory => Bot.Service<SsoDirectory>();

    protected GitHubIdentity? Identity(string user) => Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, user);

    protected IReadOnlyList<AuditEvent> BotAudit(string type) => [.. Bot.Store.AuditTrail(0).Where(e => e.Type == type)];

    /// <summary>Waits for the start-up refresh to end.</summary>
    protected Task FirstRefresh() => WaitUntil(() => Directory.Attempts >= 1, "the start-up refresh ended; " + Said());

    /// <summary>Asks for a refresh and waits until one begun after the ask has ended.</summary>
    protected async Task<DirectoryRefresh> Refresh()
    {
        var before = Directory.Started;
        Directory.Nudge();
        await WaitUntil(() => Directory.Started > before && Directory.Attempts == Directory.Started, "a refresh after the ask ended; " + Said());
        return Directory.Last!;
    }

    protected string Said() =>
        $"last: {Directory.Last}; graphql: {string.Join(" | ", GitHub.GraphqlQueries.Select(q => q.After ?? "first"))}; logs: {string.Join(" // ", Bot.Logs.Where(l => l.Contains("SSO directory")).TakeLast(5))}";
}

/// <summary>Team bypass with nobody configured: the directory's account is the declarer's.</summary>
[Trait("Category", "EndToEnd")]
public class SsoDirectoryTeamTests : SsoDirectoryTest
{
    protected override IDictionary<string, string?> More => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        ["Policy:BypassDuration"] = "01:00:00",
    };

    protected override void SeedFakes()
    {
        base.SeedFakes();
        GitHub.ExternalIdentities.Enqueue(new(MonaEmail, MonaLogin, MonaId));
        Slack.MembersByEmail[MonaEmail] = new(TestBot.Declarer);
    }

    [Fact]
    public async Task ADirectoryIdentityWhoseEmailMatchesASlackUserLinksThemAndGrantsTheTeamBypass()
    {
        await FirstRefresh();
        var identity = Identity(TestBot.Declarer)!;
        Assert.Equal((MonaLogin, MonaId, IdentitySources.SsoDirectory), (identity.Login, identity.GitHubId, identity.Source));
        var linked = Assert.Single(BotAudit(IdentityAuditTypes.Linked));
        Assert.Equal(("bot", TestBot.Declarer, MonaLogin, MonaId.ToString(), "sso-directory"),
            (linked.Actor, linked.Data["slack_user"], linked.Data["login"], linked.Data["github_id"], linked.Data["source"]));
        // Asked as GitHub documents: the organisation's identities over GraphQL with the bot's token; Slack by form, by e-mail.
        var query = Assert.Single(GitHub.CallsTo("POST graphql"));
        Assert.Equal("bearer " + FakeGitHub.Token, query.Headers["Authorization"]);
        Assert.Contains("externalIdentities(first: 100", JsonNode.Parse(query.Body)!["query"]!.GetValue<string>());
        var lookup = Assert.Single(Slack.CallsTo("users.lookupByEmail"));
        Assert.Equal("email=" + Uri.EscapeDataString(MonaEmail), lookup.Body);

        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, MonaLogin) && Change().Bypass?.Login == MonaLogin && Change().Bypass!.GrantedAt != default,
            "granted to the directory's account");
        // An unchanged directory changes nothing on the next refresh.
        Assert.True((await Refresh()).Complete);
        Assert.Single(BotAudit(IdentityAuditTypes.Linked));
    }
}

/// <summary>An admin's People entry wins over the directory.</summary>
[Trait("Category", "EndToEnd")]
public class SsoDirectoryAdminTests : SsoDirectoryTest
{
    protected override IDictionary<string, string?> More => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        ["Policy:BypassDuration"] = "01:00:00",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
    };

    protected override void SeedFakes()
    {
        base.SeedFakes();
        GitHub.ExternalIdentities.Enqueue(new(MonaEmail, MonaLogin, MonaId));
        Slack.MembersByEmail[MonaEmail] = new(TestBot.Declarer);
    }

    [Fact]
    public async Task AnAdminEntryWinsOverTheDirectory()
    {
        await FirstRefresh();
        Assert.True(Directory.Last!.Complete, Said());
        Assert.Single(Slack.CallsTo("users.lookupByEmail")); // matched, and left alone
        Assert.Null(Identity(TestBot.Declarer));
        Assert.Empty(BotAudit(IdentityAuditTypes.Linked));

        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot") && Change().Bypass?.GrantedAt != default, "granted to the configured account");
        Assert.False(GitHub.IsMember(Team, MonaLogin));
    }
}

[Trait("Category", "EndToEnd")]
public class SsoDirectoryTests : SsoDirectoryTest
{
    [Fact]
    public async Task EveryPageIsRead()
    {
        GitHub.GraphqlPageSize = 2;
        for (var i = 1; i <= 3; i++)
        {
            GitHub.ExternalIdentities.Enqueue(new($"person{i}@example.com", $"person{i}", 1000 + i));
            Slack.MembersByEmail[$"person{i}@example.com"] = new($"U0PERSON{i}");
        }
        // Slack's limit on users.lookupByEmail (Tier 3) is waited out, not taken for "no such user": beyond the client's own two
        // retries in place, the directory waits as Slack asks and asks again.
        Slack.Fail("users.lookupByEmail", FakeSlack.RateLimited(1), times: 3);
        Assert.True((await Refresh()).Complete, Said());
        Assert.Equal(3, Slack.Faulted.Count);
        Assert.DoesNotContain(Bot.Logs, l => l.Contains("refresh incomplete"));
        // Two pages, the second asked for with the first's endCursor; the person on it is linked like the others.
        var queries = GitHub.GraphqlQueries.ToList()[^2..];
        Assert.Null(queries[0].After);
        Assert.NotNull(queries[1].After);
        Assert.All(queries, q => Assert.Equal(Org, q.Org));
        for (var i = 1; i <= 3; i++) Assert.Equal(1000 + i, Identity($"U0PERSON{i}")?.GitHubId);
    }

    [Fact]
    public async Task ADeprovisionedIdentityIsUnlinkedOnTheNextRefresh()
    {
        GitHub.ExternalIdentities.Enqueue(new(MonaEmail, MonaLogin, MonaId));
        Slack.MembersByEmail[MonaEmail] = new(TestBot.Declarer);
        // Someone who linked by device flow, and is not in the directory: the directory does not touch them.
        Bot.Store.SaveDocument<GitHubIdentity>(People.IdentityCollection, Other, _ => new GitHubIdentity
        {
            Id = Other, Login = "octocat", GitHubId = 1, Source = IdentitySources.DeviceFlow,
        });
        await Refresh();
        Assert.Equal(MonaId, Identity(TestBot.Declarer)?.GitHubId);

        GitHub.ExternalIdentities.Clear(); // deprovisioned in the IdP: gone from the organisation's identities
        Assert.True((await Refresh()).Complete, Said());
        Assert.Null(Identity(TestBot.Declarer));
        var unlinked = Assert.Single(BotAudit(IdentityAuditTypes.Unlinked));
        Assert.Equal(("bot", TestBot.Declarer, MonaLogin, MonaId.ToString(), "sso-directory", "sso-directory"),
            (unlinked.Actor, unlinked.Data["slack_user"], unlinked.Data["login"], unlinked.Data["github_id"], unlinked.Data["source"], unlinked.Data["by"]));
        Assert.Equal(IdentitySources.DeviceFlow, Identity(Other)?.Source);
    }

    [Fact]
    public async Task AnIdentityWithoutAUserOrWithAnUnknownOrAmbiguousEmailLinksNobody()
    {
        // Unclaimed: no GitHub account has linked this identity yet (user: null), though Slack knows the address.
        GitHub.ExternalIdentities.Enqueue(new("mtodd@example.com", null, null));
        Slack.MembersByEmail["mtodd@example.com"] = new("U0MTODD");
        // An address Slack does not know.
        GitHub.ExternalIdentities.Enqueue(new("hubot@example.com", "hubot", 2));
        // Not a primary address.
        GitHub.ExternalIdentities.Enqueue(new("secondary@example.com", "octocat", 1, Primary: false));
        Slack.MembersByEmail["secondary@example.com"] = new("U0SECONDARY");
        // One address, two accounts.
        GitHub.ExternalIdentities.Enqueue(new("shared@example.com", "twin-a", 11));
        GitHub.ExternalIdentities.Enqueue(new("shared@example.com", "twin-b", 12));
        Slack.MembersByEmail["shared@example.com"] = new("U0SHARED");
        // Slack says the address is not confirmed; a bot user.
        GitHub.ExternalIdentities.Enqueue(new("unconfirmed@example.com", "uncle", 13));
        Slack.MembersByEmail["unconfirmed@example.com"] = new("U0UNCONFIRMED", EmailConfirmed: false);
        GitHub.ExternalIdentities.Enqueue(new("robot@example.com", "robot", 14));
        Slack.MembersByEmail["robot@example.com"] = new("U0ROBOT", IsBot: true);

        var refresh = await Refresh();
        Assert.True(refresh.Complete, Said());
        Assert.Equal(1, refresh.Ambiguous);
        Assert.Empty(Bot.Store.Documents<GitHubIdentity>(People.IdentityCollection));
        Assert.Empty(BotAudit(IdentityAuditTypes.Linked));
        // Only claimed, primary, unambiguous addresses were asked of Slack.
        var asked = Slack.CallsTo("users.lookupByEmail").Select(c => Uri.UnescapeDataString(c.Body["email=".Length..])).ToHashSet();
        Assert.Contains("hubot@example.com", asked);
        Assert.DoesNotContain("mtodd@example.com", asked);
        Assert.DoesNotContain("secondary@example.com", asked);
        Assert.DoesNotContain("shared@example.com", asked);
        Assert.Contains(Bot.Logs, l => l.Contains("shared@example.com belongs to several GitHub accounts (twin-a, twin-b)"));
    }

    [Fact]
    public async Task ADeviceFlowLinkThatDisagreesIsReplacedAndTheAuditNamesBoth()
    {
        await FirstRefresh();
        Bot.Store.SaveDocument<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer, _ => new GitHubIdentity
        {
            Id = TestBot.Declarer, Login = "octocat", GitHubId = 1, Source = IdentitySources.DeviceFlow,
        });
        // Another person's device-flow link agrees with the directory: it stays as they made it.
        Bot.Store.SaveDocument<GitHubIdentity>(People.IdentityCollection, Other, _ => new GitHubIdentity
        {
            Id = Other, Login = "hubot", GitHubId = 2, Source = IdentitySources.DeviceFlow,
        });
        GitHub.ExternalIdentities.Enqueue(new(MonaEmail, MonaLogin, MonaId));
        Slack.MembersByEmail[MonaEmail] = new(TestBot.Declarer);
        GitHub.ExternalIdentities.Enqueue(new("hubot@example.com", "hubot", 2));
        Slack.MembersByEmail["hubot@example.com"] = new(Other);

        Assert.True((await Refresh()).Complete, Said());
        Assert.Equal((MonaId, IdentitySources.SsoDirectory), (Identity(TestBot.Declarer)!.GitHubId, Identity(TestBot.Declarer)!.Source));
        var linked = Assert.Single(BotAudit(IdentityAuditTypes.Linked));
        Assert.Equal((MonaLogin, "octocat", "1", "device-flow"),
            (linked.Data["login"], linked.Data["replaced"], linked.Data["replaced_github_id"], linked.Data["replaced_source"]));
        Assert.Equal(IdentitySources.DeviceFlow, Identity(Other)!.Source);
    }

    [Fact]
    public async Task ARefreshThatFailsUnlinksNobodyAndIsTriedAgain()
    {
        GitHub.GraphqlPageSize = 1;
        GitHub.ExternalIdentities.Enqueue(new(MonaEmail, MonaLogin, MonaId));
        GitHub.ExternalIdentities.Enqueue(new("hubot@example.com", "hubot", 2));
        Slack.MembersByEmail[MonaEmail] = new(TestBot.Declarer);
        Slack.MembersByEmail["hubot@example.com"] = new(Other);
        Assert.True((await Refresh()).Complete, Said());
        Assert.NotNull(Identity(Other));

        // hubot leaves; until the directory is read whole again, that is not known.
        GitHub.ExternalIdentities.Clear();
        GitHub.ExternalIdentities.Enqueue(new(MonaEmail, MonaLogin, MonaId));
        GitHub.ExternalIdentities.Enqueue(new("octo@example.com", "octocat", 1));
        Slack.MembersByEmail["octo@example.com"] = new("U0OCTO");
        // The organisation cannot be read (GraphQL's 200 with errors)...
        GitHub.SsoOrganization = "someone-else";
        var failed = await Refresh();
        Assert.NotNull(Identity(Other));
        Assert.False(failed.Complete);
        Assert.Contains("NOT_FOUND", failed.Error);
        // ...Slack will not look e-mails up (the app lacks users:read.email)... Each failure is set before the last one ends:
        // the bot retries on its own meanwhile.
        Slack.MissingScopes.Add("users:read.email");
        GitHub.SsoOrganization = Org;
        failed = await Refresh();
        Assert.NotNull(Identity(Other));
        Assert.False(failed.Complete);
        Assert.Contains("missing_scope", failed.Error);
        // ...then the second page fails, then GitHub's rate limit: the bot retries on its own, not at the next interval.
        GitHub.Fail("POST graphql", new Fault.Status(502), when: c => JsonNode.Parse(c.Body)!["variables"]!["after"] is not null);
        GitHub.Fail("POST graphql", new Fault.Status(403, """{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api"}""",
            new Dictionary<string, string> { ["X-RateLimit-Remaining"] = "0", ["X-RateLimit-Resource"] = "graphql", ["X-RateLimit-Reset"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString() }));
        await WaitUntil(() => GitHub.Faulted.Count == 2, "both GitHub faults met; " + Said(), seconds: 20);
        Assert.NotNull(Identity(Other));
        Slack.MissingScopes.Clear();
        await WaitUntil(() => Identity(Other) is null, "hubot unlinked once the directory was read whole; " + Said(), seconds: 20);
        Assert.Equal(2, GitHub.Faulted.Count);
        Assert.Equal(1, Identity("U0OCTO")?.GitHubId);
        Assert.Equal(MonaId, Identity(TestBot.Declarer)?.GitHubId);
        Assert.Single(BotAudit(IdentityAuditTypes.Unlinked));
        Assert.Contains(Bot.Logs, l => l.Contains("refresh incomplete, nobody unlinked"));
    }
}

/// <summary>GitHub Enterprise Server: GraphQL at /api/graphql beside the REST API at /api/v3.</summary>
[Trait("Category", "EndToEnd")]
public class SsoDirectoryEnterpriseServerTests() : SsoDirectoryTest("/api/v3")
{
    protected override void SeedFakes()
    {
        base.SeedFakes();
        GitHub.ExternalIdentities.Enqueue(new(MonaEmail, MonaLogin, MonaId));
        Slack.MembersByEmail[MonaEmail] = new(TestBot.Declarer);
    }

    [Fact]
    public async Task TheDirectoryIsReadAtApiGraphql()
    {
        await WaitUntil(() => Identity(TestBot.Declarer)?.GitHubId == MonaId, "linked; " + Said());
        Assert.Equal("/api/graphql", Assert.Single(GitHub.CallsTo("POST graphql")).Path);
    }
}
