using System.Net;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>Many declarations and approvals at once: distinct ids, one announcement each, no lost or doubled audit events.</summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public class ConcurrencyTests : BotTest
{
    const int Declarations = 200;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1, ["Slack:Reviewers:1"] = ApprovalTests.Reviewer2,
        ["Policy:RequiredApprovals"] = "2", ["Policy:ReminderInterval"] = "01:00:00",
    };

    [Fact]
    public async Task TwoHundredConcurrentDeclarationsThenConcurrentApprovals()
    {
        var replies = await Task.WhenAll(Enumerable.Range(0, Declarations).Select(async i =>
        {
            var response = await Bot.CommandAsync($"Concurrent change {i} https://github.com/acme/api/pull/{i + 1}", user: $"U0DECL{i % 7}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }));
        var ids = replies.Select(r => System.Text.RegularExpressions.Regex.Match(r, @"BG-(\d+)").Groups[1].Value).ToList();
        Assert.Equal(Declarations, ids.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, Declarations).Select(i => i.ToString()).Order(), ids.Order());

        await Eventually.Until(() => Slack.TopLevel(TestBot.Channel).Count == Declarations, "every change announced", TimeSpan.FromSeconds(90));
        await Eventually.Until(() => Enumerable.Range(1, Declarations).All(i => Bot.Store.Get(i)!.NextStepAt is null), "all steps done", TimeSpan.FromSeconds(90));
        Assert.All(Enumerable.Range(1, Declarations), i => Assert.Single(Slack.Announcements($"BG-{i}")));

        // Each reviewer clicks every change twice, all at once: 800 clicks, 400 approvals.
        var clicks = Enumerable.Range(1, Declarations).SelectMany(i => new[]
        {
            ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, $"BG-{i}"),
            ApprovalTests.Click(ApprovalTests.Reviewer2, ReviewActions.Approve, $"BG-{i}"),
            ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, $"BG-{i}", actionTs: "9.9"),
            ApprovalTests.Click(ApprovalTests.Reviewer2, ReviewActions.Approve, $"BG-{i}", actionTs: "9.9"),
        });
        var statuses = await Task.WhenAll(clicks.Select(async c => (await Bot.InteractionAsync(c)).StatusCode));
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        await Eventually.Until(() => Enumerable.Range(1, Declarations).All(i => Bot.Store.Get(i)!.Status == ChangeStatus.Reviewed), "every change reviewed", TimeSpan.FromSeconds(180));

        var trail = Enumerable.Range(1, Declarations).SelectMany(i => Bot.Store.AuditTrail(i)).ToList();
        Assert.Equal(Declarations, trail.Count(e => e.Type == AuditTypes.Declared));
        Assert.Equal(Declarations, trail.Count(e => e.Type == AuditTypes.Announced));
        Assert.Equal(2 * Declarations, trail.Count(e => e.Type == AuditTypes.Approved));
        Assert.Equal(Declarations, trail.Count(e => e.Type == AuditTypes.Reviewed));
        var sequences = trail.Select(e => e.Sequence).Order().ToList();
        Assert.Equal(sequences.Distinct().Count(), sequences.Count);
        Assert.Equal(Bot.Store.AuditCount(), sequences.Max()); // no gap in the whole trail's numbering
    }
}
