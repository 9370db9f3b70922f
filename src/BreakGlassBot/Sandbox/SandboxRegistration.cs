using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.Memory;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Sandbox;

/// <summary>What the sandbox was started with. Present in the container only in sandbox mode.</summary>
public sealed class SandboxContext
{
    public required string Reason { get; init; }
    public required int Port { get; init; }
    public required bool FastClock { get; init; }
    public required string DataDirectory { get; init; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";
    public string PageUrl => BaseUrl + "/sandbox";

    // Made up at every start and kept in memory only: never logged, never written to disk.
    internal string SigningSecret { get; } = RandomText(32);
    internal string BotToken { get; } = "xoxb-sandbox-" + RandomText(24);
    internal string JiraEmail => "breakglassbot@sandbox.invalid";
    internal string JiraToken { get; } = RandomText(24);
    internal string GitHubToken { get; } = RandomText(24);
    internal string GitHubWebhookSecret { get; } = RandomText(32);

    static string RandomText(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));
}

public static class SandboxMode
{
    public const string Flag = "--sandbox";
    public const string FastFlag = "--fast";
    public const int DefaultPort = 5080;

    /// <summary>
    /// Why the sandbox runs, or null when it stays off. Only the command-line flag turns it on outside Development:
    /// a configuration key could be left in a production appsettings file, a flag has to be typed.
    /// </summary>
    public static string? Reason(bool flag, bool development, bool hasSlackCredentials, string? enabledSetting)
    {
        if (flag) return "started with --sandbox";
        if (!development || hasSlackCredentials) return null;
        if (bool.TryParse(enabledSetting, out var enabled) && !enabled) return null;
        return "Development without Slack credentials";
    }

