using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>/breakglass status [BG-n]: one change, or the caller's open ones.</summary>
internal sealed class StatusCommand(ChangeStore store, ChangeMessages messages, ReadAccess access, TimeProvider time) : ISubCommand
{
    public string Name => "status";
    public string Usage => "`/breakglass status [BG-n]` one change, or your open ones";

    public async Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        var args = arguments.Trim();
        // Slack:Readers: the same answer whether the change exists or not, so a refusal reveals nothing.
        if (ChangeId.TryParse(args, out var id) && (store.Get(id.Number) is { } change ? !await access.MayReadAsync(command.UserId, change, ct) : !await access.MayReadAllAsync(command.UserId, ct)))
            return new CommandReply(ReadAccess.Refusal(id));
        return Status(command, args);
    }

    CommandReply Status(SlashCommand command, string args)
    {
        var now = time.GetUtcNow();
        if (args.Length == 0)
        {
            var mine = store.OpenChangesOf(command.UserId);
            return mine.Count == 0
                ? new CommandReply("You have no open emergency changes. `/breakglass list` shows everyone's.")
                : new CommandReply($"Your open changes ({mine.Count}):\n" + string.Join('\n', mine.Take(ListCommand.Limit).Select(c => messages.Line(c, now))));
        }
        if (!ChangeId.TryParse(args, out var id))
            return new CommandReply($":warning: '{Blocks.Escape(args)}' is not a change id. Type `/breakglass status BG-42`." + SubCommandText.DeclareInstead);
        var change = store.Get(id.Number);
        if (change is null)
            return new CommandReply($":warning: There is no {id}. `/breakglass list` shows the open changes.");
        return new CommandReply($"{change.ChangeId}: {Blocks.UserText(change.Summary)}", messages.StatusBlocks(change, now));
    }
}
