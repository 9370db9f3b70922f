using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>
/// The tracking job's decisions (reminders, overdue, escalation, completion, the next check), made by calling
/// <see cref="TrackChangeJob.RunAsync"/> directly at instants set on the fake clock. No Hangfire server runs: the checks
/// the job plans are seen in <see cref="RecordingJobClient"/>, and what it sends is seen as outbox steps.
/// </summary>
public class TrackingDecisionTests : IAsyncLifetime
{
    const string Declarer = InProcessBot.Declarer;
    const string Reviewer = InProcessBot.Reviewer;
    const string Member = "U0MEMBER";
    const string Manager = "U0MANAGER";
    static readonly DateTimeOffset Start = InProcessBot.Start; // declared then; due a day later; reminders every 4 h
    static readonly DateTimeOffset Due = Start.AddDays(1);
    InProcessBot bot = null!;

    public async Task InitializeAsync()
    {
        bot = InProcessBot.Create(new Dictionary<string, string?>
        {
            ["Policy:ReviewWindow"] = "1.00:00:00",
            ["Policy:ReminderInterval"] = "04:00:00",
            ["Policy:EscalateAfter"] = "02:00:00",
            ["Slack:ReviewerUserGroup"] = "S0REVIEWERS",
            ["Slack:Managers:0"] = Manager,
        });
        bot.Slack.UserGroups["S0REVIEWERS"] = [Member, Declarer]; // the declarer is in the group, and is never reminded to review
        await bot.DeclareAsync("Failover the database");
    }

    public async Task DisposeAsync() => await bot.DisposeAsync();

    Task Check(DateTimeOffset at, DateTimeOffset? plannedFor = null)
    {
        bot.Clock.SetUtcNow(at);
        return bot.Service<TrackChangeJob>().RunAsync(1, plannedFor, CancellationToken.None);
    }

    IReadOnlyList<string> DirectMessages() => [.. bot.PendingSteps().Where(s => s.StartsWith(StepKinds.DirectMessage + ":")).Select(s => s[(StepKinds.DirectMessage.Length + 1)..])];

    Task Approve(string user) =>
        bot.Service<Approvals>().ApproveAsync(new ChangeId(1), user, null, "button", null, null, CancellationToken.None);

    [Fact]
    public async Task BeforeTheFirstReminderIsDueNobodyIsRemindedAndThePlannedCheckStands()
    {
        Assert.Equal(Start.AddHours(4), bot.Change().NextCheckAt);
        await Check(Start.AddHours(1)); // an extra look (an approval elsewhere, a webhook)

        var change = bot.Change();
        Assert.Empty(change.Reminders);
        Assert.Empty(DirectMessages());
        Assert.Equal(Start.AddHours(4), change.NextCheckAt);
        Assert.Empty(bot.Jobs.Scheduled); // the planned check carries the chain; no second one
        var slack = Assert.Single(change.Evidence);
        Assert.Equal((nameof(EvidenceKind.SlackApproval), false, "an approval from a reviewer in the Slack thread"), (slack.Kind, slack.Satisfied, slack.Missing));
        Assert.Contains(StepKinds.RefreshAnnouncement, bot.PendingSteps()); // the announcement shows what is missing
    }

    [Fact]
    public async Task WhenTheReminderIsDueEachEligibleReviewerIsRemindedOnceAndNeverTheDeclarer()
    {
        await Check(Start.AddHours(4), plannedFor: Start.AddHours(4));
        Assert.Equal([$"{Reviewer}|reminder:1", $"{Member}|reminder:2"], DirectMessages());
        Assert.Equal([(Reviewer, "reminder"), (Member, "reminder")], bot.Change().Reminders.Select(r => (r.User, r.Kind)));
        Assert.Equal(Start.AddHours(8), bot.Change().NextCheckAt);
        Assert.Equal([(1, Start.AddHours(8))], bot.Jobs.Scheduled);

        var reminder = bot.DirectMessage(1, $"{Reviewer}|reminder:1")!;
        Assert.StartsWith(":hourglass: Retrospective review needed: *BG-1* Failover the database · declared by <@U0DECLARER>", reminder.Text);
        Assert.Contains("Still missing: an approval from a reviewer in the Slack thread.", reminder.Text);
        Assert.Contains(ReviewActions.Approve, reminder.Blocks!.ToJsonString());

        await Check(Start.AddHours(4), plannedFor: Start.AddHours(4)); // Hangfire runs the same check again
        Assert.Equal(2, bot.Change().Reminders.Count);
        Assert.Single(bot.Jobs.Scheduled);
    }

