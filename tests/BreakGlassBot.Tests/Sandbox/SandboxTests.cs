using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Sandbox;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Tests.Sandbox;

/// <summary>The sandbox without a browser: when it runs, where it listens, what it signs, and the real request path behind the page's API.</summary>
[Trait("Category", "EndToEnd")]
public sealed class SandboxTests
{
    const string Reviewer = SandboxPeople.Reviewer1;

    [Fact]
    public void RequestsTheSandboxSignsVerifyWithTheBotsVerifierAndNotWhenTampered()
    {
        const string secret = "sandbox-secret-0123456789abcdef";
        const string body = "token=x&command=%2Fbreakglass&text=Roll+back";
        var now = DateTimeOffset.UtcNow;
        var signature = SandboxDriver.Sign(secret, now.ToUnixTimeSeconds(), body);

        Assert.Equal(SlackSigner.Sign(secret, now.ToUnixTimeSeconds(), body), signature); // the tests' independent signer agrees
        var key = Encoding.UTF8.GetBytes(secret);
        var ts = now.ToUnixTimeSeconds().ToString();
        Assert.Equal(SignatureCheck.Valid, SlackSignature.Verify(key, ts, signature, Encoding.UTF8.GetBytes(body), now, TimeSpan.FromMinutes(5)));
        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify(key, ts, signature, Encoding.UTF8.GetBytes(body + "x"), now, TimeSpan.FromMinutes(5)));
        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify("other"u8, ts, signature, Encoding.UTF8.GetBytes(body), now, TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData(true, false, true, null, true)]      // asked for: runs even in Production, even with credentials
    [InlineData(false, false, false, null, false)]   // Production without the flag: never
    [InlineData(false, false, false, "true", false)] // ... not even when a configuration key asks for it
    [InlineData(false, true, false, null, true)]     // Development without Slack credentials: the default
    [InlineData(false, true, true, null, false)]     // Development with credentials: the real bot
    [InlineData(false, true, false, "false", false)] // Development, opted out
    public void SandboxRunsOnlyWhenAskedOrInDevelopmentWithoutSlackCredentials(bool flag, bool development, bool credentials, string? enabled, bool runs) =>
        Assert.Equal(runs, SandboxMode.Reason(flag, development, credentials, enabled) is not null);

