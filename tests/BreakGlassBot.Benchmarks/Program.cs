using BenchmarkDotNet.Running;

namespace BreakGlassBot.Benchmarks;

/// <summary>
///   dotnet run -c Release -- [BenchmarkDotNet args, e.g. --filter '*']   the micro-benchmarks
///   ... -- fake-slack URL                                                  a loopback Slack Web API that answers ok (load.sh)
///   ... -- store-check [TOTAL] [OPEN]                                      times the store's queries over a filled LiteDB file
///   ... -- hot-paths [N]                                                   µs and bytes per call of the store calls on the request and outbox paths
///   ... -- backup-pause [TOTAL] [ROUNDS]                                   how long a backup holds the store's writes, over a filled file
///   ... -- explain FILE "SELECT ..." [ARGS]                                LiteDB's plan for a query on a copy of a store file
///   ... -- outbox-state FILE                                               after a burst: changes, pending follow-ups, announcements (drain.sh)
///   ... -- count-store FILE                                                how many changes a (stopped) bot's LiteDB file holds
///   ... -- count-store-pg CONNECTION_STRING                                 how many changes a PostgreSQL store holds (ha-compare.sh)
///   ... -- socket-load URL SECONDS CONNS [WARMUP] / http-load BOT_URL ...  declarations over Socket Mode / HTTP (socket-load.sh)
/// </summary>
public static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["fake-slack", var url, ..]) { await FakeSlackApi.RunAsync(url); return 0; }
        if (args is ["store-check", ..]) return StoreCheck.Run(args[1..]);
        if (args is ["socket-load", var socketUrl, var socketSecs, var socketConns, ..])
            return await SocketLoad.RunSocketAsync(socketUrl, int.Parse(socketSecs), int.Parse(socketConns), args.Length > 4 ? int.Parse(args[4]) : 3);
        if (args is ["http-load", var botUrl, var httpSecs, var httpConns, ..])
            return await SocketLoad.RunHttpAsync(botUrl, int.Parse(httpSecs), int.Parse(httpConns), args.Length > 4 ? int.Parse(args[4]) : 3);
        if (args is ["hot-paths", ..]) return HotPaths.Run(args[1..]);
        if (args is ["backup-pause", ..]) return BackupPause.Run(args[1..]);
        if (args is ["explain", _, _, ..]) return Explain.Run(args[1..]);
        if (args is ["count-store", var file])
        {
            using var store = new BreakGlassBot.EmergencyChanges.ChangeStore(file);
            Console.WriteLine(store.Count());
            return 0;
        }
        if (args is ["count-store-pg", var connectionString])
        {
            var options = new BreakGlassBot.Hosting.StorageOptions { Store = BreakGlassBot.Hosting.StoreKind.PostgreSql, ConnectionString = connectionString };
            using var store = new BreakGlassBot.EmergencyChanges.ChangeStore(Microsoft.Extensions.Options.Options.Create(options), TimeProvider.System);
            Console.WriteLine(store.Count());
            return 0;
        }
        if (args is ["outbox-state", var dataFile])
        {
            // After a burst: how many changes still have follow-ups pending, and how many were announced (once each).
            using var store = new BreakGlassBot.EmergencyChanges.ChangeStore(dataFile);
            var all = Enumerable.Range(1, store.Count()).Select(id => store.Get(id)!).ToList();
            Console.WriteLine($"changes {all.Count} pending {all.Count(c => c.NextStepAt is not null)} announced {all.Count(c => c.Announcement is not null)} "
                + $"distinct-announcements {all.Select(c => c.Announcement?.Ts).Where(t => t is not null).Distinct().Count()} "
                + $"steps-done {all.Sum(c => c.Steps.Count(s => s.State == BreakGlassBot.EmergencyChanges.StepState.Done))} "
                + $"attempts {all.Sum(c => c.Steps.Sum(s => s.Attempts))}");
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(BenchProgram).Assembly).Run(args);
        return 0;
    }
}
