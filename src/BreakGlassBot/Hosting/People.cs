using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Hosting;

/// <summary>
/// Who a Slack user is on GitHub and Jira: the optional People:&lt;SlackUserId&gt;:GitHub / :Jira configuration,
/// overridden by what the user linked themselves (/breakglass link github &lt;login&gt;).
/// </summary>
public sealed class People(IConfiguration configuration, ChangeStore store)
{
    public const string GitHub = "github";
    public const string Jira = "jira";

    public string? GitHubLogin(string slackUser) =>
        store.LinkedAccount(slackUser, GitHub) ?? Configured(slackUser, "GitHub");

    public string? JiraAccount(string slackUser) =>
        store.LinkedAccount(slackUser, Jira) ?? Configured(slackUser, "Jira");

    string? Configured(string slackUser, string key)
    {
        var value = configuration[$"People:{slackUser}:{key}"];
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
