using System.Globalization;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Hangfire;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// The scheduled backup of the LiteDB file (Storage:BackupDirectory, Storage:BackupCron, Storage:BackupKeep): a consistent
/// copy taken while the bot runs. Hangfire's own file is not copied: after a restore the bot re-plans every open change's
/// checks from the store (see <see cref="JobStoreMark"/>).
/// </summary>
public sealed class StoreBackupJob(ChangeStore store, IOptions<StorageOptions> options, TimeProvider time, ILogger<StoreBackupJob> log, InstanceQueue? queue = null)
{
    public const string RecurringId = "storage-backup";
    const string Prefix = "breakglass-";

    [AutomaticRetry(Attempts = 3)]
    [DisableConcurrentExecution(timeoutInSeconds: 600)]
    public BackupResult Run()
    {
        var directory = Path.GetFullPath(options.Value.BackupDirectory!);
        Directory.CreateDirectory(directory);
        // Instances on a shared job store each back up their own file: their names (and their pruning) must not meet.
        var prefix = queue?.Name is { } instance ? $"{Prefix}{instance}-" : Prefix;
        var name = $"{prefix}{time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}.db";
        var result = store.BackupTo(Path.Combine(directory, name));
        log.LogInformation("Backed up the store to {Path}: {Bytes} bytes, {Changes} change(s), {Events} audit event(s); writes paused {Paused} ms",
            result.Path, result.Bytes, result.Changes, result.AuditEvents, (long)result.WritesPaused.TotalMilliseconds);
        // Oldest first by name (the name is the UTC time); only files this job wrote are ever deleted.
        var backups = Directory.GetFiles(directory, prefix + "*.db")
            .Where(f => Path.GetFileName(f).Length > prefix.Length && char.IsAsciiDigit(Path.GetFileName(f)[prefix.Length]))
            .Order(StringComparer.Ordinal).ToList();
        foreach (var old in backups.Take(Math.Max(0, backups.Count - options.Value.BackupKeep)))
            File.Delete(old);
        return result;
    }
}

/// <summary>Registers (or removes) the recurring backup at start-up, like the digest's schedule.</summary>
internal sealed class StoreBackupSchedule(IRecurringJobManager recurring, InstanceQueue queue, IOptions<StorageOptions> options) : IRecurringSchedule
{
    public string? Id => string.IsNullOrWhiteSpace(options.Value.BackupDirectory) ? null : StoreBackupJob.RecurringId;

    public void Register()
    {
        if (Id is null) recurring.RemoveIfExists(queue.RecurringId(StoreBackupJob.RecurringId));
        else queue.AddOrUpdate<StoreBackupJob>(recurring, StoreBackupJob.RecurringId, j => j.Run(), options.Value.BackupCron);
    }
}
