using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.Storage.SQLite;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Deadlines;

public static class DeadlinesRegistration
{
    /// <summary>Hangfire (SQLite next to the LiteDB file, or PostgreSQL for several instances) and the review tracker.</summary>
    public static WebApplicationBuilder AddDeadlines(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        var storage = builder.Configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new();
        // Hangfire's static log provider outlives a host; reset it so a second host in one process logs to its own factory.
        Hangfire.Logging.LogProvider.SetCurrentLogProvider(null);
        // Registered before AddHangfire, which would take the process-wide JobStorage.Current another host may have replaced.
        // The ChangeStore first: its data directory lock is what the embedded job store's in-process locks rely on.
        s.AddSingleton<JobStorage>(sp => { sp.GetRequiredService<ChangeStore>(); return CreateStorage(storage); });
        // Likewise the activator: the process-wide JobActivator.Current may be another host's container.
        s.AddSingleton<JobActivator>(sp => new Hangfire.AspNetCore.AspNetCoreJobActivator(sp.GetRequiredService<IServiceScopeFactory>()));
        s.AddHangfire((sp, config) => config
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseLogProvider(new HostLogProvider(new Hangfire.AspNetCore.AspNetCoreLogProvider(sp.GetRequiredService<ILoggerFactory>())))
            .UseStorage(sp.GetRequiredService<JobStorage>()));
        // Per-instance queues only where each instance keeps its own data beside a shared job store; replicas of one PostgreSQL
        // store share everything, so any of them may run any job and a recurring job has one id for the cluster.
        s.AddSingleton(sp => storage.Store == StoreKind.LiteDb && storage.ResolvedHangfire == HangfireStorageKind.PostgreSql
            ? InstanceQueue.For(sp.GetRequiredService<ChangeStore>()) : new InstanceQueue(null));
        s.AddHangfireServer((sp, o) =>
        {
            o.Queues = sp.GetRequiredService<InstanceQueue>().ServerQueues;
            o.Activator = sp.GetRequiredService<JobActivator>();
            o.SchedulePollingInterval = storage.PollingInterval;
            o.WorkerCount = Math.Max(2, Environment.ProcessorCount * 2);
            o.ServerName = $"breakglassbot:{Environment.MachineName}:{Environment.ProcessId}";
        });

        s.AddSingleton<ReviewPolicy>();
        s.AddSingleton<ReviewTracker>();
        s.AddSingleton<IReevaluation>(sp => sp.GetRequiredService<ReviewTracker>());
        s.AddTransient<TrackChangeJob>();
        s.AddTransient<TrackingSweepJob>();
        s.AddSingleton<DeadlineMessages>();
        s.AddSingleton<IDirectMessageSource>(sp => sp.GetRequiredService<DeadlineMessages>());
        s.AddSingleton<IThreadNoteSource>(sp => sp.GetRequiredService<DeadlineMessages>());
        s.AddSingleton<IStepHandler, TrackStep>();
        s.AddSingleton<IDeclarationStepSource, TrackingStepSource>();
        s.AddHostedService<TrackingReconciliation>();
        s.AddTransient<StoreBackupJob>();
        s.AddSingleton<IRecurringSchedule, TrackingSweepSchedule>();
        s.AddSingleton<IRecurringSchedule, StoreBackupSchedule>();
        s.AddHostedService<RecurringJobsGuard>();
        s.AddTransient<SeenPruneJob>();
        s.AddSingleton<IRecurringSchedule, SeenPruneSchedule>();
        s.AddHttpClient(AuditAnchorPublisher.HttpClientName, http => http.Timeout = TimeSpan.FromSeconds(30));
        s.AddTransient<AuditAnchorPublisher>();
        s.AddHttpClient(TimestampAuthority.HttpClientName, (sp, http) => http.Timeout = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<EvidenceOptions>>().Value.TimestampTimeout);
        s.AddTransient<TimestampAuthority>();
        s.AddSingleton<IRecurringSchedule, AuditAnchorSchedule>();
        s.AddHostedService<RequiredEvidenceCheck>();
        return builder;
    }

    /// <summary>"BGHANGFI": the advisory lock Hangfire's schema install runs under (the store's own schema has another).</summary>
    const long HangfireInstallLockKey = 0x4247_4841_4E47_4649;

    static JobStorage CreateStorage(StorageOptions storage)
    {
        if (storage.ResolvedHangfire == HangfireStorageKind.PostgreSql)
        {
            // Hangfire installs its schema when the storage is made; replicas starting together raced there (duplicate
            // schema, serialization failures), so the install runs under an advisory lock of its own, one replica at a time.
            using var gate = new Npgsql.NpgsqlConnection(storage.ConnectionString);
            gate.Open();
            using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_lock({HangfireInstallLockKey})", gate)) take.ExecuteNonQuery();
            try
            {
                return new PostgreSqlStorage(new Hangfire.PostgreSql.Factories.NpgsqlConnectionFactory(storage.ConnectionString!, new PostgreSqlStorageOptions()), new PostgreSqlStorageOptions
                {
                    QueuePollInterval = storage.PollingInterval,
                    // LISTEN/NOTIFY: a job enqueued by another instance starts at once instead of at the next poll.
                    EnableLongPolling = true,
                    PrepareSchemaIfNecessary = true,
                });
            }
            finally
            {
                using var release = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_unlock({HangfireInstallLockKey})", gate);
                release.ExecuteNonQuery();
            }
        }
        Directory.CreateDirectory(storage.ResolvedDataDirectory);
        // The SQLite storage does not wake idle workers on enqueue: its queue poll is how soon a job starts.
        return new EmbeddedJobStorage(Path.Combine(storage.ResolvedDataDirectory, "hangfire.db"), new SQLiteStorageOptions { QueuePollInterval = storage.PollingInterval });
    }

