using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>/breakglass list [open|overdue|mine]: a short list, counted from the due-time index.</summary>
internal sealed class ListCommand(ChangeStore store, ChangeMessages messages, ReadAccess access, TimeProvider time) : ISubCommand
{
    public const int Limit = 15;
    public string Name => "list";
    public string Usage => "`/breakglass list [open|overdue|mine]` a short list";

    public async Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct) =>
        List(command, arguments.Trim(), await access.MayReadAllAsync(command.UserId, ct));

    public CommandReply List(SlashCommand command, string args, bool readsAll = true)
    {
        var now = time.GetUtcNow();
        // Someone Slack:Readers leaves out sees only their own changes in every list (the ones they declared or approved).
        var own = readsAll ? null : Own(command.UserId);
        if (own is not null && args.ToLowerInvariant() is "" or "open" or "overdue")
            own = [.. own.Where(c => c.Status == ChangeStatus.Open && (args.ToLowerInvariant() != "overdue" || c.IsOverdue(now))).OrderBy(c => c.DueAt).ThenBy(c => c.Id)];
        // Open and overdue lists are counted from the due-time index and only the lines shown are read in full.
        var (title, count, items) = args.ToLowerInvariant() switch
        {
            "" or "open" when own is not null => All("Your open emergency changes (Slack:Readers limits you to your own)", own),
            "overdue" when own is not null => All("Your overdue emergency changes (Slack:Readers limits you to your own)", own),
            "" or "open" => First("Open emergency changes", DateTimeOffset.MinValue, DateTimeOffset.MaxValue),
            "overdue" => First("Overdue emergency changes", DateTimeOffset.MinValue, now.AddTicks(-1)),
            "mine" => All("Your emergency changes", own ?? store.ChangesOf(command.UserId)),
            _ => ("", 0, null),
        };
        if (items is null)
            return new CommandReply($":warning: I can list `open`, `overdue` or `mine`, not '{Blocks.Escape(args)}'. Type `/breakglass list overdue`." + SubCommandText.DeclareInstead);
        if (count == 0)
            return new CommandReply($"{title}: none.");
        var lines = items.Take(Limit).Select(c => messages.Line(c, now)).ToList();
        if (count > Limit) lines.Add($"…and {count - Limit} more.");
        return new CommandReply($"*{title}* ({count}):\n" + string.Join('\n', lines));
    }

    /// <summary>Open changes due in [from, to]: counted, and the ones shown, soonest due first.</summary>
    (string Title, int Count, IReadOnlyList<EmergencyChange>? Items) First(string title, DateTimeOffset from, DateTimeOffset to) =>
        (title, store.CountOpenDue(from, to), store.FirstOpenDue(from, to, Limit));

    /// <summary>The changes <paramref name="user"/> declared or approved, newest first.</summary>
    IReadOnlyList<EmergencyChange> Own(string user) =>
        [.. store.ChangesOf(user, int.MaxValue).Concat(store.OpenChanges().Where(c => c.DeclaredBy != user && c.Approvals.Any(a => a.Reviewer == user)))
            .OrderByDescending(c => c.Id)];

    static (string Title, int Count, IReadOnlyList<EmergencyChange>? Items) All(string title, IReadOnlyList<EmergencyChange> items) =>
        (title, items.Count, items);
}