    public static bool IsLoopbackAddress(string address)
    {
        string host;
        try { host = BindingAddress.Parse(address).Host; }
        catch (FormatException) { return false; }
        host = host.Trim('[', ']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }
}

public static class SandboxRegistration
{
    /// <summary>
    /// Sandbox mode (<c>--sandbox</c>, or Development without Slack credentials): stand-in Slack, Jira and GitHub on 127.0.0.1,
    /// the real bot pointed at them with made-up credentials. Must run before options are read.
    /// </summary>
    public static WebApplicationBuilder AddSandbox(this WebApplicationBuilder builder, string[] args)
    {
        var flag = args.Any(a => a.Equals(SandboxMode.Flag, StringComparison.OrdinalIgnoreCase));
        var fastFlag = args.Any(a => a.Equals(SandboxMode.FastFlag, StringComparison.OrdinalIgnoreCase));
        var config = builder.Configuration;
        if (flag || fastFlag) RemoveFlags(config);

        var hasCredentials = !string.IsNullOrWhiteSpace(config["Slack:SigningSecret"]) || !string.IsNullOrWhiteSpace(config["Slack:BotToken"]);
        var reason = SandboxMode.Reason(flag, builder.Environment.IsDevelopment(), hasCredentials, config["Sandbox:Enabled"]);
        if (reason is null) return builder;

        var context = CreateContext(config, reason, fastFlag);
        AddDemoDefaults(config, context);
        PinToStandIns(config, context);
        OverrideOptions(builder.Services, context);
        AddServices(builder.Services, context);
        return builder;
    }

    static SandboxContext CreateContext(ConfigurationManager config, string reason, bool fastFlag)
    {
        var errors = new List<string>();
        if (config.GetSection("Kestrel:Endpoints").GetChildren().Any())
            errors.Add("Kestrel:Endpoints: the sandbox listens on 127.0.0.1 only; remove Kestrel:Endpoints or run without --sandbox");
        var fastSetting = config["Sandbox:FastClock"];
        if (fastSetting is { Length: > 0 } && !bool.TryParse(fastSetting, out _)) errors.Add("Sandbox:FastClock: expected true or false");
        var port = ChoosePort(config, errors);
        if (errors.Count > 0) throw new BotConfigurationException(errors);

        return new SandboxContext
        {
            Reason = reason,
            Port = port,
            FastClock = fastFlag || !bool.TryParse(fastSetting, out var fast) || fast,
            DataDirectory = Path.GetFullPath(config["Sandbox:DataDirectory"] is { Length: > 0 } dir ? dir : Path.Combine(".data", "sandbox")),
        };
    }

    // Above the appsettings files, below user secrets, environment and command line: --Policy:... still overrides.
    static void AddDemoDefaults(ConfigurationManager config, SandboxContext context)
    {
        var defaults = new Dictionary<string, string?> { ["Storage:PollingInterval"] = "00:00:00.500" };
        if (context.FastClock)
        {
            defaults["Policy:ReviewWindow"] = "00:01:30";
            defaults["Policy:ReminderInterval"] = "00:00:20";
            defaults["Policy:EscalateAfter"] = "00:00:15";
            defaults["Policy:BusinessHoursOnly"] = "false";
            defaults["Policy:DigestCron"] = "*/2 * * * *";
        }
        // Detection on (the side panel's merge shows it); --Detection:Enabled=false still turns it off.
        defaults["Detection:Enabled"] = "true";
        defaults["GitHub:Repositories:0"] = SandboxPeople.GitHubRepository;
        // A merge nobody declared becomes a case this long after it: short enough to watch happen on the page.
        defaults["Detection:GracePeriod"] = context.FastClock ? "00:00:30" : "00:02:00";
        defaults["Detection:CheckInterval"] = "00:00:05";
        defaults["Detection:RuleSuitesInterval"] = "00:00:00";
        var afterFiles = 0;
        for (var i = 0; i < config.Sources.Count; i++)
            if (config.Sources[i] is FileConfigurationSource { Path: { } file } && Path.GetFileName(file).StartsWith("appsettings", StringComparison.OrdinalIgnoreCase))
                afterFiles = i + 1;
        config.Sources.Insert(afterFiles, new MemoryConfigurationSource { InitialData = defaults });
    }

    // Highest priority: nothing real is reachable from the sandbox, whatever else is configured.
    static void PinToStandIns(ConfigurationManager config, SandboxContext context) =>
        config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = context.BaseUrl,
            ["Storage:DataDirectory"] = context.DataDirectory,
            ["Storage:Store"] = nameof(StoreKind.LiteDb),
            ["Storage:Hangfire"] = nameof(HangfireStorageKind.Sqlite),
            ["Storage:ConnectionString"] = "",
            ["Slack:SigningSecret"] = context.SigningSecret,
            // The page drives the bot through /slack/*: the sandbox always runs over HTTP.
            ["Slack:SocketMode"] = "false",
            ["Slack:AppToken"] = "",
            ["Slack:BotToken"] = context.BotToken,
            ["Slack:ApiBaseUrl"] = context.BaseUrl + StandInSlack.ApiPath + "/",
            ["Slack:AnnouncementChannel"] = SandboxPeople.Channel,
            ["Slack:DigestChannel"] = SandboxPeople.Channel,
            ["Slack:ReviewerUserGroup"] = "",
            ["Jira:BaseUrl"] = context.BaseUrl + StandInJira.BasePath + "/",
            ["Jira:Email"] = context.JiraEmail,
            ["Jira:ApiToken"] = context.JiraToken,
            ["Jira:PersonalAccessToken"] = "",
            ["Jira:ProjectKey"] = "",
            ["Jira:ReviewTransition"] = "",
            ["GitHub:ApiBaseUrl"] = context.BaseUrl + StandInGitHub.BasePath + "/",
            ["GitHub:Token"] = context.GitHubToken,
            ["GitHub:BypassMode"] = nameof(BypassMode.RecordOnly),
            ["GitHub:WebhookSecret"] = context.GitHubWebhookSecret,
            ["GitHub:WebBaseUrl"] = "https://github.com",
        }.Concat(SandboxPeople.GitHubAccounts.Select(a =>
            // Who the workspace's people are on the stand-in GitHub: an approval by someone the bot cannot place there does not
            // count, and a detected merge is sent to the person who merged it.
            KeyValuePair.Create($"People:{a.Key}:GitHub", (string?)a.Value.Login))));

