using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Tests.Hosting;

[Trait("Category", "EndToEnd")]
public class ConfigurationTests
{
    static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    [Fact]
    public async Task TheRepositoryRootAppsettingsIsTheOneTheBotLoads()
    {
        // The same file that `dotnet run` uses: its values reach the bot's options unless overridden.
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "appsettings.json")))!;
        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack);
        // Raw keys only the file sets (no code default stands behind them): null if the file were not loaded.
        Assert.Equal(root["Logging"]!["LogLevel"]!["Polly"]!.GetValue<string>(), bot.App.Configuration["Logging:LogLevel:Polly"]);
        Assert.Equal(root["Logging"]!["LogLevel"]!["Microsoft.AspNetCore"]!.GetValue<string>(), bot.App.Configuration["Logging:LogLevel:Microsoft.AspNetCore"]);
        Assert.Equal(root["Jira"]!["IssueType"]!.GetValue<string>(), bot.App.Configuration["Jira:IssueType"]);
        var policy = bot.Service<IOptions<PolicyOptions>>().Value;
        Assert.Equal(TimeSpan.Parse(root["Policy"]!["ReviewWindow"]!.GetValue<string>()), policy.ReviewWindow);
        Assert.Equal(root["Policy"]!["DigestCron"]!.GetValue<string>(), policy.DigestCron);
        Assert.Equal(root["GitHub"]!["Label"]!.GetValue<string>(), bot.Service<IOptions<GitHubOptions>>().Value.Label);
        // and the copy next to the binary is byte-for-byte the repository's file
        Assert.Equal(File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "appsettings.json")), File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "appsettings.json")));
    }

    [Fact]
    public void EveryBadKeyIsNamedInOneMessage()
    {
        var errors = ConfigurationCheck.Validate(Config(
            ("Policy:ReviewWindow", "two days"),
            ("Policy:ReminderInterval", "soon"),
            ("Storage:Hangfire", "Redis"),
            ("GitHub:BypassMode", "Sometimes")));
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Policy:ReviewWindow") && e.Contains("TimeSpan"));
        Assert.Contains(errors, e => e.StartsWith("Policy:ReminderInterval"));
        Assert.Contains(errors, e => e.StartsWith("Storage:Hangfire") && e.Contains("Sqlite, PostgreSql"));
        Assert.Contains(errors, e => e.StartsWith("GitHub:BypassMode") && e.Contains("RecordOnly"));
        var message = new BotConfigurationException(errors).Message;
        Assert.All(["Policy:ReviewWindow", "Policy:ReminderInterval", "Storage:Hangfire", "GitHub:BypassMode"], k => Assert.Contains(k, message));
    }

    [Fact]
    public void IntervalsThatWouldSpinOrCrashATimerAreRefused()
    {
        var errors = ConfigurationCheck.Validate(Config(
            ("Slack:ParkedRetryInterval", "00:00:00"),
            ("Storage:RecurringCheckInterval", "00:00:00"),
            ("Storage:BackupDirectory", "/tmp/backups"), ("Storage:BackupKeep", "0"), ("Storage:BackupCron", "every night"),
            ("Evidence:AnchorCron", "hourly"), ("Admin:ApiKeys:0", "same-key"), ("Evidence:ApiKeys:0", "same-key"),
            ("Evidence:TimestampTimeout", "00:00:00"), ("Evidence:TimestampAuthorityUrl", "timestamp.example.com")));
        Assert.Contains("Evidence:TimestampTimeout must be between 00:00:00.100 and 00:05:00", errors);
        Assert.Contains(errors, e => e.StartsWith("Evidence:TimestampAuthorityUrl"));
        Assert.Contains("Slack:ParkedRetryInterval must be at least 00:00:00.100", errors);
        Assert.Contains("Storage:RecurringCheckInterval must be at least 00:00:00.100", errors);
        Assert.Contains("Storage:BackupKeep must be at least 1", errors);
        Assert.Contains(errors, e => e.StartsWith("Storage:BackupCron is not a cron expression"));
        Assert.Contains(errors, e => e.StartsWith("Evidence:AnchorCron is not a cron expression"));
        Assert.Contains("Admin:ApiKeys must not repeat a key of Evidence:ApiKeys", errors);
        Assert.DoesNotContain(errors, e => e.Contains("same-key"));
    }

    [Fact]
    public void ConversionErrorsAndRuleErrorsAreNamedTogether()
    {
        // A key that does not convert must not hide a rule broken by another key of the same section.
        var errors = ConfigurationCheck.Validate(Config(
            ("Policy:ReviewWindow", "forever"),
            ("Policy:TimeZone", "Mars/Olympus"),
            ("Storage:PollingInterval", "often"),
            ("Storage:Hangfire", "PostgreSql"),
            ("Jira:BaseUrl", "https://user:hunter2@jira.example.com:notaport/")));
        Assert.Contains(errors, e => e.StartsWith("Policy:ReviewWindow: expected"));
        Assert.Contains(errors, e => e.StartsWith("Policy:TimeZone"));
        Assert.Contains(errors, e => e.StartsWith("Storage:PollingInterval: expected"));
        Assert.Contains(errors, e => e.StartsWith("Storage:ConnectionString is required"));
        Assert.Contains(errors, e => e.StartsWith("Jira:BaseUrl"));
        Assert.DoesNotContain(errors, e => e.Contains("hunter2"));
        Assert.DoesNotContain(errors, e => e.StartsWith("Policy:ReviewWindow must be positive")); // the bad key is not judged twice
    }

    [Fact]
    public void APostgreSqlStoreRefusesTheMixesThatCannotWork()
    {
        var errors = ConfigurationCheck.Validate(Config(("Storage:Store", "PostgreSql"), ("Storage:Hangfire", "Sqlite"),
            ("Storage:BackupDirectory", "/tmp/backups"), ("Storage:ClaimLease", "00:00:00.500")));
        Assert.Contains("Storage:ConnectionString is required when Storage:Store is PostgreSql", errors);
        Assert.Contains(errors, e => e.StartsWith("Storage:Hangfire must be PostgreSql (or unset) when Storage:Store is PostgreSql"));
        Assert.Contains(errors, e => e.StartsWith("Storage:BackupDirectory backs up the embedded file only"));
        Assert.Contains(errors, e => e.StartsWith("Storage:ClaimLease must be at least"));

        // Hangfire left empty (as appsettings.json has it) follows the store: one database for everything.
        var config = Config(("Storage:Store", "PostgreSql"), ("Storage:Hangfire", ""), ("Storage:ConnectionString", "Host=db.internal;Username=bot"));
        Assert.Empty(ConfigurationCheck.Validate(config));
        var storage = config.GetSection(StorageOptions.Section).Get<StorageOptions>()!;
        Assert.Equal(HangfireStorageKind.PostgreSql, storage.ResolvedHangfire);
        Assert.Equal(HangfireStorageKind.Sqlite, new StorageOptions().ResolvedHangfire);
    }

    [Fact]
    public void RulesAcrossKeysAreCheckedTogether()
    {
        var errors = ConfigurationCheck.Validate(Config(
            ("Policy:ReviewWindow", "-01:00:00"),
            ("Policy:TimeZone", "Mars/Olympus"),
            ("Storage:Hangfire", "PostgreSql"),
            ("GitHub:BypassMode", "Team"),
            ("Jira:Email", "ops@example.com"),
            ("Slack:ApiBaseUrl", "not a url")));
        Assert.Contains(errors, e => e.StartsWith("Policy:ReviewWindow must be positive"));
        Assert.Contains(errors, e => e.StartsWith("Policy:TimeZone"));
        Assert.Contains(errors, e => e.StartsWith("Storage:ConnectionString is required"));
        Assert.Contains(errors, e => e.StartsWith("GitHub:BypassTeam"));
        Assert.Contains(errors, e => e.StartsWith("Jira:Email and Jira:ApiToken"));
        Assert.Contains(errors, e => e.StartsWith("Slack:ApiBaseUrl"));
    }

    [Fact]
    public void TheShippedDefaultsAreValid() =>
        Assert.Empty(ConfigurationCheck.Validate(new ConfigurationBuilder().AddJsonFile(Path.Combine(Fixtures.RepositoryRoot, "appsettings.json")).Build()));

    [Fact]
    public void ABadValueIsNamedButNeverEchoed()
    {
        var errors = ConfigurationCheck.Validate(Config(("Slack:MaxRequestBytes", "hunter2-secret")));
        Assert.Contains(errors, e => e.StartsWith("Slack:MaxRequestBytes"));
        Assert.DoesNotContain(errors, e => e.Contains("hunter2"));
    }

    [Fact]
    public async Task InvalidConfigurationStopsStartUp()
    {
        var e = Assert.Throws<BotConfigurationException>(() => Program.Create(["--Policy:ReviewWindow=forever", "--Storage:Hangfire=Mongo", "--urls=http://127.0.0.1:0"]));
        Assert.Equal(2, e.Errors.Count);
        Assert.Equal(2, await Program.Main(["--Policy:ReviewWindow=forever", "--urls=http://127.0.0.1:0"]));
    }

    [Fact]
    public void DefaultApprovalWordsApplyOnlyWhenNoneAreConfigured()
    {
        var services = new ServiceCollection();
        services.AddOptions<PolicyOptions>().Bind(Config(("ApprovalWords:0", "ship it")));
        var policy = services.BuildServiceProvider().GetRequiredService<IOptions<PolicyOptions>>().Value;
        Assert.Equal(["ship it"], policy.EffectiveApprovalWords);
        Assert.Contains("lgtm", new PolicyOptions().EffectiveApprovalWords);
    }
}

