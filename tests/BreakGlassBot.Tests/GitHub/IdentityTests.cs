using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>The bot pointed at the fake GitHub's sign-in host too, with the app's client id: /breakglass link github works.</summary>
public abstract class IdentityTest : GitHubBotTest
{
    protected const string Team = "acme/breakglass";
    protected const string MonaLogin = "monalisa";
    protected const long MonaId = 583231;

    protected virtual IDictionary<string, string?> More => new Dictionary<string, string?>();

    protected override IDictionary<string, string?> Settings
    {
        get
        {
            var all = new Dictionary<string, string?>
            {
                ["GitHub:ClientId"] = FakeGitHub.ClientId,
                ["GitHub:LoginBaseUrl"] = GitHub.Url,
            };
            foreach (var (k, v) in More) all[k] = v;
            return all;
        }
    }

    /// <summary>A command with a response_url on the fake Slack, so what the bot says later is seen there.</summary>
    protected async Task<string> CommandAsync(string text, string user = TestBot.Declarer, string responseId = "link")
    {
        var response = await Bot.SendSignedAsync("/slack/commands", TestBot.CommandForm(text, user, responseUrl: Slack.ResponseUrl(responseId)));
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["text"]!.GetValue<string>();
    }

    /// <summary>What the bot later said through the response_url <paramref name="responseId"/>.</summary>
    protected IReadOnlyList<string> Said(string responseId = "link") =>
        [.. Slack.Responses.Where(r => r.Path.EndsWith("/" + responseId, StringComparison.Ordinal)).Select(r => JsonNode.Parse(r.Body)!["text"]!.GetValue<string>())];

    protected IReadOnlyList<AuditEvent> BotAudit(string type) => [.. Bot.Store.AuditTrail(0).Where(e => e.Type == type)];

    /// <summary>Starts the device flow for <paramref name="user"/> and has <paramref name="login"/> authorise it on GitHub.</summary>
    protected async Task LinkAsync(string user, string login, long id, string responseId = "link")
    {
        GitHub.Authorizer = (login, id);
        var reply = await CommandAsync("link github", user, responseId);
        Assert.Contains("WDJB-MJHT", reply);
        // The account is stored before its audit event is appended: wait for both.
        var idText = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await WaitUntil(() => Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, user)?.GitHubId == id
                && BotAudit(IdentityAuditTypes.Linked).Any(e => e.Data["slack_user"] == user && e.Data["github_id"] == idText),
            $"{user} linked to {login}");
    }
}

