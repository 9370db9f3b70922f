using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Evidence;

[Trait("Category", "EndToEnd")]
public class ExportCommandTests : IAsyncLifetime
{
    const string Manager = EvidenceHistoryTests.Manager;
    readonly FakeSlack slack = new();
    public Task InitializeAsync() => slack.StartAsync();
    public async Task DisposeAsync() => await slack.DisposeAsync();

    static string Day(int offset) => DateOnly.FromDateTime(DateTime.UtcNow).AddDays(offset).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>/breakglass export as Slack posts it, with a response_url at the fake Slack: the command's answer, and the figures once sent there.</summary>
    async Task<(string Ack, string Figures)> ExportAsync(TestBot bot, string text, string user)
    {
        var before = slack.Responses.Count;
        var response = await bot.SendSignedAsync("/slack/commands", TestBot.CommandForm(text, user, responseUrl: slack.ResponseUrl("export")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ack = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["text"]!.GetValue<string>();
        await Eventually.Until(() => slack.Responses.Count > before, "the figures are sent to response_url");
        var figures = JsonNode.Parse(slack.Responses.Last().Body)!;
        Assert.Equal("ephemeral", figures["response_type"]!.GetValue<string>());
        return (ack, figures["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task ManagersAndAdminsGetTheFiguresAndTheLinksOthersAreRefused()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Slack:Managers:0"] = Manager,
            ["Evidence:PublicBaseUrl"] = "https://breakglass.example.com/",
        });
        await bot.CommandJsonAsync("Hotfix checkout");
        await bot.CommandJsonAsync("Rotate keys");
        await bot.CommandJsonAsync("cancel BG-2 mistake");
        var (from, to) = (Day(-1), Day(1));

        var refused = await bot.CommandJsonAsync($"export {from} {to}", TestBot.Declarer);
        Assert.Contains("Only managers and admins", refused["text"]!.GetValue<string>());
        Assert.DoesNotContain("/evidence", refused["text"]!.GetValue<string>());

        foreach (var user in new[] { Manager, TestBot.Admin })
        {
            var (ack, text) = await ExportAsync(bot, $"export {from} {to} 20", user);
            Assert.Contains($"Counting the evidence for {from} – {to}", ack);
            Assert.Contains($"Emergency-change evidence {from} – {to}* (UTC)", text);
            Assert.Contains("2 change(s): 0 reviewed on time, 0 late, 1 still open (0 overdue), 1 cancelled.", text);
            Assert.Contains("Median time to review: n/a", text);
            Assert.Contains("2.33 per week, 5% of 20 changes.", text); // 1 not cancelled in a 3-day window
            Assert.Contains("Audit trail intact", text);
            Assert.Contains($"<https://breakglass.example.com/evidence?from={from}&amp;to={to}&amp;format=csv&amp;total=20|CSV>", text);
            Assert.Contains($"<https://breakglass.example.com/evidence?from={from}&amp;to={to}&amp;format=json&amp;total=20|JSON>", text);
        }
        Assert.Contains(bot.Logs, l => l.Contains($"Evidence export {from}..{to} requested in Slack by {Manager}"));

        var usage = await bot.CommandJsonAsync($"export {to} {from}", Manager);
        Assert.Contains("`/breakglass export <from> <to> [total changes]`", usage["text"]!.GetValue<string>());
        Assert.Contains("/breakglass export", (await bot.CommandJsonAsync("help"))["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task WithoutAPublicBaseUrlTheLinkIsRelative()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?> { ["Slack:Managers:0"] = Manager });
        var (_, text) = await ExportAsync(bot, $"export {Day(0)} {Day(0)}", Manager);
        Assert.Contains("0 change(s)", text);
        Assert.Contains($"CSV: `/evidence?from={Day(0)}&amp;to={Day(0)}&amp;format=csv`", text);
    }

    [Fact]
    public async Task TheExportIsAcknowledgedAtOnceAndTheFiguresFollowAtResponseUrlWhenTheWorkIsDone()
    {
        // The slow part of an export (here GitHub's count of all changes; on a store of years, reading it and the audit
        // chain) happens after the answer to Slack, which must come within 3 s.
        await using var github = new FakeGitHub();
        await github.StartAsync();
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Slack:Managers:0"] = Manager, ["GitHub:Token"] = FakeGitHub.Token, ["GitHub:ApiBaseUrl"] = github.ApiUrl, ["GitHub:Repositories:0"] = "acme/api",
        });
        await bot.CommandJsonAsync("Hotfix checkout");
        for (var i = 0; i < 4; i++) github.MergedPulls.Enqueue(("acme/api", DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10 + i)));
        github.Fail("GET /search/issues", new Fault.Delay(TimeSpan.FromSeconds(3)));

        var response = await bot.SendSignedAsync("/slack/commands", TestBot.CommandForm($"export {Day(-1)} {Day(1)}", Manager, responseUrl: slack.ResponseUrl("slow")));
        var ack = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["text"]!.GetValue<string>();
        Assert.StartsWith(":hourglass_flowing_sand: Counting the evidence", ack);
        Assert.DoesNotContain("change(s)", ack);
        Assert.Empty(slack.Responses); // GitHub is still counting

        await Eventually.Until(() => slack.Responses.Count == 1, "the figures arrive at response_url", TimeSpan.FromSeconds(20));
        var figures = JsonNode.Parse(slack.Responses[0].Body)!["text"]!.GetValue<string>();
        Assert.Contains("1 change(s)", figures);
        Assert.Contains("25% of 4 changes", figures); // the count that took longer than an inline answer could wait for
        Assert.Single(github.CallsTo("GET /search/issues"));
    }
}
