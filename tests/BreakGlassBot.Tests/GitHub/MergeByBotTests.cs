using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>GitHub:BypassMode MergeByBot: the bot merges on the declarer's request, pinned to the head it showed, inside the window.</summary>
[Trait("Category", "EndToEnd")]
public class MergeByBotTests : GitHubBotTest
{
    const string MergePath = "/repos/acme/api/pulls/1347/merge";
    const string NewHead = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    protected virtual string Duration => "01:00:00";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "MergeByBot",
        ["GitHub:MergeRepositories:0"] = "acme/api",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        ["Policy:BypassDuration"] = Duration,
    };

    async Task<string> Say(string text, string user = TestBot.Declarer) => (await Bot.CommandJsonAsync(text, user))["text"]!.GetValue<string>();

    [Theory]
    [InlineData("squash")]
    [InlineData("rebase")]
    public async Task ARepositoryThatAllowsOneOtherMethodIsMergedThatWay(string allowed)
    {
        GitHub.PullRequest(Pr).AllowedMergeMethods.IntersectWith([allowed]);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => MergeButtons().Count == 1, "merge button in the thread");
        await Bot.InteractionAsync(MergeClick(MergeButtonOf(MergeButtons()[0])["value"]!.GetValue<string>()));
        await WaitUntil(() => Change().PullRequests[0].Merged, "merged");

        Assert.Equal(allowed, JsonNode.Parse(Assert.Single(GitHub.CallsTo("PUT", MergePath)).Body)!["merge_method"]!.GetValue<string>());
        Assert.True(GitHub.PullRequest(Pr).Merged);
    }

    [Fact]
    public async Task MergeNowMergesThePullRequestAtTheHeadItShowed()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => MergeButtons().Count == 1, "merge button in the thread");
        Assert.Contains("Bypass started", Thread().Single(m => m.MetadataNote == GitHubNotes.BypassGranted).Text);
        var button = MergeButtonOf(MergeButtons()[0]);
        Assert.Equal($"BG-1|{Pr}|{FakeGitHub.DefaultHead}", button["value"]!.GetValue<string>());
        Assert.Contains("6dcb09b", button["text"]!["text"]!.GetValue<string>());

        var response = await Bot.InteractionAsync(MergeClick(button["value"]!.GetValue<string>()));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        await WaitUntil(() => Change().PullRequests[0].Merged && Thread().Any(m => m.MetadataNote == GitHubNotes.Merged(Pr)), "merged and told");

        var merge = Assert.Single(GitHub.CallsTo("PUT", MergePath));
        Assert.Equal(FakeGitHub.DefaultHead, JsonNode.Parse(merge.Body)!["sha"]!.GetValue<string>());
        Assert.True(GitHub.PullRequest(Pr).Merged);
        var merged = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.PullRequestMerged);
        Assert.Equal((Pr, FakeGitHub.DefaultHead, TestBot.Declarer), (merged.Data["pr"], merged.Data["head_sha"], merged.Data["requested_by"]));
        Assert.Equal((Pr, FakeGitHub.DefaultHead), (Change().Bypass!.PullRequest, Change().Bypass!.HeadSha));
        Assert.Contains("Merged", Thread().Single(m => m.MetadataNote == GitHubNotes.Merged(Pr)).Text);
        await WaitUntil(() => Slack.Responses.Any(r => r.Body.Contains("Merging acme/api#1347 at head") && r.Body.Contains("6dcb09b")), "ephemeral reply");
    }

    [Fact]
    public async Task OnlyTheDeclarerMayMergeAndAMovedHeadIsNotMerged()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => MergeButtons().Count == 1, "merge button in the thread");

        Assert.Contains("Only <@U0DECLARER>", await Say("merge BG-1", user: "U0OTHER"));
        GitHub.PullRequest(Pr).HeadSha = NewHead;
        var moved = await Say("merge BG-1");
        Assert.Contains("moved from `6dcb09b` to `bbbbbbb`", moved);
        Assert.Contains("nothing was merged", moved);
        Assert.Empty(GitHub.CallsTo("PUT", MergePath));

        // The declarer sees the new head in a new button, and may merge that.
        await WaitUntil(() => MergeButtons().Count == 2, "a button for the new head");
        Assert.Equal($"BG-1|{Pr}|{NewHead}", MergeButtonOf(MergeButtons()[1])["value"]!.GetValue<string>());
        // The old button is stale now.
        await Bot.InteractionAsync(MergeClick($"BG-1|{Pr}|{FakeGitHub.DefaultHead}"));
        await WaitUntil(() => Slack.Responses.Any(r => r.Body.Contains("use the newest")), "stale button refused");
        Assert.Empty(GitHub.CallsTo("PUT", MergePath));

        Assert.Contains("Merging acme/api#1347 at head `bbbbbbb`", await Say("merge BG-1"));
        await WaitUntil(() => Change().PullRequests[0].Merged, "merged");
        Assert.Equal(NewHead, JsonNode.Parse(Assert.Single(GitHub.CallsTo("PUT", MergePath)).Body)!["sha"]!.GetValue<string>());
        Assert.Equal(2, Bot.Store.AuditTrail(1).Count(e => e.Type == GitHubAuditTypes.MergeRefused));
    }

    [Fact]
    public async Task AHeadThatMovesJustBeforeTheMergeIsRefusedByGitHubAndNothingIsMerged()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => MergeButtons().Count == 1, "merge button in the thread");
        GitHub.Fail("PUT merge", new Fault.Status(409, """{"message":"Head branch was modified. Review and try the merge again.","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}"""));
        Assert.Contains("Merging", await Say("merge BG-1"));
        await WaitUntil(() => Thread().Any(m => m.MetadataNote?.StartsWith("step-gaveup") == true), "refusal in the thread");
        var note = Thread().Single(m => m.MetadataNote?.StartsWith("step-gaveup") == true).Text;
        Assert.Contains("moved away from `6dcb09b` before the merge, so nothing was merged", note);
        Assert.False(Change().PullRequests[0].Merged);
    }
}

