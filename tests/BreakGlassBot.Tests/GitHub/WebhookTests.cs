using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.GitHub;

[Trait("Category", "EndToEnd")]
public class GitHubSignatureTests
{
    // GitHub's documented test vector ("Validating webhook deliveries").
    const string Secret = "It's a Secret to Everybody";
    const string Payload = "Hello, World!";
    const string Expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    [Fact]
    public void GitHubsDocumentedTestVectorVerifies() =>
        Assert.True(GitHubSignature.Verify(Secret, Expected, Encoding.UTF8.GetBytes(Payload)));

    [Theory]
    [InlineData("It's a Secret to Everybody!", Expected, Payload)]
    [InlineData(Secret, Expected, "Hello, World?")]
    [InlineData(Secret, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", Payload)]
    [InlineData(Secret, "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", Payload)]
    [InlineData(Secret, "sha256=not-hex", Payload)]
    [InlineData(Secret, "sha256=757107ea", Payload)]
    [InlineData(Secret, "", Payload)]
    public void AnythingElseDoesNot(string secret, string header, string payload) =>
        Assert.False(GitHubSignature.Verify(secret, header, Encoding.UTF8.GetBytes(payload)));
}

sealed class RecordingReevaluation : IReevaluation
{
    public ConcurrentQueue<int> Asked { get; } = new();
    public void Reevaluate(int changeId) => Asked.Enqueue(changeId);
}

/// <summary>POST /github/webhooks with GitHub's own payload examples (octokit/webhooks), signed or not.</summary>
[Trait("Category", "EndToEnd")]
public class WebhookTests : GitHubBotTest
{
    const string Secret = "webhook-secret-for-tests";
    const string HelloWorld = "https://github.com/Codertocat/Hello-World/pull/2";
    readonly RecordingReevaluation reevaluation = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["GitHub:WebhookSecret"] = Secret };
    protected override void Configure(WebApplicationBuilder builder) => builder.Services.AddSingleton<IReevaluation>(reevaluation);

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        GitHub.AddPr("Codertocat", "Hello-World", 2, p => p.AuthorLogin = "Codertocat");
        await Bot.CommandJsonAsync($"Links the webhook PR {HelloWorld}");          // BG-1
        await Bot.CommandJsonAsync($"Links another PR {PrUrl}");                   // BG-2
        await Bot.CommandJsonAsync($"Also the webhook PR https://github.com/codertocat/hello-world/pull/2"); // BG-3, same PR in another case
        await WaitUntil(() => StepsSettled(1) && StepsSettled(2) && StepsSettled(3), "declared and linked");
    }

    Task<HttpResponseMessage> PostAsync(string @event, string body, string? signature = null, string? secret = Secret, string? delivery = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/github/webhooks") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-GitHub-Event", @event);
        request.Headers.Add("X-GitHub-Delivery", delivery ?? Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", signature ?? Sign(secret!, body));
        return Bot.Http.SendAsync(request);
    }

    /// <summary>Found by the mutation fuzzer: a signed body whose parts have the wrong shape answered 500.</summary>
    [Theory]
    [InlineData("pull_request_review", "[]", false)]
    [InlineData("pull_request_review", "\"text\"", false)]
    [InlineData("pull_request_review", "{\"action\":\"submitted\",\"pull_request\":[1],\"repository\":{\"full_name\":\"Codertocat/Hello-World\"}}", false)]
    [InlineData("pull_request_review", "{\"action\":\"submitted\",\"pull_request\":{\"number\":\"2\"},\"repository\":{\"full_name\":\"Codertocat/Hello-World\"}}", false)]
    [InlineData("pull_request_review", "{\"action\":\"submitted\",\"pull_request\":{\"number\":2},\"repository\":[\"Codertocat/Hello-World\"]}", false)]
    [InlineData("pull_request", "{\"action\":\"closed\",\"pull_request\":{\"number\":2,\"merged\":true,\"merged_at\":7,\"head\":[]},\"repository\":{\"full_name\":\"Codertocat/Hello-World\"},\"sender\":\"x\"}", true)]
    public async Task ASignedPayloadOfTheWrongShapeIsNotOneOfOursAndNeverA5xx(string @event, string body, bool namesALinkedPr)
    {
        var response = await PostAsync(@event, body);
        Assert.True((int)response.StatusCode < 500, $"answered {(int)response.StatusCode}");
        Assert.Equal(namesALinkedPr, !reevaluation.Asked.IsEmpty);
    }

