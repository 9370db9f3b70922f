using BreakGlassBot.Deadlines;
using BreakGlassBot.Declaring;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;
using Hangfire;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Detection;

public static class DetectionRegistration
{
    /// <summary>Undeclared bypasses (Detection:Enabled): the webhook observer, the rule-suite poll, the daily sweep and the detector.</summary>
    public static WebApplicationBuilder AddDetection(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton<MergeRecords>();
        s.AddSingleton<WatchedScope>();
        s.AddSingleton<ResponsiblePeople>();
        s.AddSingleton<DetectionNudge>();
        s.AddSingleton<AdminNotices>();
        s.AddTransient<AdminNoticeJob>();
        s.AddSingleton<Detector>();
        s.AddSingleton<RuleSuitePoll>();
        s.AddTransient<DetectionSweepJob>();
        s.AddSingleton<IRecurringSchedule, DetectionSweepSchedule>();
        s.AddSingleton<IGitHubWebhookObserver, DetectionWebhooks>();
        s.AddSingleton<IDeclarationStepSource, DetectionDeclarationSteps>();
        s.AddSingleton<IChangeCancellation, ReopenDetectedOnCancel>();
        s.AddSingleton<IStepHandler, DetectionDeclaredStep>();
        s.AddSingleton<IStepHandler, DetectionCancelledStep>();
        s.AddSingleton<IThreadNoteSource, AbsorbedNote>();
        s.AddHostedService<DetectionWorker>();
        // The Slack side of a detected case: its direct messages and thread notes, the explanation form, and `assign`.
        s.AddSingleton<IDirectMessageSource, DetectionDirectMessages>();
        s.AddSingleton<IThreadNoteSource, DetectionNotes>();
        s.AddSingleton<ExplainDetected>();
        s.AddSingleton<IBlockActionHandler>(sp => sp.GetRequiredService<ExplainDetected>());
        s.AddSingleton<IViewSubmissionHandler>(sp => sp.GetRequiredService<ExplainDetected>());
        s.AddSingleton<ISubCommand, AssignCommand>();
        return builder;
    }
}

/// <summary>
/// Checks found merges and opens due cases every Detection:CheckInterval (at once when a webhook wakes it), and reads GitHub's
/// rule suites every Detection:RuleSuitesInterval. At start-up it also runs a sweep, for what happened while the bot was down.
/// </summary>
internal sealed partial class DetectionWorker(Detector detector, RuleSuitePoll ruleSuites, DetectionNudge nudge, IOptions<DetectionOptions> options,
    IOptions<GitHubOptions> github, IBackgroundJobClient jobs, InstanceQueue queue, TimeProvider time, ILogger<DetectionWorker> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        if (!o.Enabled) return;
        if (!github.Value.IsConfigured)
        {
            LogNotConfigured(log);
            return;
        }
        if (queue.Name is { } q) jobs.Enqueue<DetectionSweepJob>(q, j => j.RunAsync(null, CancellationToken.None));
        else jobs.Enqueue<DetectionSweepJob>(j => j.RunAsync(null, CancellationToken.None));
        var nextPoll = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (o.RuleSuitesInterval > TimeSpan.Zero && time.GetUtcNow() >= nextPoll)
                {
                    nextPoll = time.GetUtcNow() + o.RuleSuitesInterval;
                    await ruleSuites.PollAsync(stoppingToken);
                }
                await detector.ProcessDueAsync(stoppingToken);
                await nudge.WaitAsync(o.CheckInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
            catch (Exception e)
            {
                // The store or a bug, not GitHub (the detector handles those): keep going, the work is still stored.
                LogFailed(log, e);
                try { await Task.Delay(o.CheckInterval, time, stoppingToken); } catch (OperationCanceledException) { }
            }
        }
    }

    [LoggerMessage(EventId = 9031, Level = LogLevel.Warning, Message = "Detection:Enabled is true but GitHub is not configured: nothing is detected")]
    static partial void LogNotConfigured(ILogger logger);
    [LoggerMessage(EventId = 9032, Level = LogLevel.Error, Message = "The detection worker failed; it goes on")]
    static partial void LogFailed(ILogger logger, Exception e);
}
