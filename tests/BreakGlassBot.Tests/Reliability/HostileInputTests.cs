using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using FsCheck;
using FsCheck.Fluent;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// Random, truncated, oversized and malicious input against the parsers and the real signed endpoints:
/// always a 4xx or a clear message, never a 5xx, a crash or a half-stored change.
/// </summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public class HostileInputTests : BotTest
{
    static readonly LinkHosts Hosts = LinkHosts.From("https://github.com", "https://acme.atlassian.net");

    public static int Tried;

    static Config Runs(int n) => Config.QuickThrowOnFailure.WithMaxTest(n);

    [Fact]
    public void ParsersNeverThrowOnArbitraryText()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<string>(), s =>
        {
            Interlocked.Increment(ref Tried);
            SlashCommand.TryParse(s ?? "", out _);
            InteractionPayload.TryParse(s ?? "", out _);
            InteractionPayload.TryParse("payload=" + Uri.EscapeDataString(s ?? ""), out _);
            EventEnvelope.TryParse(s ?? "", out _);
            DeclarationText.Parse(s ?? "", Hosts);
            DeclarationText.ParsePullRequests(s, Hosts);
            DeclarationText.ParseJiraKeys(s, Hosts);
            ChangeId.TryParse(s, out _);
            PullRequestRef.TryParse(s, out _);
            JiraIssueKey.TryParse(s, out _);
            return true;
        }).Check(Runs(2000));
    }

    [Fact]
    public void EveryTruncationOfRealPayloadsIsHandled()
    {
        foreach (var fixture in new[] { "slack/block_actions.json", "slack/view_submission_full.json", "slack/event_message_thread_reply.json", "slack/url_verification.json" })
        {
            var json = Fixtures.Text(fixture);
            for (var cut = 0; cut < json.Length; cut += 3)
            {
                Interlocked.Increment(ref Tried);
                InteractionPayload.TryParse("payload=" + Uri.EscapeDataString(json[..cut]), out _);
                EventEnvelope.TryParse(json[..cut], out _);
            }
        }
        var form = Fixtures.Text("slack/slash_command_docs_weather.form");
        for (var cut = 0; cut <= form.Length; cut++) { Interlocked.Increment(ref Tried); SlashCommand.TryParse(form[..cut], out _); }
    }

    [Fact]
    public void LinkLookalikesAreNotLinked()
    {
        string[] lookalikes =
        [
            "https://github.com.evil.io/acme/api/pull/1x", "https://github.com/acme/api/pull/0", "https://github.com/acme/api/pull/-1",
            "javascript:alert(1)//github.com/a/b/pull/1", "https://github.com/acme/api/pulls/1", "https://github.com/acme/api/pull/99999999999",
            "https://github.com/../../etc/passwd/pull/1", "ftp://github.com/acme/api/pull/1", "https://github.com/acme/api/pull/1/../../x",
        ];
        foreach (var l in lookalikes)
        {
            Interlocked.Increment(ref Tried);
            Assert.False(PullRequestRef.TryParse(l, out var pr) && pr.Number <= 0, l);
            if (PullRequestRef.TryParse(l, out pr)) Assert.Matches(@"^https://[a-z0-9.:-]+/[A-Za-z0-9-]+/[A-Za-z0-9._-]+/pull/\d+$", pr.Url);
        }
        foreach (var k in new[] { "ops-1", "OPS-0", "OPS-01", "1OPS-2", "OPS--2", "O-1", "ABCDEFGHIJK-1", "OPS-1234567890" })
        {
            Interlocked.Increment(ref Tried);
            Assert.False(JiraIssueKey.TryParse(k, out _), k);
        }
    }

    [Fact]
    public async Task RandomSignedBodiesNeverGetA5xxOrStoreAHalfChange()
    {
        var paths = new[] { "/slack/commands", "/slack/interactions", "/slack/events" };
        var types = new[] { "application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data; boundary=x", "" };
        var gen = ArbMap.Default.ArbFor<string>().Generator;
        var samples = gen.Sample(300).ToList();
        samples.AddRange(
        [
            "command=%2Fbreakglass&user_id=U1&text=" + new string('A', 200_000),
            "command=%2Fbreakglass&user_id=U1&text=" + Uri.EscapeDataString("<!channel> <!here> *bold* <https://evil|click> ```") + "+fix",
            "payload=" + Uri.EscapeDataString(new string('[', 100_000)),
            "payload=" + Uri.EscapeDataString("{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"breakglass_approve\",\"value\":\"BG-999999999999\"}]}"),
            "payload=" + Uri.EscapeDataString("{\"type\":\"view_submission\",\"user\":{\"id\":\"U1\"},\"view\":{\"id\":\"V\",\"callback_id\":\"breakglass_declare\"}}"),
            "payload=" + Uri.EscapeDataString("{\"type\":\"view_submission\",\"user\":{\"id\":\"U1\"},\"view\":{\"id\":\"V\",\"callback_id\":\"breakglass_request_changes\",\"private_metadata\":\"BG-1\"}}"),
            "{\"type\":\"event_callback\",\"event_id\":\"E1\",\"event\":{\"type\":\"message\",\"text\":\"lgtm\",\"user\":\"U1\",\"thread_ts\":\"1.1\",\"ts\":\"1.2\",\"channel\":\"C0CHANGES\"}}",
            "{\"type\":\"event_callback\",\"event\":" + new string('{', 5000) + "}",
            "{\"type\":\"url_verification\"}",
        ]);
        foreach (var body in samples)
            foreach (var path in paths)
                foreach (var type in types.Take(2))
                {
                    Interlocked.Increment(ref Tried);
                    var request = SlackSigner.Request(Bot.Url + path, TestBot.SigningSecret, body ?? "", type.Length == 0 ? "text/plain" : type);
                    var response = await Bot.Http.SendAsync(request);
                    Assert.True((int)response.StatusCode < 500, $"{path} {type} answered {(int)response.StatusCode} to {Shorten(body)}");
                    var text = await response.Content.ReadAsStringAsync();
                    Assert.DoesNotContain("   at ", text); // no stack trace
                }
        // Anything stored is whole: a summary, a declarer, a due time and its declaration event.
        for (var i = 1; i <= Bot.Store.Count(); i++)
        {
            var c = Bot.Store.Get(i)!;
            Assert.False(string.IsNullOrWhiteSpace(c.Summary));
            Assert.False(string.IsNullOrWhiteSpace(c.DeclaredBy));
            Assert.True(c.DueAt > c.DeclaredAt);
            Assert.Single(Bot.Store.AuditTrail(i), e => e.Type == AuditTypes.Declared);
        }
    }

    /// <summary>Found by the mutation fuzzer: ids no Slack sends (too long for an index key) failed deep in the store.</summary>
    [Fact]
    public async Task IdsTooLongToComeFromSlackAreA400AndStoreNothing()
    {
        var longId = "U" + new string('A', 2000);
        var command = await Bot.SendSignedAsync("/slack/commands", TestBot.CommandForm("Hotfix checkout", user: longId));
        Assert.Equal(HttpStatusCode.BadRequest, command.StatusCode);
        var envelope = Fixtures.Object("slack/event_message_thread_reply.json");
        envelope["event_id"] = "Ev" + new string('9', 2000);
        var evt = await Bot.EventAsync(envelope);
        Assert.Equal(HttpStatusCode.BadRequest, evt.StatusCode);
        var click = ApprovalClick(longId);
        Assert.Equal(HttpStatusCode.BadRequest, (await Bot.InteractionAsync(click)).StatusCode);
        Assert.Equal(0, Bot.Store.Count());
        Assert.Empty(Bot.Store.PendingInbound());
        Assert.Equal(HttpStatusCode.OK, (await Bot.CommandAsync("Hotfix checkout")).StatusCode); // and a real one still works
        Interlocked.Add(ref Tried, 3);
    }

    static JsonObject ApprovalClick(string user) => Reviewing.ApprovalTests.Click(user, BreakGlassBot.Reviewing.ReviewActions.Approve, "BG-1");

    [Fact]
    public async Task MarkupInASummaryCannotPingOrBreakBlockKit()
    {
        var nasty = "<!channel> <!here|here> <@U123> <#C123> *x* ``` & > < \" ' \u0000 \u202E " + new string('ä', 400);
        var reply = await Bot.CommandJsonAsync("Fix " + nasty);
        Assert.Equal("ephemeral", reply["response_type"]!.GetValue<string>());
        await Eventually.Until(() => Slack.TopLevel(TestBot.Channel).Count == 1, "announced");
        var posted = Slack.TopLevel(TestBot.Channel)[0];
        foreach (var ping in new[] { "<!channel>", "<!here", "<@U123>", "<#C123>" }) Assert.DoesNotContain(ping, posted.AllText);
        Assert.All(posted.Blocks!, b => Assert.True((b!["text"]?["text"]?.GetValue<string>().Length ?? 0) <= Blocks.SectionTextLimit));
        Interlocked.Increment(ref Tried);
    }

    static string Shorten(string? s) => s is null ? "null" : s.Length > 80 ? s[..80] + "…" : s;
}
