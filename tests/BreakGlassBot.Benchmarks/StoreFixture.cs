using BreakGlassBot.Declaring;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Benchmarks;

/// <summary>
/// A temp LiteDB file filled through <see cref="ChangeStore.DeclareAsync"/> (the real write path, in concurrent
/// batches so the group commit batches them): TOTAL changes over the past two years, OPEN of them open,
/// a fifth of those overdue and a tenth with a lost tracking check; the rest reviewed.
/// </summary>
public sealed class StoreFixture : IDisposable
{
    public static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    readonly string dir = Path.Combine(Path.GetTempPath(), "bgb-bench-" + Guid.NewGuid().ToString("N"));

    public ChangeStore Store { get; }
    public int Total { get; }
    public int Open { get; }

    public StoreFixture(int total = 100_000, int open = 10_000)
    {
        Total = total; Open = open;
        var file = Path.Combine(dir, "breakglass.db");
        // BenchmarkDotNet sets up each benchmark on its own: BENCH_STORE_TEMPLATE keeps one filled file to copy from.
        if (Environment.GetEnvironmentVariable("BENCH_STORE_TEMPLATE") is { Length: > 0 } templates)
        {
            var template = Path.Combine(templates, $"{total}-{open}.db");
            if (!File.Exists(template))
            {
                Directory.CreateDirectory(templates);
                var filling = Path.Combine(templates, $"{total}-{open}-filling.db");
                using (var s = new ChangeStore(filling)) Fill(s, total, open);
                File.Move(filling, template);
            }
            Directory.CreateDirectory(dir);
            File.Copy(template, file);
            Store = new ChangeStore(file);
        }
        else
        {
            Store = new ChangeStore(file);
            Fill(Store, total, open);
        }
    }

    static void Fill(ChangeStore store, int total, int open)
    {
        const int Batch = 1000;
        for (var start = 0; start < total; start += Batch)
        {
            var tasks = new List<Task>(Batch);
            for (var i = start; i < Math.Min(total, start + Batch); i++) tasks.Add(store.DeclareAsync(Draft(i, total, open), Events));
            Task.WaitAll(tasks);
        }
    }

    static IEnumerable<AuditEvent> Events(EmergencyChange c) =>
        [new AuditEvent { ChangeNumber = c.Id, At = c.DeclaredAt, Actor = c.DeclaredBy, Type = AuditTypes.Declared, Data = new() { ["summary"] = c.Summary } },
         // A reviewed change has its reviewed event, as the bot writes it: a sound store, which verification then finds sound.
         .. c.Status == ChangeStatus.Reviewed ? [new AuditEvent { ChangeNumber = c.Id, At = c.ReviewedAt!.Value, Actor = "bot", Type = AuditTypes.Reviewed }] : Array.Empty<AuditEvent>()];

    /// <summary>The last OPEN of TOTAL are open (the newest); of those every 5th is overdue, every 10th has no tracking check.</summary>
    static EmergencyChange Draft(int i, int total, int open)
    {
        var isOpen = i >= total - open;
        var declaredAt = Now - TimeSpan.FromMinutes((total - i) * 10L);
        var overdue = isOpen && i % 5 == 0;
        var change = new EmergencyChange
        {
            DeclaredBy = "U" + (i % 200).ToString("D6"),
            DeclaredByName = "user" + (i % 200),
            Summary = $"Roll back payments deploy {i} after error spike",
            DeclaredAt = declaredAt,
            DueAt = overdue ? Now - TimeSpan.FromHours(1 + i % 48) : isOpen ? Now + TimeSpan.FromHours(1 + i % 48) : declaredAt + TimeSpan.FromHours(48),
            DeclaredInChannel = "C2147483705",
            Status = isOpen ? ChangeStatus.Open : ChangeStatus.Reviewed,
            ReviewedAt = isOpen ? null : declaredAt + TimeSpan.FromHours(5),
            NextCheckAt = isOpen ? (i % 10 == 0 ? null : Now + TimeSpan.FromHours(1)) : null,
            PullRequests = [new LinkedPullRequest { Owner = "acme", Repo = "payments", Number = 1000 + i % 500 }],
            JiraIssues = [new LinkedJiraIssue { Key = "OPS-" + (i % 900 + 1) }],
            Announcement = new Announcement { Channel = "C0BENCH", Ts = $"1700000000.{i:D6}" },
        };
        return change;
    }

    public static ChangeMessages Messages() => new("https://acme.atlassian.net", "C0BENCH");
    public static ReviewPolicy Policy(bool businessHours = false) =>
        new(Options.Create(new PolicyOptions { BusinessHoursOnly = businessHours, Holidays = ["2026-12-25"] }));

    /// <summary>The digest as /breakglass overdue and the weekly job build it.</summary>
    public SlackMessage Digest(DigestBuilder builder) => new DigestContent(Store, builder).Build(Now);

    public void Dispose()
    {
        Store.Dispose();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
