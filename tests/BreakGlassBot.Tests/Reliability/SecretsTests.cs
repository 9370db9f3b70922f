using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Jira;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>No configured secret ever reaches a log line: a full flow with every integration on, and failures on the way.</summary>
[Collection(SerialCollection.Name)]
[Trait("Category", "EndToEnd")]
public class SecretsTests : IAsyncLifetime
{
    const string Reviewer = "U0REV1";
    const string EvidenceKey = "evidence-api-key-7f3c9a1e5b";
    const string WebhookSecret = "github-webhook-secret-4d2e8b";
    readonly FakeSlack slack = new();
    readonly FakeGitHub github = new();
    readonly FakeJira jira = new();

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        await github.StartAsync();
        await jira.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await jira.DisposeAsync();
        await github.DisposeAsync();
        await slack.DisposeAsync();
    }

    static IEnumerable<(string Name, string Value)> Secrets() =>
    [
        ("Slack signing secret", TestBot.SigningSecret),
        ("Slack bot token", FakeSlack.BotToken),
        ("GitHub token", FakeGitHub.Token + "_"), // "ghp_test" alone is a prefix of ordinary words; see below
        ("Jira API token", FakeJira.ApiToken),
        ("Jira basic credentials", FakeJira.BasicAuth["Basic ".Length..]),
        ("Jira personal access token", FakeJira.Pat),
        ("Evidence API key", EvidenceKey),
        ("GitHub webhook secret", WebhookSecret),
    ];

    [Fact]
    public async Task AFullFlowWithFailuresLogsNoSecret()
    {
        github.AddPr("acme", "api", 1347);
        jira.Add("OPS-7");
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:Token"] = FakeGitHub.Token,
            ["GitHub:ApiBaseUrl"] = github.ApiUrl,
            ["GitHub:WebhookSecret"] = WebhookSecret,
            ["Jira:BaseUrl"] = jira.Url,
            ["Jira:Email"] = FakeJira.Email,
            ["Jira:ApiToken"] = FakeJira.ApiToken,
            ["Evidence:ApiKeys:0"] = EvidenceKey,
            ["Slack:Reviewers:0"] = Reviewer,
            [$"People:{Reviewer}:GitHub"] = "rev-gh", // known on GitHub, so the approval counts and is mirrored
            ["Policy:ReviewWindow"] = "00:00:20",
            ["Policy:ReminderInterval"] = "00:00:01",
        };
        // Failures on the way: Slack answers 500 once and rate-limits once, GitHub and Jira refuse once each.
        slack.Fail("chat.postMessage", new Fault.Status(500));
        slack.Fail("chat.postMessage", FakeSlack.RateLimited(1));
        github.Fail("GET pull", new Fault.Status(502));
        jira.Fail(FakeJira.GetIssue, new Fault.Status(401, "{\"errorMessages\":[\"Client must be authenticated\"]}"));

        await using var bot = await TestBot.StartAsync(slack, settings: settings);
        await bot.CommandJsonAsync($"Fix it {GitHubBotTest.PrUrl} OPS-7");
        await Eventually.Until(() => bot.Store.Get(1)?.Announcement is not null, "announced despite the failures");
        await Eventually.Until(() => slack.DirectMessages(Reviewer).Count >= 1, "the reviewer reminded");

        // The reviewer approves with the button, over the signed endpoint.
        var approve = new JsonObject
        {
            ["type"] = "block_actions",
            ["user"] = new JsonObject { ["id"] = Reviewer, ["name"] = "rev" },
            ["team"] = new JsonObject { ["id"] = "T0001" },
            ["trigger_id"] = "1.2.3",
            ["response_url"] = slack.ResponseUrl(),
            ["channel"] = new JsonObject { ["id"] = TestBot.Channel },
            ["actions"] = new JsonArray(new JsonObject { ["action_id"] = "breakglass_approve", ["value"] = "BG-1", ["type"] = "button" }),
        };
        await bot.InteractionAsync(approve);
        await Eventually.Until(() => bot.Store.Get(1)!.Approvals.Count == 1, "approved");
        // A bad signature and a bad evidence key: the rejections are logged, the secrets they were checked against are not.
        await bot.Http.SendAsync(SlackSigner.Request(bot.Url + "/slack/commands", "wrong-secret", TestBot.CommandForm("x")));
        using (var bad = new HttpRequestMessage(HttpMethod.Get, "/evidence/BG-1")) { bad.Headers.Add("Authorization", "Bearer not-" + EvidenceKey[..6]); await bot.Http.SendAsync(bad); }
        await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null || bot.Store.Get(1)!.Status != ChangeStatus.Open, "steps settled");

        var logs = bot.Logs.ToList();
        // The scan proves something only if the failures and rejections were logged at all.
        Assert.True(logs.Count >= 10, $"only {logs.Count} log lines captured: the scan would prove nothing");
        Assert.Contains(logs, l => l.StartsWith("Warning") || l.StartsWith("Error"));
        foreach (var (name, value) in Secrets())
        {
            var leaked = logs.FirstOrDefault(l => l.Contains(value, StringComparison.Ordinal)
                || l.Contains(Convert.ToBase64String(Encoding.UTF8.GetBytes(value)), StringComparison.Ordinal));
            Assert.True(leaked is null, $"The {name} appears in a log line: {leaked}");
        }
        // The GitHub token as a whole word (it is short: look for it delimited).
        Assert.DoesNotContain(logs, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"(?<![\w-]){FakeGitHub.Token}(?![\w-])"));
    }
}
