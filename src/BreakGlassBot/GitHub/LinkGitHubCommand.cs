using System.Text.RegularExpressions;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

/// <summary>
/// /breakglass link github &lt;login&gt;: who the caller is on GitHub (for the Team bypass). Stored once; any grant
/// that gave up for want of a login is tried again at once. Declaring's "link" sub-command hands it the login.
/// </summary>
internal sealed partial class LinkGitHubCommand(ChangeStore store, OutboxQueue outbox, People people, IOptions<GitHubOptions> options, TimeProvider time)
    : IAccountLink
{
    public string System => "github";
    public string Usage => "`/breakglass link github <login>` tell the bot your GitHub login (for the bypass)";

    public Task<CommandReply> LinkAsync(SlashCommand command, string account, CancellationToken ct)
    {
        var login = account.TrimStart('@');
        if (!LoginPattern().IsMatch(login))
            return Task.FromResult(new CommandReply($":warning: '{Blocks.Escape(login)}' is not a GitHub login (letters, digits and single hyphens, at most 39)."));

        // An admin's People:<id>:GitHub is authoritative: a self-linked login must not make a PR author look like someone else.
        if (people.ConfiguredGitHubLogin(command.UserId) is { } configured)
            return Task.FromResult(new CommandReply(string.Equals(configured, login, StringComparison.OrdinalIgnoreCase)
                ? $":information_source: Your GitHub login is already `{Blocks.Escape(configured)}`, set by an admin; nothing to change."
                : $":no_entry: An admin set your GitHub login to `{Blocks.Escape(configured)}` (People:{command.UserId}:GitHub), so `/breakglass link` "
                    + "cannot change it. If it is wrong, ask an admin to correct the configuration."));

        var now = time.GetUtcNow();
        store.LinkAccount(command.UserId, People.GitHub, login);
        var retried = store.OpenChangesOf(command.UserId)
            .Where(open => store.Update(open.Id, c => RetryGrant(c, command.UserId, login, now)).Result)
            .Select(open => open.ChangeId.ToString()).ToList();
        if (retried.Count > 0) outbox.Nudge();
        var text = $":link: Your GitHub login is now `{login}`."
            + (retried.Count > 0 ? $" Granting the bypass for {string.Join(", ", retried)} now; the thread says when it is done." : "");
        return Task.FromResult(new CommandReply(text));
    }

    /// <summary>A Team grant that gave up because no login was known: try again now. True when it was queued again.</summary>
    Decision<bool> RetryGrant(EmergencyChange c, string user, string login, DateTimeOffset now)
    {
        var notGranted = c.Bypass is null || c.Bypass.GrantedAt == default;
        if (options.Value.BypassMode != BypassMode.Team || !notGranted
            || !c.Steps.Any(s => s.Kind == GitHubStepKinds.BypassGrant && s.State == StepState.Abandoned)
            || c.Steps.Any(s => s.Kind == GitHubStepKinds.BypassGrant && s.State == StepState.Pending))
            return Decision<bool>.Only(false);
        OutboxQueue.Enqueue(c, GitHubStepKinds.BypassGrant, now);
        return new([new AuditEvent { ChangeNumber = c.Id, At = now, Actor = user, Type = GitHubAuditTypes.AccountLinked,
            Data = new() { ["login"] = login, ["then"] = "bypass grant retried" } }], true);
    }

    // GitHub logins: alphanumerics and single hyphens, not at either end, at most 39 characters.
    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")]
    private static partial Regex LoginPattern();
}
