using System.Net;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Detection;

/// <summary>A PR merged into a watched branch, reported by GitHub's webhook: is it a bypass nobody declared?</summary>
[Trait("Category", "EndToEnd")]
public sealed class UndeclaredMergeTests : DetectionTestBase
{
    [Fact]
    public async Task AMergeWithoutAnyApprovalOpensOneDetectedCaseAfterTheGracePeriod()
    {
        var mergedAt = MergeOnGitHub();
        await MergedWebhookAsync(mergedAt);
        Assert.NotNull(Record());

        await WaitUntil(() => DetectedCases().Count == 1, "a detected case");
        var change = Assert.Single(DetectedCases());
        Assert.True(change.DeclaredAt >= mergedAt + Grace, "opened only after the grace period");
        Assert.Equal(("acme/api", "master", Merger), (change.Detected!.Repository, change.Detected.Branch, change.Detected.Actor));
        Assert.Equal("pr:acme/api#1347", change.Detected.Key);
        Assert.Contains("without an approving review", change.Detected.Reason);
        Assert.Equal(Pr, Assert.Single(change.PullRequests).Ref.ToString());
        Assert.Equal(ChangeStatus.Open, change.Status);
        // The same deadline as a declaration; nothing is granted for a bypass that already happened.
        Assert.Equal(change.DeclaredAt + TimeSpan.FromHours(48), change.DueAt);
        Assert.DoesNotContain(change.Steps, s => s.Kind == GitHubStepKinds.BypassGrant);
        var declared = Assert.Single(Bot.Store.AuditTrail(change.Id), e => e.Type == AuditTypes.Declared);
        Assert.Equal(("detected:pr:acme/api#1347", Merger), (declared.Data["source"], declared.Data["actor"]));
        Assert.Contains("webhook", declared.Data["found_by"].Split(' '));
        // The record learns its case right after the case is stored.
        await WaitUntil(() => Record()!.CaseId == change.Id, "the record names its case");
        await WaitUntil(() => Change(change.Id).Announcement is not null, "announced");

        // Nobody is known for the merger: the admins are asked to name someone.
        Assert.Contains(change.Steps, s => s.Kind == BreakGlassBot.Outbox.StepKinds.DirectMessage && s.Target == $"{TestBot.Admin}|{DetectionKeys.Assign}");

        // Delivered again (GitHub's redelivery) and seen again: still one case.
        await MergedWebhookAsync(mergedAt);
        await Task.Delay(Grace + TimeSpan.FromSeconds(1));
        Assert.Single(DetectedCases());
    }

    [Fact]
    public async Task AMergeApprovedBeforehandBySomeoneOtherThanItsAuthorOpensNone()
    {
        var mergedAt = MergeOnGitHub();
        GitHub.PullRequest(Pr).Reviews.Add(FakeGitHub.Review(1, "reviewer", 77, "APPROVED", mergedAt.AddMinutes(-5)));
        await MergedWebhookAsync(mergedAt);

        await WaitUntil(() => Record()?.Verdict == Verdicts.ReviewedBeforeMerge, "judged reviewed before merge");
        Assert.Equal("reviewer", Record()!.ApprovedBy);
        await Task.Delay(Grace + TimeSpan.FromSeconds(1));
        Assert.Empty(DetectedCases());
    }

    [Fact]
    public async Task AMergeApprovedOnlyByItsAuthorOrOnlyAfterTheMergeOpensACase()
    {
        var mergedAt = MergeOnGitHub();
        var pr = GitHub.PullRequest(Pr);
        pr.Reviews.Add(FakeGitHub.Review(1, "octocat", 1, "APPROVED", mergedAt.AddMinutes(-5)));
        pr.Reviews.Add(FakeGitHub.Review(2, "reviewer", 77, "APPROVED", mergedAt.AddMinutes(5)));
        await MergedWebhookAsync(mergedAt);

        await WaitUntil(() => DetectedCases().Count == 1, "a detected case");
        Assert.Contains("approved only after the merge", DetectedCases()[0].Detected!.Reason);
    }

