namespace BreakGlassBot.Hosting;

// Options are classes, not records: a record's generated ToString would print secrets.

public sealed class SlackOptions
{
    public const string Section = "Slack";
    public string? SigningSecret { get; set; }
    public string? BotToken { get; set; }
    public string ApiBaseUrl { get; set; } = "https://slack.com/api/";
    public string? AnnouncementChannel { get; set; }
    public string? ReviewerUserGroup { get; set; }
    public List<string> Reviewers { get; set; } = [];
    public List<string> Managers { get; set; } = [];
    public List<string> Admins { get; set; } = [];
    /// <summary>Who may declare (user ids U…/W…, user-group ids S…); required in Team and MergeByBot. See DeclarerPolicy.</summary>
    public List<string> Declarers { get; set; } = [];
    /// <summary>The workspace (T…) / Enterprise Grid org (E…) and app (A…) requests must come from; learned from auth.test / bots.info when empty.</summary>
    public string? TeamId { get; set; }
    public string? EnterpriseId { get; set; }
    public string? AppId { get; set; }
    /// <summary>Who may read every change (user ids U…, user-group ids S…); empty: everyone in the workspace. See ReadAccess.</summary>
    public List<string> Readers { get; set; } = [];
    public string? DigestChannel { get; set; }
    /// <summary>Largest request body accepted on /slack/* (Slack's own payloads stay far below).</summary>
    public int MaxRequestBytes { get; set; } = 256 * 1024;
    /// <summary>How far a request timestamp may be from now, either way.</summary>
    public TimeSpan SignatureTolerance { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How often a Slack step parked on an error only an admin can fix (a scope, the Messages tab) is tried again.</summary>
    public TimeSpan ParkedRetryInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Socket Mode: the bot opens WebSockets to Slack instead of taking requests on /slack/* (which then answer 404).</summary>
    public bool SocketMode { get; set; }
    /// <summary>The app-level token (xapp-…, scope connections:write) Socket Mode opens its connections with.</summary>
    public string? AppToken { get; set; }
    /// <summary>How many sockets are kept open, started <see cref="SocketStagger"/> apart, so one is live while another is replaced.</summary>
    public int SocketConnections { get; set; } = 2;
    public TimeSpan SocketStagger { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Ping every interval; a socket with no pong within the timeout is dropped and replaced.</summary>
    public TimeSpan SocketKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan SocketKeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>How long a new socket may take to say hello before it is given up.</summary>
    public TimeSpan SocketHelloTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>The bounded close of a replaced socket (Slack does not always finish the close handshake).</summary>
    public TimeSpan SocketCloseTimeout { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>The least time between two apps.connections.open calls, and the first reconnect back-off; doubled per failure up to the max.</summary>
    public TimeSpan SocketReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan SocketMaxReconnectDelay { get; set; } = TimeSpan.FromMinutes(1);

    public bool IsConfigured => (SocketMode ? !string.IsNullOrWhiteSpace(AppToken) : !string.IsNullOrWhiteSpace(SigningSecret))
        && !string.IsNullOrWhiteSpace(BotToken) && !string.IsNullOrWhiteSpace(AnnouncementChannel);

    /// <summary>What an operator still has to set, in words; empty when the integration is configured.</summary>
    public IReadOnlyList<string> MissingSettings()
    {
        var missing = new List<string>();
        if (SocketMode && string.IsNullOrWhiteSpace(AppToken))
            missing.Add("Slack:AppToken (env Slack__AppToken): the app-level xapp- token with connections:write (Socket Mode)");
        if (!SocketMode && string.IsNullOrWhiteSpace(SigningSecret)) missing.Add("Slack:SigningSecret (env Slack__SigningSecret): the app's signing secret");
        if (string.IsNullOrWhiteSpace(BotToken)) missing.Add("Slack:BotToken (env Slack__BotToken): the xoxb- bot token");
        if (string.IsNullOrWhiteSpace(AnnouncementChannel)) missing.Add("Slack:AnnouncementChannel (env Slack__AnnouncementChannel): the change channel id, e.g. C0123456789");
        return missing;
    }
}

public enum BypassMode { RecordOnly, Team, MergeByBot }

/// <summary>How MergeByBot merges (GitHub's merge_method).</summary>
public enum MergeMethod { Merge, Squash, Rebase }

public sealed class GitHubOptions
{
    public const string Section = "GitHub";
    /// <summary>The largest webhook body read (PR and review payloads are tens of KB; GitHub's own cap is 25 MB).</summary>
    public int MaxWebhookBytes { get; set; } = 5 * 1024 * 1024;
    public string? Token { get; set; }
    public long? AppId { get; set; }
    public string? PrivateKeyPath { get; set; }
    public long? InstallationId { get; set; }
    public string ApiBaseUrl { get; set; } = "https://api.github.com/";
    /// <summary>Where people open pull requests (GitHub Enterprise Server: https://ghe.example.com): only links to this host are accepted.</summary>
    public string WebBaseUrl { get; set; } = "https://github.com";
    public BypassMode BypassMode { get; set; } = BypassMode.RecordOnly;
    public string? BypassTeam { get; set; }
    public string Label { get; set; } = "break-glass";
    public string? WebhookSecret { get; set; }
    /// <summary>MergeByBot's merge method; unset: the first the repository allows, of merge, squash and rebase.</summary>
    public MergeMethod? MergeMethod { get; set; }
    /// <summary>owner/repo list where all changes are counted (merged PRs) for the break-glass rate; empty: the repositories of linked PRs.</summary>
    public List<string> Repositories { get; set; } = [];
    /// <summary>Client id of the bot's GitHub App or OAuth app with device flow enabled: /breakglass link github verifies accounts with it.</summary>
    public string? ClientId { get; set; }
    /// <summary>How long a device-flow link is polled at most, whatever GitHub's expires_in says.</summary>
    public TimeSpan DeviceFlowMaxWait { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>Where GitHub's sign-in (device flow) is served; unset: <see cref="WebBaseUrl"/>.</summary>
    public string? LoginBaseUrl { get; set; }
    /// <summary>MergeByBot: the owner/repo list the bot may merge in; empty: <see cref="Repositories"/>; both empty: MergeByBot does not start.</summary>
    public List<string> MergeRepositories { get; set; } = [];
    /// <summary>MergeByBot: whether the bot may merge a PR whose head is in another repository (a fork).</summary>
    public bool AllowForkMerges { get; set; }

    /// <summary>Where MergeByBot may merge: GitHub:MergeRepositories, else GitHub:Repositories (owner/repo, any case).</summary>
    public IReadOnlyList<string> MergeScope => MergeRepositories.Count > 0 ? MergeRepositories : Repositories;
    /// <summary>Off unless Organization is set: links Slack users to GitHub accounts through the org's SAML/SCIM identities.</summary>
    public SsoDirectoryOptions SsoDirectory { get; set; } = new();

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Token)
        || (AppId is not null && !string.IsNullOrWhiteSpace(PrivateKeyPath) && InstallationId is not null);
}

/// <summary>GitHub:SsoDirectory: the organisation whose SAML/SCIM external identities are matched to Slack users by e-mail.</summary>
public sealed class SsoDirectoryOptions
{
    /// <summary>The organisation login (SAML configured on the organisation, not the enterprise); unset: the directory is off.</summary>
    public string? Organization { get; set; }
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromHours(6);
}

public sealed class JiraOptions
{
    public const string Section = "Jira";
    public string? BaseUrl { get; set; }
    public string? Email { get; set; }
    public string? ApiToken { get; set; }
    public string? PersonalAccessToken { get; set; }
    public List<string> ReviewedStatuses { get; set; } = [];
    public string? ReviewTransition { get; set; }
    public string? ProjectKey { get; set; }
    public string IssueType { get; set; } = "Task";

    public bool IsConfigured => !string.IsNullOrWhiteSpace(BaseUrl)
        && ((!string.IsNullOrWhiteSpace(Email) && !string.IsNullOrWhiteSpace(ApiToken)) || !string.IsNullOrWhiteSpace(PersonalAccessToken));
}

public enum EvidenceKind { SlackApproval, PullRequestApproved, JiraReviewed }

public sealed class PolicyOptions
{
    public const string Section = "Policy";
    public TimeSpan ReviewWindow { get; set; } = TimeSpan.FromHours(48);
    public bool BusinessHoursOnly { get; set; }
    public string BusinessHours { get; set; } = "Mon-Fri 09:00-17:00";
    public string TimeZone { get; set; } = "UTC";
    public List<string> Holidays { get; set; } = [];
    public TimeSpan ReminderInterval { get; set; } = TimeSpan.FromHours(4);
    public TimeSpan EscalateAfter { get; set; } = TimeSpan.Zero;
    public TimeSpan BypassDuration { get; set; } = TimeSpan.FromHours(2);
    /// <summary>Empty: whatever is linked and configured.</summary>
    public List<EvidenceKind> RequiredEvidence { get; set; } = [];
    public int RequiredApprovals { get; set; } = 1;
    /// <summary>Empty: <see cref="DefaultApprovalWords"/> (the binder appends to a non-empty default list, so the default lives here).</summary>
    public List<string> ApprovalWords { get; set; } = [];
    public static readonly IReadOnlyList<string> DefaultApprovalWords = ["approve", "approved", "lgtm", ":+1:", ":thumbsup:", "👍"];
    public IReadOnlyList<string> EffectiveApprovalWords => ApprovalWords.Count > 0 ? ApprovalWords : DefaultApprovalWords;
    public string DigestCron { get; set; } = "0 9 * * 1";
    public string DigestTimeZone { get; set; } = "UTC";
    /// <summary>The pause between two digest posts: Slack allows about one message per second per channel.</summary>
    public TimeSpan DigestSendInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Detection: catching the merges and pushes that skipped review and that nobody declared (README "Undeclared bypasses").</summary>
public sealed class DetectionOptions
{
    public const string Section = "Detection";
    public bool Enabled { get; set; }
    /// <summary>The watched branches of every watched repository; empty: each repository's default branch.</summary>
    public List<string> Branches { get; set; } = [];
    /// <summary>How long after a merge the bot waits for someone to declare it before it opens a case.</summary>
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>GitHub logins whose merges and pushes are automation (release bots): counted, never chased.</summary>
    public List<string> IgnoreActors { get; set; } = [];
    /// <summary>The daily sweep (Hangfire cron, UTC) over merged PRs and branch commits: what the webhooks missed.</summary>
    public string SweepCron { get; set; } = "30 3 * * *";
    /// <summary>How far back each sweep looks; more than a day, so a sweep that failed is made up by the next.</summary>
    public TimeSpan SweepWindow { get; set; } = TimeSpan.FromDays(3);
    /// <summary>How often GitHub's rule suites (recorded bypasses) are read; zero: not at all (plans without rule insights).</summary>
    public TimeSpan RuleSuitesInterval { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>How often found merges are checked and due cases opened.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    public bool IsWatchedActorIgnored(string? login) =>
        login is { Length: > 0 } && IgnoreActors.Any(a => string.Equals(a.Trim(), login, StringComparison.OrdinalIgnoreCase));
}

public enum HangfireStorageKind { Sqlite, PostgreSql }

/// <summary>The engine of the bot's own data (Storage:Store).</summary>
public enum StoreKind { LiteDb, PostgreSql }

public sealed class StorageOptions
{
    public const string Section = "Storage";
    public string DataDirectory { get; set; } = ".data";
    /// <summary>Where the bot's data lives: the embedded LiteDB file, or one PostgreSQL database shared by every replica.</summary>
    public StoreKind Store { get; set; } = StoreKind.LiteDb;
    /// <summary>Unset: PostgreSql with the PostgreSQL store (everything in one database), else the embedded SQLite file.</summary>
    public HangfireStorageKind? Hangfire { get; set; }
    public HangfireStorageKind ResolvedHangfire => Hangfire ?? (Store == StoreKind.PostgreSql ? HangfireStorageKind.PostgreSql : HangfireStorageKind.Sqlite);
    public string? ConnectionString { get; set; }
    /// <summary>How often the bot looks for due work (Hangfire polling, the outbox sweep); also the first retry delay.</summary>
    public TimeSpan PollingInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>The longest wait between two retries of a failed step.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How long a replica's claim on a change's steps or an inbound event lasts unless renewed: after a crash, another takes the work over then.</summary>
    public TimeSpan ClaimLease { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>How long the ids of handled Slack events and GitHub deliveries are kept to refuse a retry (pruned daily).</summary>
    public TimeSpan SeenRetention { get; set; } = TimeSpan.FromDays(7);
    /// <summary>How often the bot checks that its recurring jobs (tracking sweep, digest, backup) still exist, and registers any that went missing.</summary>
    public TimeSpan RecurringCheckInterval { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>Where the scheduled backups of the LiteDB file go; none when empty. Best on another volume.</summary>
    public string? BackupDirectory { get; set; }
    /// <summary>When the backup runs (cron, UTC).</summary>
    public string BackupCron { get; set; } = "0 2 * * *";
    /// <summary>How many backups to keep; older ones are deleted after a successful backup.</summary>
    public int BackupKeep { get; set; } = 14;

    public string ResolvedDataDirectory => Path.GetFullPath(DataDirectory);
}

/// <summary>Keys that may act on the Hangfire dashboard (trigger, delete, requeue); Evidence:ApiKeys only read it.</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";
    public List<string> ApiKeys { get; set; } = [];
}

public sealed class EvidenceOptions
{
    public const string Section = "Evidence";
    public List<string> ApiKeys { get; set; } = [];
    /// <summary>The bot's address as people reach it (e.g. https://breakglass.example.com), for links to evidence in Slack; relative links when empty.</summary>
    public string? PublicBaseUrl { get; set; }
    /// <summary>A directory (best: shipped to write-once storage) where the audit trail's head is appended as a JSON line.</summary>
    public string? AnchorDirectory { get; set; }
    /// <summary>Where the audit trail's head is POSTed as JSON (an auditor's inbox or log).</summary>
    public string? AnchorWebhookUrl { get; set; }
    /// <summary>When the head is published (cron, UTC); also after every digest and export.</summary>
    public string AnchorCron { get; set; } = "0 * * * *";
    /// <summary>An RFC 3161 timestamping authority (e.g. http://timestamp.digicert.com) that stamps every anchor; none when empty.</summary>
    public string? TimestampAuthorityUrl { get; set; }
    /// <summary>How long an anchor waits for the timestamping authority; then it goes out unstamped, marked.</summary>
    public TimeSpan TimestampTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
