using System.Net;
using System.Text;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>Forged, stale, malformed and oversized requests: refused before anything is parsed, stored or posted.</summary>
[Trait("Category", "EndToEnd")]
public class RejectionTests : BotTest
{
    string Form => TestBot.CommandForm("Roll back https://github.com/acme/api/pull/1");

    async Task AssertNothingHappened()
    {
        // What the bot accepts is done before it answers (a change, an audit event) or saved for later: Slack events in the
        // inbox, a change's steps in the change. With the inbox drained and no change, nothing is left that could still happen.
        await Bot.Until(() => Bot.Store.PendingInbound().Count == 0, "no Slack event left to handle");
        Assert.Equal(0, Bot.Store.Count());
        Assert.Equal(0, Bot.Store.AuditCount());
        Assert.Empty(Slack.Calls);
    }

    [Fact]
    public async Task AForgedSignatureIs401WithNoSideEffect()
    {
        var response = await Bot.Http.SendAsync(SlackSigner.Request(Bot.Url + "/slack/commands", "wrong-secret", Form));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain("Roll back", await response.Content.ReadAsStringAsync());
        await AssertNothingHappened();
    }

    [Theory]
    [InlineData(-330)] // the exact ±300 s boundary is covered by SlackSignatureTests with a fixed clock
    [InlineData(330)]
    [InlineData(-3600)]
    public async Task StaleOrFutureDatedRequestsAre401(int offsetSeconds)
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + offsetSeconds;
        var response = await Bot.Http.SendAsync(SlackSigner.Request(Bot.Url + "/slack/commands", TestBot.SigningSecret, Form, timestamp: ts));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertNothingHappened();
    }

    [Theory]
    [InlineData("/slack/commands")]
    [InlineData("/slack/interactions")]
    [InlineData("/slack/events")]
    public async Task UnsignedRequestsAre401OnEverySlackEndpoint(string path)
    {
        var response = await Bot.Http.PostAsync(path, new StringContent(Form, Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertNothingHappened();
    }

    [Fact]
    public async Task ABodyChangedAfterSigningIs401()
    {
        var request = SlackSigner.Request(Bot.Url + "/slack/commands", TestBot.SigningSecret, Form);
        request.Content = new StringContent(Form.Replace("Roll+back", "Drop+prod"), Encoding.UTF8, "application/x-www-form-urlencoded");
        Assert.Equal(HttpStatusCode.Unauthorized, (await Bot.Http.SendAsync(request)).StatusCode);
        await AssertNothingHappened();
    }

    [Theory]
    [InlineData("/slack/commands", "text=no+command+or+user")]
    [InlineData("/slack/commands", "%%%")]
    [InlineData("/slack/interactions", "payload=%7Bbroken")]
    [InlineData("/slack/interactions", "nothing=here")]
    [InlineData("/slack/events", "{\"type\":")]
    [InlineData("/slack/events", "[]")]
    public async Task SignedButMalformedBodiesAre400(string path, string body)
    {
        var response = await Bot.SendSignedAsync(path, body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("malformed_request", await response.Content.ReadAsStringAsync());
        await AssertNothingHappened();
    }

    [Fact]
    public async Task OversizedBodiesAre413()
    {
        var body = TestBot.CommandForm(new string('x', 300 * 1024));
        var response = await Bot.SendSignedAsync("/slack/commands", body);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertNothingHappened();
    }

    [Fact]
    public async Task InvalidUtf8InASignedFormIsNotA500()
    {
        var bytes = Encoding.ASCII.GetBytes("command=%2Fbreakglass&user_id=U1&text=").Concat(new byte[] { 0xC3, 0x28, 0xFF }).ToArray();
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var hmac = new System.Security.Cryptography.HMACSHA256(Encoding.UTF8.GetBytes(TestBot.SigningSecret));
        var sig = "v0=" + Convert.ToHexStringLower(hmac.ComputeHash(Encoding.ASCII.GetBytes($"v0:{ts}:").Concat(bytes).ToArray()));
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/slack/commands") { Content = new ByteArrayContent(bytes) };
        request.Headers.Add("X-Slack-Request-Timestamp", ts.ToString());
        request.Headers.Add("X-Slack-Signature", sig);
        var response = await Bot.Http.SendAsync(request);
        Assert.True((int)response.StatusCode < 500, $"got {response.StatusCode}");
    }
}
