using BreakGlassBot.Slack;

namespace BreakGlassBot.Outbox;

public static class OutboxRegistration
{
    /// <summary>The durable outbox (steps saved with the change, carried out with back-off) and the Slack event inbox.</summary>
    public static WebApplicationBuilder AddOutbox(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton<OutboxQueue>();
        s.AddSingleton<ISlackRequestListener>(sp => sp.GetRequiredService<OutboxQueue>());
        s.AddHostedService<OutboxWorker>();
        s.AddSingleton<IStepHandler, ThreadNoteStep>();
        s.AddSingleton<IThreadNoteSource, StepNotes>();
        s.AddSingleton<IStepHandler, DirectMessageStep>();
        s.AddSingleton<IDirectMessageSource, ParkedNotice>();
        s.AddSingleton<InboxNudge>();
        s.AddSingleton<ISlackEventInbox, SlackEventInbox>();
        s.AddHostedService<InboxWorker>();
        return builder;
    }
}
