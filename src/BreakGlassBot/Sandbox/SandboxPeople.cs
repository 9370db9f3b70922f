namespace BreakGlassBot.Sandbox;

/// <summary>One person of the sandbox workspace; the page's person switcher lists them.</summary>
public sealed record SandboxPerson(string Id, string Name, string Role);

/// <summary>The fixed workspace the sandbox simulates: ids look like Slack's so the bot's parsers see real shapes.</summary>
public static class SandboxPeople
{
    public const string TeamId = "T0SANDBOX";
    public const string TeamDomain = "breakglass-sandbox";
    public const string AppId = "A0SANDBOX";
    public const string Channel = "C0SBXCHANGES";
    public const string ChannelName = "emergency-changes";
    public const string BotUser = "U0SBXBOT";
    public const string BotId = "B0SBXBOT";
    public const string BotName = "BreakGlassBot";

    public const string Declarer = "U0SBXDANA";
    public const string Reviewer1 = "U0SBXRILEY";
    public const string Reviewer2 = "U0SBXSAM";
    public const string Manager = "U0SBXMORGAN";

    // The stand-in GitHub's users: the pull request's author, the reviewer the page approves as, and the bot's token.
    public const string GitHubAuthor = "dana-declarer";
    public const long GitHubAuthorId = 7_000_101;
    public const string GitHubReviewer = "riley-reviewer";
    public const long GitHubReviewerId = 7_000_102;
    public const string GitHubBot = "breakglassbot-sandbox";
    public const long GitHubBotId = 7_000_199;

    // The stand-in GitHub's repository and the branch its pull requests go into: the one branch detection watches.
    public const string GitHubOwner = "acme";
    public const string GitHubRepo = "payments";
    public const string GitHubBranch = "main";
    public static string GitHubRepository => GitHubOwner + "/" + GitHubRepo;

    /// <summary>Each person's account on the stand-in GitHub (People:&lt;id&gt;:GitHub), so the bot can name who merged.</summary>
    public static readonly IReadOnlyDictionary<string, (string Login, long Id)> GitHubAccounts = new Dictionary<string, (string, long)>
    {
        [Declarer] = (GitHubAuthor, GitHubAuthorId),
        [Reviewer1] = (GitHubReviewer, GitHubReviewerId),
        [Reviewer2] = ("sam-reviewer", 7_000_103),
        [Manager] = ("morgan-manager", 7_000_104),
    };

    public static readonly IReadOnlyList<SandboxPerson> All =
    [
        new(Declarer, "Dana Declarer", "on-call engineer (declarer)"),
        new(Reviewer1, "Riley Reviewer", "reviewer"),
        new(Reviewer2, "Sam Reviewer", "reviewer"),
        new(Manager, "Morgan Manager", "manager (admin)"),
    ];

    public static SandboxPerson? Find(string? id) => All.FirstOrDefault(p => p.Id == id);

    /// <summary>The direct-message channel between <paramref name="user"/> and the bot (ids starting with D, as in Slack).</summary>
    public static string DirectChannel(string user) => "D" + user[1..];

    public static string? UserOfDirectChannel(string channel) =>
        channel.StartsWith('D') ? All.FirstOrDefault(p => DirectChannel(p.Id) == channel)?.Id : null;

    public static bool IsKnownChannel(string? channel) => channel == Channel || (channel is not null && UserOfDirectChannel(channel) is not null);

    public static string UserName(string id) => Find(id)?.Name.Split(' ')[0].ToLowerInvariant() ?? id.ToLowerInvariant();
}
