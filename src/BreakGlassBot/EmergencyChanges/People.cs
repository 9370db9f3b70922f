
namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// Who a Slack user is on GitHub and Jira. An admin-configured People:&lt;SlackUserId&gt;:GitHub is authoritative:
/// a login the user linked themselves (/breakglass link github &lt;login&gt;) applies only where no admin set one, so
/// a PR author cannot link another login to look eligible. Eligibility checks use every login known for a user.
/// </summary>
public sealed class People(IConfiguration configuration, ChangeStore store)
{
    public const string GitHub = "github";
    public const string Jira = "jira";

    /// <summary>The login the bot acts for (the Team bypass): the configured one, else the linked one.</summary>
    public string? GitHubLogin(string slackUser) =>
        ConfiguredGitHubLogin(slackUser) ?? store.LinkedAccount(slackUser, GitHub);

    /// <summary>The login an admin configured (People:&lt;id&gt;:GitHub), which <c>/breakglass link</c> may not change.</summary>
    public string? ConfiguredGitHubLogin(string slackUser) => Configured(slackUser, "GitHub");

    /// <summary>Every GitHub login known for the user (configured and linked): a PR by any of them is theirs.</summary>
    public IReadOnlyList<string> GitHubLogins(string slackUser) =>
        [.. new[] { ConfiguredGitHubLogin(slackUser), store.LinkedAccount(slackUser, GitHub) }.OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase)];

    public string? JiraAccount(string slackUser) =>
        store.LinkedAccount(slackUser, Jira) ?? Configured(slackUser, "Jira");

    string? Configured(string slackUser, string key)
    {
        var value = configuration[$"People:{slackUser}:{key}"];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }
}
