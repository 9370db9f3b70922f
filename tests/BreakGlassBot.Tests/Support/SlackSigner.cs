using System.Security.Cryptography;
using System.Text;

namespace BreakGlassBot.Tests.Support;

/// <summary>Signs requests the way Slack does, written independently of the bot's verifier.</summary>
public static class SlackSigner
{
    public static string Sign(string secret, long timestamp, string body)
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        var mac = hmac.ComputeHash(Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}"));
        return "v0=" + Convert.ToHexString(mac).ToLowerInvariant();
    }

    public static HttpRequestMessage Request(string url, string secret, string body, string contentType = "application/x-www-form-urlencoded",
        long? timestamp = null, string? signature = null)
    {
        var ts = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        request.Headers.Add("X-Slack-Request-Timestamp", ts.ToString());
        request.Headers.Add("X-Slack-Signature", signature ?? Sign(secret, ts, body));
        return request;
    }
}
