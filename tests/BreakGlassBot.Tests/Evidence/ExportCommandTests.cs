using System.Globalization;
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
            var reply = await bot.CommandJsonAsync($"export {from} {to} 20", user);
            Assert.Equal("ephemeral", reply["response_type"]!.GetValue<string>());
            var text = reply["text"]!.GetValue<string>();
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
        var text = (await bot.CommandJsonAsync($"export {Day(0)} {Day(0)}", Manager))["text"]!.GetValue<string>();
        Assert.Contains("0 change(s)", text);
        Assert.Contains($"CSV: `/evidence?from={Day(0)}&amp;to={Day(0)}&amp;format=csv`", text);
    }
}