    // Lists and optional keys cannot be cleared through configuration (a lower source's Reviewers:2 would survive).
    static void OverrideOptions(IServiceCollection s, SandboxContext context)
    {
        s.PostConfigure<SlackOptions>(o =>
        {
            o.Reviewers = [SandboxPeople.Reviewer1, SandboxPeople.Reviewer2];
            o.Managers = [SandboxPeople.Manager];
            o.Admins = [SandboxPeople.Manager];
            o.Declarers = [];
            // The page's requests come from the sandbox's own workspace and app, whatever a real install configured.
            o.TeamId = SandboxPeople.TeamId;
            o.EnterpriseId = null;
            o.AppId = SandboxPeople.AppId;
            o.ReviewerUserGroup = null;
        });
        // App credentials would take precedence over the token the stand-in checks; the bypass is only recorded.
        s.PostConfigure<GitHubOptions>(o =>
        {
            o.ApiBaseUrl = context.BaseUrl + StandInGitHub.BasePath + "/";
            o.Token = context.GitHubToken;
            o.AppId = null;
            o.PrivateKeyPath = null;
            o.InstallationId = null;
            o.WebhookSecret = context.GitHubWebhookSecret;
            o.WebBaseUrl = "https://github.com";
            o.BypassMode = BypassMode.RecordOnly;
            // The stand-in's one repository: what detection watches and the break-glass rate counts.
            o.Repositories = [SandboxPeople.GitHubRepository];
        });
        // Detection watches the branch the stand-in's pull requests go into, whatever a real install watches.
        s.PostConfigure<DetectionOptions>(o =>
        {
            o.Branches = [SandboxPeople.GitHubBranch];
            o.IgnoreActors = [];
        });
        s.PostConfigure<JiraOptions>(o => o.ReviewedStatuses = []);
        s.PostConfigure<PolicyOptions>(o => o.RequiredEvidence = []);
    }

    static void AddServices(IServiceCollection s, SandboxContext context)
    {
        s.AddSingleton(context);
        s.AddSingleton(new RunMode(Sandbox: true));
        s.AddSingleton<SandboxState>();
        s.AddSingleton<StandInSlack>();
        s.AddSingleton<StandInJira>();
        s.AddSingleton<StandInGitHub>();
        s.AddSingleton<SandboxDriver>();
        s.AddHttpClient(SandboxDriver.ClientName, http =>
        {
            http.BaseAddress = new Uri(context.BaseUrl);
            http.Timeout = TimeSpan.FromSeconds(15);
        });
        s.AddHostedService<SandboxStartup>();
    }

    public static WebApplication MapSandbox(this WebApplication app)
    {
        if (app.Services.GetService<SandboxContext>() is null) return app;
        SandboxEndpoints.Map(app);
        return app;
    }

    // "--sandbox" has no value; left in, the command-line provider would take the next argument as its value.
    static void RemoveFlags(ConfigurationManager config)
    {
        var sources = config.Sources;
        for (var i = 0; i < sources.Count; i++)
            if (sources[i] is CommandLineConfigurationSource cl)
                sources[i] = new CommandLineConfigurationSource
                {
                    Args = [.. cl.Args.Where(a => !a.Equals(SandboxMode.Flag, StringComparison.OrdinalIgnoreCase) && !a.Equals(SandboxMode.FastFlag, StringComparison.OrdinalIgnoreCase))],
                    SwitchMappings = cl.SwitchMappings,
                };
    }

    /// <summary>Sandbox:Port (0: any free port), else the port of the configured urls or HTTP ports, else 5080. The host is always 127.0.0.1.</summary>
    static int ChoosePort(IConfiguration config, List<string> errors)
    {
        if (config["Sandbox:Port"] is { Length: > 0 } text)
        {
            if (int.TryParse(text, out var port) && port is >= 0 and <= 65535) return port == 0 ? FreePort() : port;
            errors.Add("Sandbox:Port: expected a port number (0 for any free port)");
            return 0;
        }
        foreach (var url in (config["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try { if (BindingAddress.Parse(url).Port is > 0 and var p) return p; }
            catch (FormatException) { }
        }
        foreach (var portText in (config["http_ports"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (int.TryParse(portText, out var httpPort) && httpPort is > 0 and <= 65535) return httpPort;
        return SandboxMode.DefaultPort;
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Once the server listens: refuses to go on unless every address is loopback, then says where the page is.</summary>
internal sealed partial class SandboxStartup(IServer server, IHostApplicationLifetime lifetime, SandboxContext context, ILogger<SandboxStartup> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
            var wide = addresses.Where(a => !SandboxMode.IsLoopbackAddress(a)).ToList();
            if (wide.Count > 0 || addresses.Count == 0)
            {
                LogNotLoopback(log, string.Join(", ", addresses));
                lifetime.StopApplication();
                return;
            }
            LogReady(log, context.PageUrl, context.Reason, context.FastClock ? "on" : "off", context.DataDirectory);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 9001, Level = LogLevel.Critical, Message = "Sandbox refuses to run: it must listen on 127.0.0.1 only, but listens on {Addresses}. Stopping.")]
    static partial void LogNotLoopback(ILogger logger, string addresses);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning,
        Message = "SANDBOX MODE ({Reason}): not connected to Slack. Open {Url} in a browser. Fast clock {Fast}; data in {DataDirectory}")]
    static partial void LogReady(ILogger logger, string url, string reason, string fast, string dataDirectory);
}
