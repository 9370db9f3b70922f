using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Evidence.EvidenceHistoryTests;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>The period export's break-glass rate: all changes counted at the fake GitHub's search when no total is given.</summary>
[Trait("Category", "EndToEnd")]
public class ExportRateTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly FakeGitHub github = new();

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        await github.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await github.DisposeAsync();
        await slack.DisposeAsync();
    }

    static async Task<JsonNode> SummaryAsync(TestBot bot, string query)
    {
        var response = await bot.Http.SendAsync(Get("/evidence?" + query, key: Key0));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["summary"]!;
    }

    [Fact]
    public async Task WithoutATotalTheExportCountsMergedPullRequestsAtGitHub()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Evidence:ApiKeys:0"] = Key0, ["GitHub:Token"] = FakeGitHub.Token, ["GitHub:ApiBaseUrl"] = github.ApiUrl, ["GitHub:Repositories:0"] = "acme/api",
        });
        await bot.CommandJsonAsync("Hotfix checkout");
        await bot.CommandJsonAsync("Rotate keys");
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 8; i++) github.MergedPulls.Enqueue(("acme/api", now - TimeSpan.FromMinutes(10 + i)));
        github.MergedPulls.Enqueue(("acme/api", now - TimeSpan.FromDays(40))); // outside the window
        github.MergedPulls.Enqueue(("acme/other", now - TimeSpan.FromMinutes(5))); // not a counted repository
        var window = $"from={now.AddDays(-1):yyyy-MM-dd}&to={now.AddDays(1):yyyy-MM-dd}";

        var counted = await SummaryAsync(bot, window);
        Assert.Equal(8, counted["total_changes"]!.GetValue<int>());
        Assert.Equal(0.25, counted["break_glass_rate"]!.GetValue<double>());
        Assert.Contains("acme/api", counted["total_changes_source"]!.GetValue<string>());

        var given = await SummaryAsync(bot, window + "&total=20");
        Assert.Equal(0.1, given["break_glass_rate"]!.GetValue<double>());
        Assert.Equal("given by the caller", given["total_changes_source"]!.GetValue<string>());
    }

    [Fact]
    public async Task WithoutGitHubTheRateIsLeftOutAndTheExportSaysWhy()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?> { ["Evidence:ApiKeys:0"] = Key0 });
        await bot.CommandJsonAsync("Hotfix checkout");
        var now = DateTimeOffset.UtcNow;
        var summary = await SummaryAsync(bot, $"from={now.AddDays(-1):yyyy-MM-dd}&to={now.AddDays(1):yyyy-MM-dd}");
        Assert.Null(summary["break_glass_rate"]);
        Assert.Contains("GitHub is not configured", summary["total_changes_source"]!.GetValue<string>());
        Assert.Equal(1, summary["changes"]!.GetValue<int>());
    }
}