[Trait("Category", "EndToEnd")]
public class MergeByBotWindowTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "MergeByBot",
        ["GitHub:MergeRepositories:0"] = "acme/api",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        ["Policy:BypassDuration"] = "00:00:01",
    };

    [Fact]
    public async Task NothingIsMergedOnceTheBypassWindowHasClosed()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Bypass?.RevokedAt is not null && Change().PullRequests[0].HeadSha is not null, "window closed");
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == GitHubNotes.BypassEnded), "end in the thread");
        Assert.Contains("the bot no longer merges", Thread().Single(m => m.MetadataNote == GitHubNotes.BypassEnded).Text);

        var reply = (await Bot.CommandJsonAsync("merge BG-1"))["text"]!.GetValue<string>();
        Assert.Contains("The bypass window of BG-1 closed", reply);
        Assert.Empty(GitHub.CallsTo("PUT", "/repos/acme/api/pulls/1347/merge"));
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.MergeRefused && e.Data["reason"] == "bypass window closed");
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked && e.Data["mode"] == "MergeByBot");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Team")]
    public async Task InOtherModesMergeIsNotASubCommandButADeclaration(string? mode)
    {
        await Bot.DisposeAsync();
        var settings = AllSettings().Where(kv => kv.Key != "GitHub:BypassMode").ToDictionary();
        if (mode is not null) { settings["GitHub:BypassMode"] = mode; settings["GitHub:BypassTeam"] = "acme/breakglass"; }
        Bot = await TestBot.StartAsync(Slack, null, settings);
        var reply = (await Bot.CommandJsonAsync("merge revert broke checkout"))["text"]!.GetValue<string>();
        Assert.DoesNotContain("MergeByBot", reply);
        Assert.Equal("merge revert broke checkout", Change().Summary);
        Assert.DoesNotContain("/breakglass merge", (await Bot.CommandJsonAsync("help"))["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task InMergeByBotModeMergeIsASubCommand()
    {
        Assert.Contains("Which change?", (await Bot.CommandJsonAsync("merge revert broke checkout"))["text"]!.GetValue<string>());
        Assert.Null(Bot.Store.Get(1));
        Assert.Contains("/breakglass merge BG-n", (await Bot.CommandJsonAsync("help"))["text"]!.GetValue<string>());
    }
}

/// <summary>Merge attempts whose answer was lost: GitHub's record of the PR decides what the audit says.</summary>
[Trait("Category", "EndToEnd")]
public class MergeByBotRetryTests : GitHubBotTest
{
    const string MergePath = "/repos/acme/api/pulls/1347/merge";
    const string OtherMergeCommit = "cccccccccccccccccccccccccccccccccccccccc";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "MergeByBot",
        ["GitHub:MergeRepositories:0"] = "acme/api",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        ["Policy:BypassDuration"] = "00:00:05",
    };

    async Task ButtonShownAsync() =>
        await WaitUntil(() => Thread().Any(m => m.MetadataNote?.StartsWith("github-merge-button:") == true), "merge button in the thread");

    [Fact]
    public async Task AMergeWhoseAnswerWasLostAndIsRetriedAfterTheWindowClosedIsRecordedAsMerged()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await ButtonShownAsync();
        var expires = Change().Bypass!.ExpiresAt;
        GitHub.Fail("PUT merge", new Fault.AfterWork(502)); // merged on GitHub; the answer is lost
        // Until the window has closed GitHub cannot be read, so the retry that learns the outcome runs after it.
        // The read just before the merge answers; the ones after it fail until the window has closed.
        GitHub.Fail("GET pull", new Fault.Status(503), times: 100_000,
            when: _ => GitHub.CallsTo("PUT", MergePath).Count > 0 && DateTimeOffset.UtcNow < expires.AddMilliseconds(300));
        Assert.Contains("Merging", (await Bot.CommandJsonAsync("merge BG-1"))["text"]!.GetValue<string>());

        await WaitUntil(() => Change().PullRequests[0].Merged, "the merge recorded", seconds: 20);
        Assert.Single(GitHub.CallsTo("PUT", MergePath));
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepAbandoned);
        var merged = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.PullRequestMerged);
        Assert.True(merged.At >= expires, "recorded after the window closed");
        Assert.Equal(("bot", FakeGitHub.BotLogin, GitHub.PullRequest(Pr).MergedSha, FakeGitHub.DefaultHead),
            (merged.Data["source"], merged.Data["merged_by"], merged.Data["merge_commit_sha"], merged.Data["head_sha"]));
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == GitHubNotes.Merged(Pr)), "merge in the thread");
    }

    [Fact]
    public async Task APrMergedBySomeoneElseMeanwhileIsRecordedAsTheirMergeNotTheBots()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await ButtonShownAsync();
        GitHub.Fail("PUT merge", new Fault.Status(502), times: 100_000);
        Assert.Contains("Merging", (await Bot.CommandJsonAsync("merge BG-1"))["text"]!.GetValue<string>());
        await WaitUntil(() => GitHub.CallsTo("PUT", MergePath).Count >= 1, "the bot's merge attempt failed");
        var pr = GitHub.PullRequest(Pr);
        pr.MergedSha = OtherMergeCommit;
        pr.MergedBy = "hubot";
        pr.MergedAt = DateTimeOffset.UtcNow;
        pr.Merged = true;

        await WaitUntil(() => Change().PullRequests[0].Merged, "the merge recorded");
        GitHub.ClearFaults();
        var merged = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.PullRequestMerged);
        Assert.Equal(("someone else", "hubot", OtherMergeCommit), (merged.Data["source"], merged.Data["merged_by"], merged.Data["merge_commit_sha"]));
        Assert.Null(Change().Bypass!.PullRequest); // the bot merged nothing
        await WaitUntil(() => Thread().Any(m => m.MetadataNote == BypassNotes.MergedElsewhere(Pr)), "told in the thread");
        Assert.Contains("merged on GitHub by someone else", Thread().Single(m => m.MetadataNote == BypassNotes.MergedElsewhere(Pr)).Text);
        Assert.DoesNotContain(Thread(), m => m.MetadataNote == GitHubNotes.Merged(Pr));
    }
}