    [Fact]
    public async Task ABadSignatureIs401AndRecordsNothing()
    {
        // Forged: GitHub itself knows of no merge (so the start-up sweep finds none either).
        var body = MergedEvent(DateTimeOffset.UtcNow);
        var response = await PostWebhookAsync("pull_request", body, signature: Sign(body, "not-the-secret"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await Task.Delay(Grace + TimeSpan.FromSeconds(1));
        Assert.Null(Record());
        Assert.Empty(Records.All());
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task APullRequestOpenedByAnAutomationAccountIsCountedNotChased()
    {
        await Bot.DisposeAsync();
        Bot = await StartBotAsync(new Dictionary<string, string?> { ["Detection:IgnoreActors:0"] = "OCTOCAT" });
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => Record()?.Verdict == Verdicts.Ignored, "judged automation");
        await Task.Delay(Grace + TimeSpan.FromSeconds(1));
        Assert.Empty(DetectedCases());
    }

    [Fact]
    public async Task AMergeBotDoesNotLaunderAPersonsUnreviewedPullRequest()
    {
        // The account that merged is automation (a merge queue), the PR is a person's: still a bypass.
        await Bot.DisposeAsync();
        Bot = await StartBotAsync(new Dictionary<string, string?> { ["Detection:IgnoreActors:0"] = Merger });
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => DetectedCases().Count == 1, "a detected case");
    }

    [Fact]
    public async Task AnApprovalOfAnEarlierHeadDoesNotMakeTheMergeReviewed()
    {
        var mergedAt = MergeOnGitHub();
        GitHub.PullRequest(Pr).Reviews.Add(FakeGitHub.Review(1, "reviewer", 77, "APPROVED", mergedAt.AddMinutes(-5), commitId: "0123456789abcdef0123456789abcdef01234567"));
        await MergedWebhookAsync(mergedAt);
        await WaitUntil(() => DetectedCases().Count == 1, "a detected case");
        Assert.Contains("earlier head", DetectedCases()[0].Detected!.Reason);
    }

    [Fact]
    public async Task AMergeIntoABranchNotWatchedIsNotRecorded()
    {
        GitHub.PullRequest(Pr).BaseRef = "feature-x";
        var mergedAt = MergeOnGitHub();
        var body = MergedEvent(mergedAt).Replace("\"ref\":\"master\"", "\"ref\":\"feature-x\"");
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("pull_request", body)).StatusCode);
        await Task.Delay(Grace + TimeSpan.FromSeconds(1));
        Assert.Null(Record());
    }
}

/// <summary>A declaration that links the merged PR, within the grace period or after the case opened.</summary>
[Trait("Category", "EndToEnd")]
public sealed class DeclaredMergeTests : DetectionTestBase
{
    protected override TimeSpan Grace => TimeSpan.FromSeconds(4);

    [Fact]
    public async Task APullRequestDeclaredWithinTheGracePeriodOpensNoCase()
    {
        await MergedWebhookAsync(MergeOnGitHub());
        await Bot.CommandJsonAsync($"Hotfix merged first, declared now {PrUrl}");   // BG-1
        await WaitUntil(() => Record()?.DeclaredAs == 1, "the record declared as BG-1");
        await Task.Delay(Grace + TimeSpan.FromSeconds(1));
        Assert.Empty(DetectedCases());
        Assert.Equal(1, Bot.Store.Count());
    }
}

[Trait("Category", "EndToEnd")]
public sealed class AbsorbedCaseTests : DetectionTestBase
{
    [Fact]
    public async Task ADeclarationLinkingThePullRequestAfterTheCaseOpenedClosesTheCaseAsDeclared()
    {
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => DetectedCases().Count == 1, "a detected case");
        var caseId = DetectedCases()[0].Id;

        await Bot.CommandJsonAsync($"Sorry, that was my hotfix {PrUrl}");
        var declared = caseId + 1;
        await WaitUntil(() => Change(caseId).Status == ChangeStatus.Closed, "the case closed");
        Assert.Equal(declared, Change(caseId).Detected!.AbsorbedBy);
        var absorbed = Assert.Single(Bot.Store.AuditTrail(caseId), e => e.Type == AuditTypes.DetectionAbsorbed);
        Assert.Equal($"BG-{declared}", absorbed.Data["declared_as"]);
        Assert.Equal(declared, Record()!.DeclaredAs);
        await WaitUntil(() => Thread(caseId).Any(m => m.Text.Contains($"declared as BG-{declared}")), "the case's thread says so");
        // Nothing is chased twice: the closed case is not open, the declaration is.
        Assert.DoesNotContain(Bot.Store.OpenChanges(), c => c.Id == caseId);
        Assert.Contains(Bot.Store.OpenChanges(), c => c.Id == declared);
    }

    [Fact]
    public async Task CancellingTheDeclarationThatTookTheCaseOverOpensTheCaseAgain()
    {
        await MergedWebhookAsync(MergeOnGitHub());
        await WaitUntil(() => DetectedCases().Count == 1, "a detected case");
        var caseId = DetectedCases()[0].Id;
        // GitHub cannot be read for a while: the declaration does not learn that its PR was merged, so it may be cancelled.
        GitHub.Fail("GET pull", new Fault.Status(502), times: 1000);
        await Bot.CommandJsonAsync($"Mine {PrUrl}");
        var declared = caseId + 1;
        await WaitUntil(() => Change(caseId).Status == ChangeStatus.Closed, "the case closed");

        await Bot.CommandJsonAsync($"cancel BG-{declared} wrong PR");
        await WaitUntil(() => Change(declared).Status == ChangeStatus.Cancelled, "the declaration cancelled");
        // A cancelled declaration reviews nothing: the case it had taken over is open again.
        await WaitUntil(() => Change(caseId).Status == ChangeStatus.Open, "the case open again");
        Assert.Null(Change(caseId).Detected!.AbsorbedBy);
        Assert.Contains(Bot.Store.AuditTrail(caseId), e => e.Type == AuditTypes.Reopened);
        Assert.Null(Record()!.DeclaredAs);
    }
}
