using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Configuration;

namespace BreakGlassBot.Tests.Digest;

/// <summary>The digest's content, built from changes and a fixed instant: no clock, no server.</summary>
public class DigestBuilderTests
{
    // A Monday, 09:00 UTC: the default digest time.
    static readonly DateTimeOffset Now = new(2026, 3, 16, 9, 0, 0, TimeSpan.Zero);
    static readonly DigestBuilder Builder = new(new ChangeMessages("https://acme.atlassian.net", "C0CHANGES"));
    static readonly TimeSpan Day = TimeSpan.FromDays(1);
    static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    static EmergencyChange Change(int id, DateTimeOffset declaredAt, TimeSpan? window = null, string summary = "Hotfix", string by = "U0DECL",
        ChangeStatus status = ChangeStatus.Open, DateTimeOffset? reviewedAt = null) => new()
    {
        Id = id, Summary = summary, DeclaredBy = by, DeclaredAt = declaredAt, DueAt = declaredAt + (window ?? 2 * Day),
        Status = reviewedAt is null ? status : ChangeStatus.Reviewed, ReviewedAt = reviewedAt,
        Announcement = new Announcement { Channel = "C0CHANGES", Ts = $"1.{id}", Permalink = $"https://acme.slack.com/archives/C0CHANGES/p{id}" },
    };

    /// <summary>Every text in the blocks, as Slack would render it (no JSON escaping to trip over).</summary>
    static string Texts(JsonNode? blocks) => string.Join("\n", Strings(blocks));