/// <summary>Team bypass with nobody configured: only an account GitHub confirmed is added to the team.</summary>
[Trait("Category", "EndToEnd")]
public class VerifiedIdentityTeamTests : IdentityTest
{
    protected override IDictionary<string, string?> More => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        ["Policy:BypassDuration"] = "01:00:00",
    };

    [Fact]
    public async Task AVerifiedLinkGrantsTheTeamBypassToThatAccount()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Thread().Any(m => m.MetadataNote?.StartsWith("step-gaveup") == true), "told to link");
        Assert.Contains("`/breakglass link github`", Thread().Single(m => m.MetadataNote?.StartsWith("step-gaveup") == true).Text);

        // The user takes a while to enter the code, and GitHub asks the bot to slow down once.
        GitHub.TokenErrors.Enqueue("authorization_pending");
        GitHub.TokenErrors.Enqueue("slow_down");
        GitHub.TokenErrors.Enqueue("authorization_pending");
        var reply = await CommandAsync("link github");
        Assert.Contains("open https://github.com/login/device and enter the code `WDJB-MJHT`", reply);
        await WaitUntil(() => GitHub.TokenErrors.IsEmpty && GitHub.TokenPolls.Count >= 4, "GitHub's errors answered");
        // GitHub named 0 s at first, then 1 s with slow_down: the poll after it waited at least that long.
        var polls = GitHub.TokenPolls.ToList();
        Assert.True(polls[2].At - polls[1].At >= TimeSpan.FromSeconds(0.95), $"polled again {(polls[2].At - polls[1].At).TotalMilliseconds} ms after slow_down");
        Assert.Equal(1, Bot.Store.Document<PendingDeviceLink>(PendingDeviceLink.Collection, TestBot.Declarer)!.IntervalSeconds);
        Assert.Null(Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer)); // nothing before GitHub confirms
        Assert.DoesNotContain(GitHub.Calls, c => c.Key.EndsWith("membership"));

        GitHub.Authorizer = (MonaLogin, MonaId);
        await WaitUntil(() => GitHub.IsMember(Team, MonaLogin) && Change().Bypass?.Login == MonaLogin && Change().Bypass!.GrantedAt != default, "granted to the verified account");
        var identity = Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer)!;
        Assert.Equal((MonaLogin, MonaId, IdentitySources.DeviceFlow), (identity.Login, identity.GitHubId, identity.Source));
        var linked = Assert.Single(BotAudit(IdentityAuditTypes.Linked));
        Assert.Equal((TestBot.Declarer, MonaLogin, MonaId.ToString(), "device-flow"), (linked.Actor, linked.Data["login"], linked.Data["github_id"], linked.Data["source"]));
        await WaitUntil(() => Said().Any(t => t.Contains($"GitHub confirmed your account: `{MonaLogin}`") && t.Contains("Granting the bypass for BG-1")), "told");
        // The token was used for GET /user only, and is not kept.
        Assert.Single(GitHub.CallsTo("GET", "/user"), c => c.Headers.GetValueOrDefault("Authorization")?.StartsWith("Bearer gho_") == true);
        Assert.Null(Bot.Store.Document<PendingDeviceLink>(PendingDeviceLink.Collection, TestBot.Declarer));
        Assert.True(GitHub.TokenPolls.Count >= 4);
    }

    [Fact]
    public async Task AVerifiedAccountRenamedOnGitHubIsGrantedUnderItsCurrentLogin()
    {
        Bot.Store.SaveDocument<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer, _ => new GitHubIdentity
        {
            Id = TestBot.Declarer, Login = MonaLogin, GitHubId = MonaId, Source = IdentitySources.DeviceFlow,
        });
        // Renamed since linking, and the old name taken by someone else.
        GitHub.Users["mona-renamed"] = MonaId;
        GitHub.Users[MonaLogin] = 999;
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "mona-renamed") && Change().Bypass?.GrantedAt != default, "granted under the current login");
        Assert.False(GitHub.IsMember(Team, MonaLogin));
        Assert.Equal("mona-renamed", Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer)!.Login);
        var renamed = Assert.Single(BotAudit(IdentityAuditTypes.Renamed));
        Assert.Equal((MonaLogin, "mona-renamed"), (renamed.Data["from"], renamed.Data["to"]));
    }

    [Fact]
    public async Task ATypedLoginGrantsNothingAndExplains()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Thread().Any(m => m.MetadataNote?.StartsWith("step-gaveup") == true), "told to link");
        var reply = await CommandAsync("link github hubot");
        Assert.Contains("cannot check a login typed into Slack", reply);
        Assert.Contains("`hubot` was not linked", reply);
        Assert.Contains("type `/breakglass link github` without a login", reply);
        Assert.Null(Bot.Store.LinkedAccount(TestBot.Declarer, "github"));
        await Task.Delay(500); // the outbox would have retried a grant by now
        Assert.DoesNotContain(GitHub.Calls, c => c.Key.EndsWith("membership"));
        Assert.Null(Change().Bypass?.Login);
    }

    [Fact]
    public async Task ExpiredAndDeniedLinksLinkNothingAndSaySo()
    {
        GitHub.TokenErrors.Enqueue("expired_token");
        await CommandAsync("link github", responseId: "one");
        await WaitUntil(() => Said("one").Any(t => t.Contains("the code expired before it was entered on GitHub")), "told it expired");

        GitHub.TokenErrors.Enqueue("access_denied");
        await CommandAsync("link github", responseId: "two");
        await WaitUntil(() => Said("two").Any(t => t.Contains("the authorisation was cancelled on GitHub")), "told it was denied");

        Assert.Null(Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer));
        Assert.Equal(2, BotAudit(IdentityAuditTypes.LinkFailed).Count);
        Assert.Empty(Bot.Store.Documents<PendingDeviceLink>(PendingDeviceLink.Collection));
    }
}

