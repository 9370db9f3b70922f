using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>/breakglass cancel BG-n &lt;reason&gt;: withdraws a mistaken declaration; it stays in the record with the reason.</summary>
internal sealed class CancelCommand(ChangeStore store, Permissions permissions, ReadAccess access, OutboxQueue outbox, TimeProvider time, IEnumerable<IChangeCancellation> onCancel)
    : ISubCommand
{
    public string Name => "cancel";
    public string Usage => "`/breakglass cancel BG-n <reason>` withdraw a mistaken declaration (it stays in the record)";

    public async Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        var (reply, id, done) = Cancel(command, arguments.Trim());
        // Slack:Readers: a refusal, or a change that does not exist, must not tell someone who may not read it who declared
        // it or that it exists (the refused attempt is still audited).
        if (!done && id is { } changeId && access.Restricted
            && (store.Get(changeId.Number) is { } change ? !await access.MayReadAsync(command.UserId, change, ct) : !await access.MayReadAllAsync(command.UserId, ct)))
            return new CommandReply(ReadAccess.Refusal(changeId));
        return reply;
    }

    (CommandReply Reply, ChangeId? Id, bool Done) Cancel(SlashCommand command, string args)
    {
        const string usage = "Type `/breakglass cancel BG-42 <reason>`: the reason is kept in the record.";
        var space = args.IndexOf(' ');
        var idText = space < 0 ? args : args[..space];
        var reason = space < 0 ? "" : args[(space + 1)..].Trim();
        if (!ChangeId.TryParse(idText, out var id)) return (new CommandReply(":warning: Which change? " + usage + (args.Length > 0 ? SubCommandText.DeclareInstead : "")), null, false);
        if (reason.Length == 0) return (new CommandReply($":warning: Say why {id} is cancelled. " + usage), null, false);
        var now = time.GetUtcNow();
        // The decision is the refusal, if any.
        var (updated, refusal) = store.Update<string?>(id.Number, c =>
        {
            if (!permissions.MayCancel(command.UserId, c))
                return new([new AuditEvent { ChangeNumber = c.Id, At = now, Actor = command.UserId, Type = AuditTypes.CancelRefused, Data = new() { ["reason"] = "not declarer or admin" } }],
                    $":no_entry: Only {Blocks.Mention(c.DeclaredBy)} (who declared it) or an admin may cancel {c.ChangeId}.");
            if (c.Status != ChangeStatus.Open)
                return Decision<string?>.Only($"{c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}"
                    + (c.Cancellation is { } x ? $" (by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)})." : "."));
            c.Status = ChangeStatus.Cancelled;
            c.Cancellation = new Cancellation { By = command.UserId, At = now, Reason = reason };
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, CancelledNote.Key);
            foreach (var hook in onCancel) hook.Cancelled(c, now);
            return new([new AuditEvent { ChangeNumber = c.Id, At = now, Actor = command.UserId, Type = AuditTypes.Cancelled, Data = new() { ["reason"] = reason } }], null);
        });
        if (updated is null) return (new CommandReply($":warning: There is no {id}. `/breakglass list mine` shows your changes."), id, false);
        if (refusal is not null) return (new CommandReply(refusal), id, false);
        outbox.Nudge();
        return (new CommandReply($"{updated.ChangeId} is cancelled; it stays in the record with your reason."), id, true);
    }
}

internal sealed class CancelledNote : IThreadNoteSource
{
    public const string Key = "cancelled";
    public IReadOnlyCollection<string> Names => [Key];

    public string? Render(EmergencyChange change, string key) =>
        key == Key && change.Cancellation is { } x
            ? $":no_entry_sign: {change.ChangeId} was cancelled by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)}. No retrospective review is needed; the record is kept."
            : null;
}
