using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Reviewing;

/// <summary>"/breakglass unapprove BG-n": the approver takes their approval back until the change is reviewed.</summary>
internal sealed class UnapproveCommand(Approvals approvals) : ISubCommand
{
    public string Name => "unapprove";
    public string Usage => "`/breakglass unapprove BG-n` withdraw your approval while the change is open";

    public Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        var args = arguments.Trim();
        if (!ChangeId.TryParse(args, out var id))
            return Task.FromResult(new CommandReply($":warning: '{Blocks.Escape(args)}' is not a change id. Type `/breakglass unapprove BG-42` to withdraw your approval of BG-42."));
        return Task.FromResult(new CommandReply(approvals.Withdraw(id, command.UserId) switch
        {
            WithdrawalResult.Withdrawn(var c) => $":leftwards_arrow_with_hook: Your approval of {c.ChangeId} is withdrawn; the thread says so and the change needs another approval.",
            WithdrawalResult.NoApproval(var c) => $":information_source: You have no approval of {c.ChangeId} that counts, so there is nothing to withdraw.",
            WithdrawalResult.TooLate(var c) => $":no_entry: {c.ChangeId} is already {c.Status.ToString().ToLowerInvariant()}: its review is on record and can no longer be withdrawn. "
                + "If something is wrong with it, tell an admin.",
            _ => $":warning: There is no {id}. `/breakglass list` shows the open changes.",
        }));
    }
}
