using BenchmarkDotNet.Running;

namespace BreakGlassBot.Benchmarks;

/// <summary>
///   dotnet run -c Release -- [BenchmarkDotNet args, e.g. --filter '*']   the micro-benchmarks
///   ... -- fake-slack URL                                                  a loopback Slack Web API that answers ok (load.sh)
///   ... -- store-check [TOTAL] [OPEN]                                      times the store's queries over a filled LiteDB file
///   ... -- hot-paths [N]                                                   µs and bytes per call of the store calls on the request and outbox paths
///   ... -- explain FILE "SELECT ..." [ARGS]                                LiteDB's plan for a query on a copy of a store file
///   ... -- count-store FILE                                                how many changes a (stopped) bot's LiteDB file holds
/// </summary>
public static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["fake-slack", var url, ..]) { await FakeSlackApi.RunAsync(url); return 0; }
        if (args is ["store-check", ..]) return StoreCheck.Run(args[1..]);
        if (args is ["hot-paths", ..]) return HotPaths.Run(args[1..]);
        if (args is ["explain", _, _, ..]) return Explain.Run(args[1..]);
        if (args is ["count-store", var file])
        {
            using var store = new BreakGlassBot.EmergencyChanges.ChangeStore(file);
            Console.WriteLine(store.Count());
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(BenchProgram).Assembly).Run(args);
        return 0;
    }
}