    [Fact]
    public async Task AReviewerWhoActedIsNotRemindedAndAfterAChangeRequestTheDeclarerIs()
    {
        bot.Clock.SetUtcNow(Start.AddHours(1));
        await bot.Service<Approvals>().RequestChangesAsync(new ChangeId(1), Reviewer, "Add a rollback plan", CancellationToken.None);
        await Check(Start.AddHours(4), plannedFor: Start.AddHours(4));

        Assert.Equal([$"{Member}|reminder:1", $"{Declarer}|declarer-reminder:2"], DirectMessages());
        var declarer = bot.DirectMessage(1, $"{Declarer}|declarer-reminder:2")!;
        Assert.StartsWith(":memo: Changes were requested on *BG-1* Failover the database · declared by <@U0DECLARER> by <@U0REVIEWER>: Add a rollback plan", declarer.Text);
    }

    [Fact]
    public async Task PastTheDueTimeTheChangeIsMarkedOverdueOnce()
    {
        await Check(Due.AddMinutes(1));
        var change = bot.Change();
        Assert.Equal(Due.AddMinutes(1), change.OverdueAt);
        Assert.Null(change.EscalatedAt); // not yet: two hours after the deadline
        var overdue = Assert.Single(bot.Audit(AuditTypes.Overdue));
        Assert.Equal(("bot", Due.ToString("O"), "an approval from a reviewer in the Slack thread"), (overdue.Actor, overdue.Data["due_at"], overdue.Data["missing"]));
        Assert.Contains($"{StepKinds.ThreadNote}:{DeadlineMessages.OverdueNote}", bot.PendingSteps());
        Assert.StartsWith(":warning: *BG-1 is overdue*: the retrospective review was due", bot.ThreadNote(1, DeadlineMessages.OverdueNote));

        await Check(Due.AddMinutes(30));
        Assert.Single(bot.Audit(AuditTypes.Overdue));
        Assert.Equal(Due.AddMinutes(1), bot.Change().OverdueAt);
    }

    [Fact]
    public async Task EscalationGoesToTheManagersAndTheDeclarerOnceAfterTheConfiguredDelay()
    {
        await Check(Due.AddHours(1));
        Assert.Empty(bot.Audit(AuditTypes.Escalated));

        await Check(Due.AddHours(2));
        var escalated = Assert.Single(bot.Audit(AuditTypes.Escalated));
        Assert.Equal($"{Manager} {Declarer}", escalated.Data["to"]);
        var escalations = DirectMessages().Where(d => d.Contains("|escalation:")).ToList();
        Assert.Equal([Manager, Declarer], escalations.Select(d => d.Split('|')[0]));
        Assert.StartsWith(":rotating_light: Escalation: *BG-1* Failover the database", bot.DirectMessage(1, escalations[0])!.Text);
        Assert.Contains("*overdue by 2h 0m*", bot.DirectMessage(1, escalations[0])!.Text);

        await Check(Due.AddHours(3));
        Assert.Single(bot.Audit(AuditTypes.Escalated));
        Assert.Equal(2, bot.Change().Reminders.Count(r => r.Kind == "escalation"));
    }

    [Fact]
    public async Task AnEligibleApprovalCompletesTheReviewOnTime()
    {
        bot.Clock.SetUtcNow(Start.AddHours(2));
        await Approve(Member);
        await Check(Start.AddHours(2));

        var change = bot.Change();
        Assert.Equal((ChangeStatus.Reviewed, Start.AddHours(2)), (change.Status, change.ReviewedAt));
        Assert.Null(change.NextCheckAt);
        var reviewed = Assert.Single(bot.Audit(AuditTypes.Reviewed));
        Assert.Equal(("true", "SlackApproval"), (reviewed.Data["on_time"], reviewed.Data["evidence"]));
        Assert.Contains($"{StepKinds.ThreadNote}:{DeadlineMessages.ReviewedNote}", bot.PendingSteps());
        Assert.Equal(":white_check_mark: *BG-1 is reviewed* within the review window.\n• approved in Slack", bot.ThreadNote(1, DeadlineMessages.ReviewedNote));
        Assert.Empty(bot.Jobs.Scheduled);
        Assert.Empty(change.Reminders);
    }

    [Fact]
    public async Task AnApprovalAfterTheDueTimeCompletesTheReviewLate()
    {
        bot.Clock.SetUtcNow(Due.AddHours(1));
        await Approve(Reviewer);
        await Check(Due.AddHours(1));
        Assert.Equal(ChangeStatus.Reviewed, bot.Change().Status);
        Assert.Equal("false", Assert.Single(bot.Audit(AuditTypes.Reviewed)).Data["on_time"]);
        Assert.StartsWith(":white_check_mark: *BG-1 is reviewed* (late by 1h 0m).", bot.ThreadNote(1, DeadlineMessages.ReviewedNote));
    }

    [Fact]
    public async Task AnApprovalByTheDeclarerNeverCompletesTheReview()
    {
        // Recorded before the rule existed, or by any path that skipped the click check: the count excludes it again.
        bot.Store.Update(1, c => { c.Approvals.Add(new Approval { Reviewer = Declarer, At = Start, Source = "button" }); return []; });
        await Check(Start.AddHours(4), plannedFor: Start.AddHours(4));
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
        Assert.Contains("the approval by U0DECLARER does not count (the declarer)", Assert.Single(bot.Change().Evidence).Missing);
    }

