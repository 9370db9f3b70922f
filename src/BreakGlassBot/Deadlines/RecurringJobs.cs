using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Deadlines;

/// <summary>A recurring job the control depends on; registered at start-up and again whenever it goes missing.</summary>
public interface IRecurringSchedule
{
    /// <summary>The job's id before <see cref="InstanceQueue.RecurringId"/>; null when this schedule is switched off.</summary>
    string? Id { get; }
    void Register();
}

/// <summary>
/// Deleting the tracking sweep (on the dashboard, or in the job store) would leave overdue changes without reminders or
/// escalation: every <c>Storage:RecurringCheckInterval</c> each schedule whose job is gone is registered again, logged
/// as a warning and recorded as an audit event.
/// </summary>
internal sealed partial class RecurringJobsGuard(IEnumerable<IRecurringSchedule> schedules, JobStorage jobs, InstanceQueue queue, ChangeStore store,
    TimeProvider time, IOptions<StorageOptions> storage, ILogger<RecurringJobsGuard> log) : BackgroundService
{
    /// <summary>Every schedule is registered (or, when switched off, removed) at start-up, before the first check.</summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var schedule in schedules) schedule.Register();
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(storage.Value.RecurringCheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) RestoreMissing();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    public int RestoreMissing()
    {
        HashSet<string> present;
        try
        {
            using var connection = jobs.GetConnection();
            present = [.. connection.GetRecurringJobs().Select(j => j.Id)];
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnreadable(log, e.Message);
            return 0;
        }
        var restored = 0;
        foreach (var schedule in schedules)
        {
            if (schedule.Id is not { } id || present.Contains(queue.RecurringId(id))) continue;
            schedule.Register();
            restored++;
            LogRestored(log, id);
            store.Append(new AuditEvent
            {
                ChangeNumber = 0, At = time.GetUtcNow(), Actor = "bot", Type = AuditTypes.RecurringJobRestored,
                Data = new() { ["job"] = id },
            });
        }
        return restored;
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Warning, Message = "The recurring job {Job} was missing (deleted?): registered again")]
    static partial void LogRestored(ILogger logger, string job);
    [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "Could not read the recurring jobs to check them: {Error}")]
    static partial void LogUnreadable(ILogger logger, string error);
}

/// <summary>Daily: forget the ids of Slack events and GitHub deliveries older than <c>Storage:SeenRetention</c>.</summary>
public sealed partial class SeenPruneJob(ChangeStore store, IOptions<StorageOptions> storage, TimeProvider time, ILogger<SeenPruneJob> log)
{
    public const string RecurringId = "seen-prune";

    public int Run()
    {
        var pruned = store.PruneSeen(time.GetUtcNow() - storage.Value.SeenRetention);
        if (pruned > 0) LogPruned(log, pruned);
        return pruned;
    }

    [LoggerMessage(EventId = 7103, Level = LogLevel.Information, Message = "Forgot {Count} handled event and delivery id(s) past their retention")]
    static partial void LogPruned(ILogger logger, int count);
}

internal sealed class SeenPruneSchedule(IRecurringJobManager recurring, InstanceQueue queue) : IRecurringSchedule
{
    public string? Id => SeenPruneJob.RecurringId;
    public void Register() => queue.AddOrUpdate<SeenPruneJob>(recurring, SeenPruneJob.RecurringId, j => j.Run(), Cron.Daily(3));
}
