using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Reviewing;

/// <summary>Shows the answer to a click made on someone's Home tab, which has no response_url (the Home tab feature implements it).</summary>
public interface IHomeTabAnswer
{
    void Show(string user, string text);
}

/// <summary>Ephemeral answers to a click, sent after the ack so the click never waits on Slack.</summary>
public sealed partial class ClickReplies(ISlackApi slack, IHostApplicationLifetime lifetime, ILogger<ClickReplies> log, IHomeTabAnswer? home = null)
{
    public void Send(InteractionPayload payload, string text, JsonArray? blocks = null)
    {
        if (payload.ResponseUrl is not { Length: > 0 } url)
        {
            if (FromHomeTab(payload)) home?.Show(payload.User.Id, text);
            return;
        }
        _ = Task.Run(async () =>
        {
            try { await slack.RespondAsync(url, new SlackMessage(text, blocks), ephemeral: true, replaceOriginal: false, lifetime.ApplicationStopping); }
            catch (Exception e) when (e is SlackApiException or OperationCanceledException) { LogFailed(log, e.Message); }
        });
    }

    /// <summary>A block_actions from a Home tab: its container is the view, and there is no channel, message or response_url.</summary>
    public static bool FromHomeTab(InteractionPayload payload) => payload.Container?.Type == "view" && payload.View?.Type == "home";

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Could not answer a click: {Error}")]
    static partial void LogFailed(ILogger logger, string error);
}

/// <summary>"Approve retroactively", on the announcement and on every reminder.</summary>
internal sealed class ApproveButton(Approvals approvals, ClickReplies replies) : IBlockActionHandler
{
    public IReadOnlyCollection<string> ActionIds { get; } = [ReviewActions.Approve];

    public async Task<IResult> ActAsync(InteractionPayload payload, ActionPayload action, CancellationToken ct)
    {
        if (!ChangeId.TryParse(action.Value, out var id)) return Results.Ok();
        var source = ClickReplies.FromHomeTab(payload) ? "home-tab-button" : payload.Container?.ChannelId?.StartsWith('D') == true ? "reminder-button" : "button";
        var result = await approvals.ApproveAsync(id, payload.User.Id, payload.User.Username ?? payload.User.Name, source, action.ActionTs, null, ct);
        replies.Send(payload, Approvals.Describe(result));
        return Results.Ok();
    }
}

/// <summary>"Details": the change's status, for the clicker only.</summary>
internal sealed class DetailsButton(ChangeStore store, ChangeMessages messages, ReadAccess access, ClickReplies replies, TimeProvider time) : IBlockActionHandler
{
    public IReadOnlyCollection<string> ActionIds { get; } = [ReviewActions.Details];

    public async Task<IResult> ActAsync(InteractionPayload payload, ActionPayload action, CancellationToken ct)
    {
        var change = ChangeId.TryParse(action.Value, out var id) ? store.Get(id.Number) : null;
        // Slack:Readers: refused alike whether the change exists, so the button cannot probe for ids.
        if (id.Number > 0 && (change is null ? !await access.MayReadAllAsync(payload.User.Id, ct) : !await access.MayReadAsync(payload.User.Id, change, ct)))
            replies.Send(payload, ReadAccess.Refusal(id));
        else if (change is not null)
            replies.Send(payload, $"{change.ChangeId}: {Blocks.UserText(change.Summary)}", messages.StatusBlocks(change, time.GetUtcNow()));
        else
            replies.Send(payload, $":warning: That change no longer exists.");
        return Results.Ok();
    }
}

/// <summary>"Request changes": opens a modal asking why; its submission records the request.</summary>
internal sealed class RequestChangesButton(ISlackApi slack, ChangeStore store, Reviewers reviewers, Approvals approvals, ClickReplies replies) : IBlockActionHandler, IViewSubmissionHandler
{
    public const string CallbackId = "breakglass_request_changes";
    public const string ReasonBlock = "reason";

    public IReadOnlyCollection<string> ActionIds { get; } = [ReviewActions.RequestChanges];
    string IViewSubmissionHandler.CallbackId => CallbackId;

    public async Task<IResult> ActAsync(InteractionPayload payload, ActionPayload action, CancellationToken ct)
    {
        if (!ChangeId.TryParse(action.Value, out var id) || store.Get(id.Number) is not { } change)
        {
            replies.Send(payload, ":warning: That change no longer exists.");
            return Results.Ok();
        }
        if (change.Status != ChangeStatus.Open)
        {
            replies.Send(payload, Approvals.Describe(new ApprovalResult.Closed(change)));
            return Results.Ok();
        }
        // The trigger_id dies 3 s after the click: only what is known without waiting on Slack is checked now (the
        // declarer, a PR's author, Slack:Reviewers, a fresh group cache). Otherwise the form opens at once, the group is
        // read meanwhile, and the submission is checked in full (Approvals.RequestChangesAsync).
        string? reason = null;
        using (var noWait = new CancellationTokenSource())
        {
            noWait.Cancel();
            try { reason = await reviewers.RefusalAsync(change, payload.User.Id, noWait.Token); }
            catch (ReviewerGroupUnavailableException) { }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        }
        if (reason is not null)
        {
            replies.Send(payload, Approvals.Describe(approvals.Refuse(change, payload.User.Id, reason, "request_changes", "button", action.ActionTs)));
            return Results.Ok();
        }
        if (payload.TriggerId is not { Length: > 0 } trigger) return Results.Ok();
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(ct);
        budget.CancelAfter(TimeSpan.FromSeconds(2)); // trigger_id expires 3 s after the click
        try
        {
            await slack.OpenViewAsync(trigger, Blocks.Modal(CallbackId, "Request changes", "Send",
            [
                Blocks.Section($"*{change.ChangeId}* {Blocks.UserText(change.Summary)}"),
                Blocks.Input(ReasonBlock, "What must change before you approve?", Blocks.TextInput("value", multiline: true, maxLength: 2000)),
            ], privateMetadata: change.ChangeId.ToString()), budget.Token);
        }
        catch (Exception e) when (e is SlackApiException or OperationCanceledException)
        {
            replies.Send(payload, $":warning: Slack could not open the form. Reply in the thread of {change.ChangeId} with what must change.");
        }
        return Results.Ok();
    }

    public async Task<IResult> SubmitAsync(InteractionPayload payload, CancellationToken ct)
    {
        var reason = payload.View!.Value(ReasonBlock)?.Trim() ?? "";
        if (reason.Length == 0)
            return Results.Json(new { response_action = "errors", errors = new Dictionary<string, string> { [ReasonBlock] = "Say what must change." } });
        if (!ChangeId.TryParse(payload.View.PrivateMetadata, out var id))
            return Results.Json(new { response_action = "errors", errors = new Dictionary<string, string> { [ReasonBlock] = "This form lost its change id; click Request changes again." } });
        var result = await approvals.RequestChangesAsync(id, payload.User.Id, reason, ct);
        if (result is ApprovalResult.Approved) return Results.Json(new { response_action = "clear" });
        return Results.Json(new { response_action = "errors", errors = new Dictionary<string, string> { [ReasonBlock] = Approvals.Describe(result) } });
    }
}
