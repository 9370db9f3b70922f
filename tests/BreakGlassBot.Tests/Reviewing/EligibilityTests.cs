using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>Who counts as a PR author: an admin-configured login is authoritative, and every known login of a person is checked.</summary>
[Trait("Category", "EndToEnd")]
public class EligibilityTests : BotTest
{
    const string Author = ApprovalTests.Author; // People:U0AUTHOR:GitHub = octocat

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
        ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2,
        ["Slack:Reviewers:2"] = Author,
        ["People:U0AUTHOR:GitHub"] = "octocat",
        ["Policy:RequiredApprovals"] = "2",
    };

    async Task DeclareWithPrAsync()
    {
        await Bot.CommandJsonAsync("Hotfix https://github.com/acme/api/pull/1");
        await Eventually.Until(() => Bot.Store.Get(1)?.Announcement is not null && Bot.Store.Get(1)!.NextStepAt is null, "announced");
    }

    void AuthorIs(string login) => Bot.Store.Update(1, c => { c.PullRequests[0].AuthorLogin = login; return []; }); // as read from GitHub

    async Task<string> ClickApproveAsync(string user, string id)
    {
        var before = Slack.Responses.Count;
        await Bot.InteractionAsync(ApprovalTests.Click(user, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl(id), actionTs: id + ".1"));
        await Eventually.Until(() => Slack.Responses.Count > before, "the click is answered");
        return JsonNode.Parse(Slack.Responses.Last().Body)!["text"]!.GetValue<string>();
    }

    [Fact]
    public async Task APrAuthorCannotLinkAnotherLoginOverTheAdminConfiguredOneToApproveTheirOwnChange()
    {
        var reply = (await Bot.CommandJsonAsync("link github not-octocat", Author))["text"]!.GetValue<string>();
        Assert.Contains("An admin set your GitHub login to `octocat`", reply);
        Assert.Contains("cannot change it", reply);
        Assert.Null(Bot.Store.LinkedAccount(Author, "github"));
        Assert.Contains("already `octocat`", (await Bot.CommandJsonAsync("link github OctoCat", Author))["text"]!.GetValue<string>());

        await DeclareWithPrAsync();
        AuthorIs("octocat");
        Assert.Contains("you authored acme/api#1", await ClickApproveAsync(Author, "a"));
        Assert.Empty(Bot.Store.Get(1)!.Approvals);
    }

    [Fact]
    public async Task EveryLoginKnownForAPersonCountsAsTheirs()
    {
        // Linked before an admin configured another login for them: a PR under the linked login is still theirs.
        Bot.Store.LinkAccount(Author, "github", "octo-alt");
        await DeclareWithPrAsync();
        AuthorIs("Octo-Alt");
        Assert.Contains("you authored acme/api#1", await ClickApproveAsync(Author, "b"));
        Assert.Empty(Bot.Store.Get(1)!.Approvals);
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused && e.Actor == Author);
    }

    [Fact]
    public async Task AnApprovalRecordedBeforeThePrAuthorWasKnownDoesNotCountOnceItIs()
    {
        await DeclareWithPrAsync(); // GitHub is not configured here: the PR's author is unknown, so the author's click is taken
        Assert.Contains("You approved BG-1", await ClickApproveAsync(Author, "c"));
        AuthorIs("octocat");
        Assert.Contains("You approved BG-1", await ClickApproveAsync(ApprovalTests.Reviewer1, "d"));

        // The look after the first approval also says "does not count": wait for the one that saw both.
        await Bot.Until(() => Bot.Store.Get(1)!.Evidence.Any(e => e.Missing?.Contains("does not count") == true && e.Missing.Contains("(1 of 2)")), "evaluated after the second approval");
        var change = Bot.Store.Get(1)!;
        Assert.Equal(ChangeStatus.Open, change.Status);
        var missing = change.Evidence.Single(e => e.Kind == nameof(EvidenceKind.SlackApproval)).Missing!;
        Assert.Contains("1 more reviewer approval(s) in Slack (1 of 2)", missing);
        Assert.Contains("does not count (author of acme/api#1)", missing);

        await ClickApproveAsync(ApprovalTests.Reviewer2, "e");
        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed with two eligible approvals");
    }
}

