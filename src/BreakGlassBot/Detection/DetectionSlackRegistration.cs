using BreakGlassBot.Declaring;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Detection;

public static class DetectionSlackRegistration
{
    /// <summary>The Slack side of a detected case: its direct messages and thread notes, the explanation form, and <c>assign</c>.</summary>
    public static WebApplicationBuilder AddDetectionSlack(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton<IDirectMessageSource, DetectionDirectMessages>();
        s.AddSingleton<IThreadNoteSource, DetectionNotes>();
        s.AddSingleton<ExplainDetected>();
        s.AddSingleton<IBlockActionHandler>(sp => sp.GetRequiredService<ExplainDetected>());
        s.AddSingleton<IViewSubmissionHandler>(sp => sp.GetRequiredService<ExplainDetected>());
        s.AddSingleton<ISubCommand, AssignCommand>();
        return builder;
    }
}
