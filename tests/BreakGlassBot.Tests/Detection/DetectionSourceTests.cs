using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;

namespace BreakGlassBot.Tests.Detection;

/// <summary>Direct pushes, and one change found by several sources (webhook, rule suites, the sweep), also across a restart.</summary>
[Trait("Category", "EndToEnd")]
public sealed class DetectionSourceTests : DetectionTestBase
{
    const string PushSha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

    static string PushEvent(string after)
    {
        // GitHub's own example of a push (one commit), to acme/api's master.
        var payload = Fixtures.Object("github/webhook_push_branch_created.json");
        payload["repository"]!["full_name"] = "acme/api";
        payload["after"] = after;
        payload["commits"]![0]!["id"] = after;
        return payload.ToJsonString();
    }

    [Fact]
    public async Task ADirectPushToAWatchedBranchOpensOneCaseNamingThePusher()
    {
        GitHub.AddDirectPush("acme", "api", "master", PushSha, "Codertocat", DateTimeOffset.UtcNow);
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("push", PushEvent(PushSha))).StatusCode);

        await WaitUntil(() => DetectedCases().Count == 1, "a detected case for the push");
        var detected = DetectedCases()[0].Detected!;
        Assert.Equal((DetectedBypass.DirectPushKind, "Codertocat", PushSha), (detected.Kind, detected.Actor, detected.Sha));
        Assert.Contains("pushed straight to master without a pull request", detected.Reason);
        Assert.Empty(DetectedCases()[0].PullRequests);
        // GitHub was asked whether a PR brought the commit, after the grace period.
        Assert.Contains(GitHub.Calls, c => c.Key == "GET commit-pulls" && c.Path.Contains(PushSha));
    }

    [Fact]
    public async Task ThePushOfAMergedPullRequestIsNotADirectPush()
    {
        var mergedAt = DateTimeOffset.UtcNow;
        GitHub.PullRequest(Pr).Reviews.Add(GitHub_Review(mergedAt.AddMinutes(-1)));
        GitHub.MergePullRequest("acme", "api", 1347, Merger, mergedAt, MergeSha);
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("push", PushEvent(MergeSha))).StatusCode);
        Assert.NotNull(Record($"push:acme/api@{MergeSha}"));

        await WaitUntil(() => Record($"push:acme/api@{MergeSha}") is null, "the push record dropped: a PR brought its commit");
        Assert.Empty(DetectedCases());
    }

    [Fact]
    public async Task ACommitMergedIntoAnotherBranchThenPushedToTheWatchedOneIsADirectPush()
    {
        // Self-merged into dev (not watched), then pushed to master: the PR GitHub lists for the commit is not one into master.
        GitHub.MergePullRequest("acme", "api", 1347, Merger, DateTimeOffset.UtcNow.AddMinutes(-10), MergeSha, baseRef: "dev");
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("push", PushEvent(MergeSha))).StatusCode);

        await WaitUntil(() => DetectedCases().Any(c => c.Detected!.Kind == DetectedBypass.DirectPushKind), "a case for the push");
        Assert.Contains("pushed straight to master without a pull request", DetectedCases().Single().Detected!.Reason);
    }

    [Fact]
    public async Task AForcePushThatOnlyRewindsTheBranchIsStillABypass()
    {
        // master forced back to the merge commit of a reviewed PR: nothing new, but history rewritten past the rules.
        var mergedAt = DateTimeOffset.UtcNow.AddDays(-1);
        GitHub.PullRequest(Pr).Reviews.Add(GitHub_Review(mergedAt.AddMinutes(-1)));
        GitHub.MergePullRequest("acme", "api", 1347, Merger, mergedAt, MergeSha);
        var payload = JsonNode.Parse(PushEvent(MergeSha))!.AsObject();
        (payload["forced"], payload["created"], payload["commits"]) = (true, false, new JsonArray());
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("push", payload.ToJsonString())).StatusCode);

        await WaitUntil(() => DetectedCases().Any(c => c.Detected!.Kind == DetectedBypass.DirectPushKind), "a case for the force push");
        Assert.Contains("force-pushed to master", DetectedCases().Single(c => c.Detected!.Kind == DetectedBypass.DirectPushKind).Detected!.Reason);
    }

    static JsonObject GitHub_Review(DateTimeOffset at) => BreakGlassBot.Tests.GitHub.FakeGitHub.Review(1, "reviewer", 77, "APPROVED", at);

    [Fact]
    public async Task TheSamePullRequestFoundByTheWebhookTheRuleSuitesAndTheSweepIsOneCaseAlsoAcrossARestart()
    {
        var mergedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        mergedAt = new DateTimeOffset(mergedAt.Ticks - mergedAt.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        GitHub.MergePullRequest("acme", "api", 1347, Merger, mergedAt, MergeSha);
        GitHub.AddRuleSuite("acme", "api", 777, MergeSha, Merger, "refs/heads/master", "bypass", mergedAt);

        // Restarted with the rule suites read every second: the start-up sweep and the poll both find the merge.
        await Bot.DisposeAsync();
        Bot = await StartBotAsync(new Dictionary<string, string?> { ["Detection:RuleSuitesInterval"] = "00:00:01" });
        await MergedWebhookAsync(mergedAt);

        await WaitUntil(() => Record() is { } r && r.FoundBy.Count == 3 && r.CaseId is not null, "found three ways, one case");
        var record = Record()!;
        Assert.Equal(["rule_suite", "sweep", "webhook"], record.FoundBy.Order());
        Assert.Equal([777L], record.RuleSuites);
        Assert.Contains("GitHub recorded a bypass", record.Reason);
        Assert.Single(DetectedCases());

        // Restarted: the sweep and the poll run again and find the same merge; GitHub redelivers the webhook.
        await Bot.DisposeAsync();
        Bot = await StartBotAsync(new Dictionary<string, string?> { ["Detection:RuleSuitesInterval"] = "00:00:01" });
        await MergedWebhookAsync(mergedAt);
        await Bot.Until(() => Bot.Store.AuditTrail(0).Count(e => e.Type == AuditTypes.DetectionSwept) >= 2, "swept again after the restart");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Single(DetectedCases());
        Assert.Equal(record.CaseId, Record()!.CaseId);
    }

    [Fact]
    public async Task AGitHubOutageDuringTheSweepIsReportedAndRetriedNeverSkipped()
    {
        var mergedAt = DateTimeOffset.UtcNow.AddHours(-2);
        GitHub.MergePullRequest("acme", "api", 1347, Merger, mergedAt, MergeSha);
        await Bot.DisposeAsync();
        GitHub.Fail("GET /search/issues", new Fault.Status(502), times: 1000);
        Bot = await StartBotAsync();

        // The start-up sweep fails: on the record, the admins told, and Hangfire retries the job.
        await Bot.Until(() => Bot.Store.AuditTrail(0).Any(e => e.Type == AuditTypes.DetectionFailed && e.Data["source"] == "sweep"), "the failure recorded");
        await Bot.Until(() => Slack.DirectMessages(TestBot.Admin).Any(m => m.Text.Contains("sweep")), "the admins told");
        await Bot.Until(() => Bot.Service<JobStorage>().GetMonitoringApi().ScheduledJobs(0, 50).Any(j => j.Value.Job?.Type == typeof(DetectionSweepJob)),
            "Hangfire has scheduled the sweep's retry");
        Assert.Null(Record());

        // GitHub is back: the sweep (here triggered at once instead of waiting for the retry) finds the merge nobody reported.
        GitHub.ClearFaults();
        ((IRecurringJobManagerV2)Bot.Service<IRecurringJobManager>()).TriggerJob(DetectionSweepJob.RecurringId);
        await WaitUntil(() => DetectedCases().Count == 1, "the merge found by the sweep becomes a case", seconds: 20);
        Assert.Equal(["sweep"], Record()!.FoundBy);
    }
}

