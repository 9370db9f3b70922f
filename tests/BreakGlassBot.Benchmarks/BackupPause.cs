using System.Diagnostics;

namespace BreakGlassBot.Benchmarks;

/// <summary>
/// Storage:BackupDirectory's cost: the scheduled backup holds the store's write lock for a checkpoint and a file copy.
/// Fills a store of TOTAL changes (a tenth open), then takes ROUNDS backups and prints how long writes waited and the whole.
/// </summary>
public static class BackupPause
{
    public static int Run(string[] args)
    {
        var total = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
        using var fixture = new StoreFixture(total, total / 10);
        var dir = Path.Combine(Path.GetTempPath(), "bgb-backup-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            for (var i = 0; i < rounds; i++)
            {
                var whole = Stopwatch.StartNew();
                var r = fixture.Store.BackupTo(Path.Combine(dir, $"copy{i}.db"));
                whole.Stop();
                Console.WriteLine($"changes {r.Changes} events {r.AuditEvents} bytes {r.Bytes} writes-paused-ms {r.WritesPaused.TotalMilliseconds:F0} whole-ms {whole.Elapsed.TotalMilliseconds:F0}");
                File.Delete(r.Path);
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
        return 0;
    }
}
