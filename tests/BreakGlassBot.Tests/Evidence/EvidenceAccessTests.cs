using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Evidence.EvidenceHistoryTests;

namespace BreakGlassBot.Tests.Evidence;

[Trait("Category", "EndToEnd")]
public class EvidenceAccessTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    public Task InitializeAsync() => slack.StartAsync();
    public async Task DisposeAsync() => await slack.DisposeAsync();

    static readonly Dictionary<string, string?> Keys = new() { ["Evidence:ApiKeys:0"] = Key0, ["Evidence:ApiKeys:1"] = Key1 };

    [Fact]
    public async Task EveryEvidenceEndpointNeedsAConfiguredBearerKeyAndEachFetchIsLoggedWithoutTheKey()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Keys);
        await bot.CommandJsonAsync("Hotfix checkout");
        string[] paths = ["/evidence/BG-1", "/evidence/BG-1?format=html", "/evidence?from=2026-01-01&to=2026-12-31", "/evidence?from=2026-01-01&to=2026-12-31&format=csv", "/evidence/verify"];
        const string wrongKey = "evidence-key-guess-123456";
        foreach (var path in paths)
        {
            var anonymous = await bot.Http.SendAsync(Get(path, key: null));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Equal(HttpStatusCode.Unauthorized, (await bot.Http.SendAsync(Get(path, key: wrongKey))).StatusCode);
            var basic = Get(path, key: null);
            basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("auditor:" + Key1)));
            Assert.Equal(HttpStatusCode.Unauthorized, (await bot.Http.SendAsync(basic)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await bot.Http.SendAsync(Get(path, key: Key1))).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await bot.Http.SendAsync(Get("/evidence/BG-1", key: Key0))).StatusCode);

        var prefix1 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Key1)))[..8];
        var prefix0 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Key0)))[..8];
        var logs = bot.Logs.ToList();
        Assert.Contains(logs, l => l.Contains($"Evidence /evidence/BG-1 fetched by Evidence:ApiKeys:1 (sha256 {prefix1}"));
        Assert.Contains(logs, l => l.Contains($"Evidence /evidence/BG-1 fetched by Evidence:ApiKeys:0 (sha256 {prefix0}"));
        Assert.Contains(logs, l => l.Contains("Evidence /evidence?from=2026-01-01&to=2026-12-31&format=csv fetched by Evidence:ApiKeys:1"));
        Assert.Equal(paths.Length + 1, logs.Count(l => l.Contains(" fetched by ")));
        Assert.Contains(logs, l => l.Contains("Evidence request for /evidence/BG-1 refused: unknown key"));
        Assert.Contains(logs, l => l.Contains("Evidence request for /evidence/verify refused: no Authorization header"));
        Assert.DoesNotContain(logs, l => l.Contains(Key0) || l.Contains(Key1) || l.Contains(wrongKey) || l.Contains(Convert.ToBase64String(Encoding.UTF8.GetBytes("auditor:" + Key1))));
    }

    [Fact]
    public async Task WithoutKeysEvidenceIsClosedOutsideDevelopmentAndOpenOnlyToLoopbackInDevelopment()
    {
        await using (var production = await TestBot.StartAsync(slack))
        {
            await production.CommandJsonAsync("Hotfix checkout");
            Assert.Equal(HttpStatusCode.Unauthorized, (await production.Http.SendAsync(Get("/evidence/BG-1", key: null))).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await production.Http.SendAsync(Get("/evidence/BG-1", key: "anything"))).StatusCode);
            Assert.Contains(production.Logs, l => l.Contains("refused: no Evidence:ApiKeys configured"));
        }
        await using var development = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?> { ["environment"] = "Development" });
        await development.CommandJsonAsync("Hotfix checkout");
        Assert.Equal(HttpStatusCode.OK, (await development.Http.SendAsync(Get("/evidence/BG-1", key: null))).StatusCode);
        Assert.Contains(development.Logs, l => l.Contains("fetched by loopback (Development, no Evidence:ApiKeys)"));
    }
}
