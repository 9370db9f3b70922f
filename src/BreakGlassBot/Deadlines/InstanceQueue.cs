using BreakGlassBot.EmergencyChanges;
using Hangfire;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// This instance's Hangfire queue: on a shared PostgreSQL job store, a job about change 12 must reach only the server whose
/// LiteDB file holds it. Kept in that file, so it lives as long as the data; <see cref="Name"/> is null on the SQLite store.
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
        // A shared id (registered before queues were per instance) would run on any instance.
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
