using System.Diagnostics;
using System.Net;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Declaring;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>Everything the HTTP bot does, over Socket Mode: the same handlers, their HTTP bodies as the acks' payloads.</summary>
[Trait("Category", "EndToEnd")]
public class SocketModeTests : SocketModeBotTest
{
    const string Pr = "https://github.com/acme/payments/pull/42";

    [Fact]
    public async Task ADeclarationOverTheSocketIsAckedWithTheConfirmationAndAnnouncedAsOverHttp()
    {
        await Socket.LiveAsync(2);
        var clock = Stopwatch.StartNew();
        var envelope = FakeSocketMode.SlashCommand($"Roll back payments deploy {Pr} OPS-7");
        var ack = await Socket.DeliverAsync(envelope);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"acked in {clock.Elapsed}");

        // The ack is the body HTTP mode answers with: the ephemeral confirmation.
        Assert.Equal(envelope["envelope_id"]!.GetValue<string>(), ack["envelope_id"]!.GetValue<string>());
        var payload = ack["payload"]!.AsObject();
        Assert.Equal("ephemeral", payload["response_type"]!.GetValue<string>());
        Assert.Contains("BG-1", payload["text"]!.GetValue<string>());
        Assert.Contains("Roll back payments deploy", payload["text"]!.GetValue<string>());

        var change = Bot.Store.Get(1)!;
        Assert.Equal("Roll back payments deploy", change.Summary);
        Assert.Equal(TestBot.Declarer, change.DeclaredBy);
        Assert.Equal("acme/payments#42", Assert.Single(change.PullRequests).Ref.ToString());
        Assert.Equal("OPS-7", Assert.Single(change.JiraIssues).Key);

