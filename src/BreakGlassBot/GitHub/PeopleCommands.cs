using System.Text;
using System.Text.RegularExpressions;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.GitHub;

/// <summary>/breakglass unlink github: forget the caller's linked GitHub account (an admin's People entry stays).</summary>
internal sealed class UnlinkCommand(ChangeStore store, People people, IdentityLinks links) : ISubCommand
{
    public string Name => "unlink";
    public string Usage => "`/breakglass unlink github` forget the GitHub account you linked";

    public Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        if (!arguments.Trim().Equals("github", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(new CommandReply(":warning: Type `/breakglass unlink github`." + SubCommandText.DeclareInstead));
        var pending = store.DeleteDocument<PendingDeviceLink>(PendingDeviceLink.Collection, command.UserId);
        var login = links.Unlink(command.UserId, command.UserId);
        var admin = people.ConfiguredGitHubLogin(command.UserId) is { } configured
            ? $" An admin set your login to `{Blocks.Escape(configured)}` (People:{command.UserId}:GitHub); that stays until they change it."
            : "";
        var text = login is not null ? $":broken_chain: Your GitHub account `{Blocks.Escape(login)}` is no longer linked." + admin
            : pending ? ":broken_chain: The link you had started is cancelled." + admin
            : ":information_source: You have no linked GitHub account." + admin;
        return Task.FromResult(new CommandReply(text));
    }
}

/// <summary>/breakglass people (admins): who is linked to which GitHub account and how it is known; "people revoke @user" unlinks.</summary>
internal sealed partial class PeopleCommand(ChangeStore store, People people, Permissions permissions, IdentityLinks links) : ISubCommand
{
    public string Name => "people";
    public string Usage => "`/breakglass people [revoke @user]` (admins) list linked GitHub accounts, or revoke one";

    public Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        if (!permissions.IsAdmin(command.UserId))
            return Task.FromResult(new CommandReply(":no_entry: Only admins (Slack:Admins) may list or revoke GitHub links." + SubCommandText.DeclareInstead));
        var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) return Task.FromResult(new CommandReply(List()));
        if (words is ["revoke", var who] && MentionPattern().Match(who) is { Success: true } m)
            return Task.FromResult(new CommandReply(Revoke(m.Groups["id"].Value, command.UserId)));
        return Task.FromResult(new CommandReply(":warning: Type `/breakglass people` to list the links, or `/breakglass people revoke @user`." + SubCommandText.DeclareInstead));
    }

    string Revoke(string user, string admin)
    {
        store.DeleteDocument<PendingDeviceLink>(PendingDeviceLink.Collection, user);
        var login = links.Unlink(user, admin);
        var configured = people.ConfiguredGitHubLogin(user) is { } c
            ? $" {Blocks.Mention(user)} is still `{Blocks.Escape(c)}` by People:{user}:GitHub: change the configuration to undo that."
            : "";
        return (login is null ? $":information_source: {Blocks.Mention(user)} had no linked GitHub account." : $":broken_chain: Revoked: {Blocks.Mention(user)} is no longer linked to `{Blocks.Escape(login)}`.")
            + configured;
    }

    string List()
    {
        var lines = new List<string>();
        foreach (var (user, login) in people.ConfiguredGitHubLogins())
            lines.Add($"{Blocks.Mention(user)}: `{Blocks.Escape(login)}`" + (people.ResolvedId(login) is { } id ? $" (id {id})" : " (id not read yet)") + ", admin configuration");
        var configured = people.ConfiguredGitHubLogins().Select(p => p.SlackUser).ToHashSet();
        foreach (var v in store.Documents<GitHubIdentity>(People.IdentityCollection).OrderBy(v => v.VerifiedAt))
            lines.Add($"{Blocks.Mention(v.Id)}: `{Blocks.Escape(v.Login)}` (id {v.GitHubId}), verified by {v.Source} at {Blocks.Date(v.VerifiedAt)}"
                + (configured.Contains(v.Id) ? " (the admin configuration wins)" : ""));
        foreach (var (user, login) in store.LinkedAccounts(People.GitHub))
            lines.Add($"{Blocks.Mention(user)}: `{Blocks.Escape(login)}`, *unverified* (typed into Slack): grants nothing, proves nothing");
        foreach (var p in store.Documents<PendingDeviceLink>(PendingDeviceLink.Collection))
            lines.Add($"{Blocks.Mention(p.Id)}: link started at {Blocks.Date(p.StartedAt)}, waiting for GitHub");
        var text = new StringBuilder(":busts_in_silhouette: *GitHub accounts known to the bot*\n");
        text.AppendJoin('\n', lines.Count > 0 ? lines : ["nobody yet: people link with `/breakglass link github`, or an admin sets People:<id>:GitHub"]);
        return text.ToString();
    }

    [GeneratedRegex(@"^<@(?<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>$")]
    private static partial Regex MentionPattern();
}
