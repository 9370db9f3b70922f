using BreakGlassBot.Declaring;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Reviewing;

public static class ReviewingRegistration
{
    /// <summary>Retrospective approval: buttons, the request-changes modal, thread replies (through the durable event inbox).</summary>
    public static WebApplicationBuilder AddReviewing(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton<Approvals>();
        s.AddSingleton<ClickReplies>();
        s.AddSingleton<BotIdentity>();
        s.AddSingleton<Reviewers>();
        s.AddSingleton<IReviewerRoster>(sp => sp.GetRequiredService<Reviewers>());
        s.AddHostedService<ReviewerGroupCheck>();
        s.AddSingleton<IAnnouncementActions, AnnouncementButtons>();
        s.AddSingleton<IEvidenceSource, SlackApprovalEvidence>();
        s.AddSingleton<IBlockActionHandler, ApproveButton>();
        s.AddSingleton<IBlockActionHandler, DetailsButton>();
        s.AddSingleton<RequestChangesButton>();
        s.AddSingleton<IBlockActionHandler>(sp => sp.GetRequiredService<RequestChangesButton>());
        s.AddSingleton<IViewSubmissionHandler>(sp => sp.GetRequiredService<RequestChangesButton>());
        s.AddSingleton<ISlackEventHandler, ThreadReplyApprovals>();
        s.AddSingleton<IThreadNoteSource, ApprovalNotes>();
        s.AddSingleton<IStepHandler, ReevaluateStep>();
        s.AddSingleton<ISubCommand, UnapproveCommand>();
        return builder;
    }
}
