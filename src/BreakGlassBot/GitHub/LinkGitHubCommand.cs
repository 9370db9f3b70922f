using System.Text.RegularExpressions;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.GitHub;

/// <summary>
/// /breakglass link github: who the caller is on GitHub, proved with GitHub's OAuth device flow (no callback URL, so Socket
/// Mode works too). A login typed after it is refused where the bot acts on GitHub (Team, MergeByBot): anyone could type
/// anyone's name. In RecordOnly it is kept as a hint, marked unverified, that grants nothing.
/// </summary>
internal sealed partial class LinkGitHubCommand(ChangeStore store, People people, GitHubIdentityClient client, DeviceFlowPoller poller, IdentityLinks links,
    IOptions<GitHubOptions> options, TimeProvider time) : IAccountLink
{
    /// <summary>How long the command waits for GitHub's code; then it answers and the code follows through the response_url.</summary>
    internal static readonly TimeSpan StartBudget = TimeSpan.FromSeconds(2);

    public string System => "github";
    public string Usage => "`/breakglass link github` prove your GitHub account with GitHub (for the bypass and reviews)";

    public async Task<CommandReply> LinkAsync(SlashCommand command, string account, CancellationToken ct)
    {
        if (people.ConfiguredGitHubLogin(command.UserId) is { } configured)
            return new CommandReply(account.Length == 0 || string.Equals(configured, account.TrimStart('@'), StringComparison.OrdinalIgnoreCase)
                ? $":information_source: Your GitHub login is already `{Blocks.Escape(configured)}`, set by an admin; nothing to change."
                : $":no_entry: An admin set your GitHub login to `{Blocks.Escape(configured)}` (People:{command.UserId}:GitHub), so `/breakglass link` "
                    + "cannot change it. If it is wrong, ask an admin to correct the configuration.");
        if (account.Length > 0) return TypedLogin(command, account.TrimStart('@'));
        if (string.IsNullOrWhiteSpace(options.Value.ClientId))
            return new CommandReply(":warning: Linking a GitHub account is not set up here: an admin must set GitHub:ClientId (the GitHub App's client id, "
                + $"with device flow enabled), or set your login as People:{command.UserId}:GitHub.");

        var started = StartAsync(command, CancellationToken.None);
        try { return new CommandReply(await started.WaitAsync(StartBudget, time, ct)); }
        catch (TimeoutException)
        {
            // GitHub is slow: Slack wants an answer now, so the code follows in this conversation.
            _ = started.ContinueWith(t => command.ResponseUrl is { } url
                ? links.TellAsync(command.UserId, url, time.GetUtcNow(), t.Result, CancellationToken.None)
                : Task.CompletedTask, TaskScheduler.Default).Unwrap();
            return new CommandReply(":hourglass_flowing_sand: Asking GitHub for a code to link your account; it appears here in a moment.");
        }
    }

    /// <summary>Asks GitHub for a code, keeps the pending link for the poller and says what to do; never throws.</summary>
    async Task<string> StartAsync(SlashCommand command, CancellationToken ct)
    {
        DeviceCode code;
        try { code = await client.StartAsync(ct); }
        catch (Exception e) when (e is DeviceFlowException or HttpRequestException or TaskCanceledException)
        {
            var why = e is DeviceFlowException d ? d.Message : "GitHub did not answer";
            return $":warning: Could not start linking your GitHub account: {Blocks.Escape(why)}. Try again in a minute; if it persists, tell an admin.";
        }
        var now = time.GetUtcNow();
        var expires = now + TimeSpan.FromSeconds(Math.Min(code.ExpiresIn, options.Value.DeviceFlowMaxWait.TotalSeconds));
        store.SaveDocument<PendingDeviceLink>(PendingDeviceLink.Collection, command.UserId, _ => new PendingDeviceLink
        {
            Id = command.UserId, DeviceCode = code.Code, UserCode = code.UserCode, VerificationUri = code.VerificationUri,
            IntervalSeconds = code.Interval, StartedAt = now, ExpiresAt = expires, NextPollAt = now + TimeSpan.FromSeconds(code.Interval),
            ResponseUrl = command.ResponseUrl,
        });
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = now, Actor = command.UserId, Type = IdentityAuditTypes.LinkStarted,
            Data = new() { ["slack_user"] = command.UserId, ["expires_at"] = expires.ToString("O") },
        });
        poller.Nudge();
        return $":key: To link your GitHub account, open {code.VerificationUri} and enter the code `{Blocks.Escape(code.UserCode)}` "
            + $"(valid until {Blocks.Date(expires)}). The bot checks with GitHub and tells you here when it is done.";
    }

    CommandReply TypedLogin(SlashCommand command, string login)
    {
        if (!LoginPattern().IsMatch(login))
            return new CommandReply($":warning: '{Blocks.Escape(login)}' is not a GitHub login (letters, digits and single hyphens, at most 39).");
        var how = string.IsNullOrWhiteSpace(options.Value.ClientId)
            ? $"ask an admin to set your login as People:{command.UserId}:GitHub (or to set GitHub:ClientId, so you can prove it with `/breakglass link github`)"
            : "type `/breakglass link github` without a login: GitHub then confirms which account is yours";
        if (options.Value.BypassMode != BypassMode.RecordOnly)
            return new CommandReply($":no_entry: The bot cannot check a login typed into Slack, and in {options.Value.BypassMode} mode it acts on GitHub for "
                + $"your account, so `{Blocks.Escape(login)}` was not linked. To link your account, {how}.");
        store.LinkAccount(command.UserId, People.GitHub, login);
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = time.GetUtcNow(), Actor = command.UserId, Type = IdentityAuditTypes.HintRecorded,
            Data = new() { ["slack_user"] = command.UserId, ["login"] = login },
        });
        return new CommandReply($":link: Your GitHub login is now `{login}` (unverified): it is shown as unverified, grants nothing, and your approvals "
            + $"of changes with pull requests count only once the bot knows your account for sure. To prove it, {how}.");
    }

    // GitHub logins: alphanumerics and single hyphens, not at either end, at most 39 characters.
    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")]
    private static partial Regex LoginPattern();
}
