using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>GitHub App authentication: a JWT signed with a key generated here, exchanged for an installation token.</summary>
[Trait("Category", "EndToEnd")]
public sealed class GitHubAppTests : GitHubBotTest, IDisposable
{
    const long AppId = 12345;
    const long InstallationId = 99;
    readonly RSA key = RSA.Create(2048);
    readonly string keyPath = Path.Combine(Path.GetTempPath(), $"bgb-app-{Guid.NewGuid():N}.pem");

    public GitHubAppTests() =>
        // GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE KEY") keys.
        File.WriteAllText(keyPath, key.ExportRSAPrivateKeyPem());

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:Token"] = null,
        ["GitHub:AppId"] = AppId.ToString(),
        ["GitHub:PrivateKeyPath"] = keyPath,
        ["GitHub:InstallationId"] = InstallationId.ToString(),
    };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        GitHub.AppKey = key;
        GitHub.AppId = AppId;
        GitHub.ExpectedAuthorization = "token " + GitHub.InstallationToken;
    }

    public void Dispose()
    {
        key.Dispose();
        File.Delete(keyPath);
    }

    [Fact]
    public async Task TheBotExchangesASignedJwtOnceAndCallsGitHubWithTheInstallationToken()
    {
        Assert.DoesNotContain(File.ReadAllText(keyPath), "BEGIN PRIVATE KEY");
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => StepsSettled() && Change().PullRequests[0].FetchedAt is not null, "PR linked as the app");

        var exchange = Assert.Single(GitHub.CallsTo("POST", $"/app/installations/{InstallationId}/access_tokens"));
        Assert.StartsWith("Bearer ey", exchange.Headers["Authorization"]);
        var api = GitHub.Calls.Where(c => c.Key != "POST access_tokens").ToList();
        Assert.Equal(4, api.Count); // get, label, list comments, comment: one token for all
        Assert.All(api, c => Assert.Equal("token ghs_16C7e42F292c6912E7710c838347Ae178B4a", c.Headers["Authorization"], ignoreCase: true));
        Assert.Single(GitHub.PullRequest(Pr).Comments);
        Assert.DoesNotContain(Bot.Logs, l => l.Contains(GitHub.InstallationToken) || l.Contains("BEGIN RSA"));
    }

    [Fact]
    public async Task AfterGitHubRevokesTheInstallationTokenThe401ClearsTheCacheAndTheBotRecoversWithANewToken()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => StepsSettled() && Change().PullRequests[0].FetchedAt is not null, "first change linked with the first token");
        const string oldToken = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
        Assert.Equal(oldToken, GitHub.InstallationToken);

        // GitHub rotates the installation token (revoked, or the app's key changed): the cached one now gets 401.
        GitHub.InstallationToken = "ghs_rotatedRotatedRotatedRotatedRotated0";
        GitHub.ExpectedAuthorization = "token " + GitHub.InstallationToken;
        var before = GitHub.Calls.Count;
        GitHub.AddPr("acme", "api", 1348);
        await Bot.CommandJsonAsync("Fix it too https://github.com/acme/api/pull/1348");
        await WaitUntil(() => StepsSettled(2) && Change(2).PullRequests[0].FetchedAt is not null, "second change linked after the rotation");

        var after = GitHub.Calls.Skip(before).ToList();
        var refused = Assert.Single(after, c => c.Key != "POST access_tokens" && c.Headers["Authorization"].EndsWith(oldToken, StringComparison.Ordinal));
        Assert.Equal("GET pull", refused.Key); // the one call made with the stale token, answered 401
        Assert.Equal(2, GitHub.CallsTo("POST", $"/app/installations/{InstallationId}/access_tokens").Count);
        var exchange = after.Single(c => c.Key == "POST access_tokens");
        Assert.True(exchange.At >= refused.At, "the new token was fetched after the 401");
        Assert.All(after.Where(c => c.Key != "POST access_tokens" && c != refused),
            c => Assert.Equal("token " + GitHub.InstallationToken, c.Headers["Authorization"], ignoreCase: true));
        Assert.Single(GitHub.PullRequest("acme/api#1348").Comments);
        Assert.DoesNotContain(Bot.Logs, l => l.Contains(GitHub.InstallationToken) || l.Contains(oldToken));
    }

    [Fact]
    public async Task TheInstallationTokenIsCachedAndRenewedFiveMinutesBeforeItExpires()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        GitHub.Clock = time.GetUtcNow;
        var services = new ServiceCollection();
        services.AddHttpClient(GitHubGateway.HttpClientName);
        using var provider = services.BuildServiceProvider();
        var options = new GitHubOptions { ApiBaseUrl = GitHub.ApiUrl, AppId = AppId, PrivateKeyPath = keyPath, InstallationId = InstallationId };
        var credentials = new GitHubAppCredentials(options, provider.GetRequiredService<IHttpMessageHandlerFactory>(), time);

        var first = await credentials.GetCredentials();
        Assert.Equal(GitHub.InstallationToken, first.Password);
        await credentials.GetCredentials();
        time.Advance(TimeSpan.FromMinutes(54));
        await credentials.GetCredentials();
        Assert.Equal(1, credentials.Exchanges);

        time.Advance(TimeSpan.FromMinutes(2)); // 56 minutes in: within 5 minutes of the hour
        await credentials.GetCredentials();
        Assert.Equal(2, credentials.Exchanges);

        credentials.Invalidate(); // as after a 401
        await credentials.GetCredentials();
        Assert.Equal(3, credentials.Exchanges);
        Assert.Equal(3, GitHub.CallsTo("POST", $"/app/installations/{InstallationId}/access_tokens").Count);
    }

    [Fact]
    public void TheJwtIsRs256WithTheAppIdAndAShortLife()
    {
        var now = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var parts = AppJwt.Create(AppId, key, now).Split('.');
        static byte[] Decode(string s) { s = s.Replace('-', '+').Replace('_', '/'); return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=')); }
        Assert.Equal("RS256", JsonNode.Parse(Decode(parts[0]))!["alg"]!.GetValue<string>());
        var claims = JsonNode.Parse(Decode(parts[1]))!;
        Assert.Equal("12345", claims["iss"]!.GetValue<string>());
        Assert.Equal(now.AddSeconds(-60).ToUnixTimeSeconds(), claims["iat"]!.GetValue<long>());
        Assert.Equal(now.AddMinutes(9).ToUnixTimeSeconds(), claims["exp"]!.GetValue<long>());
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Decode(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }
}