/// <summary>A device-flow link under way when the bot restarts is polled on by the next process.</summary>
[Trait("Category", "EndToEnd")]
public class DeviceFlowRestartTests : IdentityTest
{
    [Fact]
    public async Task ALinkStartedBeforeARestartCompletesAfterIt()
    {
        Assert.Contains("WDJB-MJHT", await CommandAsync("link github"));
        await WaitUntil(() => GitHub.TokenPolls.Count >= 1, "polling");
        await Bot.DisposeAsync();
        Bot = await StartBotAsync();
        GitHub.Authorizer = (MonaLogin, MonaId);
        await WaitUntil(() => Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer)?.GitHubId == MonaId, "linked after the restart");
        Assert.Single(BotAudit(IdentityAuditTypes.Linked));
    }
}

/// <summary>An admin's People entry is authoritative over any link, verified or typed.</summary>
[Trait("Category", "EndToEnd")]
public class AdminIdentityTests : IdentityTest
{
    protected override IDictionary<string, string?> More => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        ["Policy:BypassDuration"] = "01:00:00",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
    };

    [Fact]
    public async Task AnAdminEntryWinsOverAnyLink()
    {
        // Linked before the admin configured them: the configured account is the one the bot acts for.
        Bot.Store.SaveDocument<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer, _ => new GitHubIdentity
        {
            Id = TestBot.Declarer, Login = MonaLogin, GitHubId = MonaId, Source = IdentitySources.DeviceFlow,
        });
        Assert.Contains("already `hubot`, set by an admin", await CommandAsync("link github"));
        Assert.Contains("An admin set your GitHub login to `hubot`", await CommandAsync("link github monalisa"));
        Assert.Empty(GitHub.CallsTo("POST", "/login/device/code"));

        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot") && Change().Bypass?.GrantedAt != default, "granted to the configured account");
        Assert.False(GitHub.IsMember(Team, MonaLogin));
        // The configured login's id is read once, so a later rename still matches.
        await WaitUntil(() => Bot.Store.Document<ResolvedLogin>(People.ResolvedCollection, "hubot")?.GitHubId == 2, "hubot's id read");
    }
}

/// <summary>Eligibility by numeric id, and approvals by reviewers the bot cannot place on GitHub.</summary>
[Trait("Category", "EndToEnd")]
public class IdentityEligibilityTests : IdentityTest
{
    const string Reviewer = ApprovalTests.Reviewer1;

