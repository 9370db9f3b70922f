using System.Text.RegularExpressions;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Detection;

/// <summary>
/// "/breakglass assign BG-n @user" (admins): names the person responsible for an open detected case, whose GitHub account
/// the bot could not map to anyone (or mapped to the wrong person). They are asked by direct message to explain it.
/// </summary>
internal sealed partial class AssignCommand(ChangeStore store, Permissions permissions, OutboxQueue outbox, TimeProvider time) : ISubCommand
{
    public const string CommandName = "assign";
    public string Name => CommandName;
    public string Usage => "`/breakglass assign BG-n @user` (admins) name who is responsible for a detected bypass";

    // With the manifest's should_escape false, a typed "@name" may arrive without an id: a member id is accepted too.
    const string Example = "Type `/breakglass assign BG-42 @person` (pick the person from Slack's list, so the mention carries their id), "
        + "or their member id: `/breakglass assign BG-42 U0123ABCD`.";

    public async Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        if (!permissions.IsAdmin(command.UserId))
            return new CommandReply(":no_entry: Only admins (Slack:Admins) may assign a detected bypass. If it is yours, use the button in the direct message the bot sent you."
                + SubCommandText.DeclareInstead);
        var words = arguments.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length != 2 || !ChangeId.TryParse(words[0], out var id) || Person(words[1]) is not { } person)
            return new CommandReply(":warning: Which case, and who? " + Example + SubCommandText.DeclareInstead);

        var now = time.GetUtcNow();
        var (updated, reply) = await store.UpdateAsync<(string Reply, bool Assigned)>(id.Number, c =>
        {
            if (!ChangeMessages.IsDetected(c))
                return Decision<(string, bool)>.Only(($":warning: {c.ChangeId} was declared by {Blocks.Mention(c.DeclaredBy)}, not detected: only a detected bypass is assigned. "
                    + "`/breakglass status` shows who declared what.", false));
            if (c.Status != ChangeStatus.Open)
                return Decision<(string, bool)>.Only(($":warning: {c.ChangeId} is {(c.Detected!.AbsorbedBy is { } m ? $"closed: it was declared as {new ChangeId(m)}" : $"already {c.Status.ToString().ToLowerInvariant()}")}, "
                    + "so there is nobody to assign. `/breakglass list open` shows the open ones.", false));
            if (c.DeclaredBy == person)
                return Decision<(string, bool)>.Only(($":information_source: {Blocks.Mention(person)} is already responsible for {c.ChangeId}.", false));
            var previous = c.DeclaredBy;
            c.DeclaredBy = person;
            c.DeclaredByName = null;
            OutboxQueue.Enqueue(c, StepKinds.DirectMessage, now, DirectMessageStep.Target(person, DetectionKeys.Responsible));
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, DetectionNotes.AssignedKey(person, command.UserId));
            return new([new AuditEvent
            {
                ChangeNumber = c.Id, At = now, Actor = command.UserId, Type = AuditTypes.DetectionAssigned,
                Data = new() { ["responsible"] = person, ["previous"] = previous.Length == 0 ? "nobody" : previous },
            }], ($":bust_in_silhouette: {Blocks.Mention(person)} is now responsible for {c.ChangeId}; the bot asks them by direct message for its summary and justification.", true));
        });
        if (updated is null) return new CommandReply($":warning: There is no {id}. `/breakglass list open` shows the open changes.");
        if (reply.Assigned) outbox.Nudge();
        return new CommandReply(reply.Reply ?? "");
    }

    /// <summary>A Slack user mention as it arrives (<c>&lt;@U123&gt;</c>, or <c>&lt;@U123|name&gt;</c> unescaped), or a bare user id.</summary>
    static string? Person(string word)
    {
        if (Mention().Match(word) is { Success: true } m) return m.Groups["id"].Value;
        return SlackFormatting.IsUserId(word) ? word : null;
    }

    [GeneratedRegex(@"^<@(?<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>$")]
    private static partial Regex Mention();
}
