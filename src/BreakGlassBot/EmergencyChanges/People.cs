namespace BreakGlassBot.EmergencyChanges;

/// <summary>How the bot knows a Slack user's GitHub account: what each way proves is in README "Identities".</summary>
public static class IdentitySources
{
    /// <summary>People:&lt;id&gt;:GitHub, set by an admin: authoritative.</summary>
    public const string Admin = "admin";
    /// <summary>GitHub's OAuth device flow: the user signed in to GitHub as that account.</summary>
    public const string DeviceFlow = "device-flow";
    /// <summary>The organisation's SAML/SCIM directory matched on the Slack user's e-mail.</summary>
    public const string SsoDirectory = "sso-directory";
    /// <summary>A login typed into Slack (RecordOnly only): a hint, which grants nothing.</summary>
    public const string Unverified = "unverified";
}

/// <summary>A verified GitHub account of a Slack user (<see cref="People.IdentityCollection"/>, keyed by the Slack user id).</summary>
public sealed class GitHubIdentity
{
    public string Id { get; set; } = "";
    public string Login { get; set; } = "";
    /// <summary>GitHub's numeric user id: kept when the login is renamed, never reused when a freed name is taken.</summary>
    public long GitHubId { get; set; }
    public string Source { get; set; } = IdentitySources.DeviceFlow;
    public DateTimeOffset VerifiedAt { get; set; }
}

/// <summary>An admin-configured login's numeric id, read once from GitHub (GET /users/{login}); keyed by the lower-case login.</summary>
public sealed class ResolvedLogin
{
    public string Id { get; set; } = "";
    public long GitHubId { get; set; }
    public DateTimeOffset ResolvedAt { get; set; }
}

/// <summary>What the bot knows of a person on GitHub: the login, the id when known, and how it was learned.</summary>
public sealed record GitHubAccount(string Login, long? Id, string Source)
{
    /// <summary>Admin-configured or verified: may grant a bypass and decide "not the author".</summary>
    public bool Trusted => Source != IdentitySources.Unverified;
}

/// <summary>
/// Who a Slack user is on GitHub and Jira. An admin-configured People:&lt;SlackUserId&gt;:GitHub is authoritative; else an
/// identity verified by GitHub (device flow or SSO directory). A login typed into Slack is only an unverified hint: it grants
/// nothing and proves nobody is not an author, though a PR under it still counts as theirs. Accounts match by numeric id.
/// </summary>
public sealed class People(IConfiguration configuration, ChangeStore store)
{
    public const string GitHub = "github";
    public const string Jira = "jira";
    public const string IdentityCollection = "github_identities";
    public const string ResolvedCollection = "github_resolved_logins";

    /// <summary>The account the bot acts for (the Team bypass) and trusts: the configured one, else the verified one; never a hint.</summary>
    public GitHubAccount? TrustedGitHub(string slackUser)
    {
        if (ConfiguredGitHubLogin(slackUser) is { } configured)
            return new GitHubAccount(configured, ResolvedId(configured), IdentitySources.Admin);
        return VerifiedGitHub(slackUser) is { } v ? new GitHubAccount(v.Login, v.GitHubId, v.Source) : null;
    }

    /// <summary>The trusted account, else the unverified hint (RecordOnly), for showing.</summary>
    public GitHubAccount? AnyGitHub(string slackUser) => TrustedGitHub(slackUser)
        ?? (store.LinkedAccount(slackUser, GitHub) is { } hint ? new GitHubAccount(hint, null, IdentitySources.Unverified) : null);

    /// <summary>The login the bot acts for (the Team bypass): configured, else verified. Null when only a hint is known.</summary>
    public string? GitHubLogin(string slackUser) => TrustedGitHub(slackUser)?.Login;

    /// <summary>The login an admin configured (People:&lt;id&gt;:GitHub), which <c>/breakglass link</c> may not change.</summary>
    public string? ConfiguredGitHubLogin(string slackUser) => Configured(slackUser, "GitHub");

    public GitHubIdentity? VerifiedGitHub(string slackUser) => store.Document<GitHubIdentity>(IdentityCollection, slackUser);

    /// <summary>The unverified login the user typed (RecordOnly), or null.</summary>
    public string? UnverifiedGitHubLogin(string slackUser) => store.LinkedAccount(slackUser, GitHub);

    /// <summary>Every Slack user with an admin-configured GitHub login, with it.</summary>
    public IReadOnlyList<(string SlackUser, string Login)> ConfiguredGitHubLogins() =>
        [.. configuration.GetSection("People").GetChildren()
            .Select(p => (p.Key, Login: p["GitHub"]?.Trim()))
            .Where(p => !string.IsNullOrEmpty(p.Login))
            .Select(p => (p.Key, p.Login!))];

    public long? ResolvedId(string login) => store.Document<ResolvedLogin>(ResolvedCollection, login.ToLowerInvariant())?.GitHubId;

    /// <summary>
    /// Whether a PR by <paramref name="authorLogin"/> (<paramref name="authorId"/>) is <paramref name="slackUser"/>'s: by id for
    /// verified and resolved accounts (a renamed login keeps its id), by name for a configured login not yet resolved and for
    /// an unverified hint (excluding on a hint is the safe side).
    /// </summary>
    public bool IsAuthor(string slackUser, string authorLogin, long? authorId)
    {
        var knownId = authorId is { } a && a != 0 ? a : (long?)null;
        bool Same(string login, long? id) => knownId is { } k && id is { } i
            ? k == i
            : string.Equals(login, authorLogin, StringComparison.OrdinalIgnoreCase);
        if (VerifiedGitHub(slackUser) is { } v && Same(v.Login, v.GitHubId)) return true;
        if (ConfiguredGitHubLogin(slackUser) is { } c && Same(c, ResolvedId(c))) return true;
        return UnverifiedGitHubLogin(slackUser) is { } hint && string.Equals(hint, authorLogin, StringComparison.OrdinalIgnoreCase);
    }

    public string? JiraAccount(string slackUser) =>
        store.LinkedAccount(slackUser, Jira) ?? Configured(slackUser, "Jira");

    string? Configured(string slackUser, string key)
    {
        var value = configuration[$"People:{slackUser}:{key}"];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }
}
