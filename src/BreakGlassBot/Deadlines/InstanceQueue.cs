using BreakGlassBot.EmergencyChanges;
using Hangfire;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// The Hangfire queue that carries this instance's jobs. Every instance keeps its changes in its own LiteDB file, so a
/// job about change 12 means "change 12 of the instance that scheduled it". On a shared PostgreSQL job store any
/// server would otherwise take any job (and find another instance's change 12, or none), and a recurring job id would
/// be one job for all instances. So each instance's jobs go to its own queue, which only its server listens on, and
/// its recurring jobs have their own ids. The queue name is kept in the LiteDB file: it lives exactly as long as the
/// data it concerns (a restart, a new host or a restored backup keep it; another data directory gets another one).
/// On the SQLite job store (one instance per file; the storage cannot route per job) nothing changes: <see cref="Name"/> is null.
/// </summary>
public sealed class InstanceQueue
{
    public const string Collection = "instance";

    public string? Name { get; }

    public InstanceQueue(string? name) => Name = name;

    public static InstanceQueue For(ChangeStore store) =>
        new(store.SaveDocument<InstanceIdentity>(Collection, "queue", existing => existing ?? new InstanceIdentity
        {
            Id = "queue",
            // Hangfire queue names: lower-case letters, digits, '_' and '-' only.
            Queue = "bgb-" + Guid.NewGuid().ToString("N")[..16],
        }).Queue);

    /// <summary>What this instance's server listens on: its own queue, and "default" for jobs enqueued before queues were per instance.</summary>
    public string[] ServerQueues => Name is null ? ["default"] : [Name, "default"];

    /// <summary>The id of this instance's occurrence of a recurring job.</summary>
    public string RecurringId(string id) => Name is null ? id : $"{id}:{Name}";

    public void AddOrUpdate<T>(IRecurringJobManager recurring, string id, System.Linq.Expressions.Expression<Func<T, Task>> call, string cron, RecurringJobOptions? options = null)
    {
        options ??= new RecurringJobOptions();
        if (Name is null) { recurring.AddOrUpdate(id, call, cron, options); return; }
        // The shared id a version before per-instance queues registered: it would run on any instance.
        recurring.RemoveIfExists(id);
        recurring.AddOrUpdate(RecurringId(id), Name, call, cron, options);
    }

    public void AddOrUpdate<T>(IRecurringJobManager recurring, string id, System.Linq.Expressions.Expression<Action<T>> call, string cron, RecurringJobOptions? options = null)
    {
        options ??= new RecurringJobOptions();
        if (Name is null) { recurring.AddOrUpdate(id, call, cron, options); return; }
        recurring.RemoveIfExists(id);
        recurring.AddOrUpdate(RecurringId(id), Name, call, cron, options);
    }
}

public sealed class InstanceIdentity
{
    public string Id { get; set; } = "";
    public string Queue { get; set; } = "";
}
