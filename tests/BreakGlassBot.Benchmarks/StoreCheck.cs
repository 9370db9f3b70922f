using System.Diagnostics;
using BreakGlassBot.Digest;

namespace BreakGlassBot.Benchmarks;

/// <summary>
/// store-check [TOTAL=100000] [OPEN=10000]: fills a temp store, then times each read the issue names, cold
/// (first call) and warm (best of 5), and prints one line per query. Exit 1 when a warm time is over 200 ms.
/// </summary>
public static class StoreCheck
{
    public const double BudgetMs = 200;

    public static int Run(string[] args)
    {
        var total = args.Length > 0 ? int.Parse(args[0]) : 100_000;
        var open = args.Length > 1 ? int.Parse(args[1]) : 10_000;
        var fill = Stopwatch.StartNew();
        using var f = new StoreFixture(total, open);
        Console.WriteLine($"STORE filled {total} changes ({open} open) in {fill.Elapsed.TotalSeconds:F1} s; file {new FileInfo(f.Store.FilePath!).Length / 1048576.0:F0} MiB");
        var digest = new DigestBuilder(StoreFixture.Messages());
        var now = StoreFixture.Now;
        var failed = false;
        // Only the reads the issue names have the 200 ms budget; the others are shown to explain them.
        void Time(string name, Func<int> query, bool budgeted = true)
        {
            var sw = Stopwatch.StartNew();
            var n = query();
            var cold = sw.Elapsed.TotalMilliseconds;
            var best = double.MaxValue;
            for (var i = 0; i < 5; i++)
            {
                sw.Restart(); query(); best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
            }
            var ok = best <= BudgetMs;
            failed |= budgeted && !ok;
            Console.WriteLine($"STORE {name,-34} rows {n,6}  cold {cold,8:F1} ms  warm {best,8:F1} ms  {(!budgeted ? "(info)" : ok ? "ok" : "OVER 200 ms")}");
        }
        // What /breakglass list overdue|open read: every row's times from the due-time index, the 15 shown in full.
        Time("list overdue (count + first 15)", () => f.Store.CountOverdue(now) + f.Store.Overdue(now, 15).Count);
        Time("list open (count + first 15)", () => f.Store.CountOpenDue(DateTimeOffset.MinValue, DateTimeOffset.MaxValue)
            + f.Store.FirstOpenDue(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 15).Count, budgeted: false);
        Time("digest (open + 5 weeks, built)", () => f.Digest(digest).Blocks?.Count ?? 0);
        Time("tracking sweep (UntrackedOpen)", () => f.Store.UntrackedOpenChanges(now).Count);
        Time("open changes (OpenChanges())", () => f.Store.OpenChanges().Count, budgeted: false);
        Time("declared/reviewed in 5 weeks", () => f.Store.DeclaredOrReviewedSince(now - DigestBuilder.Week * DigestBuilder.TrendWeeks).Count, budgeted: false);
        Time("declared/reviewed times, 5 weeks", () => f.Store.DeclaredOrReviewedTimesSince(now - DigestBuilder.Week * DigestBuilder.TrendWeeks).Count, budgeted: false);
        var loaded = f.Store.OpenChanges().Concat(f.Store.DeclaredOrReviewedSince(now - DigestBuilder.Week * DigestBuilder.TrendWeeks)).ToList();
        Time("digest builder alone (in memory)", () => digest.Build(loaded, now).Blocks?.Count ?? 0, budgeted: false);
        Time("status of one user (OpenChangesOf)", () => f.Store.OpenChangesOf("U000007").Count, budgeted: false);
        Time("outbox due steps (WithDueSteps)", () => f.Store.WithDueSteps(now, 200).Count, budgeted: false);
        // What /evidence/verify, an export and an anchor do: the whole chain, then every record against its seal.
        Time("verify (chain + every record)", () => (int)f.Store.VerifyAuditChain().Events, budgeted: false);
        return failed ? 1 : 0;
    }
}
