using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Hosting;

/// <summary>What an operator relies on in production: readiness, JSON logs, and a README that names the scopes the manifest asks for.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ProductionTests : BotTest
{
    [Fact]
    public async Task AStartedBotIsReady()
    {
        var response = await Bot.Http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ready", body.GetProperty("status").GetString());
        Assert.Equal("ok", body.GetProperty("storage").GetString());
    }

    [Fact]
    public async Task WithTheJsonFormatterEveryLogLineIsAJsonObject()
    {
        await using var bot = await BotProcess.StartAsync(Slack, TestBot.NewDataDirectory(), listen: port => new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Logging__Console__FormatterName"] = "json",
        });
        var lines = bot.Output.Where(l => l.Trim().Length > 0).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(l).RootElement.ValueKind));
    }
}

public sealed class ReadinessTests
{
    [Theory]
    [InlineData(true, false, true, true)]
    [InlineData(false, false, true, false)]  // a background service (Hangfire's server) has not started yet
    [InlineData(true, true, true, false)]    // shutting down: stop routing to it
    [InlineData(true, false, false, false)]  // the store does not answer
    public void ReadyOnlyWhenStartedNotStoppingAndTheStoreAnswers(bool started, bool stopping, bool storageOk, bool ready) =>
        Assert.Equal(ready, HealthEndpoints.IsReady(started, stopping, storageOk));

    [Fact]
    public void ReadmesScopesTableNamesExactlyTheManifestsScopes()
    {
        var manifest = File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "manifest.yml"));
        var scopes = manifest[manifest.IndexOf("scopes:", StringComparison.Ordinal)..manifest.IndexOf("settings:", StringComparison.Ordinal)];
        var inManifest = Regex.Matches(scopes, @"^\s+-\s+(?<scope>\S+)", RegexOptions.Multiline).Select(m => m.Groups["scope"].Value).ToHashSet();
        var readme = File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "README.md"));
        var table = readme[readme.IndexOf("**Slack scopes**", StringComparison.Ordinal)..readme.IndexOf("### Audit evidence", StringComparison.Ordinal)];
        var inReadme = Regex.Matches(table, @"^\s*\| `(?<scope>[a-z.:]+)` \|", RegexOptions.Multiline).Select(m => m.Groups["scope"].Value).ToHashSet();
        Assert.NotEmpty(inManifest);
        Assert.Equal(inManifest.Order(), inReadme.Order());
    }
}