/// <summary>
/// With GitHub configured but not answering (as during an incident), an approval is taken while a linked PR's author is
/// unknown; it counts only once GitHub has named the author, and not at all when that is the approver, who is told.
/// </summary>
[Trait("Category", "EndToEnd")]
public class EligibilityWithGitHubTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
        [$"People:{ApprovalTests.Reviewer1}:GitHub"] = "octocat", // the fake PR's author
    };

    string? SlackMissing() => Change().Evidence.SingleOrDefault(e => e.Kind == nameof(EvidenceKind.SlackApproval))?.Missing;

    [Theory]
    [InlineData("button")]
    [InlineData("thread-reply")]
    public async Task AnApprovalWhileThePrAuthorIsUnknownIsRecordedAndStopsCountingOnceGitHubNamesTheApproverAsAuthor(string how)
    {
        GitHub.Down = true;
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Announcement is not null, "announced");
        if (how == "button")
        {
            await Bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("u")));
            await WaitUntil(() => Slack.Responses.Count == 1, "answered");
            Assert.Contains("You approved BG-1", Slack.Responses[0].Body);
            Assert.Contains($"GitHub has not said yet who wrote {Pr}: if it was you, this approval will not count", Slack.Responses[0].Body);
        }
        else
            await Bot.EventAsync(ThreadReplyTests.Reply("EvU1", ApprovalTests.Reviewer1, "lgtm", Change().Announcement!.Ts));

        await WaitUntil(() => Change().Approvals.Count == 1, "the approval is recorded");
        Assert.Equal(how, Change().Approvals[0].Source);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused);
        // Until GitHub answers, it is recorded but not counted: the author could be the approver.
        await WaitUntil(() => SlackMissing()?.Contains($"counts once GitHub has said who wrote {Pr}") == true, "counted as undecided");
        Assert.Equal(ChangeStatus.Open, Change().Status);

        GitHub.Down = false; // GitHub answers: octocat (the approver) wrote it
        await WaitUntil(() => Change().PullRequests[0].AuthorLogin is not null, "PR read");
        await WaitUntil(() => SlackMissing()?.Contains($"does not count (author of {Pr})") == true, "the approval no longer counts");
        await WaitUntil(() => Thread().Any(m => m.Text.Contains($"<@{ApprovalTests.Reviewer1}>: your approval of BG-1 does not count after all: GitHub says you wrote {Pr}")),
            "the approver is told in the thread");
        Assert.Equal(ChangeStatus.Open, Change().Status);
        Assert.Single(Change().Approvals);
        Assert.DoesNotContain(Thread(), m => m.Text.Contains("does not count as an approval")); // no refusal note
    }
}

