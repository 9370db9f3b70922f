using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Declaring;

/// <summary>Optional sub-commands that other features add (e.g. "overdue", "link", "export").</summary>
public interface ISubCommand
{
    string Name { get; }
    string Usage { get; }
    Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct);
}

/// <summary>What other features do, inside the cancelling write, when a change is cancelled (e.g. end its bypass now).</summary>
public interface IChangeCancellation
{
    void Cancelled(EmergencyChange change, DateTimeOffset now);
}

/// <summary>/breakglass: the first word picks the sub-command; anything else is a declaration.</summary>
internal sealed class BreakGlassCommand(
    Declarations declarations, ChangeStore store, ChangeMessages messages, Permissions permissions, OutboxQueue outbox,
    DeclarationModal modal, ISlackApi slack, IOptions<SlackOptions> slackOptions, TimeProvider time,
    IEnumerable<ISubCommand> extraCommands, IEnumerable<IChangeCancellation> onCancel, ILogger<BreakGlassCommand> log) : ISlashCommandHandler
{
    public const string SlashCommandName = "/breakglass";
    public string Command => SlashCommandName;
    const int ListLimit = 15;
    /// <summary>For "/breakglass status page down in eu": the first word picked a sub-command the user did not mean.</summary>
    public const string DeclareInstead = "\nTo declare an emergency with this text, start it with a different word, or use `/breakglass` alone to open the form.";

    readonly Dictionary<string, ISubCommand> extras = extraCommands.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);

    public string Help() => string.Join('\n',
    [
        "*BreakGlassBot* declares emergency changes and tracks their retrospective review.",
        "`/breakglass` open the declaration form",
        "`/breakglass <summary> [PR URL...] [JIRA-KEY...]` declare at once",
        "`/breakglass status [BG-n]` one change, or your open ones",
        "`/breakglass list [open|overdue|mine]` a short list",
        "`/breakglass overdue` changes past their review deadline",
        "`/breakglass cancel BG-n <reason>` withdraw a mistaken declaration (it stays in the record)",
        .. extras.Values.Where(e => e.Name != "overdue").Select(e => e.Usage),
        "`/breakglass help` this help",
    ]);

    public async Task<CommandReply> HandleAsync(SlashCommand command, CancellationToken ct)
    {
        var text = command.Text.Trim();
        var space = text.IndexOfAny([' ', '\t', '\n']);
        var first = (space < 0 ? text : text[..space]).ToLowerInvariant();
        var rest = space < 0 ? "" : text[(space + 1)..].Trim();
        return first switch
        {
            "" => await OpenModalAsync(command, ct),
            "help" or "-h" or "--help" or "?" => new CommandReply(Help()),
            "status" => Status(command, rest),
            "list" => List(command, rest),
            "cancel" => Cancel(command, rest),
            _ when extras.TryGetValue(first, out var extra) => await extra.RunAsync(command, rest, ct),
            "overdue" => List(command, "overdue"),
            _ => await DeclareAsync(command, text),
        };
    }

    async Task<CommandReply> DeclareAsync(SlashCommand command, string text)
    {
        if (!permissions.MayDeclare(command.UserId))
            return new CommandReply(":no_entry: Only the configured declarers may break the glass. Ask one of: "
                + string.Join(", ", slackOptions.Value.Declarers.Select(Blocks.Mention)));
        var parsed = DeclarationText.Parse(text);
        if (parsed.Problems.Count > 0)
            return new CommandReply(":warning: " + string.Join("\n", parsed.Problems.Select(Blocks.Escape))
                + "\nType `/breakglass <summary> https://github.com/<owner>/<repo>/pull/<n> ABC-123`, or just `/breakglass` for the form.");
        if (parsed.Summary.Length < 3)
            return new CommandReply(":warning: Say what you are changing and why: `/breakglass <summary> [PR URL] [JIRA-KEY]`, e.g. "
                + "`/breakglass Roll back payments deploy https://github.com/acme/pay/pull/42 OPS-7`");
        var summary = parsed.Summary.Length > DeclarationText.MaxSummaryLength ? parsed.Summary[..DeclarationText.MaxSummaryLength] : parsed.Summary;
        var justification = parsed.Summary.Length > DeclarationText.MaxSummaryLength ? parsed.Summary : null;

        var (change, _) = await declarations.DeclareAsync(new DeclarationRequest(command.UserId, command.UserName, summary, justification, null, null,
            parsed.PullRequests, parsed.JiraKeys, SourceKey: null, command.ChannelId));
        return messages.Confirmation(change);
    }

    async Task<CommandReply> OpenModalAsync(SlashCommand command, CancellationToken ct)
    {
        if (!permissions.MayDeclare(command.UserId))
            return new CommandReply(":no_entry: Only the configured declarers may break the glass.");
        if (string.IsNullOrEmpty(command.TriggerId))
            return new CommandReply("Type `/breakglass <summary> [PR URL] [JIRA-KEY]` to declare.");
        // trigger_id expires 3 s after the click: open the modal now, inside the request, with a budget.
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(ct);
        budget.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await slack.OpenViewAsync(command.TriggerId, modal.Build(command.ChannelId), budget.Token);
            return new CommandReply("");
        }
        catch (Exception e) when (e is SlackApiException or OperationCanceledException)
        {
            log.LogWarning("views.open failed for {User}: {Error}", command.UserId, (e as SlackApiException)?.Error ?? "timeout");
            return new CommandReply(":warning: Slack could not open the form just now. Declare in one line instead: "
                + "`/breakglass <summary> [PR URL] [JIRA-KEY]`");
        }
    }

    CommandReply Status(SlashCommand command, string args)
    {
        var now = time.GetUtcNow();
        if (args.Length == 0)
        {
            var mine = store.OpenChangesOf(command.UserId);
            return mine.Count == 0
                ? new CommandReply("You have no open emergency changes. `/breakglass list` shows everyone's.")
                : new CommandReply($"Your open changes ({mine.Count}):\n" + string.Join('\n', mine.Take(ListLimit).Select(c => messages.Line(c, now))));
        }
        if (!ChangeId.TryParse(args, out var id))
            return new CommandReply($":warning: '{Blocks.Escape(args)}' is not a change id. Type `/breakglass status BG-42`." + DeclareInstead);
        var change = store.Get(id.Number);
        if (change is null)
            return new CommandReply($":warning: There is no {id}. `/breakglass list` shows the open changes.");
        return new CommandReply($"{change.ChangeId}: {Blocks.Escape(change.Summary)}", messages.StatusBlocks(change, now));
    }

    CommandReply List(SlashCommand command, string args)
    {
        var now = time.GetUtcNow();
        // Open and overdue lists are counted from the due-time index and only the lines shown are read in full.
        var (title, count, items) = args.ToLowerInvariant() switch
        {
            "" or "open" => First("Open emergency changes", DateTimeOffset.MinValue, DateTimeOffset.MaxValue),
            "overdue" => First("Overdue emergency changes", DateTimeOffset.MinValue, now.AddTicks(-1)),
            "mine" => All("Your emergency changes", store.ChangesOf(command.UserId)),
            _ => ("", 0, null),
        };
        if (items is null)
            return new CommandReply($":warning: I can list `open`, `overdue` or `mine`, not '{Blocks.Escape(args)}'. Type `/breakglass list overdue`." + DeclareInstead);
        if (count == 0)
            return new CommandReply($"{title}: none.");
        var lines = items.Take(ListLimit).Select(c => messages.Line(c, now)).ToList();
        if (count > ListLimit) lines.Add($"…and {count - ListLimit} more.");
        return new CommandReply($"*{title}* ({count}):\n" + string.Join('\n', lines));
    }

    /// <summary>Open changes due in [from, to]: counted, and the ones shown, soonest due first.</summary>
    (string Title, int Count, IReadOnlyList<EmergencyChange>? Items) First(string title, DateTimeOffset from, DateTimeOffset to) =>
        (title, store.CountOpenDue(from, to), store.FirstOpenDue(from, to, ListLimit));

    static (string Title, int Count, IReadOnlyList<EmergencyChange>? Items) All(string title, IReadOnlyList<EmergencyChange> items) =>
        (title, items.Count, items);

    CommandReply Cancel(SlashCommand command, string args)
    {
        const string usage = "Type `/breakglass cancel BG-42 <reason>`: the reason is kept in the record.";
        var space = args.IndexOf(' ');
        var idText = space < 0 ? args : args[..space];
        var reason = space < 0 ? "" : args[(space + 1)..].Trim();
        if (!ChangeId.TryParse(idText, out var id)) return new CommandReply(":warning: Which change? " + usage + (args.Length > 0 ? DeclareInstead : ""));
        if (reason.Length == 0) return new CommandReply($":warning: Say why {id} is cancelled. " + usage);
        var now = time.GetUtcNow();
        string? refusal = null;
        var updated = store.Update(id.Number, c =>
        {
            if (!permissions.MayCancel(command.UserId, c))
            {
                refusal = $":no_entry: Only {Blocks.Mention(c.DeclaredBy)} (who declared it) or an admin may cancel {c.ChangeId}.";
                return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = command.UserId, Type = AuditTypes.CancelRefused, Data = new() { ["reason"] = "not declarer or admin" } }];
            }
            if (c.Status != ChangeStatus.Open)
            {
                refusal = $"{c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}" + (c.Cancellation is { } x ? $" (by {Blocks.Mention(x.By)}: {Blocks.Escape(x.Reason)})." : ".");
                return [];
            }
            c.Status = ChangeStatus.Cancelled;
            c.Cancellation = new Cancellation { By = command.UserId, At = now, Reason = reason };
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, CancelledNote.Key);
            foreach (var hook in onCancel) hook.Cancelled(c, now);
            return [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = command.UserId, Type = AuditTypes.Cancelled, Data = new() { ["reason"] = reason } }];
        });
        if (updated is null) return new CommandReply($":warning: There is no {id}. `/breakglass list mine` shows your changes.");
        if (refusal is not null) return new CommandReply(refusal);
        outbox.Nudge();
        return new CommandReply($"{updated.ChangeId} is cancelled; it stays in the record with your reason.");
    }
}

internal sealed class CancelledNote : IThreadNoteSource
{
    public const string Key = "cancelled";

    public string? Render(EmergencyChange change, string key) =>
        key == Key && change.Cancellation is { } x
            ? $":no_entry_sign: {change.ChangeId} was cancelled by {Blocks.Mention(x.By)}: {Blocks.Escape(x.Reason)}. No retrospective review is needed; the record is kept."
            : null;
}
