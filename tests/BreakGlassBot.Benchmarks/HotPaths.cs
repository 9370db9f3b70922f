using System.Diagnostics;
using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Benchmarks;

/// <summary>
/// hot-paths [N=20000]: the store calls a read-only request or an outbox sweep makes, on a store with one change
/// (as in load.sh), each timed over N calls after a warm-up: µs per call and bytes allocated per call. A stopwatch
/// loop, not BenchmarkDotNet, so it runs in seconds on a busy machine; compare runs made together.
/// </summary>
public static class HotPaths
{
    public static int Run(string[] args)
    {
        var n = args.Length > 0 ? int.Parse(args[0]) : 20_000;
        var dir = Path.Combine(Path.GetTempPath(), "bgb-hot-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var store = new ChangeStore(Path.Combine(dir, "breakglass.db"));
            var change = Samples.Change();
            change.Id = 0;
            store.Declare(change, _ => []);
            var now = Samples.Now;
            var tick = 0L;
            void Time(string name, Action call)
            {
                for (var i = 0; i < Math.Min(n, 2000); i++) call();
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < n; i++) call();
                var us = sw.Elapsed.TotalMicroseconds / n;
                var bytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / n;
                Console.WriteLine($"HOT {name,-44} {us,9:F1} µs  {bytes,8} B");
            }
            Time("Get(1)", () => store.Get(1));
            var mapper = ChangeStore.CreateMapper();
            var doc = mapper.ToDocument(store.Get(1)!);
            Time("  of which: BsonMapper.ToObject (mapping)", () => mapper.ToObject<EmergencyChange>(doc));
            Time("  BsonMapper.ToDocument (mapping)", () => mapper.ToDocument(change));
            var sample = store.Get(1)!;
            Time("ChangeState.Hash (a write seals it twice)", () => ChangeState.Hash(sample));
            Time("OpenChangesOf(user) (status)", () => store.OpenChangesOf(change.DeclaredBy));
            Time("WithDueSteps(now), now moving (outbox sweep)", () => store.WithDueSteps(now.AddTicks(++tick)));
            Time("UntrackedOpenChanges(now), now moving", () => store.UntrackedOpenChanges(now.AddTicks(++tick)));
            Time("CountOverdue(now), now moving", () => store.CountOverdue(now.AddTicks(++tick)));
            Time("Update(1, no-op)", () => store.Update(1, _ => []));
            // Declarations as load.sh sends them (32 at a time, so the group commit batches them): wall and process CPU per declaration.
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            var rounds = Math.Max(n / 32, 10);
            for (var r = 0; r < rounds; r++)
                Task.WaitAll(Enumerable.Range(0, 32).Select(_ =>
                {
                    var draft = Samples.Change();
                    draft.Id = 0;
                    return (Task)store.DeclareAsync(draft, c => [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = c.DeclaredBy, Type = AuditTypes.Declared,
                        Data = new() { ["summary"] = c.Summary } }]);
                }));
            var cpuUs = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / (rounds * 32);
            Console.WriteLine($"HOT {"DeclareAsync, 32 at a time",-44} {wall.Elapsed.TotalMicroseconds / (rounds * 32),9:F1} µs wall  {cpuUs,8:F1} µs CPU per declaration");
            // The same read on a collection with only the _id index: what the store's 14 indexes cost every query.
            using var bare = new LiteDB.LiteDatabase(Path.Combine(dir, "bare.db"), mapper);
            var plain = bare.GetCollection<EmergencyChange>("changes");
            plain.Insert(store.Get(1)!);
            Time("bare collection (1 index): FindById", () => plain.FindById(1));
            var indexed = bare.GetCollection<EmergencyChange>("indexed");
            indexed.Insert(store.Get(1)!);
            foreach (var f in new[] { "Status", "DeclaredBy", "DueAt", "DeclaredAt", "ReviewedAt", "NextStepAt", "NextCheckAt", "SourceKey", "OpenDueAt", "Announcement.Ts" })
                indexed.EnsureIndex(f.Replace(".", ""), "$." + f);
            Time("bare collection (11 indexes): FindById", () => indexed.FindById(1));
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
        return 0;
    }
}