/// <summary>GitHub down while a found merge is checked: retried with back-off, reported once, decided when GitHub is back.</summary>
[Trait("Category", "EndToEnd")]
public sealed class DetectionCheckOutageTests : DetectionTestBase
{
    [Fact]
    public async Task ACheckThatFailsIsRetriedReportedOnceAndDecidedWhenGitHubIsBack()
    {
        GitHub.Fail("GET pull", new Fault.Status(502), times: 1000);
        await MergedWebhookAsync(MergeOnGitHub());

        await WaitUntil(() => Record() is { Attempts: >= 3 }, "three failed checks", seconds: 20);
        Assert.Equal(Verdicts.Pending, Record()!.Verdict);
        Assert.Contains("502", Record()!.LastError);
        await Bot.Until(() => Slack.DirectMessages(TestBot.Admin).Any(m => m.Text.Contains("acme/api#1347")), "the admins told");
        var failed = Assert.Single(Bot.Store.AuditTrail(0), e => e.Type == AuditTypes.DetectionFailed);
        Assert.Equal("check", failed.Data["source"]);
        Assert.Empty(DetectedCases());

        GitHub.ClearFaults();
        await WaitUntil(() => DetectedCases().Count == 1, "decided once GitHub answers", seconds: 20);
        Assert.Single(Bot.Store.AuditTrail(0), e => e.Type == AuditTypes.DetectionFailed);
        Assert.Null(Record()!.LastError);
    }
}
