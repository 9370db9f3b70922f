using BreakGlassBot.Declaring;
using BreakGlassBot.Detection;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Evidence.ExportPopulationTests;

namespace BreakGlassBot.Tests.Detection;

/// <summary>The weekly digest's line on the changes merged to watched branches in the last 7 days (Detection:Enabled).</summary>
public class PopulationDigestTests
{
    static readonly DateTimeOffset Now = new(2031, 3, 10, 9, 0, 0, TimeSpan.Zero);
    readonly DigestBuilder builder = new(new ChangeMessages("https://acme.atlassian.net", "C0CHANGES"));

    static PopulationFigures Figures() => new(12, 6, new DeclaredFigures(2, 1, 1),
        new DetectedFigures(3, ReviewedOnTime: 1, ReviewedLate: 1, Open: 1, OpenOverdue: 0, Cancelled: 0, Closed: 0, CaseMissing: 0), 0,
        new NotSettledFigures(1, NotYetChecked: 0, CheckFailing: 0, InGracePeriod: 1, AwaitingCase: 0, UnknownVerdict: 0));

    static DigestData Data(PopulationFigures? population, params EmergencyChange[] changes) =>
        new([], 0, [], 0, [.. changes.Select(ChangeTimes.Of)], Population: population);

    const string Line = "12: 6 reviewed before merge, 2 declared, 3 detected (1 reviewed on time), 0 automation, 1 not yet settled";

    [Fact]
    public void TheDigestCountsTheMergedChangesOfTheWeek()
    {
        var declared = new EmergencyChange { Id = 1, DeclaredBy = "U1", Summary = "Hotfix", DeclaredAt = Now - TimeSpan.FromDays(1), DueAt = Now + TimeSpan.FromDays(1) };
        var message = builder.Build(Data(Figures(), declared), Now);
        var blocks = message.Blocks!.ToJsonString();
        Assert.Contains($"*Merged to watched branches (last 7 days)*\\n{Line}", blocks);
        Assert.Contains($"\nMerged to watched branches (last 7 days): {Line}.", message.Text);

        var without = builder.Build(Data(null, declared), Now);
        Assert.DoesNotContain("Merged to watched branches", without.Text + without.Blocks!.ToJsonString());
        Assert.Equal(message.Blocks!.AsArray().Count, without.Blocks!.AsArray().Count); // a field, not a block: the block budget holds
    }

    [Fact]
    public void AQuietWeekStillSaysWhatWasMerged()
    {
        var quiet = builder.Build(Data(Figures()), Now);
        Assert.StartsWith(":white_check_mark: Break-glass digest: nothing is overdue", quiet.Text);
        Assert.EndsWith($"\nMerged to watched branches (last 7 days): {Line}.", quiet.Text);
        Assert.DoesNotContain("Merged to watched branches", builder.Build(Data(null), Now).Text);
    }
}

/// <summary>The line through the real bot: merge records and cases in its store, the digest from /breakglass overdue.</summary>
[Trait("Category", "EndToEnd")]
public class PopulationDigestEndToEndTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    public Task InitializeAsync() => slack.StartAsync();
    public async Task DisposeAsync() => await slack.DisposeAsync();

    static async Task<(string Text, string Blocks)> OverdueAsync(TestBot bot)
    {
        var reply = await bot.CommandJsonAsync("overdue", TestBot.Admin);
        return (reply["text"]!.GetValue<string>(), reply["blocks"]?.ToJsonString() ?? "");
    }

    [Fact]
    public async Task TheOverdueDigestCountsTheWeeksMergedChanges()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Settings(detection: true));
        await bot.CommandJsonAsync("Hotfix checkout acme/api#1");
        Save(bot, 1, TimeSpan.FromDays(2), Verdicts.Unreviewed, r => r.DeclaredAs = 1);
        Case(bot, Save(bot, 2, TimeSpan.FromDays(3), Verdicts.Unreviewed), TimeSpan.FromDays(1), reviewedAgo: TimeSpan.FromHours(1));
        Case(bot, Save(bot, 3, TimeSpan.FromDays(1), Verdicts.Unreviewed), -TimeSpan.FromHours(2));
        Save(bot, 4, TimeSpan.FromDays(6), Verdicts.ReviewedBeforeMerge);
        Save(bot, 5, TimeSpan.FromDays(6), Verdicts.ReviewedBeforeMerge);
        Save(bot, 6, TimeSpan.FromHours(3), Verdicts.Ignored);
        Save(bot, 7, TimeSpan.FromMinutes(2), Verdicts.Pending);
        Save(bot, 8, TimeSpan.FromDays(8), Verdicts.ReviewedBeforeMerge); // the week before: not counted

        var (text, blocks) = await OverdueAsync(bot);
        const string line = "7: 2 reviewed before merge, 1 declared, 2 detected (1 reviewed on time), 1 automation, 1 not yet settled";
        Assert.Contains($"Merged to watched branches (last 7 days): {line}.", text);
        Assert.Contains($"*Merged to watched branches (last 7 days)*\\n{line}", blocks);
    }

    [Fact]
    public async Task WithDetectionOffTheDigestHasNoSuchLine()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Settings(detection: false));
        await bot.CommandJsonAsync("Hotfix checkout");
        Save(bot, 1, TimeSpan.FromDays(1), Verdicts.ReviewedBeforeMerge);
        var (text, blocks) = await OverdueAsync(bot);
        Assert.Contains("Last 7 days: 1 declared", text);
        Assert.DoesNotContain("Merged to watched branches", text + blocks);
    }
}
