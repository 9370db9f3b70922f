using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Hosting;

public static class HostingExtensions
{
    /// <summary>Where the bot listens when neither ASPNETCORE_URLS / DOTNET_URLS, ASPNETCORE_HTTP(S)_PORTS, --urls nor Urls says.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>ASP.NET Core's own hosting settings win, as in any ASP.NET Core app: the default is only for when none is set.</summary>
    public static bool ListenDefaultApplies(IConfiguration configuration) =>
        new[] { "urls", "http_ports", "https_ports" }.All(key => string.IsNullOrWhiteSpace(configuration[key]));

    /// <summary>
    /// Loads the appsettings.json copied next to the binary, so `dotnet run` from any folder and the tests see the same
    /// file; every other source overrides it.
    /// </summary>
    public static WebApplicationBuilder AddBotConfiguration(this WebApplicationBuilder builder)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        var sources = builder.Configuration.Sources;
        var source = new JsonConfigurationSource { Path = Path.GetFileName(path), Optional = false, ReloadOnChange = false };
        source.FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetDirectoryName(path)!);
        sources.Insert(0, source); // lowest priority: every other source overrides it

        if (ListenDefaultApplies(builder.Configuration)) builder.WebHost.UseUrls(DefaultUrl);

        var errors = ConfigurationCheck.Validate(builder.Configuration);
        if (errors.Count > 0) throw new BotConfigurationException(errors);

        builder.Services.AddOptions<SlackOptions>().BindConfiguration(SlackOptions.Section);
        builder.Services.AddOptions<GitHubOptions>().BindConfiguration(GitHubOptions.Section);
        builder.Services.AddOptions<JiraOptions>().BindConfiguration(JiraOptions.Section);
        builder.Services.AddOptions<PolicyOptions>().BindConfiguration(PolicyOptions.Section);
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section);
        builder.Services.AddOptions<EvidenceOptions>().BindConfiguration(EvidenceOptions.Section);
        builder.Services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section);
        builder.Services.AddOptions<DetectionOptions>().BindConfiguration(DetectionOptions.Section);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddHostedService<ConfigurationReport>();
        return builder;
    }
}

/// <summary>How this process runs: the sandbox (stand-in Slack, GitHub and Jira) marks its evidence as such.</summary>
public sealed record RunMode(bool Sandbox);

/// <summary>Says at start-up which integrations are on, and exactly what to set for the ones that are off. Never prints a value.</summary>
internal sealed class ConfigurationReport(IOptions<SlackOptions> slack, IOptions<GitHubOptions> github, IOptions<JiraOptions> jira,
    IOptions<StorageOptions> storage, ILogger<ConfigurationReport> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        log.LogInformation("Data directory: {DataDirectory}", storage.Value.ResolvedDataDirectory);
        var missing = slack.Value.MissingSettings();
        if (missing.Count > 0 && slack.Value.SocketMode)
            log.LogWarning("Slack is not configured; Socket Mode does not connect until you set: {Missing}", string.Join("; ", missing));
        else if (missing.Count > 0)
            log.LogWarning("Slack is not configured; /slack/* answers 503 until you set: {Missing}", string.Join("; ", missing));
        else if (slack.Value.SocketMode)
            log.LogInformation("Slack: Socket Mode ({Connections} sockets); /slack/* is off", slack.Value.SocketConnections);
        if (!github.Value.IsConfigured)
            log.LogWarning("GitHub is disabled: set GitHub:Token, or GitHub:AppId + GitHub:PrivateKeyPath + GitHub:InstallationId");
        if (!jira.Value.IsConfigured)
            log.LogWarning("Jira is disabled: set Jira:BaseUrl with Jira:Email + Jira:ApiToken (Cloud) or Jira:PersonalAccessToken (Data Center)");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
