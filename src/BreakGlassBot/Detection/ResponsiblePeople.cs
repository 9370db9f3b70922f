using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Detection;

/// <summary>
/// The Slack user behind a GitHub account, for the person responsible for a detected case: an admin's People:&lt;id&gt;:GitHub,
/// else a verified identity (device flow, SSO directory), matched by numeric id when both are known. A login someone merely
/// typed is not trusted: anyone could type another person's login and send the case to them.
/// </summary>
public sealed class ResponsiblePeople(People people, ChangeStore store)
{
    public string? SlackUserOf(string? login, long? id)
    {
        if (string.IsNullOrEmpty(login) && id is null) return null;
        bool Same(string candidate, long? candidateId) => id is { } i && candidateId is { } c && c != 0
            ? i == c
            : string.Equals(candidate, login, StringComparison.OrdinalIgnoreCase);
        var configured = people.ConfiguredGitHubLogins().Where(p => Same(p.Login, people.ResolvedId(p.Login))).Select(p => p.SlackUser).ToList();
        if (configured.Count == 1) return configured[0];
        if (configured.Count > 1) return null; // two people configured with one account: nobody can be named
        var verified = store.Documents<GitHubIdentity>(People.IdentityCollection)
            .Where(v => Same(v.Login, v.GitHubId) && people.ConfiguredGitHubLogin(v.Id) is null).Select(v => v.Id).Distinct().ToList();
        return verified.Count == 1 ? verified[0] : null;
    }
}
