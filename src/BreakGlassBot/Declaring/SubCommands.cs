using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>A /breakglass sub-command, picked by its first word ("status", "link", "export"); Declaring's own and other features'.</summary>
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

/// <summary>"/breakglass link &lt;system&gt; &lt;account&gt;": who the caller is in another system (GitHub implements "github").</summary>
public interface IAccountLink
{
    string System { get; }
    string Usage { get; }
    Task<CommandReply> LinkAsync(SlashCommand command, string account, CancellationToken ct);
}

/// <summary>Words shared by the sub-commands' answers.</summary>
public static class SubCommandText
{
    /// <summary>For "/breakglass status page down in eu": the first word picked a sub-command the user did not mean.</summary>
    public const string DeclareInstead = "\nTo declare an emergency with this text, start it with a different word, or use `/breakglass` alone to open the form.";
}
