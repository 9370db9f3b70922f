using System.Text.Json.Nodes;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Slack;

/// <summary>A reply to a slash command: shown only to the caller unless <see cref="InChannel"/>.</summary>
public sealed record CommandReply(string Text, JsonArray? Blocks = null, bool InChannel = false)
{
    /// <summary>Nothing to say is an empty 200, as Slack asks; a reply never carries "blocks": null.</summary>
    public IResult ToResult()
    {
        if (Text.Length == 0 && Blocks is null) return Results.Ok();
        var reply = new JsonObject { ["response_type"] = InChannel ? "in_channel" : "ephemeral", ["text"] = Text };
        if (Blocks is not null) reply["blocks"] = Blocks.DeepClone();
        return Results.Json(reply);
    }
}

/// <summary>Handles one slash command (e.g. /breakglass).</summary>
public interface ISlashCommandHandler
{
    string Command { get; }
    Task<CommandReply> HandleAsync(SlashCommand command, CancellationToken ct);
}

/// <summary>Keeps an Events API event durably before the endpoint acknowledges it; duplicates (Slack's retries) are dropped.</summary>
public interface ISlackEventInbox
{
    void Accept(string eventId, string body);
}

/// <summary>Told of every verified Slack request (the outbox paces itself while requests arrive).</summary>
public interface ISlackRequestListener
{
    void RequestArrived();
}

/// <summary>Handles view_submission for one callback_id.</summary>
public interface IViewSubmissionHandler
{
    string CallbackId { get; }
    Task<IResult> SubmitAsync(InteractionPayload payload, CancellationToken ct);
}

/// <summary>Handles block_actions for the action ids it lists.</summary>
public interface IBlockActionHandler
{
    IReadOnlyCollection<string> ActionIds { get; }
    Task<IResult> ActAsync(InteractionPayload payload, ActionPayload action, CancellationToken ct);
}

/// <summary>Handles event_callback events; runs after the ack (Slack wants its 200 within 3 s).</summary>
public interface ISlackEventHandler
{
    Task HandleAsync(EventEnvelope envelope, CancellationToken ct);
}

public static partial class SlackEndpoints
{
    public static IEndpointRouteBuilder MapSlack(this IEndpointRouteBuilder app)
    {
        // In Socket Mode nothing is taken inbound: the routes do not exist (404), so there is nothing to attack.
        if (app.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Hosting.SlackOptions>>().Value.SocketMode) return app;
        var slack = app.MapGroup("/slack").AddEndpointFilter<SlackRequestFilter>();
        slack.MapPost("/commands", (HttpContext http, IEnumerable<ISlashCommandHandler> commands, ISlackOriginCheck origin, ILoggerFactory logs) =>
            DispatchCommandAsync(http.VerifiedSlackBody().BodyText, commands, origin, logs, http.Request.Path, http.TraceIdentifier, http.RequestAborted));
        slack.MapPost("/interactions", (HttpContext http, IEnumerable<IViewSubmissionHandler> views, IEnumerable<IBlockActionHandler> actions, ISlackOriginCheck origin,
            ILoggerFactory logs) =>
            DispatchInteractionAsync(http.VerifiedSlackBody().BodyText, views, actions, origin, logs, http.Request.Path, http.TraceIdentifier, http.RequestAborted));
        slack.MapPost("/events", (HttpContext http, ISlackEventInbox inbox, ISlackOriginCheck origin, ILoggerFactory logs) =>
            DispatchEventAsync(http.VerifiedSlackBody(), inbox, origin, logs, http.Request.Path, http.RequestAborted));
        return app;
    }

    // The dispatch below is shared by the HTTP endpoints and Socket Mode: both transports reach the same handlers with the same bodies.