    /// <summary>The dashboard (see <see cref="Dashboard"/>).</summary>
    public static IEndpointRouteBuilder MapDeadlines(this WebApplication app)
    {
        Dashboard.Map(app);
        return app;
    }
}

/// <summary>Adds the tracking step to each declaration and plans its first check (the first reminder, or the deadline if sooner).</summary>
internal sealed class TrackingStepSource(ReviewPolicy policy) : IDeclarationStepSource
{
    public IEnumerable<PendingStep> StepsFor(EmergencyChange change, DateTimeOffset now)
    {
        var first = policy.NextReminderAt(change.DeclaredAt);
        change.NextCheckAt = first < change.DueAt ? first : change.DueAt;
        yield return OutboxQueue.NewStep(StepKinds.Track, now);
    }
}

/// <summary>At start-up: the tracking sweep runs once at once (RecurringJobsGuard registers it with the other schedules).</summary>
internal sealed class TrackingReconciliation(TrackingSweepJob sweep, JobStorage jobs, ChangeStore store,
    ReviewTracker tracker, InstanceQueue queue, ILogger<TrackingReconciliation> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // One replica at a time: replicas starting together on a new database would each re-plan and each set the mark.
        await using (await store.LockAsync("job-store-mark", cancellationToken))
        {
            // A job store without this data's mark was lost or replaced: plan every open change's next check again
            // (a duplicate check is harmless). Counting jobs cannot tell: on a shared store they may be another instance's.
            if (!JobStoreMark.Present(jobs, store, queue))
            {
                var open = store.OpenChanges();
                foreach (var change in open.Where(c => c.NextCheckAt is not null)) tracker.ScheduleAt(change.Id, change.NextCheckAt!.Value);
                if (open.Count > 0) log.LogWarning("The job store did not know this data: re-planned {Count} open change(s)", open.Count);
                JobStoreMark.Set(jobs, store, queue);
            }
        }
        var found = sweep.Run();
        if (found > 0) log.LogInformation("Start-up reconciliation: {Count} open change(s) had no pending check; checking them now", found);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The tracking sweep, every minute: it finds open changes whose check was lost.</summary>
internal sealed class TrackingSweepSchedule(IRecurringJobManager recurring, InstanceQueue queue) : IRecurringSchedule
{
    public string? Id => TrackingSweepJob.RecurringId;
    public void Register() => queue.AddOrUpdate<TrackingSweepJob>(recurring, TrackingSweepJob.RecurringId, j => j.Run(), Cron.Minutely());
}

/// <summary>
/// A token kept both in the LiteDB file and in the job store (a Hangfire hash per instance queue): while both agree,
/// the job store holds this data's planned checks.
/// </summary>
public sealed class JobStoreMark
{
    public string Id { get; set; } = "";
    public string Token { get; set; } = "";

    static string Key(InstanceQueue queue) => "breakglassbot:job-store-mark:" + (queue.Name ?? "default");

    static string TokenOf(ChangeStore store) => store.SaveDocument<JobStoreMark>(InstanceQueue.Collection, "job-store-mark",
        existing => existing ?? new JobStoreMark { Id = "job-store-mark", Token = Guid.NewGuid().ToString("N") }).Token;

    public static bool Present(JobStorage jobs, ChangeStore store, InstanceQueue queue)
    {
        using var connection = jobs.GetConnection();
        var entries = connection.GetAllEntriesFromHash(Key(queue));
        return entries is not null && entries.TryGetValue("token", out var token) && token == TokenOf(store);
    }

    public static void Set(JobStorage jobs, ChangeStore store, InstanceQueue queue)
    {
        using var connection = jobs.GetConnection();
        using var transaction = connection.CreateWriteTransaction();
        transaction.SetRangeInHash(Key(queue), [new("token", TokenOf(store))]);
        transaction.Commit();
    }
}

/// <summary>Hangfire's log provider is process-wide: once its host is disposed, this one logs nothing instead of throwing.</summary>
internal sealed class HostLogProvider(Hangfire.Logging.ILogProvider inner) : Hangfire.Logging.ILogProvider
{
    public Hangfire.Logging.ILog GetLogger(string name) => new SafeLog(inner, name);

    sealed class SafeLog(Hangfire.Logging.ILogProvider inner, string name) : Hangfire.Logging.ILog
    {
        Hangfire.Logging.ILog? log;

        public bool Log(Hangfire.Logging.LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
        {
            try { return (log ??= inner.GetLogger(name)).Log(logLevel, messageFunc!, exception); }
            catch (ObjectDisposedException) { return false; }
        }
    }
}