        await Bot.Until(() => Bot.Store.Get(1)!.Announcement is not null && Bot.Store.Get(1)!.NextStepAt is null, "announced, details posted");
        var announcement = Assert.Single(Slack.TopLevel(TestBot.Channel));
        Assert.Equal("BG-1", announcement.MetadataChangeId);
        Assert.Contains(Pr, announcement.AllText);
        Assert.Contains("Details of BG-1", Assert.Single(Slack.Thread(TestBot.Channel, announcement.Ts)).Text);
        Assert.Equal([AuditTypes.Declared, AuditTypes.Announced], Bot.Store.AuditTrail(1).Select(e => e.Type));
        // Tracking started as over HTTP: the change is open with its review deadline.
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(1)!.Status);
        Assert.Equal(change.DeclaredAt + TimeSpan.FromDays(2), Bot.Store.Get(1)!.DueAt);
        Assert.Single(Socket.AcksOf(envelope["envelope_id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AUsersMistakeComesBackInTheAckAsOverHttp()
    {
        var ack = await Socket.DeliverAsync(FakeSocketMode.SlashCommand("ab"));
        Assert.Contains("Say what you are changing", ack["payload"]!["text"]!.GetValue<string>());
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task TheSlackEndpointsAreNotThereAndNoSigningSecretIsNeeded()
    {
        await Socket.LiveAsync(2);
        // Signed or not, nothing inbound is taken: the routes do not exist.
        Assert.Equal(HttpStatusCode.NotFound, (await Bot.SendSignedAsync("/slack/commands", TestBot.CommandForm("Restart workers"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Bot.EventAsync(Fixtures.Object("slack/url_verification.json"))).StatusCode);
        Assert.Equal(0, Bot.Store.Count());

        await Socket.DeliverAsync(FakeSocketMode.SlashCommand("Restart workers"));
        var health = await HealthAsync();
        Assert.Equal("configured", health["slack"]!.GetValue<string>());
        Assert.Equal("connected", health["socket_mode"]!["state"]!.GetValue<string>());
        Assert.Equal(2, health["socket_mode"]!["live_connections"]!.GetValue<int>());
        Assert.NotNull(health["socket_mode"]!["last_message_at"]);
        // apps.connections.open took the app token in the header, never the bot token, never as a parameter.
        var open = Slack.CallsTo("apps.connections.open")[0];
        Assert.Equal("Bearer " + FakeSocketMode.AppToken, open.Headers["Authorization"]);
        Assert.DoesNotContain("xapp-", open.Body);
    }

    [Fact]
    public async Task AModalSubmissionWithBadFieldsGetsResponseActionErrorsInTheAck()
    {
        // Constructed: Slack's HTTP view_submission payload in the documented envelope (no valid-JSON official example exists).
        var submission = ModalTests.Submission("V1", summary: "", justification: "", prs: "https://github.com/acme/api/issues/1", jira: "ops 12");
        var ack = await Socket.DeliverAsync(FakeSocketMode.Interactive(submission));
        var payload = ack["payload"]!;
        Assert.Equal("errors", payload["response_action"]!.GetValue<string>());
        Assert.Equal(new HashSet<string> { DeclarationModal.SummaryBlock, DeclarationModal.JustificationBlock, DeclarationModal.PullRequestsBlock, DeclarationModal.JiraBlock },
            payload["errors"]!.AsObject().Select(e => e.Key).ToHashSet());
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task AGoodModalSubmissionDeclaresAndUpdatesTheModal()
    {
        var submission = ModalTests.Submission("V2", "Disable feature flag", "Checkout is failing for all EU users", severity: "SEV1");
        var ack = await Socket.DeliverAsync(FakeSocketMode.Interactive(submission));
        Assert.Equal("update", ack["payload"]!["response_action"]!.GetValue<string>());
        Assert.Contains("BG-1", ack["payload"]!.ToJsonString());
        await Bot.Until(() => Slack.Announcements("BG-1").Count == 1, "announced");
    }

    [Fact]
    public async Task AReviewersLgtmInTheThreadApprovesOnceThoughRedeliveredOnTheOtherSocket()
    {
        var sockets = await Socket.LiveAsync(2);
        var ts = await DeclareAsync();
        var reply = ThreadReplyTests.Reply("Ev0001", ApprovalTests.Reviewer1, "LGTM, thanks for the quick fix", ts);
        var first = FakeSocketMode.Event(reply);
        var ack = await Socket.DeliverAsync(first, sockets[0]);
        Assert.Null(ack["payload"]); // events take a bare ack
        // As if the ack were lost: Slack retries the event in a new envelope, on another socket.
        var retry = FakeSocketMode.Event(reply, retryAttempt: 1);
        await Socket.DeliverAsync(retry, sockets[1]);

        await Bot.Until(() => Bot.Store.Get(1)!.Approvals.Count == 1, "approved");
        await Bot.Until(() => Bot.Store.PendingInbound().Count == 0 && Bot.Store.Get(1)!.NextStepAt is null, "both deliveries handled, thread reply posted");
        var approval = Assert.Single(Bot.Store.Get(1)!.Approvals);
        Assert.Equal("thread-reply", approval.Source);
        Assert.Single(Slack.Thread(TestBot.Channel, ts), m => m.Text.Contains($"approved retrospectively by <@{ApprovalTests.Reviewer1}>"));
    }

    [Fact]
    public async Task AReviewersApproveButtonOverTheSocketApprovesAndAcksAtOnce()
    {
        await Socket.LiveAsync(2);
        var ts = await DeclareAsync();
        // The SDK fixtures' block_actions envelope does not accept a response payload: the ack is bare.
        var click = ApprovalTests.Click(ApprovalTests.Reviewer1, BreakGlassBot.Reviewing.ReviewActions.Approve, "BG-1", responseUrl: Slack.ResponseUrl("a"));
        var ack = await Socket.DeliverAsync(FakeSocketMode.Interactive(click, acceptsResponsePayload: false));
        Assert.Null(ack["payload"]);
        await Bot.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed && Bot.Store.Get(1)!.NextStepAt is null, "reviewed, notes sent");
        Assert.Single(Bot.Store.Get(1)!.Approvals);
        Assert.Single(Slack.Thread(TestBot.Channel, ts), m => m.Text.Contains($"approved retrospectively by <@{ApprovalTests.Reviewer1}>"));
    }

    [Fact]
    public async Task AnEventIsAcknowledgedOnlyOnceItIsSaved()
    {
        await Socket.LiveAsync(2);
        var ts = await DeclareAsync();
        var reply = ThreadReplyTests.Reply("Ev0002", ApprovalTests.Reviewer2, "lgtm", ts);
        var envelope = FakeSocketMode.Event(reply);
        await Socket.SendAsync(envelope);
        await Socket.AckAsync(envelope["envelope_id"]!.GetValue<string>());
        // Read the moment the ack arrived: the event is in the store already (a crash now loses nothing).
        Assert.True(Bot.Store.WasSeen("event:Ev0002"), "the event was saved before its ack was sent");
    }
}