    /// <summary>A slash command's form body to its handler; the result is the HTTP response (or the Socket Mode ack's payload).</summary>
    internal static async Task<IResult> DispatchCommandAsync(string form, IEnumerable<ISlashCommandHandler> commands, ISlackOriginCheck origin, ILoggerFactory logs,
        string path, string reference, CancellationToken ct)
    {
        if (!SlashCommand.TryParse(form, out var parsed))
            return BadRequest("Expected a slash command form with at least 'command' and 'user_id'.");
        var from = RequestOrigin.FromCommandForm(form);
        switch (await origin.CheckAsync(from, ct))
        {
            case OriginCheck.ForeignApp: return Foreign(logs, path, from, OriginCheck.ForeignApp);
            case OriginCheck.ForeignWorkspace:
                // The person typed it in a workspace the bot does not serve (another workspace of the org): told why, nothing done.
                Foreign(logs, path, from, OriginCheck.ForeignWorkspace);
                return new CommandReply(":no_entry: This BreakGlassBot serves another Slack workspace, so it takes no commands from this one. "
                    + "Declare in the workspace it is installed in, or ask your Slack admins to install it here.").ToResult();
            case OriginCheck.Unknown:
                return new CommandReply(":warning: BreakGlassBot cannot confirm yet which Slack workspace it serves (Slack did not answer auth.test), "
                    + "so it did nothing. Try again in a moment; an admin can set Slack:TeamId to not depend on it.").ToResult();
        }
        try
        {
            // One command is registered (the manifest's); a renamed command in a workspace still reaches it.
            var command = commands.FirstOrDefault(c => string.Equals(c.Command, parsed.Command, StringComparison.OrdinalIgnoreCase)) ?? commands.First();
            return (await command.HandleAsync(parsed, ct)).ToResult();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return InternalError(logs, e, path, reference);
        }
    }