/// <summary>Without Slack credentials the bot starts, is healthy, and tells exactly what to configure.</summary>
[Trait("Category", "EndToEnd")]
public class UnconfiguredSlackTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    TestBot bot = null!;

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        bot = await TestBot.StartAsync(slack, settings: new Dictionary<string, string?>
        {
            ["Slack:SigningSecret"] = "", ["Slack:BotToken"] = "", ["Slack:AnnouncementChannel"] = "",
        });
    }

    public async Task DisposeAsync()
    {
        await bot.DisposeAsync();
        await slack.DisposeAsync();
    }

    [Fact]
    public async Task HealthzIsOkAndSaysWhatToSet()
    {
        var response = await bot.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ok", body["status"]!.GetValue<string>());
        Assert.Equal("ok", body["storage"]!.GetValue<string>());
        Assert.Contains("Slack:SigningSecret", body["slack"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/slack/commands")]
    [InlineData("/slack/interactions")]
    [InlineData("/slack/events")]
    public async Task SlackEndpointsAnswer503WithTheExplanation(string path)
    {
        var response = await bot.SendSignedAsync(path, TestBot.CommandForm("Fix it"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("Slack:SigningSecret", text);
        Assert.Contains("Slack:BotToken", text);
        Assert.Contains("Slack:AnnouncementChannel", text);
        Assert.Equal(0, bot.Store.Count());
    }

    [Fact]
    public void TheLogSaysExactlyWhatToConfigure()
    {
        Assert.Contains(bot.Logs, l => l.Contains("Slack is not configured") && l.Contains("Slack__SigningSecret") && l.Contains("Slack__BotToken"));
        Assert.Contains(bot.Logs, l => l.Contains("GitHub is disabled"));
        Assert.Contains(bot.Logs, l => l.Contains("Jira is disabled"));
    }
}

[Trait("Category", "EndToEnd")]
public class SecretsTests : BotTest
{
    [Fact]
    public async Task NoSecretAppearsInTheLogsOfAFullRun()
    {
        await Bot.CommandJsonAsync("Fix it https://github.com/acme/api/pull/1");
        await Bot.Http.SendAsync(SlackSigner.Request(Bot.Url + "/slack/commands", "forged", TestBot.CommandForm("x")));
        Slack.Fail("chat.postMessage", FakeSlack.Error("slack/error_invalid_auth.json"));
        await Bot.CommandJsonAsync("Another");
        await Eventually.Until(() => Bot.Store.Get(2)?.Announcement is not null, "second announced after a failure");
        var logs = string.Join('\n', Bot.Logs);
        Assert.Contains("rejected", logs); // the forged request was logged...
        Assert.DoesNotContain(TestBot.SigningSecret, logs); // ...without any secret
        Assert.DoesNotContain(FakeSlack.BotToken, logs);
        Assert.DoesNotContain("v0=", logs);
    }
}
