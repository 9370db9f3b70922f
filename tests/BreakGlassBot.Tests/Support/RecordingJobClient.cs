using BreakGlassBot.Deadlines;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;

namespace BreakGlassBot.Tests.Support;

/// <summary>One job handed to Hangfire: which method, with what arguments, enqueued now or scheduled for <see cref="At"/>.</summary>
public sealed record RecordedJob(string Id, Type Type, string Method, IReadOnlyList<object?> Args, IState State)
{
    public DateTimeOffset? At => State is ScheduledState s ? new DateTimeOffset(DateTime.SpecifyKind(s.EnqueueAt, DateTimeKind.Utc)) : null;
}

/// <summary>
/// Hangfire's client without a job store: records what the bot enqueues and schedules (the tracker's
/// re-evaluations and planned checks), so a test sees the decision without any job running.
/// </summary>
public sealed class RecordingJobClient : IBackgroundJobClient
{
    readonly Lock gate = new();
    readonly List<RecordedJob> jobs = [];

    public IReadOnlyList<RecordedJob> Jobs { get { lock (gate) return [.. jobs]; } }

    /// <summary>Change ids the tracker was asked to look at now (<see cref="ReviewTracker.Reevaluate"/>).</summary>
    public IReadOnlyList<int> Reevaluated => [.. TrackingJobs().Where(j => j.State is EnqueuedState).Select(j => (int)j.Args[0]!)];

    /// <summary>The planned checks (<see cref="ReviewTracker.ScheduleAt"/>): change id and when.</summary>
    public IReadOnlyList<(int ChangeId, DateTimeOffset At)> Scheduled =>
        [.. TrackingJobs().Where(j => j.State is ScheduledState).Select(j => ((int)j.Args[0]!, j.At!.Value))];

    IEnumerable<RecordedJob> TrackingJobs() => Jobs.Where(j => j.Type == typeof(TrackChangeJob) && j.Method == nameof(TrackChangeJob.RunAsync));

    public string Create(Job job, IState state)
    {
        lock (gate)
        {
            var id = (jobs.Count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            jobs.Add(new RecordedJob(id, job.Type, job.Method.Name, [.. job.Args], state));
            return id;
        }
    }

    public bool ChangeState(string jobId, IState state, string expectedState) => true;
}