    [Fact]
    public async Task WithoutTheFlagInProductionThereIsNoSandboxAndSlackStaysUnconfigured()
    {
        var dir = TestBot.NewDataDirectory();
        var app = Program.Create(["--urls=http://127.0.0.1:0", $"--Storage:DataDirectory={dir}", "--Sandbox:Enabled=true"]);
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(Address(app)) };
            Assert.Null(app.Services.GetService<SandboxContext>());
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/sandbox")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/sandbox/slack/api/auth.test", null)).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.PostAsync("/slack/commands", new StringContent("command=/breakglass"))).StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task InDevelopmentWithoutSlackCredentialsTheSandboxIsTheDefault()
    {
        var dir = TestBot.NewDataDirectory();
        var app = Program.Create(["--environment=Development", "--Sandbox:Port=0", $"--Sandbox:DataDirectory={dir}"]);
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(Address(app)) };
            var page = await http.GetAsync("/sandbox");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("SANDBOX — not connected to Slack", await page.Content.ReadAsStringAsync());
            // The browser may load nothing but this server's own files.
            Assert.StartsWith("default-src 'none'; script-src 'self'; style-src 'self';", page.Headers.GetValues("Content-Security-Policy").Single());
            using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = http.BaseAddress };
            Assert.Equal("/sandbox", (await noRedirects.GetAsync("/")).Headers.Location?.ToString());
            Assert.Equal("Development without Slack credentials", app.Services.GetRequiredService<SandboxContext>().Reason);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task SandboxListensOnLoopbackOnlyEvenWhenAskedForEveryInterface()
    {
        await using var bot = await SandboxBot.StartAsync("--urls=http://0.0.0.0:0");
        var addresses = bot.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Assert.NotEmpty(addresses);
        Assert.All(addresses, a => Assert.StartsWith("http://127.0.0.1:", a));
    }

    [Fact]
    public void SandboxRefusesToStartWithKestrelEndpointsThatCouldListenElsewhere()
    {
        var e = Assert.Throws<BotConfigurationException>(() =>
            Program.Create(["--sandbox", "--Sandbox:Port=0", $"--Sandbox:DataDirectory={TestBot.NewDataDirectory()}", "--Kestrel:Endpoints:Http:Url=http://0.0.0.0:0"]));
        Assert.Contains(e.Errors, x => x.StartsWith("Kestrel:Endpoints", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("192.168.1.20", "127.0.0.1:5080", false)] // another machine
    [InlineData("127.0.0.1", "sandbox.attacker.example", false)] // a page elsewhere, through DNS rebinding
    [InlineData(null, "127.0.0.1:5080", false)]
    [InlineData("127.0.0.1", "127.0.0.1:5080", true)]
    [InlineData("::1", "localhost:5080", true)]
    public void OnlyThisMachineMayUseTheSandbox(string? remote, string host, bool allowed)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = remote is null ? null : IPAddress.Parse(remote);
        http.Request.Host = HostString.FromUriComponent(host);
        Assert.Equal(allowed, SandboxGuard.Allows(http));
    }

    [Fact]
    public async Task SandboxReplacesRealSlackJiraGitHubAndStorageSettingsAndLeavesRealDataAlone()
    {
        var real = TestBot.NewDataDirectory();
        await using var bot = await SandboxBot.StartAsync(
            "--Slack:SigningSecret=real-secret", "--Slack:BotToken=xoxb-real-token", "--Slack:ApiBaseUrl=https://slack.com/api/",
            "--Slack:Reviewers:0=UREALREVIEWER", "--Slack:Reviewers:1=U2", "--Slack:Reviewers:2=U3", "--Slack:Declarers:0=UONLYME",
            "--Jira:BaseUrl=https://acme.atlassian.net", "--Jira:Email=real@acme.example", "--Jira:ApiToken=real-jira-token",
            "--GitHub:Token=ghp_real", "--GitHub:ApiBaseUrl=https://api.github.com/", "--GitHub:WebhookSecret=real-hook", "--GitHub:BypassMode=Team",
            "--GitHub:BypassTeam=acme/admins", $"--Storage:DataDirectory={real}", "--Storage:Hangfire=PostgreSql", "--Storage:ConnectionString=Host=db.acme.example");
        var slack = bot.App.Services.GetRequiredService<IOptions<SlackOptions>>().Value;
        var jira = bot.App.Services.GetRequiredService<IOptions<JiraOptions>>().Value;
        var storage = bot.App.Services.GetRequiredService<IOptions<StorageOptions>>().Value;

        Assert.StartsWith(bot.Url + "/sandbox/", slack.ApiBaseUrl);
        Assert.StartsWith(bot.Url + "/sandbox/", jira.BaseUrl);
        Assert.NotEqual("xoxb-real-token", slack.BotToken);
        Assert.NotEqual("real-secret", slack.SigningSecret);
        Assert.NotEqual("real-jira-token", jira.ApiToken);
        Assert.Equal([SandboxPeople.Reviewer1, SandboxPeople.Reviewer2], slack.Reviewers);
        Assert.Empty(slack.Declarers);
        var github = bot.App.Services.GetRequiredService<IOptions<GitHubOptions>>().Value;
        Assert.StartsWith(bot.Url + "/sandbox/", github.ApiBaseUrl);
        Assert.True(github.IsConfigured);
        Assert.NotEqual("ghp_real", github.Token);
        Assert.Equal(BypassMode.RecordOnly, github.BypassMode);
        Assert.Equal((bot.DataDirectory, HangfireStorageKind.Sqlite), (storage.ResolvedDataDirectory, storage.Hangfire));
        Assert.False(Directory.Exists(real));
        // The stand-in GitHub signs its webhooks with a secret made up at start, never the real one.
        Assert.False(string.IsNullOrEmpty(github.WebhookSecret));
        Assert.NotEqual("real-hook", github.WebhookSecret);
        Assert.Equal(["acme/payments"], github.Repositories);
        Assert.DoesNotContain(bot.Logs, l => l.Contains(slack.BotToken!, StringComparison.Ordinal) || l.Contains(slack.SigningSecret!, StringComparison.Ordinal)
            || l.Contains(github.Token!, StringComparison.Ordinal) || l.Contains(github.WebhookSecret!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheFlagDoesNotSwallowTheArgumentAfterIt()
    {
        var dir = TestBot.NewDataDirectory();
        var app = Program.Create(["--sandbox", $"--Sandbox:DataDirectory={dir}", "--fast", "--Sandbox:Port=0"]);
        try
        {
            var context = app.Services.GetRequiredService<SandboxContext>();
            Assert.Equal(dir, context.DataDirectory);
            Assert.True(context.FastClock);
            Assert.Equal(TimeSpan.FromSeconds(90), app.Services.GetRequiredService<IOptions<PolicyOptions>>().Value.ReviewWindow);
        }
        finally
        {
            await app.DisposeAsync();
            try { Directory.Delete(dir, true); } catch (DirectoryNotFoundException) { }
        }
    }

    [Fact]
    public async Task TheStandInSlackAnswersOnlyTheSandboxBotToken()
    {
        await using var bot = await SandboxBot.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/sandbox/slack/api/chat.postMessage")
        {
            Content = JsonContent.Create(new { channel = SandboxPeople.Channel, text = "hello" }),
        };
        request.Headers.Authorization = new("Bearer", "xoxb-guessed");
        var reply = JsonNode.Parse(await (await bot.Http.SendAsync(request)).Content.ReadAsStringAsync())!;
        Assert.Equal((false, "invalid_auth"), (reply["ok"]!.GetValue<bool>(), reply["error"]!.GetValue<string>()));
        Assert.Empty(bot.State.Read(v => v.Messages.ToList()));
    }

    [Fact]
    public async Task ARequestWithoutTheSandboxSignatureIsRefusedByTheBot()
    {
        await using var bot = await SandboxBot.StartAsync();
        var response = await bot.Http.SendAsync(SlackSigner.Request(bot.Url + "/slack/commands", "not-the-sandbox-secret",
            TestBot.CommandForm("Roll back payments deploy", SandboxPeople.Declarer)));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(bot.Store.OpenChanges());
    }

    [Fact]
    public async Task TypedTextReachesTheBotEscapedAsSlackSendsItAndIsStoredAsTyped()
    {
        await using var bot = await SandboxBot.StartAsync();
        await PostAsync(bot, "message", new { user = SandboxPeople.Declarer, channel = SandboxPeople.Channel, text = "/breakglass Fix A&B <script> rollout" });
        await Eventually.Until(() => bot.Store.Get(1)?.Announcement is not null, "BG-1 announced");
        Assert.Equal("Fix A&B <script> rollout", bot.Store.Get(1)!.Summary);
    }

    [Fact]
    public async Task EvidenceMadeInTheSandboxSaysSoOnThePageAndInTheData()
    {
        await using var bot = await SandboxBot.StartAsync("--Evidence:ApiKeys:0=sandbox-evidence-key");
        await PostAsync(bot, "message", new { user = SandboxPeople.Declarer, channel = SandboxPeople.Channel, text = "/breakglass Disable the broken fraud rule" });
        await Eventually.Until(() => bot.Store.Get(1)?.Announcement is not null, "BG-1 announced");
        HttpRequestMessage Get(string path) => new(HttpMethod.Get, path) { Headers = { Authorization = new("Bearer", "sandbox-evidence-key") } };

        var html = await (await bot.Http.SendAsync(Get("/evidence/BG-1?format=html"))).Content.ReadAsStringAsync();
        Assert.Contains("id=\"sandbox-banner\"", html);
        Assert.Contains("not evidence of a real change", html);
        var packet = JsonNode.Parse(await (await bot.Http.SendAsync(Get("/evidence/BG-1"))).Content.ReadAsStringAsync())!;
        Assert.True(packet["sandbox"]!.GetValue<bool>());
        var export = JsonNode.Parse(await (await bot.Http.SendAsync(Get($"/evidence?from={DateTime.UtcNow.AddDays(-1):yyyy-MM-dd}&to={DateTime.UtcNow.AddDays(1):yyyy-MM-dd}")))
            .Content.ReadAsStringAsync())!;
        Assert.True(export["sandbox"]!.GetValue<bool>());
        Assert.Equal(1, export["summary"]!["changes"]!.GetValue<int>());
    }

    [Fact]
    public async Task ThePagesApiTakesTheRealPathDeclareThenAThreadReplyFromAReviewerApproves()
    {
        await using var bot = await SandboxBot.StartAsync();
        await PostAsync(bot, "message", new { user = SandboxPeople.Declarer, channel = SandboxPeople.Channel, text = "/breakglass Disable the broken fraud rule" });
        await Eventually.Until(() => bot.Store.Get(1)?.Announcement is not null, "BG-1 announced");
        var announcement = bot.Store.Get(1)!.Announcement!;
        Assert.NotNull(bot.State.Read(v => v.Find(announcement.Channel, announcement.Ts)));

        // The declarer's own "lgtm" does not count; a reviewer's does (the bot hears both as Events API message events).
        await PostAsync(bot, "message", new { user = SandboxPeople.Declarer, channel = SandboxPeople.Channel, threadTs = announcement.Ts, text = "lgtm" });
        await PostAsync(bot, "message", new { user = Reviewer, channel = SandboxPeople.Channel, threadTs = announcement.Ts, text = "LGTM, thanks" });
        await Eventually.Until(() => bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "BG-1 reviewed");

        var change = bot.Store.Get(1)!;
        Assert.Equal([(Reviewer, "thread-reply")], change.Approvals.Select(a => (a.Reviewer, a.Source)));
        await Eventually.Until(() => bot.State.Read(v => v.Messages.Any(m => m.ThreadTs == announcement.Ts && m.Text.Contains("is reviewed", StringComparison.Ordinal))),
            "the reviewed note in the thread");
        var wire = bot.State.Read(v => v.WireLog.Select(w => w.What).ToList());
        Assert.Contains(wire, w => w.StartsWith("POST /slack/commands", StringComparison.Ordinal) && w.Contains("→ 200", StringComparison.Ordinal));
        Assert.Contains(wire, w => w.StartsWith("POST /slack/events", StringComparison.Ordinal) && w.Contains("→ 200", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheStandInGitHubAnswersOnlyTheSandboxToken()
    {
        await using var bot = await SandboxBot.StartAsync();
        using var guessed = new HttpRequestMessage(HttpMethod.Get, "/sandbox/github/api/repos/acme/payments/pulls/42");
        guessed.Headers.Authorization = new("token", "ghp_guessed");
        var refused = await bot.Http.SendAsync(guessed);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Bad credentials", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["message"]!.GetValue<string>());

        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/sandbox/github/api/repos/acme/payments/pulls/42");
        bearer.Headers.Authorization = new("Bearer", bot.Context.GitHubToken);
        var pr = JsonNode.Parse(await (await bot.Http.SendAsync(bearer)).Content.ReadAsStringAsync())!;
        Assert.Equal((42, "open", SandboxPeople.GitHubAuthor), (pr["number"]!.GetValue<int>(), pr["state"]!.GetValue<string>(), pr["user"]!["login"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ALinkedPullRequestIsLabelledAndCommentedThroughTheRealGitHubClientAndCountsOnlyOnceApprovedThereAndInSlack()
    {
        await using var bot = await SandboxBot.StartAsync();
        const string url = "https://github.com/acme/payments/pull/42";
        await PostAsync(bot, "message", new { user = SandboxPeople.Declarer, channel = SandboxPeople.Channel, text = "/breakglass Revert the payments deploy " + url });
        await Eventually.Until(() => bot.Store.Get(1)?.Announcement is not null, "BG-1 announced");
        Assert.Equal(["acme/payments#42"], bot.Store.Get(1)!.PullRequests.Select(p => p.Ref.ToString()));

        // The bot's own GitHub client reads the PR, labels it and comments once, against the stand-in.
        await Eventually.Until(() => bot.State.Read(v => v.PullRequests[0].Labels.Contains("break-glass") && v.PullRequests[0].Comments.Count == 1),
            "the label and the comment on acme/payments#42");
        var comment = bot.State.Read(v => v.PullRequests[0].Comments[0]);
        Assert.Contains("<!-- breakglass:BG-1 -->", comment.Body, StringComparison.Ordinal);
        Assert.Equal(SandboxPeople.GitHubBot, comment.Login);
        await Eventually.Until(() => bot.Store.Get(1)!.PullRequests[0].AuthorLogin == SandboxPeople.GitHubAuthor, "the PR's author stored on the change");
        Assert.Equal(SandboxPeople.GitHubAuthorId, bot.Store.Get(1)!.PullRequests[0].AuthorId);

        // A Slack approval alone is not enough: the PR has no approving review yet.
        var announcement = bot.Store.Get(1)!.Announcement!;
        await PostAsync(bot, "action", new { user = Reviewer, channel = announcement.Channel, ts = announcement.Ts, actionId = BreakGlassBot.Reviewing.ReviewActions.Approve, value = "BG-1" });
        await Eventually.Until(() => bot.Store.Get(1)!.Evidence.Any(e => e.Kind == nameof(EvidenceKind.PullRequestApproved) && !e.Satisfied)
            && bot.Store.Get(1)!.Evidence.Any(e => e.Kind == nameof(EvidenceKind.SlackApproval) && e.Satisfied), "the check after the Slack approval");
        // The approval is mirrored on the PR, again through the real client.
        await Eventually.Until(() => bot.State.Read(v => v.PullRequests[0].Comments.Count == 2), "the approval mirrored as a PR comment");
        var mirrored = DateTimeOffset.UtcNow;
        await Eventually.Until(() => bot.Store.Get(1)!.Evidence.Any(e => e.Kind == nameof(EvidenceKind.PullRequestApproved) && e.CheckedAt > mirrored),
            "the next planned check, which still finds no PR approval", TimeSpan.FromSeconds(30));
        Assert.Equal(ChangeStatus.Open, bot.Store.Get(1)!.Status);

        // Approving the PR on the page adds an APPROVED review by someone other than the author; the bot's next check sees it.
        await PostAsync(bot, "github/0", new { done = true });
        var review = bot.State.Read(v => v.PullRequests[0].Reviews.Single());
        Assert.Equal(("APPROVED", SandboxPeople.GitHubReviewerId), (review.State, review.UserId));
        Assert.NotEqual(SandboxPeople.GitHubAuthorId, review.UserId);
        await Eventually.Until(() => bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "BG-1 reviewed after the PR approval", TimeSpan.FromSeconds(30));
        Assert.All(bot.Store.Get(1)!.Evidence, e => Assert.True(e.Satisfied, e.Missing));

        var wire = bot.State.Read(v => v.WireLog.Select(w => w.What).ToList());
        Assert.Contains(wire, w => w.StartsWith("GitHub GET pull acme/payments#42", StringComparison.Ordinal) && w.EndsWith("→ 200", StringComparison.Ordinal));
        Assert.Contains(wire, w => w.StartsWith("GitHub POST labels break-glass on acme/payments#42", StringComparison.Ordinal) && w.EndsWith("→ 200", StringComparison.Ordinal));
        Assert.Contains(wire, w => w.StartsWith("GitHub GET reviews of acme/payments#42", StringComparison.Ordinal) && w.EndsWith("→ 200", StringComparison.Ordinal));
        Assert.DoesNotContain(wire, w => w.StartsWith("GitHub", StringComparison.Ordinal) && w.Contains("→ 401", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheStandInsWorkspaceSurvivesARestartSoTheBotsAnnouncementCanStillBeUpdated()
    {
        var dir = TestBot.NewDataDirectory();
        try
        {
            await using (var first = await SandboxBot.StartInAsync(dir))
            {
                await PostAsync(first, "message", new { user = SandboxPeople.Declarer, channel = SandboxPeople.Channel, text = "/breakglass Roll back payments deploy" });
                await Eventually.Until(() => first.Store.Get(1)?.Announcement is not null, "BG-1 announced");
            }
            await using var again = await SandboxBot.StartInAsync(dir);
            var a = again.Store.Get(1)!.Announcement!;
            Assert.NotNull(again.State.Read(v => v.Find(a.Channel, a.Ts)));

            await PostAsync(again, "action", new { user = Reviewer, channel = a.Channel, ts = a.Ts, actionId = BreakGlassBot.Reviewing.ReviewActions.Approve, value = "BG-1" });
            await Eventually.Until(() => again.Store.Get(1)!.Status == ChangeStatus.Reviewed, "BG-1 reviewed after the restart");
            await Eventually.Until(() => again.State.Read(v => v.Find(a.Channel, a.Ts) is { Edited: true } m && m.Text.Contains("Reviewed", StringComparison.Ordinal)),
                "the announcement updated to Reviewed");
            Assert.Equal("button", again.Store.Get(1)!.Approvals.Single().Source);
        }
        finally { Directory.Delete(dir, true); }
    }

    static async Task PostAsync(SandboxBot bot, string path, object body)
    {
        var response = await bot.Http.PostAsJsonAsync("/sandbox/api/" + path, body);
        response.EnsureSuccessStatusCode();
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(answer["ok"]!.GetValue<bool>(), answer.ToJsonString());
    }

    static string Address(Microsoft.AspNetCore.Builder.WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}
