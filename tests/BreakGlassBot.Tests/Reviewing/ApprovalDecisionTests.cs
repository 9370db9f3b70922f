using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>
/// <see cref="Approvals"/> called in process: who may approve, what an approval records and sets off, and what the person
/// who tried is told (<see cref="Approvals.Describe"/>), whichever way the approval arrived.
/// </summary>
public class ApprovalDecisionTests
{
    const string Reviewer = InProcessBot.Reviewer;
    const string Declarer = InProcessBot.Declarer;
    const string Author = "U0AUTHOR";
    static readonly ChangeId Bg1 = new(1);

    static Task<ApprovalResult> Approve(InProcessBot bot, string user, int id = 1, string source = "button") =>
        bot.Service<Approvals>().ApproveAsync(new ChangeId(id), user, user.ToLowerInvariant(), source, "1548426417.840180", null, CancellationToken.None);

    [Fact]
    public async Task AnEligibleReviewerApprovesAndEverythingItSetsOffIsRecorded()
    {
        await using var bot = InProcessBot.Create();
        await bot.DeclareAsync();
        bot.Clock.Advance(TimeSpan.FromHours(1));

        var result = await Approve(bot, Reviewer);
        Assert.Equal(":white_check_mark: You approved BG-1 retrospectively. It is recorded in the thread and the audit trail.", Approvals.Describe(result));
        var approval = Assert.Single(bot.Change().Approvals);
        Assert.Equal((Reviewer, "u0reviewer", InProcessBot.Start.AddHours(1), "button", "1548426417.840180"),
            (approval.Reviewer, approval.ReviewerName, approval.At, approval.Source, approval.SourceId));
        var approved = Assert.Single(bot.Audit(AuditTypes.Approved));
        Assert.Equal((Reviewer, "button"), (approved.Actor, approved.Data["source"]));
        Assert.Contains($"{StepKinds.ThreadNote}:{Approvals.ApprovedNotePrefix}0", bot.PendingSteps());
        Assert.Contains(StepKinds.RefreshAnnouncement, bot.PendingSteps());
        Assert.Equal(":white_check_mark: BG-1 approved retrospectively by <@U0REVIEWER>.", bot.ThreadNote(1, Approvals.ApprovedNotePrefix + "0"));
        Assert.Equal([1], bot.Jobs.Reevaluated); // the tracker looks at once: one approval may complete the review
    }