/// <summary>The MergeByBot window's end is a durable step too: after a restart past it, the bot merges nothing.</summary>
[Trait("Category", "EndToEnd")]
public class MergeByBotRestartTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "MergeByBot",
        ["GitHub:MergeRepositories:0"] = "acme/api",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        ["Policy:BypassDuration"] = "00:00:04",
    };

    [Fact]
    public async Task AWindowThatEndsWhileTheBotIsDownIsClosedAfterTheRestart()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Bypass is { GrantedAt: var g } && g != default && Change().PullRequests[0].HeadSha is not null, "granted and read");
        var expires = Change().Bypass!.ExpiresAt;
        await Bot.DisposeAsync();
        Assert.True(DateTimeOffset.UtcNow < expires, "stopped before the window ended");

        await Eventually.Until(() => DateTimeOffset.UtcNow > expires.AddMilliseconds(200), "the window's end passes while the bot is down");
        Bot = await StartBotAsync();
        await WaitUntil(() => Change().Bypass?.RevokedAt is not null && Thread().Any(m => m.MetadataNote == GitHubNotes.BypassEnded), "closed after restart");
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked && e.Data["mode"] == "MergeByBot");
        Assert.Contains("The bypass window of BG-1 closed", (await Bot.CommandJsonAsync("merge BG-1"))["text"]!.GetValue<string>());
        Assert.Empty(GitHub.CallsTo("PUT", "/repos/acme/api/pulls/1347/merge"));
    }
}

/// <summary>GitHub:MergeMethod names the method instead of the repository's first allowed one.</summary>
[Trait("Category", "EndToEnd")]
public sealed class MergeMethodSettingTests : GitHubBotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:BypassMode"] = "MergeByBot",
        ["GitHub:MergeRepositories:0"] = "acme/api",
        [$"People:{TestBot.Declarer}:GitHub"] = "hubot",
        ["GitHub:MergeMethod"] = "Rebase",
    };

    [Fact]
    public async Task TheConfiguredMethodIsSentEvenWhenTheRepositoryAllowsMergeCommits()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => MergeButtons().Count == 1, "merge button in the thread");
        await Bot.InteractionAsync(MergeClick(MergeButtonOf(MergeButtons()[0])["value"]!.GetValue<string>()));
        await WaitUntil(() => Change().PullRequests[0].Merged, "merged");

        var merge = Assert.Single(GitHub.CallsTo("PUT", "/repos/acme/api/pulls/1347/merge"));
        Assert.Equal("rebase", JsonNode.Parse(merge.Body)!["merge_method"]!.GetValue<string>());
        Assert.True(GitHub.PullRequest(Pr).Merged);
    }
}
