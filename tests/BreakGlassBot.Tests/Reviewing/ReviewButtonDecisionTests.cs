using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Support.InProcessBot;

namespace BreakGlassBot.Tests.Reviewing;

/// <summary>
/// The Approve, Request changes and Details buttons (block_actions) and the request-changes form (view_submission),
/// handed to their handlers in process. A click is acknowledged at once; the answer goes to the clicker's response_url.
/// </summary>
public class ReviewButtonDecisionTests : IAsyncLifetime
{
    InProcessBot bot = null!;

    public async Task InitializeAsync()
    {
        bot = Create();
        await bot.DeclareAsync("Rotate the signing keys");
    }

    public async Task DisposeAsync() => await bot.DisposeAsync();

    /// <summary>The one answer to a click, once it was sent: for the clicker only, the original message left as it was.</summary>
    async Task<string> AnswerAsync(int count = 1)
    {
        var answer = await bot.Slack.WaitForAsync("response_url", count);
        Assert.Equal(ResponseUrl, answer.ResponseUrl);
        Assert.True(answer.Ephemeral);
        Assert.False(answer.ReplaceOriginal);
        return answer.Message!.Text;
    }

    static JsonObject ReasonForm(string reason) => Values(Typed(RequestChangesButton.ReasonBlock, reason));

    [Fact]
    public async Task TheApproveButtonApprovesAndAnswersTheClickerOnly()
    {
        Assert.True(await bot.ActAsync(Click(Reviewer, ReviewActions.Approve, "BG-1", actionTs: "1700000000.000001")));
        Assert.StartsWith(":white_check_mark: You approved BG-1 retrospectively.", await AnswerAsync());
        var approval = Assert.Single(bot.Change().Approvals);
        Assert.Equal((Reviewer, "button", "1700000000.000001"), (approval.Reviewer, approval.Source, approval.SourceId));
        Assert.Single(bot.Audit(AuditTypes.Approved));
    }

    [Fact]
    public async Task TheApproveButtonOnAReminderInADirectMessageCountsAsAReminderClick()
    {
        await bot.ActAsync(Click(Reviewer, ReviewActions.Approve, "BG-1", channel: "D0REVIEWER"));
        await AnswerAsync();
        Assert.Equal("reminder-button", Assert.Single(bot.Change().Approvals).Source);
    }

    [Fact]
    public async Task ARefusedApproveClickIsAnsweredWithTheReason()
    {
        await bot.ActAsync(Click(Declarer, ReviewActions.Approve, "BG-1"));
        Assert.Equal(":no_entry: You cannot approve BG-1: you declared this change; someone else must review it.", await AnswerAsync());
        Assert.Empty(bot.Change().Approvals);
        Assert.Equal("button", Assert.Single(bot.Audit(AuditTypes.ApprovalRefused)).Data["source"]);
    }

    [Fact]
    public async Task AClickWhoseValueIsNotAChangeIdDoesNothing()
    {
        Assert.True(await bot.ActAsync(Click(Reviewer, ReviewActions.Approve, "not-a-change")));
        Assert.Empty(bot.Slack.Calls); // the handler returned before anything was sent, so nothing will be
        Assert.Empty(bot.Change().Approvals);
        Assert.Single(bot.Audit());
    }

    [Fact]
    public async Task AClickOnAButtonNoHandlerTakesIsOnlyAcknowledged()
    {
        Assert.False(await bot.ActAsync(Click(Reviewer, "some_other_button", "BG-1")));
        Assert.Empty(bot.Slack.Calls);
    }

    [Fact]
    public async Task TheDetailsButtonShowsTheChangeToTheClickerOnly()
    {
        await bot.ActAsync(Click(Outsider, ReviewActions.Details, "BG-1"));
        Assert.Equal("BG-1: Rotate the signing keys", await AnswerAsync());
        var blocks = TextOf(bot.Slack.Responses.Single().Message!.Blocks);
        Assert.Contains("Open, awaiting retrospective review", blocks);
        Assert.Contains("<@U0DECLARER>", blocks);
        Assert.Single(bot.Audit()); // looking records nothing
    }

    [Fact]
    public async Task TheDetailsButtonOfAChangeThatNoLongerExistsSaysSo()
    {
        await bot.ActAsync(Click(Outsider, ReviewActions.Details, "BG-7"));
        Assert.Equal(":warning: That change no longer exists.", await AnswerAsync());
    }