    [Fact]
    public async Task DeclarerCannotApproveTheirOwnChange()
    {
        // Even when listed as a reviewer.
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = Declarer });
        await bot.DeclareAsync();

        var result = await Approve(bot, Declarer);
        Assert.Equal(":no_entry: You cannot approve BG-1: you declared this change; someone else must review it.", Approvals.Describe(result));
        Assert.Empty(bot.Change().Approvals);
        var refused = Assert.Single(bot.Audit(AuditTypes.ApprovalRefused));
        Assert.Equal((Declarer, "approve", "button"), (refused.Actor, refused.Data["action"], refused.Data["source"]));
        Assert.Contains("you declared this change", refused.Data["reason"]);
        Assert.Empty(bot.Audit(AuditTypes.Approved));
        Assert.Empty(bot.Jobs.Reevaluated);
        Assert.Contains(bot.Logs, l => l.Contains("Approval of BG-1 by U0DECLARER refused"));
    }

    [Fact]
    public async Task SomeoneWhoIsNotAReviewerIsRefused()
    {
        await using var bot = InProcessBot.Create();
        await bot.DeclareAsync();
        Assert.Equal(":no_entry: You cannot approve BG-1: only configured reviewers may approve emergency changes.",
            Approvals.Describe(await Approve(bot, InProcessBot.Outsider)));
        Assert.Empty(bot.Change().Approvals);
        Assert.Equal(InProcessBot.Outsider, Assert.Single(bot.Audit(AuditTypes.ApprovalRefused)).Actor);
    }

    [Fact]
    public async Task AMemberOfTheReviewerUserGroupMayApprove()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = "S0REVIEWERS", ["Slack:Reviewers:0"] = null });
        bot.Slack.UserGroups["S0REVIEWERS"] = ["U0MEMBER"];
        await bot.DeclareAsync();

        Assert.IsType<ApprovalResult.Refused>(await Approve(bot, InProcessBot.Outsider));
        Assert.IsType<ApprovalResult.Approved>(await Approve(bot, "U0MEMBER"));
        Assert.Equal("U0MEMBER", Assert.Single(bot.Change().Approvals).Reviewer);
        Assert.Equal("S0REVIEWERS", Assert.Single(bot.Slack.CallsTo("usergroups.users.list")).UserGroup); // read once, then cached
    }

    [Fact]
    public async Task WhenTheReviewerGroupCannotBeReadNothingIsRecordedAndThePersonIsAskedToTryAgain()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:ReviewerUserGroup"] = "S0REVIEWERS", ["Slack:Reviewers:0"] = null });
        bot.Slack.Failing["usergroups.users.list"] = "ratelimited";
        await bot.DeclareAsync();

        var result = await Approve(bot, "U0MEMBER");
        Assert.Equal(":hourglass_flowing_sand: Couldn't check the reviewer group just now, try again in a minute. Nothing was recorded for BG-1.", Approvals.Describe(result));
        Assert.Empty(bot.Change().Approvals);
        Assert.Equal([AuditTypes.Declared], bot.Audit().Select(e => e.Type));
    }

    [Fact]
    public async Task TheAuthorOfALinkedPullRequestCannotApproveTheChange()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = Author, [$"People:{Author}:GitHub"] = "octocat" });
        await bot.DeclareAsync(prs: [new PullRequestRef("github.com", "acme", "api", 1)]);
        bot.Store.Update(1, c => { c.PullRequests[0].AuthorLogin = "OctoCat"; return []; }); // as read from GitHub

        Assert.Equal(":no_entry: You cannot approve BG-1: you authored acme/api#1; someone else must review it.", Approvals.Describe(await Approve(bot, Author)));
        Assert.Empty(bot.Change().Approvals);
        Assert.IsType<ApprovalResult.Approved>(await Approve(bot, Reviewer));
    }

    [Fact]
    public async Task ApprovingTwiceCountsOnce()
    {
        await using var bot = InProcessBot.Create();
        await bot.DeclareAsync();
        await Approve(bot, Reviewer);
        bot.Clock.Advance(TimeSpan.FromMinutes(3));

        var again = await Approve(bot, Reviewer, source: "thread-reply");
        Assert.Equal($"You already approved BG-1 at {Blocks.Date(InProcessBot.Start)}; it counts once.", Approvals.Describe(again));
        Assert.Single(bot.Change().Approvals);
        Assert.Single(bot.Audit(AuditTypes.Approved));
        Assert.Single(bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task AReviewedChangeCannotBeApprovedAgain()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = "U0REVIEWER2" });
        await bot.DeclareAsync();
        await Approve(bot, Reviewer);
        await bot.Service<TrackChangeJob>().RunAsync(1, null, CancellationToken.None);
        Assert.Equal(ChangeStatus.Reviewed, bot.Change().Status);

        var late = await Approve(bot, "U0REVIEWER2");
        Assert.Equal($"BG-1 is already reviewed: approved by <@U0REVIEWER> at {Blocks.Date(InProcessBot.Start)}.", Approvals.Describe(late));
        Assert.Single(bot.Change().Approvals);
    }

    [Fact]
    public async Task ACancelledChangeCannotBeApproved()
    {
        await using var bot = InProcessBot.Create();
        await bot.ReplyAsync("Wrong change");
        await bot.ReplyAsync("cancel BG-1 duplicate of BG-0");
        Assert.Equal("BG-1 was cancelled by <@U0DECLARER>: duplicate of BG-0. Nothing to approve.", Approvals.Describe(await Approve(bot, Reviewer)));
        Assert.Empty(bot.Change().Approvals);
        Assert.Empty(bot.Audit(AuditTypes.Approved));
    }

    [Fact]
    public async Task AChangeThatDoesNotExistCannotBeApproved()
    {
        await using var bot = InProcessBot.Create();
        Assert.Equal(":warning: There is no BG-99. `/breakglass list` shows the open changes.", Approvals.Describe(await Approve(bot, Reviewer, id: 99)));
        Assert.Equal(0, bot.Store.AuditCount());
    }

    [Fact]
    public async Task WithTwoApprovalsRequiredTheChangeStaysOpenUntilASecondReviewerApproves()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = "U0REVIEWER2", ["Policy:RequiredApprovals"] = "2" });
        await bot.DeclareAsync();
        var job = bot.Service<TrackChangeJob>();

        await Approve(bot, Reviewer);
        await Approve(bot, Reviewer, source: "thread-reply"); // the same reviewer again does not make two
        await job.RunAsync(1, null, CancellationToken.None);
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
        var slack = Assert.Single(bot.Change().Evidence, e => e.Kind == nameof(EvidenceKind.SlackApproval));
        Assert.Equal((false, "1 more reviewer approval(s) in Slack (1 of 2)"), (slack.Satisfied, slack.Missing));

        await Approve(bot, "U0REVIEWER2");
        await job.RunAsync(1, null, CancellationToken.None);
        Assert.Equal(ChangeStatus.Reviewed, bot.Change().Status);
    }

    [Fact]
    public async Task RequestingChangesRecordsTheReasonKeepsTheChangeOpenAndTellsTheDeclarer()
    {
        await using var bot = InProcessBot.Create();
        await bot.DeclareAsync();
        var result = await bot.Service<Approvals>().RequestChangesAsync(Bg1, Reviewer, "Add a rollback plan", CancellationToken.None);

        Assert.IsType<ApprovalResult.Approved>(result);
        var request = Assert.Single(bot.Change().ChangeRequests);
        Assert.Equal((Reviewer, "Add a rollback plan", InProcessBot.Start), (request.Reviewer, request.Reason, request.At));
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
        Assert.Empty(bot.Change().Approvals);
        Assert.Equal("Add a rollback plan", Assert.Single(bot.Audit(AuditTypes.ChangesRequested)).Data["reason"]);
        Assert.Contains($"{StepKinds.ThreadNote}:{Approvals.ChangesRequestedNotePrefix}0", bot.PendingSteps());
        Assert.StartsWith(":memo: <@U0DECLARER>, <@U0REVIEWER> requested changes on BG-1: Add a rollback plan",
            bot.ThreadNote(1, Approvals.ChangesRequestedNotePrefix + "0"));
        Assert.Equal([1], bot.Jobs.Reevaluated);
    }
    [Fact]
    public async Task AnOpenChangeRequestHoldsTheReviewBackUntilItsAuthorApprovesAgain()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = "U0REVIEWER2" });
        await bot.DeclareAsync();
        var job = bot.Service<TrackChangeJob>();
        await bot.Service<Approvals>().RequestChangesAsync(Bg1, "U0REVIEWER2", "Add a rollback plan", CancellationToken.None);
        bot.Clock.Advance(TimeSpan.FromMinutes(5));

        await Approve(bot, Reviewer); // another reviewer's approval does not answer the request
        await job.RunAsync(1, null, CancellationToken.None);
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
        var slack = Assert.Single(bot.Change().Evidence, e => e.Kind == nameof(EvidenceKind.SlackApproval));
        Assert.Equal((false, "changes requested by U0REVIEWER2 are open until they approve"), (slack.Satisfied, slack.Missing));

        await Approve(bot, "U0REVIEWER2");
        await job.RunAsync(1, null, CancellationToken.None);
        Assert.Equal(ChangeStatus.Reviewed, bot.Change().Status);
    }

    [Fact]
    public async Task AReviewerWhoApprovedThenAskedForChangesApprovesAgainAndTheEventSaysWhyTheyMay()
    {
        await using var bot = InProcessBot.Create();
        await bot.DeclareAsync();
        await Approve(bot, Reviewer);
        bot.Clock.Advance(TimeSpan.FromMinutes(1));
        await bot.Service<Approvals>().RequestChangesAsync(Bg1, Reviewer, "On second thought: the migration is missing", CancellationToken.None);
        bot.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Single(SlackApprovalEvidence.OpenChangeRequests(bot.Change()));

        Assert.IsType<ApprovalResult.Approved>(await Approve(bot, Reviewer)); // not "already approved": it answers the request
        Assert.Empty(SlackApprovalEvidence.OpenChangeRequests(bot.Change()));
        Assert.Equal(2, bot.Change().Approvals.Count);
        Assert.All(bot.Audit(AuditTypes.Approved), e => Assert.Equal("listed in Slack:Reviewers", e.Data["eligible"]));
        Assert.IsType<ApprovalResult.AlreadyApproved>(await Approve(bot, Reviewer));
    }
    [Fact]
    public async Task AChangeRequestBySomeoneFoundToBeThePullRequestsAuthorHoldsNothingBack()
    {
        await using var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Reviewers:1"] = Author, [$"People:{Author}:GitHub"] = "octocat" });
        await bot.DeclareAsync(prs: [new PullRequestRef("github.com", "acme", "api", 1)]);
        await bot.Service<Approvals>().RequestChangesAsync(Bg1, Author, "Looks wrong", CancellationToken.None); // before GitHub named the author
        bot.Store.Update(1, c => { c.PullRequests[0].AuthorLogin = "octocat"; return []; });
        bot.Clock.Advance(TimeSpan.FromMinutes(1));
        await Approve(bot, Reviewer);
        await bot.Service<TrackChangeJob>().RunAsync(1, null, CancellationToken.None);
        Assert.DoesNotContain(bot.Change().Evidence, e => e.Missing?.Contains("changes requested", StringComparison.Ordinal) == true);
    }
}