/// <summary>The reviewer user group under a slow or failing Slack: a click gets an answer inside Slack's 3 s either way.</summary>
[Trait("Category", "EndToEnd")]
public class ReviewerGroupTests : BotTest
{
    const string Group = "S0614TZR7";
    const string Member = "U060R4BJ4"; // in the fixture's usergroups.users.list answer

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = Group };
    readonly List<string> directories = [];
    // The bot under test reads the group once at start-up; the counts below are of the test's own lookups.
    int startupLookups;
    int Lookups() => Slack.CallsTo("usergroups.users.list").Count - startupLookups;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        startupLookups = Slack.CallsTo("usergroups.users.list").Count;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var d in directories) try { Directory.Delete(d, recursive: true); } catch (IOException) { }
    }

    (Reviewers Reviewers, FakeTimeProvider Time, ChangeStore Store) NewReviewers()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var slackOptions = new SlackOptions { BotToken = FakeSlack.BotToken, ApiBaseUrl = Slack.ApiUrl, ReviewerUserGroup = Group };
        var api = new SlackApiClient(new HttpClient { BaseAddress = new Uri(Slack.ApiUrl) }, Options.Create(slackOptions));
        var directory = TestBot.NewDataDirectory();
        Directory.CreateDirectory(directory);
        directories.Add(directory);
        var store = new ChangeStore(Path.Combine(directory, "people.db"));
        var people = new People(new ConfigurationBuilder().Build(), store);
        return (new Reviewers(api, Options.Create(slackOptions), Options.Create(new GitHubOptions()), people, store, time, NullLogger<Reviewers>.Instance), time, store);
    }

    static EmergencyChange AChange() => new() { Id = 1, DeclaredBy = TestBot.Declarer };

    [Fact]
    public async Task WithNothingCachedASlowGroupLookupIsUnavailableRatherThanHanging()
    {
        var (reviewers, _, store) = NewReviewers();
        using var _s = store;
        Slack.Fail("usergroups.users.list", new Fault.Delay(TimeSpan.FromSeconds(8)));
        await Assert.ThrowsAsync<ReviewerGroupUnavailableException>(() => reviewers.RefusalAsync(AChange(), Member, CancellationToken.None));
        // The refresh went on in the background and fills the cache for the next click.
        await Eventually.Until(() =>
        {
            try { return reviewers.RefusalAsync(AChange(), Member, CancellationToken.None).GetAwaiter().GetResult() is null; }
            catch (ReviewerGroupUnavailableException) { return false; }
        }, "the late answer is used", TimeSpan.FromSeconds(20));
        Assert.Equal(1, Lookups()); // one refresh, shared by the clicks that waited for it
    }

    [Fact]
    public async Task WithNothingCachedAndSlackFailingTheLookupIsUnavailableNotARefusal()
    {
        var (reviewers, _, store) = NewReviewers();
        using var _s = store;
        Slack.Down = true;
        await Assert.ThrowsAsync<ReviewerGroupUnavailableException>(() => reviewers.RefusalAsync(AChange(), Member, CancellationToken.None));
    }

    [Fact]
    public async Task AnExpiredCacheAnswersWhileTheSlowRefreshRunsInTheBackground()
    {
        var (reviewers, time, store) = NewReviewers();
        using var _s = store;
        Assert.Null(await reviewers.RefusalAsync(AChange(), Member, CancellationToken.None));
        Assert.Contains("only configured reviewers", await reviewers.RefusalAsync(AChange(), "U0NOTINGROUP", CancellationToken.None));
        Assert.Equal(1, Lookups());

        time.Advance(TimeSpan.FromMinutes(6)); // the five-minute cache has expired
        Slack.Fail("usergroups.users.list", new Fault.Delay(TimeSpan.FromSeconds(8)));
        Assert.Null(await reviewers.RefusalAsync(AChange(), Member, CancellationToken.None)); // the last known members answer
        Assert.Equal(2, Lookups());
        // A second click while the refresh is still under way shares it rather than starting another.
        Assert.Null(await reviewers.RefusalAsync(AChange(), Member, CancellationToken.None));
        Assert.Equal(2, Lookups());
    }

    [Fact]
    public async Task AGroupThatIsGoneStopsGrantingAtOnceEvenWithMembersCached()
    {
        var (reviewers, time, store) = NewReviewers();
        using var _s = store;
        Assert.Null(await reviewers.RefusalAsync(AChange(), Member, CancellationToken.None));

        // An admin deletes the group to take reviewing away; the cache has expired, and Slack says the group is gone.
        time.Advance(TimeSpan.FromMinutes(6));
        Slack.UserGroupError = "no_such_subteam";
        Assert.Contains("the reviewer group is misconfigured", await reviewers.RefusalAsync(AChange(), Member, CancellationToken.None));
        Slack.UserGroupError = null;
    }

    [Fact]
    public async Task AnApproveClickWhileTheGroupCannotBeReadSaysToTryAgain()
    {
        await Bot.CommandJsonAsync("Hotfix checkout");
        await Eventually.Until(() => Bot.Store.Get(1)?.Announcement is not null, "announced");
        Slack.Fail("usergroups.users.list", new Fault.Delay(TimeSpan.FromSeconds(8)));
        await Bot.InteractionAsync(ApprovalTests.Click(Member, ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("g")));
        await Eventually.Until(() => Slack.Responses.Count == 1, "answered");
        Assert.Contains("Couldn't check the reviewer group just now, try again in a minute", JsonNode.Parse(Slack.Responses[0].Body)!["text"]!.GetValue<string>());
        Assert.Empty(Bot.Store.Get(1)!.Approvals);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ApprovalRefused);
    }
}
