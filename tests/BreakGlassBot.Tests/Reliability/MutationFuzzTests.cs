using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;
using Xunit.Abstractions;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// A mutation fuzzer over the real payloads (Slack's slash command, block_actions, view_submission and thread-reply
/// fixtures, GitHub's webhook fixtures), each correctly signed so the mutation reaches the parsers and handlers behind
/// the signature check: bytes flipped, inserted, deleted, duplicated and spliced, invalid UTF-8, deep nesting, huge
/// fields, wrong content types. Every answer must be below 500 and free of stack traces, and afterwards every stored
/// change is whole and the audit chain intact. Seeded: a failure names the seed and iteration that reproduces it.
/// CI runs 1,500 inputs; BGB_FUZZ_ITERATIONS=100000 (and BGB_FUZZ_SEED) runs a long campaign.
/// </summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public class MutationFuzzTests(ITestOutputHelper output) : BotTest
{
    const string WebhookSecret = "fuzz-webhook-secret-0123456789";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1,
        ["GitHub:Token"] = "ghp_fuzz-token-not-used",
        ["GitHub:ApiBaseUrl"] = "http://127.0.0.1:9/", // nothing listens: GitHub steps just retry
        ["GitHub:WebhookSecret"] = WebhookSecret,
    };

    sealed record Seed(string Path, string ContentType, byte[] Body, Func<byte[], HttpRequestMessage> Sign);

    [Fact]
    public async Task MutatedSignedPayloadsNeverGetA5xxAStackTraceOrAHalfStoredChange()
    {
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("BGB_FUZZ_ITERATIONS"), out var n) ? n : 1500;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("BGB_FUZZ_SEED"), out var s) ? s : 20261128;
        // A real change with a thread, so approvals, replies and webhooks about it reach their handlers.
        await Bot.CommandJsonAsync("Hotfix checkout https://github.com/acme/api/pull/1347");
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced");
        var seeds = Seeds(Bot.Store.Get(1)!.Announcement!.Ts);
        var random = new Random(seed);
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < iterations; i++)
        {
            var original = seeds[random.Next(seeds.Count)];
            var body = Mutate(original.Body, random, seeds);
            var request = original.Sign(body);
            if (random.Next(10) == 0) request.Content!.Headers.ContentType = new MediaTypeHeaderValue(random.Next(2) == 0 ? "text/plain" : "application/xml");
            using var response = await Bot.Http.SendAsync(request);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var text = await response.Content.ReadAsStringAsync();
            if (status >= 500)
            {
                var saved = Path.Combine(Path.GetTempPath(), $"bgb-fuzz-{seed}-{i}.bin");
                await File.WriteAllBytesAsync(saved, body);
                Assert.Fail($"seed {seed} iteration {i}: {original.Path} answered {status} to {Show(body)} (saved to {saved})\n"
                    + string.Join("\n", Bot.Logs.Where(l => l.StartsWith("Error") && !l.StartsWith("Error Polly")).TakeLast(3)));
            }
            Assert.DoesNotContain("   at ", text);
        }
        output.WriteLine($"{iterations} mutated signed inputs (seed {seed}): " + string.Join(", ", statuses.OrderBy(k => k.Key).Select(k => $"{k.Key}×{k.Value}")));

        for (var id = 1; id <= Bot.Store.Count(); id++)
        {
            var c = Bot.Store.Get(id)!;
            Assert.False(string.IsNullOrWhiteSpace(c.Summary), $"BG-{id} has no summary");
            Assert.False(string.IsNullOrWhiteSpace(c.DeclaredBy));
            Assert.True(c.DueAt > c.DeclaredAt);
            Assert.Single(Bot.Store.AuditTrail(id), e => e.Type == AuditTypes.Declared);
        }
        Assert.True(Bot.Store.VerifyAuditChain().Intact, Bot.Store.VerifyAuditChain().Describe());
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Bot.Http.GetAsync("/healthz")).StatusCode);
    }

    List<Seed> Seeds(string threadTs)
    {
        var list = new List<Seed>();
        void Slack(string path, string contentType, string body) =>
            list.Add(new Seed(path, contentType, Encoding.UTF8.GetBytes(body), b => SignedForSlack(path, contentType, b)));
        void GitHub(string eventName, string fixture)
        {
            var body = Fixtures.Text(fixture);
            list.Add(new Seed("/github/webhooks " + eventName, "application/json", Encoding.UTF8.GetBytes(body), b => SignedForGitHub(eventName, b)));
        }

        Slack("/slack/commands", "application/x-www-form-urlencoded", TestBot.CommandForm("Roll back deploy https://github.com/acme/api/pull/7 OPS-12"));
        Slack("/slack/commands", "application/x-www-form-urlencoded", TestBot.CommandForm("cancel BG-1 wrong change", ApprovalTests.Reviewer1));
        Slack("/slack/commands", "application/x-www-form-urlencoded", TestBot.CommandForm("status BG-1"));
        Slack("/slack/interactions", "application/x-www-form-urlencoded",
            "payload=" + Uri.EscapeDataString(ApprovalTests.Click(ApprovalTests.Reviewer1, BreakGlassBot.Reviewing.ReviewActions.Approve, "BG-1").ToJsonString()));
        Slack("/slack/interactions", "application/x-www-form-urlencoded", "payload=" + Uri.EscapeDataString(Fixtures.Text("slack/view_submission_full.json")));
        var reply = Fixtures.Object("slack/event_message_thread_reply.json");
        if (reply["event"] is JsonObject e) { e["thread_ts"] = threadTs; e["channel"] = TestBot.Channel; e["text"] = "lgtm"; }
        Slack("/slack/events", "application/json", reply.ToJsonString());
        Slack("/slack/events", "application/json", Fixtures.Text("slack/url_verification.json"));
        GitHub("pull_request_review", "github/webhook_pull_request_review_submitted.json");
        GitHub("pull_request", "github/webhook_pull_request_closed_not_merged.json");
        GitHub("issue_comment", "github/webhook_issue_comment_created.json");
        GitHub("ping", "github/webhook_ping_app.json");
        return list;
    }

    HttpRequestMessage SignedForSlack(string path, string contentType, byte[] body)
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString();
        var basis = Encoding.UTF8.GetBytes($"v0:{ts}:").Concat(body).ToArray();
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.Add("X-Slack-Request-Timestamp", ts);
        request.Headers.Add("X-Slack-Signature", "v0=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(TestBot.SigningSecret), basis)));
        return request;
    }

    HttpRequestMessage SignedForGitHub(string eventName, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/github/webhooks") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-GitHub-Event", eventName);
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookSecret), body)));
        return request;
    }

    static readonly byte[][] Tokens =
    [
        "{"u8.ToArray(), "}"u8.ToArray(), "["u8.ToArray(), "]"u8.ToArray(), "\""u8.ToArray(), ","u8.ToArray(), ":"u8.ToArray(), "null"u8.ToArray(),
        "%"u8.ToArray(), "%ZZ"u8.ToArray(), "&"u8.ToArray(), "="u8.ToArray(), "+"u8.ToArray(), "%00"u8.ToArray(), "\\u0000"u8.ToArray(),
        "<!channel>"u8.ToArray(), "BG-999999999999"u8.ToArray(), "BG-0"u8.ToArray(), "-1"u8.ToArray(), "1e309"u8.ToArray(), "true"u8.ToArray(),
        [0xC3, 0x28], [0xFF, 0xFE], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x91], "\u202E"u8.ToArray(), "👍"u8.ToArray(),
    ];

    static byte[] Mutate(byte[] body, Random random, List<Seed> seeds)
    {
        var bytes = new List<byte>(body);
        var rounds = 1 + random.Next(4);
        for (var r = 0; r < rounds; r++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(9))
            {
                case 0 when bytes.Count > 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1 when bytes.Count > 0: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(32))); break;
                case 2: bytes.InsertRange(at, Tokens[random.Next(Tokens.Length)]); break;
                case 3: bytes.RemoveRange(at, bytes.Count - at); break; // truncation
                case 4 when bytes.Count > 0:
                    var length = Math.Min(bytes.Count - at, 1 + random.Next(64));
                    var copy = bytes.GetRange(at, length);
                    bytes.InsertRange(random.Next(bytes.Count), Enumerable.Repeat(copy, 1 + random.Next(8)).SelectMany(x => x));
                    break;
                case 5:
                    var other = seeds[random.Next(seeds.Count)].Body;
                    var from = random.Next(other.Length);
                    bytes.InsertRange(at, other.Skip(from).Take(1 + random.Next(200)));
                    break;
                case 6: bytes.InsertRange(at, Encoding.UTF8.GetBytes(new string('[', 1 + random.Next(3000)))); break;
                case 7: bytes.InsertRange(at, Encoding.UTF8.GetBytes(new string('A', random.Next(2) == 0 ? 5000 : 300_000))); break;
                default: bytes.Insert(at, (byte)random.Next(256)); break;
            }
        }
        return [.. bytes];
    }

    static string Show(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length > 300 ? text[..300] + $"… ({body.Length} bytes)" : text;
    }
}
