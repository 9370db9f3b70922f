using System.Net;
using BreakGlassBot.Deadlines;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace BreakGlassBot.Hosting;

public static class HostingExtensions
{
    /// <summary>
    /// The repository-root appsettings.json is copied next to the binary; load it from there (so `dotnet run`
    /// from any folder and the tests see the same file), below environment variables and the command line.
    /// </summary>
    public static WebApplicationBuilder AddBotConfiguration(this WebApplicationBuilder builder)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        var sources = builder.Configuration.Sources;
        var source = new JsonConfigurationSource { Path = Path.GetFileName(path), Optional = false, ReloadOnChange = false };
        source.FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetDirectoryName(path)!);
        sources.Insert(0, source); // lowest priority: every other source overrides it

        var errors = ConfigurationCheck.Validate(builder.Configuration);
        if (errors.Count > 0) throw new BotConfigurationException(errors);

        builder.Services.AddOptions<SlackOptions>().BindConfiguration(SlackOptions.Section);
        builder.Services.AddOptions<GitHubOptions>().BindConfiguration(GitHubOptions.Section);
        builder.Services.AddOptions<JiraOptions>().BindConfiguration(JiraOptions.Section);
        builder.Services.AddOptions<PolicyOptions>().BindConfiguration(PolicyOptions.Section);
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section);
        builder.Services.AddOptions<EvidenceOptions>().BindConfiguration(EvidenceOptions.Section);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddHostedService<ConfigurationReport>();
        return builder;
    }

    public static WebApplicationBuilder AddStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ChangeStore>();
        builder.Services.AddSingleton<People>();
        builder.Services.AddSingleton<Outbox>();
        builder.Services.AddHostedService<OutboxWorker>();
        return builder;
    }

    public static WebApplicationBuilder AddSlack(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SlackRequestFilter>();
        builder.Services.AddHttpClient<ISlackApi, SlackApiClient>((sp, http) =>
            {
                var url = sp.GetRequiredService<IOptions<SlackOptions>>().Value.ApiBaseUrl;
                http.BaseAddress = new Uri(url.EndsWith('/') ? url : url + "/");
                http.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline times each attempt
            })
            .AddResilienceHandler("slack", pipeline =>
            {
                // Only 429 is retried in place, and only for a short Retry-After: Slack did not act on the request.
                // Anything else (a timeout may mean the message was posted) goes back to the outbox, which checks first.
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 2,
                    ShouldRetryAfterHeader = true,
                    Delay = TimeSpan.FromSeconds(1),
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { StatusCode: HttpStatusCode.TooManyRequests } r
                        && (SlackApiClient.RetryAfterOf(r) ?? TimeSpan.Zero) <= TimeSpan.FromSeconds(3)),
                });
                pipeline.AddTimeout(TimeSpan.FromSeconds(10));
            });
        builder.Services.AddSingleton(sp =>
        {
            var github = sp.GetRequiredService<IOptions<GitHubOptions>>().Value;
            return new ChangeMessages(
                sp.GetRequiredService<IOptions<JiraOptions>>().Value.BaseUrl,
                sp.GetRequiredService<IOptions<SlackOptions>>().Value.AnnouncementChannel,
                // Without GitHub credentials no mode grants anything: word it as RecordOnly.
                new BypassSettings(github.IsConfigured ? github.BypassMode : BypassMode.RecordOnly, github.BypassTeam,
                    sp.GetRequiredService<IOptions<PolicyOptions>>().Value.BypassDuration));
        });
        return builder;
    }

    public static WebApplicationBuilder AddDeclaring(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton<Permissions>();
        s.AddSingleton<Declarations>();
        s.AddSingleton<BreakGlassCommand>();
        s.AddSingleton<DeclarationModal>();
        s.AddSingleton<IViewSubmissionHandler>(sp => sp.GetRequiredService<DeclarationModal>());
        s.AddSingleton<IStepHandler, AnnounceStep>();
        s.AddSingleton<IStepHandler, ThreadDetailsStep>();
        s.AddSingleton<IStepHandler, RefreshAnnouncementStep>();
        s.AddSingleton<IStepHandler, ThreadNoteStep>();
        s.AddSingleton<IThreadNoteSource, CancelledNote>();
        s.AddSingleton<LinkChangeCommand>();
        s.AddSingleton<IThreadNoteSource, LinksAddedNote>();
        s.AddSingleton<IThreadNoteSource, StepNotes>();
        s.AddSingleton<IDirectMessageSource, AnnouncementBlockedNotice>();
        return builder;
    }
}

/// <summary>Says at start-up which integrations are on, and exactly what to set for the ones that are off. Never prints a value.</summary>
internal sealed class ConfigurationReport(IOptions<SlackOptions> slack, IOptions<GitHubOptions> github, IOptions<JiraOptions> jira,
    IOptions<StorageOptions> storage, ILogger<ConfigurationReport> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        log.LogInformation("Data directory: {DataDirectory}", storage.Value.ResolvedDataDirectory);
        var missing = slack.Value.MissingSettings();
        if (missing.Count > 0)
            log.LogWarning("Slack is not configured; /slack/* answers 503 until you set: {Missing}", string.Join("; ", missing));
        if (!github.Value.IsConfigured)
            log.LogWarning("GitHub is disabled: set GitHub:Token, or GitHub:AppId + GitHub:PrivateKeyPath + GitHub:InstallationId");
        if (!jira.Value.IsConfigured)
            log.LogWarning("Jira is disabled: set Jira:BaseUrl with Jira:Email + Jira:ApiToken (Cloud) or Jira:PersonalAccessToken (Data Center)");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", (ChangeStore store, IOptions<SlackOptions> slack, IOptions<GitHubOptions> github, IOptions<JiraOptions> jira) =>
        {
            string storage;
            object? outbox = null;
            try
            {
                store.Ping();
                storage = "ok";
                // What is owed to Slack, GitHub or Jira and failing now (counts only: this endpoint is public). A backlog
                // is not ill health: the bot keeps taking declarations and makes the steps up when the service is back.
                var pending = store.WithDueSteps(DateTimeOffset.MaxValue, limit: 1000);
                var failing = pending.SelectMany(c => c.Steps).Where(st => st.State == StepState.Pending && st.LastError is not null).ToList();
                outbox = new
                {
                    changes_with_pending_steps = pending.Count,
                    failing_steps = failing.Count,
                    failing_kinds = failing.GroupBy(st => st.Kind).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count()),
                    most_attempts = failing.Count == 0 ? 0 : failing.Max(st => st.Attempts),
                };
            }
            catch (Exception e) { storage = "error: " + e.GetType().Name; }
            var body = new
            {
                status = storage == "ok" ? "ok" : "unhealthy",
                storage,
                outbox,
                slack = slack.Value.IsConfigured ? "configured" : "not configured: set " + string.Join("; ", slack.Value.MissingSettings()),
                github = github.Value.IsConfigured ? "configured" : "disabled",
                jira = jira.Value.IsConfigured ? "configured" : "disabled",
            };
            return Results.Json(body, statusCode: storage == "ok" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return app;
    }
}
