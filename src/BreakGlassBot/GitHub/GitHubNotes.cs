using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

/// <summary>The thread notes about the bypass and merges, rendered from the change as it is when the note is posted.</summary>
internal sealed class GitHubNotes : IThreadNoteSource
{
    public const string BypassGranted = "github-bypass-granted";
    public const string BypassEnded = "github-bypass-ended";
    const string MergedPrefix = "github-merged:";
    public IReadOnlyCollection<string> Names => [BypassGranted, BypassEnded, "github-merged"];

    public static string Merged(string pr) => MergedPrefix + pr;

    public string? Render(EmergencyChange change, string key)
    {
        var b = change.Bypass;
        if (key == BypassGranted && b is not null)
            return b.Mode switch
            {
                nameof(BypassMode.Team) when b.WasAlreadyMember =>
                    $":unlock: Bypass started {Blocks.Date(b.GrantedAt)}: GitHub user `{b.Login}` is already a member of `{b.Team}` "
                    + $"(a bypass actor of the repository rules), and stays one after the window ends {Blocks.Date(b.ExpiresAt)}.",
                nameof(BypassMode.Team) when b.MembershipState == "pending" =>
                    $":envelope: Bypass window started {Blocks.Date(b.GrantedAt)}, until {Blocks.Date(b.ExpiresAt)}: invitation sent; `{b.Login}` must accept it "
                    + $"(on GitHub, or by the e-mail GitHub sent) before the bypass applies. They are not in `{b.Team}` until then.",
                nameof(BypassMode.Team) =>
                    $":unlock: Bypass started {Blocks.Date(b.GrantedAt)}: GitHub user `{b.Login}` added to `{b.Team}` "
                    + $"(a bypass actor of the repository rules) until {Blocks.Date(b.ExpiresAt)}."
                    + (b.SharedWith is { } other ? $" (BG-{other}'s bypass had already added them; they are removed when the later of the two windows ends.)" : ""),
                nameof(BypassMode.MergeByBot) =>
                    $":unlock: Bypass started {Blocks.Date(b.GrantedAt)}: until {Blocks.Date(b.ExpiresAt)} {Blocks.Mention(change.DeclaredBy)} may have the bot merge "
                    + $"the linked pull requests: press *Merge now* below, or type `/breakglass merge {change.ChangeId}`. The bot merges only the head commit it shows you.",
                _ => null,
            };
        if (key == BypassEnded && b?.RevokedAt is { } ended)
            return b.Mode switch
            {
                nameof(BypassMode.Team) when b.WasAlreadyMember =>
                    $":lock: Bypass ended {Blocks.Date(ended)}. `{b.Login}` stays in `{b.Team}`: they were a member before the grant.",
                nameof(BypassMode.Team) when b.HandedOffTo is { } later =>
                    $":lock: Bypass of {change.ChangeId} ended {Blocks.Date(ended)}. `{b.Login}` stays in `{b.Team}` for now: the bypass of BG-{later} "
                    + "is still open, and its end removes them.",
                nameof(BypassMode.Team) when !b.Granted =>
                    $":lock: {change.ChangeId} was cancelled while the bypass was being granted: the bot made sure `{b.Login}` is not in `{b.Team}` "
                    + $"({Blocks.Date(ended)}).",
                nameof(BypassMode.Team) => $":lock: Bypass ended {Blocks.Date(ended)}: `{b.Login}` removed from `{b.Team}`.",
                _ => $":lock: Bypass ended {Blocks.Date(ended)}: the bot no longer merges for {change.ChangeId}.",
            };
        if (key.StartsWith(MergedPrefix, StringComparison.Ordinal)
            && GitHubOutcomes.Find(change, key[MergedPrefix.Length..]) is { Merged: true } pr)
            return $":twisted_rightwards_arrows: Merged {Blocks.Link(pr.Ref.Url, pr.Ref.ToString())} at head `{GitHubOutcomes.Short(change.Bypass?.HeadSha ?? pr.HeadSha)}` "
                + $"on request of {Blocks.Mention(change.DeclaredBy)}.";
        return null;
    }
}