    [Fact]
    public async Task ACancelledChangeIsLeftAlone()
    {
        await bot.ReplyAsync("cancel BG-1 not an emergency after all");
        await Check(Due.AddHours(3), plannedFor: Start.AddHours(4));
        var change = bot.Change();
        Assert.Empty(change.Reminders);
        Assert.Empty(change.Evidence);
        Assert.Null(change.OverdueAt);
        Assert.Empty(bot.Jobs.Scheduled);
        Assert.Equal([AuditTypes.Declared, AuditTypes.Cancelled], bot.Audit().Select(e => e.Type));
    }

    [Fact]
    public async Task AnEvidenceKindThePolicyRequiresButNobodyCanCheckKeepsTheChangeOpen()
    {
        await using var strict = InProcessBot.Create(new Dictionary<string, string?> { ["Policy:RequiredEvidence:0"] = "SlackApproval", ["Policy:RequiredEvidence:1"] = "PullRequestApproved" });
        await strict.DeclareAsync();
        await strict.Service<Approvals>().ApproveAsync(new ChangeId(1), Reviewer, null, "button", null, null, CancellationToken.None);
        await strict.Service<TrackChangeJob>().RunAsync(1, null, CancellationToken.None);

        Assert.Equal(ChangeStatus.Open, strict.Change().Status);
        var pr = Assert.Single(strict.Change().Evidence, e => e.Kind == nameof(EvidenceKind.PullRequestApproved));
        Assert.False(pr.Satisfied);
        Assert.Equal("GitHub is not configured, so the PR review that the policy requires for BG-1 cannot be checked", pr.Missing);
        Assert.True(Assert.Single(strict.Change().Evidence, e => e.Kind == nameof(EvidenceKind.SlackApproval)).Satisfied);
    }

    [Fact]
    public async Task InBusinessHoursModeRemindersWaitForTheWorkingDay()
    {
        await using var office = InProcessBot.Create(new Dictionary<string, string?>
        {
            ["Policy:BusinessHoursOnly"] = "true", ["Policy:BusinessHours"] = "Mon-Fri 09:00-17:00", ["Policy:TimeZone"] = "UTC",
            ["Policy:ReviewWindow"] = "1.00:00:00", ["Policy:ReminderInterval"] = "02:00:00",
        });
        var saturday = new DateTimeOffset(2031, 3, 8, 2, 0, 0, TimeSpan.Zero);
        var monday = new DateTimeOffset(2031, 3, 10, 9, 0, 0, TimeSpan.Zero);
        office.Clock.SetUtcNow(saturday);
        var change = await office.DeclareAsync();
        Assert.Equal(monday, change.NextCheckAt);
        Assert.Equal(new DateTimeOffset(2031, 3, 10, 17, 0, 0, TimeSpan.Zero), change.DueAt); // one working day

        office.Clock.SetUtcNow(saturday.AddHours(10)); // Saturday noon: an extra look sends nothing
        await office.Service<TrackChangeJob>().RunAsync(1, null, CancellationToken.None);
        Assert.Empty(office.Change().Reminders);

        office.Clock.SetUtcNow(monday.AddSeconds(1));
        await office.Service<TrackChangeJob>().RunAsync(1, monday, CancellationToken.None);
        Assert.Equal(Reviewer, Assert.Single(office.Change().Reminders).User);
        Assert.Equal(monday.AddSeconds(1).AddHours(2), office.Change().NextCheckAt);
    }

    [Fact]
    public async Task TheSweepAsksForALookAtAnOpenChangeWhosePlannedCheckWasMissed()
    {
        var sweep = bot.Service<TrackingSweepJob>();
        bot.Clock.SetUtcNow(Start.AddHours(4).AddSeconds(5)); // within the grace (5 polling intervals + 1 s): the job may still run
        Assert.Equal(0, sweep.Run());
        Assert.Empty(bot.Jobs.Reevaluated);

        bot.Clock.SetUtcNow(Start.AddHours(4).AddMinutes(1));
        Assert.Equal(1, sweep.Run());
        Assert.Equal([1], bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task TheTrackStepPlansTheFirstCheckOfANewChange()
    {
        var step = Assert.Single(bot.Change().Steps, s => s.Kind == StepKinds.Track);
        var handler = bot.App.Services.GetServices<IStepHandler>().Single(h => h.Kind == StepKinds.Track);
        Assert.IsType<StepOutcome.Done>(await handler.RunAsync(bot.Change(), step, CancellationToken.None));
        Assert.Equal([(1, Start.AddHours(4))], bot.Jobs.Scheduled);
    }
}
