using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>
/// /breakglass cancel BG-n &lt;reason&gt;: withdraws a mistaken declaration; it stays in the record with the reason. Once the
/// bypass was used (a Team membership added, a PR merged) a cancel would end the review the bypass owes, so the declarer
/// cannot; an admin who is not the declarer can withdraw it: the bypass ends and the change still needs its review.
/// </summary>
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
        AuditEvent Refused(EmergencyChange c, string why, string? used = null)
        {
            var data = new Dictionary<string, string> { ["reason"] = why };
            if (used is not null) data["used"] = used;
            return new AuditEvent { ChangeNumber = c.Id, At = now, Actor = command.UserId, Type = AuditTypes.CancelRefused, Data = data };
        }
        // The decision is the reply, and whether the change stays open for its review.
        var (updated, decided) = store.Update<(string Reply, bool Withdrawn)?>(id.Number, c =>
        {
            if (!permissions.MayCancel(command.UserId, c))
                return new([Refused(c, "not declarer or admin")],
                    (c.Detected is not null
                        ? $":no_entry: {c.ChangeId} is an undeclared bypass the bot detected: only an admin who is neither responsible for it nor its merger or pusher may dismiss it, "
                          + "and the bot must know the admin's GitHub account to tell (`/breakglass link github`)."
                        : $":no_entry: Only {Blocks.Mention(c.DeclaredBy)} (who declared it) or an admin may cancel {c.ChangeId}.", false));
            if (c.Cancellation is { AfterUse: true } w)
                return Decision<(string, bool)?>.Only(($"{c.ChangeId} was already withdrawn after use by {Blocks.Mention(w.By)}; it still needs its retrospective review.", false));
            if (c.Status != ChangeStatus.Open)
                return Decision<(string, bool)?>.Only(($"{c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}"
                    + (c.Cancellation is { } x ? $" (by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)})." : "."), false));
            // A detected case grants nothing and its merge happened before it existed: an admin's cancel dismisses it (a false
            // positive, on the record with the reason), it is not a withdrawal of a bypass.
            var uses = c.Detected is null ? BypassUse.Of(c) : [];
            var used = uses.Count == 0 ? null : string.Join("; ", uses);
            if (used is not null && command.UserId == c.DeclaredBy)
                return new([Refused(c, "bypass used", used)],
                    ($":no_entry: {c.ChangeId}'s bypass was used ({Blocks.Escape(used)}), so it cannot be cancelled: that would drop the review it owes. "
                     + "If it was declared by mistake, an admin other than you can withdraw it; it still needs its retrospective review.", false));
            c.Cancellation = new Cancellation { By = command.UserId, At = now, Reason = reason, AfterUse = used is not null, Used = used };
            // Withdrawn after use, the change stays open: reminded, overdue, in the digest and in every rate until reviewed.
            if (used is null) c.Status = ChangeStatus.Cancelled;
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, CancelledNote.Key);
            foreach (var hook in onCancel) hook.Cancelled(c, now);
            var data = new Dictionary<string, string> { ["reason"] = reason, ["used"] = used ?? "nothing" };
            if (c.Bypass is { } b) data["bypass"] = $"{b.Mode}" + (b.Granted ? $" granted {b.GrantedAt:O}" : " not granted");
            return new([new AuditEvent { ChangeNumber = c.Id, At = now, Actor = command.UserId, Type = used is null ? AuditTypes.Cancelled : AuditTypes.WithdrawnAfterUse, Data = data }],
                (used is null ? $"{c.ChangeId} is cancelled; it stays in the record with your reason."
                    : $"{c.ChangeId} is withdrawn after use: its bypass ends now, and it still needs its retrospective review ({Blocks.Escape(used)}).", true));
        });
        if (updated is null) return (new CommandReply($":warning: There is no {id}. `/breakglass list mine` shows your changes."), id, false);
        if (decided is { Withdrawn: true }) outbox.Nudge();
        return (new CommandReply(decided?.Reply ?? ""), id, decided is { Withdrawn: true });
    }
}

/// <summary>What a change's bypass has been used for, as far as the bot knows now.</summary>
internal static class BypassUse
{
    /// <summary>
    /// A Team membership the bot added, a merge by the bot (done, or requested and still to run), a linked PR merged (in
    /// RecordOnly the bot cannot see a bypass by hand; a merge is what shows it). Empty: nothing yet.
    /// </summary>
    public static IReadOnlyList<string> Of(EmergencyChange c)
    {
        var uses = new List<string>();
        if (c.Bypass is { Granted: true, Mode: "Team", WasAlreadyMember: false } team)
            uses.Add($"GitHub user {team.Login} was added to {team.Team}");
        if (c.Bypass is { PullRequest: { } merged }) uses.Add($"the bot merged {merged}");
        foreach (var pr in c.PullRequests.Where(p => p.Merged || p.MergedAt is not null))
            if (c.Bypass?.PullRequest != pr.Ref.ToString()) uses.Add($"{pr.Ref} was merged");
        foreach (var step in c.Steps.Where(s => s.Kind == StepKinds.GitHubMerge && s.State == StepState.Pending))
            uses.Add($"a merge by the bot was requested ({step.Target})");
        return uses;
    }
}

internal sealed class CancelledNote : IThreadNoteSource
{
    public const string Key = "cancelled";
    public IReadOnlyCollection<string> Names => [Key];

    public string? Render(EmergencyChange change, string key) =>
        key == Key && change.Cancellation is { } x
            ? x.AfterUse
                ? $":no_entry_sign: {change.ChangeId} was withdrawn after use by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)}. Its bypass ends now; "
                  + $"it was used ({Blocks.Escape(x.Used ?? "")}), so it *still needs its retrospective review*."
                : $":no_entry_sign: {change.ChangeId} was cancelled by {Blocks.Mention(x.By)}: {Blocks.UserText(x.Reason)}. No retrospective review is needed; the record is kept."
            : null;
}