    protected override IDictionary<string, string?> More => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer,
        ["Policy:RequiredEvidence:0"] = "SlackApproval",
    };

    string? SlackMissing() => Change().Evidence.SingleOrDefault(e => e.Kind == nameof(EvidenceKind.SlackApproval))?.Missing;

    async Task<string> ApproveAsync(string id)
    {
        var before = Slack.Responses.Count;
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl(id), actionTs: id + ".1"));
        await WaitUntil(() => Slack.Responses.Count > before, "the click is answered");
        return JsonNode.Parse(Slack.Responses.Last().Body)!["text"]!.GetValue<string>();
    }

    async Task DeclaredAndReadAsync()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Announcement is not null && Change().PullRequests[0].AuthorId is not null, "announced, PR read");
    }

    [Fact]
    public async Task ARenamedLoginStillMatchesById()
    {
        await LinkAsync(Reviewer, MonaLogin, MonaId);
        // The PR is by the same GitHub account under a new name.
        GitHub.PullRequest(Pr).AuthorLogin = "mona-renamed";
        GitHub.PullRequest(Pr).AuthorId = MonaId;
        await DeclaredAndReadAsync();
        Assert.Contains("you authored acme/api#1347", await ApproveAsync("a"));
        Assert.Empty(Change().Approvals);
    }

    [Fact]
    public async Task AnApprovalByAnUnknownReviewerCountsOnlyOnceTheyLinkAndAreNotTheAuthor()
    {
        await DeclaredAndReadAsync(); // by octocat, id 1
        var answer = await ApproveAsync("b");
        Assert.Contains("You approved BG-1", answer);
        Assert.Contains("does not know your GitHub account", answer);
        Assert.Contains("`/breakglass link github`", answer);
        await WaitUntil(() => SlackMissing()?.Contains("counts once they link their GitHub account (`/breakglass link github`)") == true, "not counted yet");
        Assert.Equal(ChangeStatus.Open, Change().Status);
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == "approved:0"), "approval noted");
        Assert.Contains("links their GitHub account with `/breakglass link github`", Thread().Single(m => m.MetadataNote == "approved:0").Text);

        await LinkAsync(Reviewer, MonaLogin, MonaId); // not octocat
        await WaitUntil(() => Change().Status == ChangeStatus.Reviewed, "counted after linking");
    }

    [Fact]
    public async Task AnUnknownReviewerWhoLinksAsTheAuthorStillDoesNotCount()
    {
        await DeclaredAndReadAsync();
        await ApproveAsync("c");
        await LinkAsync(Reviewer, "octocat", 1);
        await WaitUntil(() => SlackMissing()?.Contains("does not count (author of acme/api#1347)") == true, "excluded once known");
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }

    [Fact]
    public async Task ATypedLoginInRecordOnlyIsAnUnverifiedHintThatCountsForNothing()
    {
        var reply = await CommandAsync("link github mona-typed", Reviewer);
        Assert.Contains("`mona-typed` (unverified)", reply);
        Assert.Single(BotAudit(IdentityAuditTypes.HintRecorded));
        await DeclaredAndReadAsync();
        await ApproveAsync("d");
        await WaitUntil(() => SlackMissing()?.Contains("counts once they link") == true, "a hint proves nothing");
        Assert.Equal(ChangeStatus.Open, Change().Status);
    }
}

/// <summary>Unlinking, and the admins' list and revocation, each an audit event.</summary>
[Trait("Category", "EndToEnd")]
public class IdentityAdminCommandTests : IdentityTest
{
    [Fact]
    public async Task UnlinkForgetsTheAccountAndSaysSo()
    {
        await LinkAsync(TestBot.Declarer, MonaLogin, MonaId);
        Assert.Contains($"Your GitHub account `{MonaLogin}` is no longer linked", await CommandAsync("unlink github", responseId: "u"));
        Assert.Null(Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer));
        var unlinked = Assert.Single(BotAudit(IdentityAuditTypes.Unlinked));
        Assert.Equal((MonaLogin, "self"), (unlinked.Data["login"], unlinked.Data["by"]));
        Assert.Contains("You have no linked GitHub account", await CommandAsync("unlink github", responseId: "u2"));
    }

    [Fact]
    public async Task AdminsListAndRevokeLinksOthersMayNot()
    {
        await LinkAsync(TestBot.Declarer, MonaLogin, MonaId);
        Assert.Contains("Only admins", await CommandAsync("people", TestBot.Declarer, "p0"));
        var list = await CommandAsync("people", TestBot.Admin, "p1");
        Assert.Contains($"<@{TestBot.Declarer}>: `{MonaLogin}` (id {MonaId}), verified by device-flow", list);

        Assert.Contains($"<@{TestBot.Declarer}> is no longer linked to `{MonaLogin}`", await CommandAsync($"people revoke <@{TestBot.Declarer}|declarer>", TestBot.Admin, "p2"));
        Assert.Null(Bot.Store.Document<GitHubIdentity>(People.IdentityCollection, TestBot.Declarer));
        var revoked = Assert.Single(BotAudit(IdentityAuditTypes.Unlinked));
        Assert.Equal((TestBot.Admin, "admin"), (revoked.Actor, revoked.Data["by"]));
        Assert.Contains("nobody yet", await CommandAsync("people", TestBot.Admin, "p3"));

        await CommandAsync("link github mona-typed", ApprovalTests.Reviewer1, "p4"); // RecordOnly: a hint
        Assert.Contains($"<@{ApprovalTests.Reviewer1}>: `mona-typed`, *unverified*", await CommandAsync("people", TestBot.Admin, "p5"));
    }
}
