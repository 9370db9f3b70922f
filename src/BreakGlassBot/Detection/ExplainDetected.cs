using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Detection;

/// <summary>
/// "Add summary and justification" on a detected case: opens the declaration form prefilled with the case's summary, and its
/// submission records the explanation on the case. Only the person responsible or an admin may do either.
/// </summary>
internal sealed class ExplainDetected(ISlackApi slack, ChangeStore store, Permissions permissions, OutboxQueue outbox, ClickReplies replies, TimeProvider time)
    : IBlockActionHandler, IViewSubmissionHandler
{
    public IReadOnlyCollection<string> ActionIds { get; } = [DetectionKeys.ExplainAction];
    string IViewSubmissionHandler.CallbackId => DetectionKeys.ExplainCallback;

    /// <summary>Why <paramref name="user"/> may not explain the case now; null: they may.</summary>
    string? Refusal(EmergencyChange c, string user)
    {
        if (!ChangeMessages.IsDetected(c)) return $"{c.ChangeId} was declared, not detected: there is nothing to explain here.";
        if (c.Detected!.AbsorbedBy is { } m) return $"{c.ChangeId} was declared as {new ChangeId(m)}: that declaration explains it.";
        // A reviewed case may still be explained: the justification belongs on record whenever it comes.
        if (c.Status is ChangeStatus.Closed or ChangeStatus.Cancelled) return $"{c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}.";
        if (user == c.DeclaredBy || permissions.IsAdmin(user)) return null;
        return c.DeclaredBy.Length == 0
            ? $"Nobody is responsible for {c.ChangeId} yet: an admin assigns someone with /breakglass assign {c.ChangeId} @person."
            : $"Only the person responsible for {c.ChangeId} or an admin may give its summary and justification.";
    }

    public async Task<IResult> ActAsync(InteractionPayload payload, ActionPayload action, CancellationToken ct)
    {
        if (!ChangeId.TryParse(action.Value, out var id) || store.Get(id.Number) is not { } change)
        {
            replies.Send(payload, ":warning: That change no longer exists.");
            return Results.Ok();
        }
        if (Refusal(change, payload.User.Id) is { } refusal)
        {
            replies.Send(payload, ":no_entry: " + refusal);
            return Results.Ok();
        }
        if (payload.TriggerId is not { Length: > 0 } trigger) return Results.Ok();
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(ct);
        budget.CancelAfter(TimeSpan.FromSeconds(2)); // trigger_id expires 3 s after the click
        try { await slack.OpenViewAsync(trigger, Build(change), budget.Token); }
        catch (Exception e) when (e is SlackApiException or OperationCanceledException)
        {
            replies.Send(payload, $":warning: Slack could not open the form. Click *{DetectionDirectMessages.ExplainButtonText}* again in a moment.");
        }
        return Results.Ok();
    }

    /// <summary>The declaration form's summary and justification, without the link fields: the case already names what changed.</summary>
    public static JsonObject Build(EmergencyChange c)
    {
        var summary = Blocks.TextInput("value", maxLength: DeclarationText.MaxSummaryLength);
        if (c.Summary.Length > 0) summary["initial_value"] = Blocks.Truncate(c.Summary, DeclarationText.MaxSummaryLength);
        var justification = Blocks.TextInput("value", multiline: true, maxLength: 2900);
        if (c.Detected?.ExplainedAt is not null && c.Justification is { Length: > 0 } given) justification["initial_value"] = given;
        return Blocks.Modal(DetectionKeys.ExplainCallback, $"Explain {c.ChangeId}", "Save",
        [
            Blocks.Section($"GitHub shows {ChangeMessages.DetectedWhat(c)} without a review, and nobody declared it. "
                + "Say what the change was and why it could not wait: this is its declaration on record."),
            Blocks.Input(DeclarationModal.SummaryBlock, "What did it change?", summary),
            Blocks.Input(DeclarationModal.JustificationBlock, "Why couldn't it wait for review?", justification),
        ], privateMetadata: c.ChangeId.ToString());
    }

    /// <summary>What a submission came to.</summary>
    abstract record Outcome
    {
        public sealed record Recorded(EmergencyChange Change) : Outcome;
        /// <summary>The same explanation is already on record (a view submitted twice): nothing recorded again.</summary>
        public sealed record AlreadyRecorded(EmergencyChange Change) : Outcome;
        public sealed record Refused(string Why) : Outcome;
    }

    public async Task<IResult> SubmitAsync(InteractionPayload payload, CancellationToken ct)
    {
        var view = payload.View!;
        var summary = view.Value(DeclarationModal.SummaryBlock)?.Trim() ?? "";
        var justification = view.Value(DeclarationModal.JustificationBlock)?.Trim() ?? "";
        var errors = new Dictionary<string, string>();
        if (summary.Length < 3) errors[DeclarationModal.SummaryBlock] = "Say in a few words what the change was.";
        else if (summary.Length > DeclarationText.MaxSummaryLength) errors[DeclarationModal.SummaryBlock] = $"Keep the summary under {DeclarationText.MaxSummaryLength} characters; put the rest in the justification.";
        if (justification.Length == 0) errors[DeclarationModal.JustificationBlock] = "Say why this could not wait for the normal review.";
        if (!ChangeId.TryParse(view.PrivateMetadata, out var id)) errors[DeclarationModal.SummaryBlock] = "This form lost its change id; click the button in the direct message again.";
        if (errors.Count > 0) return Results.Json(new { response_action = "errors", errors });

        var user = payload.User.Id;
        var now = time.GetUtcNow();
        // Idempotent by content, decided inside the write: a second submission of the same view finds its explanation on record.
        var (_, outcome) = await store.UpdateAsync<Outcome>(id.Number, c =>
        {
            if (Refusal(c, user) is { } why) return Decision<Outcome>.Only(new Outcome.Refused(why));
            if (c.Detected!.ExplainedAt is not null && (c.Summary == summary || c.StandingApprovals.Any() || c.Status != ChangeStatus.Open) && c.Justification == justification)
                return Decision<Outcome>.Only(new Outcome.AlreadyRecorded(c));
            // Once someone approved, the summary they saw stays: the explanation is kept beside it, never written over it.
            if (!c.StandingApprovals.Any() && c.Status == ChangeStatus.Open) c.Summary = summary;
            c.Justification = justification;
            c.Detected.ExplainedAt = now;
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, DetectionNotes.ExplainedKey(user));
            return new([new AuditEvent
            {
                ChangeNumber = c.Id, At = now, Actor = user, Type = AuditTypes.DetectionExplained,
                Data = new() { ["summary"] = summary, ["justification"] = justification, ["source"] = $"modal:{view.Id}" },
            }], new Outcome.Recorded(c));
        });
        switch (outcome)
        {
            case Outcome.Recorded(var c):
                outbox.Nudge();
                return Saved(c);
            case Outcome.AlreadyRecorded(var c):
                return Saved(c);
            case Outcome.Refused(var why):
                return Results.Json(new { response_action = "errors", errors = new Dictionary<string, string> { [DeclarationModal.SummaryBlock] = why } });
            default:
                return Results.Json(new { response_action = "errors", errors = new Dictionary<string, string> { [DeclarationModal.SummaryBlock] = $"There is no {id}." } });
        }
    }

    static IResult Saved(EmergencyChange c)
    {
        var text = $":white_check_mark: *{c.ChangeId}* now reads: {Blocks.UserText(c.Summary)}\n"
            + $"The announcement and its thread show your explanation. The change still needs its retrospective review by {Blocks.Date(c.DueAt)}.";
        var view = new JsonObject
        {
            ["type"] = "modal",
            ["title"] = Blocks.PlainText($"{c.ChangeId} explained", 24),
            ["close"] = Blocks.PlainText("Done", 24),
            ["blocks"] = Blocks.List(Blocks.Section(text)),
        };
        return Results.Json(new JsonObject { ["response_action"] = "update", ["view"] = view });
    }
}
