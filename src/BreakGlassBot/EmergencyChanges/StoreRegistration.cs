using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.EmergencyChanges;

public static class StoreRegistration
{
    public static WebApplicationBuilder AddStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ChangeStore>();
        builder.Services.AddSingleton<Replica>();
        builder.Services.AddSingleton<People>();
        return builder;
    }
}

/// <summary>This process among the replicas: the owner of the claims it takes on steps and inbound events.</summary>
public sealed class Replica
{
    public string Id { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
}

public static class HealthEndpoints
{
    /// <summary>Ready for traffic: every hosted service (outbox, inbox, Hangfire's server) has started, shutdown has not begun, the store answers.</summary>
    public static bool IsReady(bool started, bool stopping, bool storageOk) => started && !stopping && storageOk;

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        // Readiness for an orchestrator; /healthz below is liveness (it answers while starting and stopping too).
        app.MapGet("/readyz", (ChangeStore store, IHostApplicationLifetime lifetime, IServiceProvider services) =>
        {
            var started = lifetime.ApplicationStarted.IsCancellationRequested;
            var stopping = lifetime.ApplicationStopping.IsCancellationRequested;
            // The store answers only once its schema is created or upgraded (on PostgreSQL, under the migration lock).
            string storage;
            try { store.Ping(); storage = "ok"; }
            catch (Exception e) { storage = "error: " + e.GetType().Name; }
            // Hangfire's store answers: deadlines, reminders and schedules can be planned and run.
            string hangfire;
            try
            {
                using var connection = services.GetRequiredService<Hangfire.JobStorage>().GetConnection();
                connection.GetAllItemsFromSet("recurring-jobs");
                hangfire = "ok";
            }
            catch (Exception e) { hangfire = "error: " + e.GetType().Name; }
            var ready = IsReady(started, stopping, storage == "ok" && hangfire == "ok");
            return Results.Json(new { status = ready ? "ready" : "not ready", started, stopping, storage, hangfire, store = store.Kind.ToString() },
                statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet("/healthz", (ChangeStore store, IOptions<SlackOptions> slack, IOptions<GitHubOptions> github, IOptions<JiraOptions> jira, SocketModeStatus socket) =>
        {
            string storage;
            object? outbox = null;
            object? degraded = null;
            try
            {
                store.Ping();
                storage = "ok";
                // What is owed to Slack, GitHub or Jira and failing now (counts only: this endpoint is public). A backlog
                // is not ill health: the bot keeps taking declarations and makes the steps up when the service is back.
                var summary = store.SummarizeOutbox();
                // Parked Slack steps wait for an admin, not for Slack: the bot is degraded until someone acts.
                degraded = summary.ParkedSteps == 0 ? null : new
                {
                    parked_slack_steps = summary.ParkedSteps,
                    errors = summary.ParkedErrors,
                    action = "an admin must fix what Slack refuses (see the bot's log and the step_parked audit events); parked steps are re-checked every Slack:ParkedRetryInterval and at start-up",
                };
                outbox = new
                {
                    changes_with_pending_steps = summary.ChangesWithPendingSteps,
                    failing_steps = summary.FailingSteps,
                    failing_kinds = summary.FailingKinds,
                    most_attempts = summary.MostAttempts,
                };
            }
            catch (Exception e) { storage = "error: " + e.GetType().Name; }
            var body = new
            {
                status = storage == "ok" ? "ok" : "unhealthy",
                storage,
                store = store.Kind.ToString(),
                outbox,
                degraded,
                slack = slack.Value.IsConfigured ? "configured" : "not configured: set " + string.Join("; ", slack.Value.MissingSettings()),
                github = github.Value.IsConfigured ? "configured" : "disabled",
                jira = jira.Value.IsConfigured ? "configured" : "disabled",
                socket_mode = slack.Value.SocketMode ? SocketModeHealth(socket) : null,
            };
            return Results.Json(body, statusCode: storage == "ok" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return app;
    }

    /// <summary>Live sockets and the last message: zero sockets means Slack cannot reach the bot (users see dispatch_failed).</summary>
    static object SocketModeHealth(SocketModeStatus socket) => new
    {
        state = socket.Disabled is not null ? "disabled" : socket.LiveConnections > 0 ? "connected" : "connecting",
        live_connections = socket.LiveConnections,
        last_message_at = socket.LastMessageAt,
        last_error = socket.LastError,
        action = socket.Disabled,
    };
}
