using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>/breakglass: the first word picks the sub-command; anything else is a declaration.</summary>
internal sealed class BreakGlassCommand(DeclareCommand declare, IEnumerable<ISubCommand> subCommands) : ISlashCommandHandler
{
    public const string SlashCommandName = "/breakglass";
    public string Command => SlashCommandName;
    const string OverdueUsage = "`/breakglass overdue` changes past their review deadline";

    readonly ISubCommand[] all = [.. subCommands];
    readonly Dictionary<string, ISubCommand> byName = subCommands.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);

    public string Help() => string.Join('\n',
    [
        "*BreakGlassBot* declares emergency changes and tracks their retrospective review.",
        "`/breakglass` open the declaration form",
        "`/breakglass <summary> [PR URL...] [JIRA-KEY...]` declare at once",
        // "overdue" is described once, beside the list it shortens (the digest feature's own word for it is the same command).
        .. all.Where(c => c.Name != "overdue").SelectMany(c => c.Name == "list" ? [c.Usage, OverdueUsage] : new[] { c.Usage }),
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
            "" => await declare.OpenModalAsync(command, ct),
            "help" or "-h" or "--help" or "?" => new CommandReply(Help()),
            _ when byName.TryGetValue(first, out var sub) => await sub.RunAsync(command, rest, ct),
            "overdue" when byName.TryGetValue("list", out var list) => await list.RunAsync(command, "overdue", ct),
            _ => await declare.DeclareAsync(command, text, ct),
        };
    }
}
