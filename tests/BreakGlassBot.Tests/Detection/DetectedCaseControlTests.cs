using System.Net;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Detection;

/// <summary>
/// A detected case cannot be talked around by the person who bypassed: they are named from a trusted identity, cannot
/// dismiss it, and their own review on GitHub does not count.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class DetectedCaseControlTests : DetectionTestBase
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        [$"People:{TestBot.Declarer}:GitHub"] = Merger,
        [$"People:{TestBot.Admin}:GitHub"] = "the-admin",
    };

    async Task<EmergencyChange> DetectedAsync()
    {
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => DetectedCases().Count == 1 && DetectedCases()[0].Announcement is not null, "a detected case, announced");
        return DetectedCases()[0];
    }

    [Fact]
    public async Task TheMergerIsNamedResponsibleFromTheirConfiguredAccountAndAskedToExplain()
    {
        var change = await DetectedAsync();
        Assert.Equal(TestBot.Declarer, change.DeclaredBy);
        Assert.Contains(change.Steps, s => s.Kind == StepKinds.DirectMessage && s.Target == $"{TestBot.Declarer}|{DetectionKeys.Responsible}");
        Assert.DoesNotContain(change.Steps, s => s.Target?.EndsWith(DetectionKeys.Assign) == true);
        Assert.Equal(TestBot.Declarer, Bot.Store.AuditTrail(change.Id).Single(e => e.Type == AuditTypes.Declared).Data["responsible"]);
    }

    [Fact]
    public async Task ThePersonResponsibleCannotDismissTheirOwnCaseAnAdminCan()
    {
        var change = await DetectedAsync();
        var refused = await Bot.CommandJsonAsync($"cancel {change.ChangeId} false alarm", user: TestBot.Declarer);
        Assert.Contains("only an admin who is neither responsible for it nor its merger or pusher", refused.ToJsonString());
        Assert.Equal(ChangeStatus.Open, Change(change.Id).Status);

        await Bot.CommandJsonAsync($"cancel {change.ChangeId} release automation, not a person", user: TestBot.Admin);
        await WaitUntil(() => Change(change.Id).Status == ChangeStatus.Cancelled, "dismissed by the admin");
        Assert.Equal("release automation, not a person", Change(change.Id).Cancellation!.Reason);
        Assert.Contains(Bot.Store.AuditTrail(change.Id), e => e.Type == AuditTypes.Cancelled && e.Actor == TestBot.Admin);
    }

    internal static string ReviewEvent()
    {
        var payload = Fixtures.Object("github/webhook_pull_request_review_submitted.json");
        payload["repository"]!["full_name"] = "acme/api";
        payload["pull_request"]!["number"] = 1347;
        return payload.ToJsonString();
    }
}

/// <summary>Nobody is known for the merger: their own review on GitHub still does not count.</summary>
[Trait("Category", "EndToEnd")]
public sealed class MergerReviewTests : DetectionTestBase
{
    async Task<EmergencyChange> DetectedAsync()
    {
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => DetectedCases().Count == 1 && DetectedCases()[0].Announcement is not null, "a detected case, announced");
        return DetectedCases()[0];
    }

    [Fact]
    public async Task TheMergersOwnApprovalAfterTheMergeDoesNotReviewTheCaseAnotherPersonsDoes()
    {
        var change = await DetectedAsync();
        var pr = GitHub.PullRequest(Pr);
        pr.Reviews.Add(FakeGitHub.Review(10, Merger, MergerId, "APPROVED", DateTimeOffset.UtcNow.AddMinutes(1)));
        var asked = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("pull_request_review", ReviewEvent())).StatusCode);
        await WaitUntil(() => Change(change.Id).PullRequests[0].ReviewCheckedAt > asked && Change(change.Id).Evidence.Any(e => e.Target == Pr),
            "the review read again after the merger's approval");
        Assert.False(Change(change.Id).Evidence.Single(e => e.Target == Pr).Satisfied, "the merger's approval refused as evidence");

        pr.Reviews.Add(FakeGitHub.Review(11, "reviewer", 77, "APPROVED", DateTimeOffset.UtcNow.AddMinutes(2)));
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("pull_request_review", ReviewEvent())).StatusCode);
        await WaitUntil(() => Change(change.Id).Evidence.Any(e => e.Target == Pr && e.Satisfied), "another reviewer's approval counts");
    }

    static string ReviewEvent() => DetectedCaseControlTests.ReviewEvent();
}

/// <summary>An admin names someone else responsible: the merger, a reviewer in Slack, still may not approve the case there.</summary>
[Trait("Category", "EndToEnd")]
public sealed class MergerSlackApprovalTests : DetectionTestBase
{
    const string MergerInSlack = "U0MERGER";
    const string Other = "U0OTHER";
    const string Reviewer = "U0REV1";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        [$"People:{MergerInSlack}:GitHub"] = Merger,
        ["Slack:Reviewers:0"] = MergerInSlack,
        ["Slack:Reviewers:1"] = Reviewer,
        [$"People:{Reviewer}:GitHub"] = "reviewer",
    };

    [Fact]
    public async Task TheMergerCannotApproveInSlackEvenWhenSomeoneElseIsNamedResponsible()
    {
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => DetectedCases().Count == 1 && DetectedCases()[0].Announcement is not null, "a detected case, announced");
        var change = DetectedCases()[0];
        Assert.Equal(MergerInSlack, change.DeclaredBy);
        await Bot.CommandJsonAsync($"assign {change.ChangeId} <@{Other}>", user: TestBot.Admin);
        await WaitUntil(() => Change(change.Id).DeclaredBy == Other, "someone else named responsible");

        await Bot.InteractionAsync(Reviewing.ApprovalTests.Click(MergerInSlack, BreakGlassBot.Reviewing.ReviewActions.Approve, change.ChangeId.ToString(), responseUrl: Slack.ResponseUrl("m")));
        await Bot.InteractionAsync(Reviewing.ApprovalTests.Click(Reviewer, BreakGlassBot.Reviewing.ReviewActions.Approve, change.ChangeId.ToString(), responseUrl: Slack.ResponseUrl("r")));
        await WaitUntil(() => Change(change.Id).Approvals.Any(a => a.Reviewer == Reviewer), "the reviewer's approval recorded");
        Assert.DoesNotContain(Change(change.Id).Approvals, a => a.Reviewer == MergerInSlack && a.Stands);
    }
}

/// <summary>An admin merged it: naming a colleague responsible does not let them dismiss their own bypass.</summary>
[Trait("Category", "EndToEnd")]
public sealed class AdminMergerTests : DetectionTestBase
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        [$"People:{TestBot.Admin}:GitHub"] = Merger,
    };

    [Fact]
    public async Task TheAdminWhoMergedCannotDismissTheCaseEvenAfterAssigningItToSomeoneElse()
    {
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => DetectedCases().Count == 1 && DetectedCases()[0].Announcement is not null, "a detected case, announced");
        var change = DetectedCases()[0];
        Assert.Equal(TestBot.Admin, change.DeclaredBy);
        await Bot.CommandJsonAsync($"assign {change.ChangeId} <@U0COLLEAGUE>", user: TestBot.Admin);
        await WaitUntil(() => Change(change.Id).DeclaredBy == "U0COLLEAGUE", "a colleague named responsible");

        var refused = await Bot.CommandJsonAsync($"cancel {change.ChangeId} false positive", user: TestBot.Admin);
        Assert.Contains("neither responsible for it nor its merger or pusher", refused.ToJsonString());
        Assert.Equal(ChangeStatus.Open, Change(change.Id).Status);
    }
}
