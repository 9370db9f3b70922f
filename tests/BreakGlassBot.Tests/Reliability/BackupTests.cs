using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>Storage:BackupDirectory: a consistent copy of the LiteDB file while the bot keeps writing, and a restore from it.</summary>
[Trait("Category", "EndToEnd")]
public class BackupTests : BotTest
{
    readonly string backups = Path.Combine(Path.GetTempPath(), "bgb-backups-" + Guid.NewGuid().ToString("N"));

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Storage:BackupDirectory"] = backups,
        ["Storage:BackupKeep"] = "50",
    };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(backups, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task BackupsTakenWhileDeclaringAreConsistentAndTheBotRunsOnARestoredOne()
    {
        using (var connection = Bot.Service<JobStorage>().GetConnection())
            Assert.Contains(connection.GetRecurringJobs(), j => j.Id == StoreBackupJob.RecurringId && j.Cron == "0 2 * * *");

        // Declarations and backups at the same time: every copy must be a file LiteDB opens with an intact audit chain.
        var declaring = Task.WhenAll(Enumerable.Range(1, 30).Select(i => Bot.CommandAsync($"Roll back deploy {i}")));
        var results = new List<BackupResult>();
        for (var i = 0; i < 8 && !declaring.IsCompleted; i++)
        {
            var dir = Path.Combine(backups, $"run{i}");
            Directory.CreateDirectory(dir);
            results.Add(Bot.Store.BackupTo(Path.Combine(dir, "copy.db")));
        }
        await declaring;
        foreach (var r in results)
        {
            var report = AuditChain.VerifyFile(r.Path);
            Assert.True(report.Intact, report.Describe());
            Assert.Equal(r.AuditEvents, report.Events);
        }

        // The scheduled path: Hangfire runs the recurring job (what "Trigger now" on the dashboard does).
        Bot.Service<IRecurringJobManager>().Trigger(StoreBackupJob.RecurringId);
        await Bot.Until(() => Directory.GetFiles(backups, "breakglass-*.db").Length == 1, "the scheduled backup written");
        var backup = Directory.GetFiles(backups, "breakglass-*.db").Single();
        Assert.Empty(Directory.GetFiles(backups, "*.partial"));
        var expected = Bot.Store.Count();
        Assert.Equal(30, expected);

        // Restore as README says: stop, put the copy in place of breakglass.db (without Hangfire's file), start.
        await Bot.StopAsync();
        var restored = TestBot.NewDataDirectory();
        Directory.CreateDirectory(restored);
        File.Copy(backup, Path.Combine(restored, "breakglass.db"));
        await using var again = await TestBot.StartAsync(Slack, restored, AllSettings());
        Assert.Equal(expected, again.Store.Count());
        var status = await again.CommandJsonAsync("status BG-30");
        Assert.Contains("BG-30", status["text"]!.GetValue<string>());
        // Hangfire's file was not restored: every open change's check is planned again from the store.
        await again.Until(() => again.Jobs<TrackChangeJob>() is var j && j.Due + j.Later + j.Succeeded >= expected, "checks re-planned");
        await again.StopAsync();
        Assert.True(AuditChain.VerifyFile(Path.Combine(restored, "breakglass.db")).Intact);
        try { Directory.Delete(restored, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void OnlyTheNewestBackupsAreKeptAndNothingElseIsDeleted()
    {
        Directory.CreateDirectory(backups);
        foreach (var old in new[] { "breakglass-20200101T000000Z.db", "breakglass-20210101T000000Z.db", "breakglass-20220101T000000Z.db" })
            File.WriteAllText(Path.Combine(backups, old), "old");
        File.WriteAllText(Path.Combine(backups, "notes.txt"), "an operator's file");
        var job = new StoreBackupJob(Bot.Store, Microsoft.Extensions.Options.Options.Create(new BreakGlassBot.Hosting.StorageOptions
        {
            DataDirectory = DataDirectory, BackupDirectory = backups, BackupKeep = 2,
        }), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<StoreBackupJob>.Instance);

        var result = job.Run();

        Assert.Equal(new[] { "breakglass-20220101T000000Z.db", Path.GetFileName(result.Path), "notes.txt" },
            Directory.GetFiles(backups).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void InstancesSharingABackupDirectoryKeepTheirOwnNamesAndPruneOnlyTheirOwn()
    {
        Directory.CreateDirectory(backups);
        File.WriteAllText(Path.Combine(backups, "breakglass-bgb-other-20200101T000000Z.db"), "the other instance's");
        File.WriteAllText(Path.Combine(backups, "breakglass-20200101T000000Z.db"), "a single instance's");
        var options = Microsoft.Extensions.Options.Options.Create(new BreakGlassBot.Hosting.StorageOptions
        {
            DataDirectory = DataDirectory, BackupDirectory = backups, BackupKeep = 1,
        });
        var job = new StoreBackupJob(Bot.Store, options, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<StoreBackupJob>.Instance, new InstanceQueue("bgb-mine"));

        var result = job.Run();

        Assert.StartsWith("breakglass-bgb-mine-", Path.GetFileName(result.Path));
        Assert.Equal(new[] { "breakglass-20200101T000000Z.db", "breakglass-bgb-mine-", "breakglass-bgb-other-20200101T000000Z.db" },
            Directory.GetFiles(backups).Select(f => Path.GetFileName(f)!).Select(n => n.StartsWith("breakglass-bgb-mine-") ? "breakglass-bgb-mine-" : n)
                .Order(StringComparer.Ordinal).ToArray());
    }
}