    static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(kv => kv.Key == "text" && kv.Value is JsonValue v ? [v.GetValue<string>()] : Strings(kv.Value)),
        JsonArray a => a.SelectMany(Strings),
        _ => [],
    };

    [Fact]
    public void OverdueChangesComeMostOverdueFirstWithWhatIsMissingWhoActsAndLinks()
    {
        var a = Change(1, Now - 5 * Day, summary: "Roll back payments", by: "U0ALICE"); // overdue by 3d
        a.PullRequests.Add(new LinkedPullRequest { Owner = "acme", Repo = "pay", Number = 42 });
        a.JiraIssues.Add(new LinkedJiraIssue { Key = "OPS-7", Status = "In Progress" });
        a.Evidence =
        [
            new EvidenceCheck { Kind = nameof(EvidenceKind.SlackApproval), Satisfied = false, Missing = "an approval" },
            new EvidenceCheck { Kind = nameof(EvidenceKind.PullRequestApproved), Target = "acme/pay#42", Satisfied = false, Missing = "no review" },
            new EvidenceCheck { Kind = nameof(EvidenceKind.JiraReviewed), Target = "OPS-7", Satisfied = false, Missing = "status" },
        ];
        var b = Change(2, Now - 2 * Day - 5 * Hour, summary: "Flush CDN", by: "U0BOB"); // overdue by 5h
        b.Evidence = [new EvidenceCheck { Kind = nameof(EvidenceKind.SlackApproval), Satisfied = true }];
        b.ChangeRequests.Add(new ChangeRequest { Reviewer = "U0REV", At = Now - 3 * Hour, Reason = "add a test" });
        var reviewed = Change(3, Now - 5 * Day, reviewedAt: Now - 4 * Day, summary: "Already reviewed");
        var cancelled = Change(4, Now - 5 * Day, status: ChangeStatus.Cancelled, summary: "Cancelled one");

        var message = Builder.Build([b, a, reviewed, cancelled], Now);
        var blocks = message.Blocks!;
        var sections = blocks.Select(x => Texts(x)).ToList();
        var first = sections.FindIndex(s => s.Contains("BG-1"));
        var second = sections.FindIndex(s => s.Contains("BG-2"));
        Assert.True(first >= 0 && second > first, "the most overdue change comes first");

        var one = blocks[first]!["text"]!["text"]!.GetValue<string>();
        Assert.Contains("*<https://acme.slack.com/archives/C0CHANGES/p1|BG-1>* Roll back payments · declared by <@U0ALICE>", one);
        Assert.Contains("*overdue by 3d 0h*", one);
        Assert.Contains("Slack approval in <https://acme.slack.com/archives/C0CHANGES/p1|the thread>", one);
        Assert.Contains("PR review <https://github.com/acme/pay/pull/42|acme/pay#42>", one);
        Assert.Contains("Jira status <https://acme.atlassian.net/browse/OPS-7|OPS-7> (is In Progress)", one);
        Assert.Contains("a reviewer (not <@U0ALICE>)", one);

        var two = blocks[second]!["text"]!["text"]!.GetValue<string>();
        Assert.Contains("*overdue by 5h 0m*", two);
        Assert.Contains("<@U0BOB> to address the changes <@U0REV> requested", two);
        Assert.DoesNotContain("Slack approval", two); // satisfied evidence is not "missing"

        Assert.Contains("*2 emergency changes are overdue*", Texts(blocks));
        Assert.DoesNotContain("Already reviewed", Texts(blocks));
        Assert.DoesNotContain("Cancelled one", Texts(blocks));
        Assert.StartsWith(":warning: *2 emergency changes are overdue*", message.Text);
        Assert.Contains("BG-1 Roll back payments", message.Text);
    }

    [Fact]
    public void AChangeNotCheckedYetSaysSoAndStillLinksEverything()
    {
        var c = Change(5, Now - 3 * Day);
        c.PullRequests.Add(new LinkedPullRequest { Owner = "acme", Repo = "api", Number = 1 });
        var text = Texts(Builder.Build([c], Now).Blocks!);
        Assert.Contains("Missing: not checked yet", text);
        Assert.Contains("https://github.com/acme/api/pull/1", text);
        Assert.Contains("https://acme.slack.com/archives/C0CHANGES/p5", text);
    }

    [Fact]
    public void ChangesDueInTheComingWeekAreListedApartFromTheOverdueOnes()
    {
        var soon = Change(1, Now - Day, window: 4 * Day, summary: "Due in three days");
        var later = Change(2, Now - Day, window: 9 * Day, summary: "Due in eight days");
        var overdue = Change(3, Now - 3 * Day, summary: "Overdue one");
        var message = Builder.Build([soon, later, overdue], Now);
        var due = message.Blocks!.Select(b => Texts(b)).Single(s => s.Contains("Due in the coming week"));
        Assert.Contains("Due in three days", due);
        Assert.Contains("due in 3d 0h", due);
        Assert.DoesNotContain("Due in eight days", due);
        Assert.DoesNotContain("Overdue one", due);
        Assert.Contains("1 more due in the coming week", message.Text);
    }

    [Fact]
    public void TheNumbersCoverTheLastSevenDays()
    {
        var changes = new List<EmergencyChange>
        {
            // declared this week, reviewed on time after 10 h
            Change(1, Now - 3 * Day, reviewedAt: Now - 3 * Day + 10 * Hour),
            // declared this week, reviewed on time after 20 h
            Change(2, Now - 2 * Day, reviewedAt: Now - 2 * Day + 20 * Hour),
            // declared last week, reviewed this week but late (after 3 days): it also went overdue this week
            Change(3, Now - 8 * Day, reviewedAt: Now - 5 * Day),
            // declared this week and still open, not yet due
            Change(4, Now - Hour),
            // declared this week by mistake
            Change(5, Now - Day, status: ChangeStatus.Cancelled),
            // due this week, still open: went overdue
            Change(6, Now - 4 * Day),
            // declared and reviewed two weeks ago: outside the window
            Change(7, Now - 14 * Day, reviewedAt: Now - 13 * Day),
        };
        var n = DigestBuilder.Numbers(changes, Now);
        Assert.Equal(4, n.Declared); // 1, 2, 4, 6
        Assert.Equal(1, n.Cancelled);
        Assert.Equal(3, n.Reviewed);
        Assert.Equal(2, n.ReviewedOnTime);
        Assert.Equal(2, n.WentOverdue); // 3 (late), 6 (open)
        Assert.Equal(20 * Hour, n.MedianTimeToReview); // of 10 h, 20 h, 72 h

        var blocks = Texts(Builder.Build(changes, Now).Blocks!);
        Assert.Contains("*Declared (last 7 days)*\n4 (+1 cancelled)", blocks);
        Assert.Contains("*Reviewed on time*\n2 of 3 reviewed", blocks);
        Assert.Contains("*Went overdue*\n2", blocks);
        Assert.Contains("*Median time to review*\n20h 0m", blocks);
    }

    [Theory]
    [InlineData(new double[] { }, null)]
    [InlineData(new double[] { 5 }, 5.0)]
    [InlineData(new double[] { 9, 1, 4 }, 4.0)]
    [InlineData(new double[] { 1, 10, 2, 3 }, 2.5)]
    public void TheMedianIsTheMiddleOrTheMeanOfTheMiddleTwo(double[] hours, double? expected) =>
        Assert.Equal(expected is null ? null : TimeSpan.FromHours(expected.Value), DigestBuilder.Median(hours.Select(h => TimeSpan.FromHours(h))));

    [Fact]
    public void TheTrendComparesThisWeeksEmergencyChangesWithThePreviousWeeks()
    {
        var changes = new List<EmergencyChange>
        {
            Change(1, Now - 30 * Day), // four weeks back
            Change(2, Now - 20 * Day), Change(3, Now - 19 * Day), // two weeks back
            Change(4, Now - 10 * Day), Change(5, Now - 9 * Day), Change(6, Now - 8 * Day), // one week back
            Change(7, Now - Day), Change(8, Now - 2 * Day), Change(9, Now - 3 * Day), Change(10, Now - 4 * Day), // this week
            Change(11, Now - 2 * Day, status: ChangeStatus.Cancelled), // not an emergency change after all
        };
        var n = DigestBuilder.Numbers(changes, Now);
        Assert.Equal(new[] { 1, 0, 2, 3, 4 }, n.DeclaredPerWeek);
        Assert.Equal(1.5, n.PreviousAverage);
        var text = Texts(Builder.Build(changes, Now).Blocks!);
        Assert.Contains("1 · 0 · 2 · 3 · *4*", text);
        Assert.Contains("up from an average of 1.5", text);
        Assert.Contains("As a share of all changes: unknown (all changes were not counted)", text);

        var quieter = DigestBuilder.Numbers(changes.Where(c => c.DeclaredAt < Now - 3.5 * Day), Now);
        Assert.Equal(1, quieter.ThisWeek);
        Assert.Contains("down from an average of 1.5", Texts(Builder.Build(changes.Where(c => c.DeclaredAt < Now - 3.5 * Day), Now).Blocks!));
    }

    [Fact]
    public void AQuietWeekIsOneLine()
    {
        // Nothing open, nothing in the last seven days: only an old, reviewed change.
        var message = Builder.Build([Change(1, Now - 20 * Day, reviewedAt: Now - 19 * Day)], Now);
        Assert.DoesNotContain('\n', message.Text);
        Assert.Contains("nothing is overdue for review", message.Text);
        Assert.Single(message.Blocks!);
        Assert.Equal(message.Text, Builder.Build([], Now).Text);
    }

    [Fact]
    public void WithNothingOverdueTheDigestSaysSoInOneLineAndStillGivesTheNumbers()
    {
        var message = Builder.Build([Change(1, Now - Day), Change(2, Now - 2 * Day, reviewedAt: Now - Day)], Now);
        Assert.StartsWith(":white_check_mark: Nothing is overdue for review; 1 due in the coming week.", message.Text);
        Assert.Contains("*Reviewed on time*\n1 of 1 reviewed", Texts(message.Blocks!));
        Assert.DoesNotContain("overdue by", Texts(message.Blocks!));
    }

    [Fact]
    public void PastSlacksLimitsTheDigestListsTheFirstChangesAndPointsToTheFullList()
    {
        var longSummary = new string('x', 2900) + " <!channel> & friends";
        var changes = Enumerable.Range(1, 80).Select(i =>
        {
            var c = Change(i, Now - 3 * Day - i * Hour, summary: longSummary);
            c.Evidence = [.. Enumerable.Range(1, 10).Select(j => new EvidenceCheck { Kind = "Custom", Target = $"T{j}", Missing = new string('m', 500) })];
            return c;
        }).Concat(Enumerable.Range(100, 30).Select(i => Change(i, Now - Day, summary: longSummary))).ToList();

        foreach (var maxListed in new[] { DigestBuilder.DefaultMaxListed, 500 })
        {
            var message = Builder.Build(changes, Now, "2026-W12", maxListed);
            var blocks = message.Blocks!;
            Assert.True(blocks.Count <= DigestBuilder.MaxBlocks, $"{blocks.Count} blocks");
            AssertWithinSlackLimits(blocks);
            Assert.True(message.Text.Length <= DigestBuilder.MaxFallbackText);
            var listed = blocks.Count(b => Texts(b).Contains("overdue by"));
            Assert.Contains($"…and {80 - listed} more: `/breakglass list overdue`", Texts(blocks));
            Assert.Contains("more: `/breakglass list open`", Texts(blocks)); // 30 due soon, 10 listed at most
        }
        Assert.Equal(DigestBuilder.DefaultMaxListed, Builder.Build(changes, Now).Blocks!.Count(b => Texts(b).Contains("overdue by")));
    }

    static void AssertWithinSlackLimits(JsonArray blocks)
    {
        foreach (var block in blocks.Select(b => b!.AsObject()))
        {
            switch (block["type"]!.GetValue<string>())
            {
                case "header":
                    Assert.True(block["text"]!["text"]!.GetValue<string>().Length <= 150);
                    break;
                case "section" when block["text"] is { } text:
                    Assert.True(text["text"]!.GetValue<string>().Length <= 3000, "section text over 3000");
                    break;
                case "section":
                    var fields = block["fields"]!.AsArray();
                    Assert.True(fields.Count <= 10);
                    Assert.All(fields, f => Assert.True(f!["text"]!.GetValue<string>().Length <= 2000));
                    break;
                case "context":
                    Assert.All(block["elements"]!.AsArray(), e => Assert.True(e!["text"]!.GetValue<string>().Length <= 3000));
                    break;
            }
        }
    }

    [Fact]
    public void SummariesAreEscapedSoTheyCannotPingOrLink()
    {
        var c = Change(1, Now - 3 * Day, summary: "<!channel> fix & <https://evil.example|click here>");
        c.Evidence = [new EvidenceCheck { Kind = nameof(EvidenceKind.JiraReviewed), Target = "OPS-1", Satisfied = false }];
        c.JiraIssues.Add(new LinkedJiraIssue { Key = "OPS-1", Status = "<b>Done</b>" });
        var message = Builder.Build([c, Change(2, Now - Day, summary: "<@U0EVIL> soon")], Now);
        var all = message.Text + Texts(message.Blocks!);
        Assert.DoesNotContain("<!channel>", all);
        Assert.DoesNotContain("<https://evil.example", all);
        Assert.DoesNotContain("<@U0EVIL>", all);
        Assert.Contains("&lt;!channel&gt; fix &amp; &lt;https://evil.example|click here&gt;", message.Text);
        Assert.Contains("&lt;!channel&gt; fix &amp; &lt;https://evil.example|click here&gt;", Texts(message.Blocks!));
        Assert.Contains("(is &lt;b&gt;Done&lt;/b&gt;)", Texts(message.Blocks!));
        Assert.Contains("@U0EVIL soon", Texts(message.Blocks!)); // a mention in stored text reads as words (SlackFormatting)
    }

    [Theory]
    [InlineData("2026-03-15T23:30:00Z", "UTC", "2026-W11")]           // Sunday night in UTC
    [InlineData("2026-03-15T23:30:00Z", "Europe/Berlin", "2026-W12")] // already Monday in Berlin
    [InlineData("2026-03-16T03:00:00Z", "America/Los_Angeles", "2026-W11")] // still Sunday in California
    [InlineData("2027-01-01T09:00:00Z", "UTC", "2026-W53")]           // ISO years end on a week, not on 31 December
    public void TheWeekIsTheIsoWeekInTheDigestTimeZone(string at, string zone, string expected) =>
        Assert.Equal(expected, DigestBuilder.WeekOf(DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture), TimeZoneInfo.FindSystemTimeZoneById(zone)));

    [Fact]
    public void TheSendIntervalIsValidatedAtStartUp()
    {
        static IReadOnlyList<string> Check(string value) => ConfigurationCheck.Validate(new ConfigurationBuilder()
            .AddInMemoryCollection([KeyValuePair.Create("Policy:DigestSendInterval", (string?)value)]).Build());
        Assert.Empty(Check("00:00:00.500"));
        Assert.Contains(Check("00:05:00"), e => e.StartsWith("Policy:DigestSendInterval must be between"));
        Assert.Contains(Check("-00:00:01"), e => e.StartsWith("Policy:DigestSendInterval must be between"));
        Assert.Contains(Check("soon"), e => e.StartsWith("Policy:DigestSendInterval: expected a TimeSpan"));
    }

    static List<EmergencyChange> FourWeeks() =>
    [
        Change(1, Now - 30 * Day), // five weeks back: in the count trend, not in the rate
        Change(2, Now - 20 * Day), Change(3, Now - 19 * Day),
        Change(4, Now - 10 * Day), Change(5, Now - 9 * Day), Change(6, Now - 8 * Day),
        Change(7, Now - Day), Change(8, Now - 2 * Day), Change(9, Now - 3 * Day), Change(10, Now - 4 * Day),
    ];

    static DigestData Data(IReadOnlyList<EmergencyChange> changes, AllChangeCounts? all = null, IReadOnlyDictionary<int, IReadOnlyList<string>>? reviewers = null)
    {
        var overdue = changes.Where(c => c.IsOverdue(Now)).OrderBy(c => c.DueAt).ThenBy(c => c.Id).ToList();
        return new DigestData(overdue, overdue.Count, [], 0, [.. changes.Select(ChangeTimes.Of)], all, reviewers);
    }

    [Fact]
    public void TheBreakGlassRateIsEmergencyChangesAsAShareOfAllChangesPerWeek()
    {
        // Emergency changes in the last four weeks: 0, 2, 3, 4; all changes (merged PRs): 20, 40, 30, 20.
        var text = Texts(Builder.Build(Data(FourWeeks(), new AllChangeCounts([20, 40, 30, 20], "acme/api", null)), Now).Blocks!);
        Assert.Contains("Break-glass rate, emergency changes of all changes (merged pull requests in acme/api)", text);
        Assert.Contains("0 emergency of 20 changes = 0% · 2 emergency of 40 changes = 5% · 3 emergency of 30 changes = 10% · *4 emergency of 20 changes = 20%*", text);
        Assert.Contains("up from an average of 5%", text);
        Assert.DoesNotContain("unknown", text);

        var lower = Texts(Builder.Build(Data(FourWeeks(), new AllChangeCounts([20, 40, 30, 200], "3 repositories", null)), Now).Blocks!);
        Assert.Contains("*4 emergency of 200 changes = 2%*", lower);
        Assert.Contains("down from an average of 5%", lower);
        // A week without any merged change has no rate, and is left out of the average.
        Assert.Contains("0 emergency of 0 changes = n/a", Texts(Builder.Build(Data(FourWeeks(), new AllChangeCounts([0, 40, 30, 20], "acme/api", null)), Now).Blocks!));
    }

    [Fact]
    public void WhenAllChangesCannotBeCountedTheCountTrendSaysWhy()
    {
        var text = Texts(Builder.Build(Data(FourWeeks(), AllChangeCounts.NotCounted("GitHub is not configured")), Now).Blocks!);
        Assert.Contains("1 · 0 · 2 · 3 · *4*", text);
        Assert.Contains("As a share of all changes: unknown (GitHub is not configured)", text);
        Assert.DoesNotContain("emergency of", text);
    }

    [Fact]
    public void WhoMustActNamesTheEligibleReviewersWhoHaveNotActed()
    {
        var change = Change(1, Now - 5 * Day, by: "U0ALICE");
        var named = Texts(Builder.Build(Data([change], reviewers: new Dictionary<int, IReadOnlyList<string>> { [1] = ["U0REV1", "U0REV2"] }), Now).Blocks!);
        Assert.Contains("_Next:_ <@U0REV1>, <@U0REV2> (eligible, not yet acted) to review it", named);

        var many = Texts(Builder.Build(Data([change], reviewers: new Dictionary<int, IReadOnlyList<string>> { [1] = [.. Enumerable.Range(1, 7).Select(i => $"U0R{i}")] }), Now).Blocks!);
        Assert.Contains("<@U0R1>, <@U0R2>, <@U0R3>, <@U0R4>, <@U0R5> or one of 2 more (eligible, not yet acted)", many);

        // Unknown (or nobody left who has not acted): the general wording.
        Assert.Contains("_Next:_ a reviewer (not <@U0ALICE>) to review it", Texts(Builder.Build(Data([change]), Now).Blocks!));
        Assert.Contains("_Next:_ a reviewer (not <@U0ALICE>) to review it",
            Texts(Builder.Build(Data([change], reviewers: new Dictionary<int, IReadOnlyList<string>> { [1] = [] }), Now).Blocks!));
    }
}