    /// <summary>An interaction's form body (<c>payload=…</c>) to its handler.</summary>
    internal static async Task<IResult> DispatchInteractionAsync(string form, IEnumerable<IViewSubmissionHandler> views,
        IEnumerable<IBlockActionHandler> actions, ISlackOriginCheck origin, ILoggerFactory logs, string path, string reference, CancellationToken ct)
    {
        if (!InteractionPayload.TryParse(form, out var payload))
            return BadRequest("Expected a form field 'payload' holding an interaction JSON object with 'type' and 'user'.");
        var from = RequestOrigin.FromInteractionForm(form);
        var check = await origin.CheckAsync(from, ct);
        if (check is OriginCheck.ForeignApp or OriginCheck.ForeignWorkspace) return Foreign(logs, path, from, check);
        if (check is OriginCheck.Unknown) return Unconfirmed();
        try
        {
            switch (payload.Type)
            {
                case "view_submission" when payload.View is { } view:
                    var handler = views.FirstOrDefault(v => v.CallbackId == view.CallbackId);
                    return handler is null ? Results.Ok() : await handler.SubmitAsync(payload, ct);
                case "block_actions" when payload.Actions is { Count: > 0 }:
                    foreach (var action in payload.Actions)
                        if (actions.FirstOrDefault(a => a.ActionIds.Contains(action.ActionId)) is { } act)
                            return await act.ActAsync(payload, action, ct);
                    return Results.Ok();
                default:
                    // view_closed, shortcuts and anything new: acknowledged, nothing to do.
                    return Results.Ok();
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return InternalError(logs, e, path, reference);
        }
    }

    /// <summary>An Events API body: saved to the inbox before this returns (the caller acknowledges only then).</summary>
    internal static async Task<IResult> DispatchEventAsync(VerifiedSlackRequest body, ISlackEventInbox inbox, ISlackOriginCheck origin, ILoggerFactory logs,
        string path, CancellationToken ct)
    {
        if (!EventEnvelope.TryParse(body.BodyText, out var envelope))
            return BadRequest("Expected an Events API JSON body with a 'type'.");
        if (envelope.Type == "event_callback")
        {
            var from = RequestOrigin.FromEvent(body.BodyText);
            var check = await origin.CheckAsync(from, ct);
            if (check is OriginCheck.ForeignApp or OriginCheck.ForeignWorkspace)
            {
                // Acknowledged and dropped: a refusal would only make Slack deliver it again.
                Foreign(logs, path, from, check);
                return Results.Ok();
            }
            // Not acknowledged: Slack delivers it again, by when the workspace may be known.
            if (check is OriginCheck.Unknown) return Unconfirmed();
        }
        if (envelope.Type == "app_rate_limited")
        {
            // Slack stops delivering events for the rest of the minute: thread approvals in that minute arrive late or not at all.
            logs.CreateLogger("BreakGlassBot.Slack").LogWarning("Slack rate-limited event delivery to the bot (app_rate_limited); events of this minute may be dropped");
            return Results.Ok();
        }
        if (envelope.Type == "url_verification")
            return envelope.Challenge is { Length: > 0 } challenge ? Results.Json(new { challenge }) : BadRequest("url_verification without a challenge.");
        if (envelope.Type != "event_callback") return Results.Ok();

        // Save, then ack: Slack retries an event not acknowledged within 3 s (same event_id, X-Slack-Retry-Num),
        // and the saved copy is handled even if the bot stops right after answering.
        var id = envelope.EventId ?? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body.Body));
        try { inbox.Accept(id, body.BodyText); }
        catch (Exception e) when (IsStoreUnavailable(e))
        {
            // Not saved, so not acknowledged: Slack delivers the event again, by when the database may be back.
            logs.CreateLogger("BreakGlassBot.Slack").LogError("The store did not answer; Slack event {EventId} left for Slack to redeliver: {Error}", id, e.Message);
            return Results.Json(new { ok = false, error = "store_unavailable" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        return Results.Ok();
    }

    static IResult Foreign(ILoggerFactory logs, string path, RequestOrigin from, OriginCheck check)
    {
        // Not audited (nothing happened to any change): a log line naming where it came from.
        LogForeign(logs.CreateLogger("BreakGlassBot.Slack"), path, check, from.TeamId ?? "-", from.EnterpriseId ?? "-", from.AppId ?? "-");
        return Results.Json(new { ok = false, error = check == OriginCheck.ForeignApp ? "foreign_app" : "foreign_workspace" }, statusCode: StatusCodes.Status401Unauthorized);
    }

    static IResult Unconfirmed() => Results.Json(new { ok = false, error = "workspace_unknown",
        message = "BreakGlassBot cannot confirm yet which Slack workspace it serves; try again in a moment." }, statusCode: StatusCodes.Status503ServiceUnavailable);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Slack request to {Path} refused ({Check}): team {TeamId}, enterprise {EnterpriseId}, app {AppId}")]
    static partial void LogForeign(ILogger logger, string path, OriginCheck check, string teamId, string enterpriseId, string appId);

    static IResult BadRequest(string message) => Results.Json(new { ok = false, error = "malformed_request", message }, statusCode: StatusCodes.Status400BadRequest);

    /// <summary>The bot's database did not answer (a PostgreSQL failover, a network cut); not a write refused on its merits.</summary>
    internal static bool IsStoreUnavailable(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is StoreUnavailableException) return true;
        return false;
    }

    static IResult InternalError(ILoggerFactory logs, Exception e, string path, string reference)
    {
        if (IsStoreUnavailable(e))
        {
            logs.CreateLogger("BreakGlassBot.Slack").LogError("The store did not answer on {Path} ({TraceId}): {Error}", path, reference, e.Message);
            // Said plainly: during a database failover the request was not recorded, and a retry in a minute will be.
            return Results.Json(new JsonObject
            {
                ["response_type"] = "ephemeral",
                ["text"] = $":x: BreakGlassBot could not record this — its database is not answering (reference {reference}). Try again in a minute; "
                    + "first check `/breakglass status`, since a write cut off mid-way may have been recorded after all. If you are fixing an outage, "
                    + "go ahead and say so in the change channel, and declare as soon as the bot answers.",
            });
        }
        logs.CreateLogger("BreakGlassBot.Slack").LogError(e, "Unhandled error on {Path} ({TraceId})", path, reference);
        // Slack shows this to the user: a plain sentence, never a stack trace.
        return Results.Json(new JsonObject
        {
            ["response_type"] = "ephemeral",
            ["text"] = $":x: BreakGlassBot hit an internal error (reference {reference}). Nothing you typed was lost: "
                + "`/breakglass status` shows your changes; try again in a moment.",
        });
    }
}