    [Fact]
    public async Task ASignedPayloadWithInvalidUtf8InAStringIsA400()
    {
        var body = Encoding.UTF8.GetBytes(Fixtures.Text("github/webhook_pull_request_review_submitted.json"));
        var text = Encoding.UTF8.GetString(body);
        Assert.Equal(text.Length, body.Length); // ASCII: string and byte offsets agree
        body[text.LastIndexOf("\"Codertocat/Hello-World\"", StringComparison.Ordinal) + 1] = 0xFB; // the repository's full_name
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/github/webhooks") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-GitHub-Event", "pull_request_review");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), body)));
        var response = await Bot.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("malformed_payload", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ARedeliveryWithTheSameDeliveryIdIsHandledOnce()
    {
        var body = Fixtures.Text("github/webhook_pull_request_review_submitted.json");
        var delivery = Guid.NewGuid().ToString();
        var first = await PostAsync("pull_request_review", body, delivery: delivery);
        var asked = reevaluation.Asked.Count;
        var again = await PostAsync("pull_request_review", body, delivery: delivery);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Contains("\"duplicate\":true", await again.Content.ReadAsStringAsync());
        Assert.DoesNotContain("duplicate", await first.Content.ReadAsStringAsync());
        Assert.Equal(asked, reevaluation.Asked.Count);
        // A new delivery of the same event is new work.
        await PostAsync("pull_request_review", body);
        Assert.True(reevaluation.Asked.Count > asked);
    }

    [Fact]
    public async Task AnOversizedBodyIsRefusedOverHttpWhetherSignedOrNot()
    {
        var big = new string(' ', 26 * 1024 * 1024);
        var unsigned = await PostAsync("pull_request", big, signature: "");
        var forged = await PostAsync("pull_request", big, signature: "sha256=" + new string('0', 64));
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, forged.StatusCode);
        Assert.Empty(reevaluation.Asked);
    }

    /// <summary>A body that sends a little, then waits until the test lets it finish.</summary>
    sealed class TrickleContent(TaskCompletionSource release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes("{\"action\":"));
            await stream.FlushAsync();
            await release.Task;
            await stream.WriteAsync(Encoding.UTF8.GetBytes("\"submitted\"}"));
        }

        protected override bool TryComputeLength(out long length) { length = 0; return false; }
    }

    [Fact]
    public async Task OnlyAFewUnverifiedBodiesAreHeldAtOnce()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = Enumerable.Range(0, BreakGlassBot.GitHub.WebhookReadGate.Concurrent).Select(_ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/github/webhooks") { Content = new TrickleContent(release) };
            request.Headers.Add("X-GitHub-Event", "pull_request_review");
            request.Headers.Add("X-Hub-Signature-256", "sha256=" + new string('0', 64));
            return Bot.Http.SendAsync(request);
        }).ToList();
        await Bot.Until(() => Bot.Service<BreakGlassBot.GitHub.WebhookReadGate>().Reads.CurrentCount == 0, "the slow bodies hold every read");
        var turnedAway = await PostAsync("pull_request_review", Fixtures.Text("github/webhook_pull_request_review_submitted.json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, turnedAway.StatusCode);
        Assert.Contains("busy", await turnedAway.Content.ReadAsStringAsync());

        release.SetResult();
        Assert.All(await Task.WhenAll(slow), r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        var genuine = await PostAsync("pull_request_review", Fixtures.Text("github/webhook_pull_request_review_submitted.json"));
        Assert.Equal(HttpStatusCode.OK, genuine.StatusCode);
    }

    static string Sign(string secret, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    static string MergedClose()
    {
        var payload = Fixtures.Object("github/webhook_pull_request_closed_not_merged.json");
        payload["pull_request"]!["merged"] = true;
        payload["pull_request"]!["merged_at"] = "2019-05-15T15:20:33Z";
        payload["pull_request"]!["merge_commit_sha"] = "c4295bd74fb0f4fda03689c3df3f2803b658fd85";
        return payload.ToJsonString();
    }

    [Fact]
    public async Task AReviewSubmittedReevaluatesEveryOpenChangeLinkingThatPullRequest()
    {
        var response = await PostAsync("pull_request_review", Fixtures.Text("github/webhook_pull_request_review_submitted.json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([1, 3], reevaluation.Asked.Order().ToArray());
        Assert.Contains("BG-1", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ADismissedReviewIsMatchedByRepositoryAndNumberNotByItsHtmlUrl()
    {
        // GitHub's example: html_url points at hellomouse/GNS#902, the repository is Codertocat/Hello-World, number 2.
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("pull_request_review", Fixtures.Text("github/webhook_pull_request_review_dismissed.json"))).StatusCode);
        Assert.Equal([1, 3], reevaluation.Asked.Order().ToArray());
    }

    [Fact]
    public async Task AMergedCloseRecordsTheMergeAndReevaluates()
    {
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("pull_request", MergedClose())).StatusCode);
        var pr = Change(1).PullRequests.Single();
        Assert.True(pr.Merged);
        Assert.Equal(new DateTimeOffset(2019, 5, 15, 15, 20, 33, TimeSpan.Zero), pr.MergedAt);
        var merged = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.PullRequestMerged);
        Assert.Equal(("webhook", "c4295bd74fb0f4fda03689c3df3f2803b658fd85", "github:Codertocat"), (merged.Data["source"], merged.Data["merge_commit_sha"], merged.Actor));
        Assert.False(Change(2).PullRequests.Single().Merged);
        Assert.Equal([1, 3], reevaluation.Asked.Order().ToArray());

        // Delivered twice: recorded once.
        await PostAsync("pull_request", MergedClose());
        Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.PullRequestMerged);
    }

    [Fact]
    public async Task AClosedButNotMergedPullRequestIsNotRecordedAsMerged()
    {
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("pull_request", Fixtures.Text("github/webhook_pull_request_closed_not_merged.json"))).StatusCode);
        Assert.False(Change(1).PullRequests.Single().Merged);
        Assert.Equal([1, 3], reevaluation.Asked.Order().ToArray());
    }

    [Fact]
    public async Task ABadSignatureIs401AndChangesNothing()
    {
        var auditBefore = Bot.Store.AuditCount();
        var body = MergedClose();
        var wrongSecret = await PostAsync("pull_request", body, secret: "not-the-secret");
        var tampered = await PostAsync("pull_request", body, signature: Sign(Secret, body.Replace("Hello-World", "Hello-Worle")));
        var missing = await PostAsync("pull_request", body, signature: "");
        Assert.All([wrongSecret, tampered, missing], r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        Assert.Empty(reevaluation.Asked);
        Assert.False(Change(1).PullRequests.Single().Merged);
        Assert.Equal(auditBefore, Bot.Store.AuditCount());
        Assert.Contains(Bot.Logs, l => l.Contains("GitHub webhook") && l.Contains("rejected"));
        Assert.DoesNotContain(Bot.Logs, l => l.Contains(Sign("not-the-secret", body)[7..]));
    }

    [Fact]
    public async Task PingsAndOtherEventsAreAcknowledgedAndIgnored()
    {
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("ping", Fixtures.Text("github/webhook_ping_app.json"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("issue_comment", Fixtures.Text("github/webhook_issue_comment_created.json"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("status", Fixtures.Text("github/webhook_status.json"))).StatusCode);
        Assert.Empty(reevaluation.Asked);
    }

    [Fact]
    public async Task CancelledChangesAreNotReevaluated()
    {
        await Bot.CommandJsonAsync("cancel BG-3 declared twice");
        await PostAsync("pull_request_review", Fixtures.Text("github/webhook_pull_request_review_submitted.json"));
        Assert.Equal([1], reevaluation.Asked.ToArray());
    }
}

[Trait("Category", "EndToEnd")]
public class WebhookWithoutSecretTests : GitHubBotTest
{
    [Fact]
    public async Task WithoutAWebhookSecretTheEndpointAnswers503()
    {
        var body = Fixtures.Text("github/webhook_ping_app.json");
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/github/webhooks") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-GitHub-Event", "ping");
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(""u8, Encoding.UTF8.GetBytes(body))));
        var response = await Bot.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("GitHub:WebhookSecret", await response.Content.ReadAsStringAsync());
        // The GitHub module's no-op default must not shadow the deadline tracker.
        Assert.IsType<BreakGlassBot.Deadlines.ReviewTracker>(Bot.Service<IReevaluation>());
    }
}
