using BreakGlassBot.Declaring;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Tests.Digest;

/// <summary>
/// The digest read from the store (counts from the due-time index, times instead of whole changes, only the listed
/// changes in full) is the digest built from all open and recent changes loaded whole: same blocks, same text.
/// </summary>
public class DigestContentTests : IDisposable
{
    static readonly DateTimeOffset Now = new(2026, 3, 16, 9, 0, 0, TimeSpan.Zero);
    readonly string dir = Path.Combine(Path.GetTempPath(), "bgb-digest-" + Guid.NewGuid().ToString("N"));
    readonly ChangeStore store;
    readonly DigestBuilder builder = new(new ChangeMessages("https://acme.atlassian.net", "C0CHANGES"));

    public DigestContentTests() => store = new ChangeStore(Path.Combine(dir, "breakglass.db"));

    public void Dispose()
    {
        store.Dispose();
        Directory.Delete(dir, true);
    }

    void Seed(int count, int seed, int spreadDays)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var declared = Now - TimeSpan.FromHours(random.Next(0, 24 * spreadDays));
            var status = random.Next(0, 10) switch { < 5 => ChangeStatus.Open, < 8 => ChangeStatus.Reviewed, 8 => ChangeStatus.Cancelled, _ => ChangeStatus.Closed };
            var change = new EmergencyChange
            {
                DeclaredBy = "U" + random.Next(0, 5), Summary = "change " + i, DeclaredAt = declared,
                // Whole hours from the declaration, some far out: ties, long windows, changes due before or after now.
                DueAt = declared + TimeSpan.FromHours(random.Next(1, 24 * 30)),
                Status = status,
                ReviewedAt = status is ChangeStatus.Reviewed or ChangeStatus.Closed ? declared + TimeSpan.FromHours(random.Next(1, 24 * 40)) : null,
                Announcement = new Announcement { Channel = "C0CHANGES", Ts = $"1.{i}", Permalink = $"https://acme.slack.com/archives/C0CHANGES/p{i}" },
            };
            if (random.Next(0, 2) == 0)
                change.Evidence.Add(new EvidenceCheck { Kind = nameof(EvidenceKind.SlackApproval), Satisfied = false, Missing = "an approval" });
            store.Declare(change, _ => []);
        }
    }

    /// <summary>What the digest was built from before: every open change plus everything declared or reviewed in the trend weeks.</summary>
    List<EmergencyChange> OpenAndRecent() =>
        store.OpenChanges().Concat(store.DeclaredOrReviewedSince(Now - DigestBuilder.Week * DigestBuilder.TrendWeeks)).ToList();

    [Theory]
    [InlineData(300, 1, 70)]
    [InlineData(60, 2, 20)]
    [InlineData(5, 3, 10)]
    [InlineData(0, 4, 10)]
    public void TheStoreDigestIsTheDigestOfEveryChange(int count, int seed, int spreadDays)
    {
        Seed(count, seed, spreadDays);
        var expected = builder.Build(OpenAndRecent(), Now, "2026-W12");
        var actual = new DigestContent(store, builder).Build(Now, "2026-W12");
        Assert.Equal(expected.Text, actual.Text);
        Assert.Equal(expected.Blocks?.ToJsonString(), actual.Blocks?.ToJsonString());
    }

    [Theory]
    [InlineData(300, 5, 70)]
    [InlineData(20, 6, 10)]
    public void TheLinkedRepositoriesReadFromTheStoreAreThoseOfTheWholeChanges(int count, int seed, int spreadDays)
    {
        var random = new Random(seed);
        string[] repos = ["acme/api", "acme/web", "Acme/Pay", "other/tool"];
        for (var i = 0; i < count; i++)
        {
            var change = new EmergencyChange
            {
                DeclaredBy = "U1", Summary = "change " + i, DeclaredAt = Now - TimeSpan.FromHours(random.Next(0, 24 * spreadDays)),
                Status = random.Next(0, 4) == 0 ? ChangeStatus.Cancelled : ChangeStatus.Open,
            };
            for (var p = random.Next(0, 3); p > 0; p--)
            {
                var repo = repos[random.Next(repos.Length)].Split('/');
                change.PullRequests.Add(new LinkedPullRequest { Owner = repo[0], Repo = repo[1], Number = random.Next(1, 100) });
            }
            store.Declare(change, _ => []);
        }
        var from = Now - DigestBuilder.Week * DigestBuilder.TrendWeeks;
        Assert.Equal(
            AllChangesCounter.LinkedRepositories(store.DeclaredBetween(from, Now)).Order(StringComparer.Ordinal),
            store.LinkedRepositoriesDeclaredBetween(from, Now).Order(StringComparer.Ordinal));
    }
}