    [Fact]
    public async Task RequestChangesOpensAFormForAnEligibleReviewer()
    {
        await bot.ActAsync(Click(Reviewer, ReviewActions.RequestChanges, "BG-1"));
        var open = Assert.Single(bot.Slack.CallsTo("views.open"));
        Assert.Equal(TriggerId, open.TriggerId);
        Assert.Equal((RequestChangesButton.CallbackId, "BG-1"), (open.View!["callback_id"]!.GetValue<string>(), open.View["private_metadata"]!.GetValue<string>()));
        Assert.Contains("*BG-1* Rotate the signing keys", TextOf(open.View["blocks"]));
        Assert.Empty(bot.Slack.Responses);
        Assert.Empty(bot.Change().ChangeRequests);
    }

    [Theory]
    [InlineData(Declarer, "you declared this change")]
    [InlineData(Outsider, "only configured reviewers")]
    public async Task ARefusedRequestChangesClickIsAnsweredAndRecordedAndOpensNoForm(string user, string reason)
    {
        await bot.ActAsync(Click(user, ReviewActions.RequestChanges, "BG-1", actionTs: "77.7"));
        Assert.Contains(reason, await AnswerAsync());
        Assert.Empty(bot.Slack.CallsTo("views.open"));
        var refused = Assert.Single(bot.Audit(AuditTypes.ApprovalRefused));
        Assert.Equal((user, "request_changes", "button", "77.7"), (refused.Actor, refused.Data["action"], refused.Data["source"], refused.Data["source_id"]));
        Assert.Empty(bot.Change().ChangeRequests);
    }

    [Fact]
    public async Task RequestChangesOnACancelledChangeSaysSoAndOpensNoForm()
    {
        await bot.ReplyAsync("cancel BG-1 not needed");
        await bot.ActAsync(Click(Reviewer, ReviewActions.RequestChanges, "BG-1"));
        Assert.Equal("BG-1 was cancelled by <@U0DECLARER>: not needed. Nothing to approve.", await AnswerAsync());
        Assert.Empty(bot.Slack.CallsTo("views.open"));
    }

    [Fact]
    public async Task WhenTheRequestChangesFormCannotOpenTheReviewerIsToldToReplyInTheThread()
    {
        bot.Slack.Failing["views.open"] = "expired_trigger_id";
        await bot.ActAsync(Click(Reviewer, ReviewActions.RequestChanges, "BG-1"));
        Assert.Equal(":warning: Slack could not open the form. Reply in the thread of BG-1 with what must change.", await AnswerAsync());
        Assert.Empty(bot.Change().ChangeRequests);
    }

    [Fact]
    public async Task TheRequestChangesFormNeedsAReason()
    {
        var answer = await bot.SubmitAsync(Submission(RequestChangesButton.CallbackId, "V1", Reviewer, ReasonForm("   "), "BG-1"));
        Assert.Equal("errors", answer!["response_action"]!.GetValue<string>());
        Assert.Equal("Say what must change.", answer["errors"]![RequestChangesButton.ReasonBlock]!.GetValue<string>());
        Assert.Empty(bot.Change().ChangeRequests);
    }

    [Fact]
    public async Task ASubmittedReasonIsRecordedAndTheFormCloses()
    {
        var answer = await bot.SubmitAsync(Submission(RequestChangesButton.CallbackId, "V2", Reviewer, ReasonForm("Add a rollback plan to the PR"), "BG-1"));
        Assert.Equal("clear", answer!["response_action"]!.GetValue<string>());
        Assert.Equal("Add a rollback plan to the PR", Assert.Single(bot.Change().ChangeRequests).Reason);
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
        Assert.Single(bot.Audit(AuditTypes.ChangesRequested));
        Assert.Contains($"{StepKinds.ThreadNote}:{Approvals.ChangesRequestedNotePrefix}0", bot.PendingSteps());
        Assert.Equal([1], bot.Jobs.Reevaluated);
    }

    [Fact]
    public async Task ASubmissionBySomeoneWhoMayNotReviewIsRefusedInTheForm()
    {
        var answer = await bot.SubmitAsync(Submission(RequestChangesButton.CallbackId, "V3", Declarer, ReasonForm("Looks wrong"), "BG-1"));
        Assert.Equal("errors", answer!["response_action"]!.GetValue<string>());
        Assert.Equal(":no_entry: You cannot approve BG-1: you declared this change; someone else must review it.",
            answer["errors"]![RequestChangesButton.ReasonBlock]!.GetValue<string>());
        Assert.Empty(bot.Change().ChangeRequests);
    }

    [Fact]
    public async Task AFormThatLostItsChangeIdAsksToClickAgain()
    {
        var answer = await bot.SubmitAsync(Submission(RequestChangesButton.CallbackId, "V4", Reviewer, ReasonForm("Add tests"), privateMetadata: null));
        Assert.Equal("This form lost its change id; click Request changes again.", answer!["errors"]![RequestChangesButton.ReasonBlock]!.GetValue<string>());
        Assert.Empty(bot.Change().ChangeRequests);
    }
}
