using System.Reflection;

namespace BreakGlassBot.Hosting;

/// <summary>Thrown at start-up when configuration is invalid; its message names every bad key.</summary>
public sealed class BotConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Validates every section at once, so an operator sees every bad key in one message, not one per restart.</summary>
public static class ConfigurationCheck
{
    static readonly (string Section, Type Type)[] Sections =
    [
        (SlackOptions.Section, typeof(SlackOptions)),
        (GitHubOptions.Section, typeof(GitHubOptions)),
        (JiraOptions.Section, typeof(JiraOptions)),
        (PolicyOptions.Section, typeof(PolicyOptions)),
        (StorageOptions.Section, typeof(StorageOptions)),
        (EvidenceOptions.Section, typeof(EvidenceOptions)),
        (AdminOptions.Section, typeof(AdminOptions)),
        (DetectionOptions.Section, typeof(DetectionOptions)),
    ];

    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        var errors = new List<string>();
        var badKeys = new List<string>();
        foreach (var (name, type) in Sections)
            foreach (var (key, error) in ConversionErrors(configuration.GetSection(name), type))
            {
                badKeys.Add(key);
                errors.Add(error);
            }
        // The rules below check the keys that did convert, so one message still names every bad key.
        if (badKeys.Count > 0) configuration = Without(configuration, badKeys);

        var slack = configuration.GetSection(SlackOptions.Section).Get<SlackOptions>() ?? new();
        var github = configuration.GetSection(GitHubOptions.Section).Get<GitHubOptions>() ?? new();
        var jira = configuration.GetSection(JiraOptions.Section).Get<JiraOptions>() ?? new();
        var policy = configuration.GetSection(PolicyOptions.Section).Get<PolicyOptions>() ?? new();
        var storage = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new();
        var evidence = configuration.GetSection(EvidenceOptions.Section).Get<EvidenceOptions>() ?? new();

        CheckSlack(errors, slack);
        CheckDeclarers(errors, slack, github);
        CheckGitHub(errors, github);
        CheckJira(errors, jira);
        CheckPolicy(errors, policy);
        CheckStorage(errors, storage);
        var detection = configuration.GetSection(DetectionOptions.Section).Get<DetectionOptions>() ?? new();
        CheckDetection(errors, detection);
        // Watching only the repositories someone declared in would miss exactly those where nobody declares.
        if (detection.Enabled && github.IsConfigured && github.Repositories.Count == 0)
            errors.Add("Detection:Enabled needs GitHub:Repositories: the owner/repo list whose merges must all be reviewed, declared or detected");
        RequireHttpUrl(errors, "Evidence:PublicBaseUrl", evidence.PublicBaseUrl, required: false);
        RequireHttpUrl(errors, "Evidence:AnchorWebhookUrl", evidence.AnchorWebhookUrl, required: false);
        if (!Cronos.CronExpression.TryParse(evidence.AnchorCron, out _)) errors.Add($"Evidence:AnchorCron is not a cron expression: '{evidence.AnchorCron}'");
        RequireHttpUrl(errors, "Evidence:TimestampAuthorityUrl", evidence.TimestampAuthorityUrl, required: false);
        // HttpClient refuses a zero timeout: the anchor job would fail instead of publishing unstamped.
        if (evidence.TimestampTimeout < TimeSpan.FromMilliseconds(100) || evidence.TimestampTimeout > TimeSpan.FromMinutes(5))
            errors.Add("Evidence:TimestampTimeout must be between 00:00:00.100 and 00:05:00");
        var admin = configuration.GetSection(AdminOptions.Section).Get<AdminOptions>() ?? new();
        // A read key that is also an admin key would make the auditor's key an admin's.
        if (admin.ApiKeys.Any(k => k.Length > 0 && evidence.ApiKeys.Contains(k)))
            errors.Add("Admin:ApiKeys must not repeat a key of Evidence:ApiKeys");

        return errors;
    }

    static void CheckSlack(List<string> errors, SlackOptions slack)
    {
        RequireHttpUrl(errors, "Slack:ApiBaseUrl", slack.ApiBaseUrl, required: true);
        if (slack.MaxRequestBytes < 1024) errors.Add("Slack:MaxRequestBytes must be at least 1024");
        if (slack.ParkedRetryInterval < TimeSpan.FromMilliseconds(100)) errors.Add("Slack:ParkedRetryInterval must be at least 00:00:00.100");
        if (slack.SignatureTolerance <= TimeSpan.Zero || slack.SignatureTolerance > TimeSpan.FromHours(1))
            errors.Add("Slack:SignatureTolerance must be between 00:00:01 and 01:00:00 (Slack recommends 00:05:00)");
        CheckSocketMode(errors, slack);
    }

    // A mode that grants or merges must be told who may use it: "anyone" would include every member who can type the command.
    static void CheckDeclarers(List<string> errors, SlackOptions slack, GitHubOptions github)
    {
        if (github.BypassMode != BypassMode.RecordOnly && !slack.Declarers.Any(d => !string.IsNullOrWhiteSpace(d)))
            errors.Add($"Slack:Declarers is required when GitHub:BypassMode is {github.BypassMode}: list the user ids (U…) or user groups (S…) who may break the glass");
        foreach (var d in slack.Declarers.Where(d => !string.IsNullOrWhiteSpace(d) && !(d.Trim()[0] is 'U' or 'W' or 'S')))
            errors.Add($"Slack:Declarers: '{d}' is neither a user id (U…, W…) nor a user group id (S…)");
        if (!string.IsNullOrWhiteSpace(slack.TeamId) && !slack.TeamId.StartsWith('T')) errors.Add("Slack:TeamId must be a workspace id (T…)");
        if (!string.IsNullOrWhiteSpace(slack.EnterpriseId) && !slack.EnterpriseId.StartsWith('E')) errors.Add("Slack:EnterpriseId must be an Enterprise Grid org id (E…)");
        if (!string.IsNullOrWhiteSpace(slack.AppId) && !slack.AppId.StartsWith('A')) errors.Add("Slack:AppId must be an app id (A…, Basic Information → App ID)");
    }

    // The token's value is never repeated: only what is wrong with it.
    static void CheckSocketMode(List<string> errors, SlackOptions slack)
    {
        var hasToken = !string.IsNullOrWhiteSpace(slack.AppToken);
        if (hasToken && !slack.SocketMode)
            errors.Add("Slack:AppToken is set but Slack:SocketMode is false: set Slack:SocketMode=true to connect over Socket Mode, or remove the token");
        if (hasToken && !slack.AppToken!.StartsWith("xapp-", StringComparison.Ordinal))
            errors.Add("Slack:AppToken must be an app-level token (xapp-…, Basic Information → App-Level Tokens), not the bot token or signing secret");
        if (!slack.SocketMode) return;
        if (slack.SocketConnections is < 1 or > 10) errors.Add("Slack:SocketConnections must be between 1 and 10 (Slack allows 10 sockets per app, across all replicas)");
        if (slack.SocketKeepAliveInterval <= TimeSpan.Zero) errors.Add("Slack:SocketKeepAliveInterval must be positive, e.g. 00:00:05");
        if (slack.SocketKeepAliveTimeout <= TimeSpan.Zero) errors.Add("Slack:SocketKeepAliveTimeout must be positive, e.g. 00:00:15");
        if (slack.SocketHelloTimeout <= TimeSpan.Zero) errors.Add("Slack:SocketHelloTimeout must be positive, e.g. 00:00:10");
        if (slack.SocketCloseTimeout <= TimeSpan.Zero) errors.Add("Slack:SocketCloseTimeout must be positive, e.g. 00:00:01");
        if (slack.SocketStagger < TimeSpan.Zero) errors.Add("Slack:SocketStagger must not be negative");
        if (slack.SocketReconnectDelay < TimeSpan.FromMilliseconds(10)) errors.Add("Slack:SocketReconnectDelay must be at least 00:00:00.010");
        if (slack.SocketMaxReconnectDelay < slack.SocketReconnectDelay)
            errors.Add("Slack:SocketMaxReconnectDelay must not be shorter than Slack:SocketReconnectDelay");
    }

    static void CheckGitHub(List<string> errors, GitHubOptions github)
    {
        RequireHttpUrl(errors, "GitHub:ApiBaseUrl", github.ApiBaseUrl, required: true);
        if (github.BypassMode == BypassMode.Team && !IsTeamRef(github.BypassTeam))
            errors.Add("GitHub:BypassTeam must be 'org/team-slug' when GitHub:BypassMode is Team");
        // Merge authority is decided, not defaulted: without a list the bot would merge in any repository it can reach.
        if (github.BypassMode == BypassMode.MergeByBot && github.IsConfigured && github.MergeScope.All(string.IsNullOrWhiteSpace))
            errors.Add("GitHub:MergeRepositories (owner/repo list) must be set when GitHub:BypassMode is MergeByBot (or GitHub:Repositories, which it defaults to)");
        var appKeys = new object?[] { github.AppId, github.PrivateKeyPath, github.InstallationId };
        if (appKeys.Any(k => k is not null) && appKeys.Any(k => k is null or ""))
            errors.Add("GitHub:AppId, GitHub:PrivateKeyPath and GitHub:InstallationId go together: set all three or none");
        if (!string.IsNullOrWhiteSpace(github.PrivateKeyPath) && !File.Exists(github.PrivateKeyPath))
            errors.Add($"GitHub:PrivateKeyPath: no file at '{github.PrivateKeyPath}'");
    }

    static void CheckJira(List<string> errors, JiraOptions jira)
    {
        RequireHttpUrl(errors, "Jira:BaseUrl", jira.BaseUrl, required: false);
        if (string.IsNullOrWhiteSpace(jira.Email) != string.IsNullOrWhiteSpace(jira.ApiToken))
            errors.Add("Jira:Email and Jira:ApiToken go together (Jira Cloud): set both or neither");
    }

    static void CheckPolicy(List<string> errors, PolicyOptions policy)
    {
        if (policy.ReviewWindow <= TimeSpan.Zero) errors.Add("Policy:ReviewWindow must be positive, e.g. 2.00:00:00 for two days");
        if (policy.ReminderInterval <= TimeSpan.Zero) errors.Add("Policy:ReminderInterval must be positive, e.g. 04:00:00");
        if (policy.EscalateAfter < TimeSpan.Zero) errors.Add("Policy:EscalateAfter must not be negative");
        if (policy.BypassDuration <= TimeSpan.Zero) errors.Add("Policy:BypassDuration must be positive, e.g. 02:00:00");
        if (policy.RequiredApprovals < 1) errors.Add("Policy:RequiredApprovals must be at least 1");
        if (!TryFindTimeZone(policy.TimeZone)) errors.Add($"Policy:TimeZone: unknown time zone '{policy.TimeZone}' (use an IANA id such as Europe/Berlin)");
        if (!TryFindTimeZone(policy.DigestTimeZone)) errors.Add($"Policy:DigestTimeZone: unknown time zone '{policy.DigestTimeZone}'");
        if (policy.ApprovalWords.Any(string.IsNullOrWhiteSpace)) errors.Add("Policy:ApprovalWords must not contain empty words");
        if (!BusinessHours.TryParse(policy.BusinessHours, out _, out _, out _))
            errors.Add($"Policy:BusinessHours: '{policy.BusinessHours}' is not like 'Mon-Fri 09:00-17:00' (days, then start-end, ending after it starts)");
        foreach (var holiday in policy.Holidays)
            if (!DateOnly.TryParseExact(holiday, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _)
                && !IsHolidayCountry(holiday))
                errors.Add($"Policy:Holidays: '{holiday}' is neither a date (yyyy-MM-dd) nor a country code the PublicHoliday package knows (e.g. US, DE, GB)");
        if (!Cronos.CronExpression.TryParse(policy.DigestCron, out _))
            errors.Add($"Policy:DigestCron: '{policy.DigestCron}' is not a cron expression (minute hour day month weekday, e.g. 0 9 * * 1)");
        if (policy.DigestSendInterval < TimeSpan.Zero || policy.DigestSendInterval > TimeSpan.FromMinutes(1))
            errors.Add("Policy:DigestSendInterval must be between 00:00:00 and 00:01:00 (Slack allows about one message per second per channel)");
    }

    static void CheckDetection(List<string> errors, DetectionOptions detection)
    {
        if (!Cronos.CronExpression.TryParse(detection.SweepCron, out _))
            errors.Add($"Detection:SweepCron: '{detection.SweepCron}' is not a cron expression (minute hour day month weekday, e.g. 30 3 * * *)");
        if (detection.GracePeriod < TimeSpan.Zero) errors.Add("Detection:GracePeriod may not be negative");
        // The sweep must look back further than it runs apart, or a failed day would leave a gap.
        if (detection.SweepWindow < TimeSpan.FromHours(1)) errors.Add("Detection:SweepWindow must be at least 01:00:00 (default 3.00:00:00)");
        if (detection.RuleSuitesInterval < TimeSpan.Zero || detection.RuleSuitesInterval > TimeSpan.FromHours(12))
            errors.Add("Detection:RuleSuitesInterval must be between 00:00:00 (off) and 12:00:00: each poll reads the last day");
        if (detection.CheckInterval < TimeSpan.FromMilliseconds(50)) errors.Add("Detection:CheckInterval must be at least 00:00:00.050");
        foreach (var branch in detection.Branches.Where(b => string.IsNullOrWhiteSpace(b) || b.StartsWith("refs/", StringComparison.Ordinal)))
            errors.Add($"Detection:Branches: '{branch}' is not a branch name (write main, not refs/heads/main)");
    }

    static void CheckStorage(List<string> errors, StorageOptions storage)
    {
        if (string.IsNullOrWhiteSpace(storage.DataDirectory)) errors.Add("Storage:DataDirectory must not be empty");
        if (storage.Store == StoreKind.PostgreSql && string.IsNullOrWhiteSpace(storage.ConnectionString))
            errors.Add("Storage:ConnectionString is required when Storage:Store is PostgreSql");
        else if (storage.ResolvedHangfire == HangfireStorageKind.PostgreSql && string.IsNullOrWhiteSpace(storage.ConnectionString))
            errors.Add("Storage:ConnectionString is required when Storage:Hangfire is PostgreSql");
        // Replicas on one database with a job store on each machine would each run their own deadlines and digests.
        if (storage.Store == StoreKind.PostgreSql && storage.ResolvedHangfire != HangfireStorageKind.PostgreSql)
            errors.Add("Storage:Hangfire must be PostgreSql (or unset) when Storage:Store is PostgreSql: every replica must share the deadlines and schedules");
        if (storage.Store == StoreKind.PostgreSql && !string.IsNullOrWhiteSpace(storage.BackupDirectory))
            errors.Add("Storage:BackupDirectory backs up the embedded file only: with Storage:Store PostgreSql, unset it and back up the database with its own tools");
        if (storage.PollingInterval < TimeSpan.FromMilliseconds(10)) errors.Add("Storage:PollingInterval must be at least 00:00:00.010");
        if (storage.MaxRetryDelay < storage.PollingInterval) errors.Add("Storage:MaxRetryDelay must not be shorter than Storage:PollingInterval");
        if (storage.ClaimLease < TimeSpan.FromSeconds(1)) errors.Add("Storage:ClaimLease must be at least 00:00:01: a replica renews its claims a few times per lease");
        if (storage.RecurringCheckInterval < TimeSpan.FromMilliseconds(100)) errors.Add("Storage:RecurringCheckInterval must be at least 00:00:00.100");
        if (!string.IsNullOrWhiteSpace(storage.BackupDirectory))
        {
            if (storage.BackupKeep < 1) errors.Add("Storage:BackupKeep must be at least 1");
            if (!Cronos.CronExpression.TryParse(storage.BackupCron, out _)) errors.Add($"Storage:BackupCron is not a cron expression: '{storage.BackupCron}'");
            if (Path.GetFullPath(storage.BackupDirectory) == storage.ResolvedDataDirectory)
                errors.Add("Storage:BackupDirectory must not be the data directory itself");
        }
    }

    public static TimeZoneInfo FindTimeZone(string id) => TimeZoneInfo.FindSystemTimeZoneById(id);

    static bool TryFindTimeZone(string id)
    {
        try { FindTimeZone(id); return true; }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException) { return false; }
    }

    static bool IsHolidayCountry(string code)
    {
        try { return PublicHoliday.PublicHolidayFactory.GetPublicHolidayForCountry(code.ToUpperInvariant()) is not null; }
        catch (ArgumentException) { return false; }
    }

    static bool IsTeamRef(string? value) =>
        value is not null && value.Split('/') is [var org, var slug] && org.Length > 0 && slug.Length > 0;

    static void RequireHttpUrl(List<string> errors, string key, string? value, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required) errors.Add($"{key} is required");
            return;
        }
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            errors.Add($"{key} is not an absolute http(s) URL"); // the value is not repeated: a URL may carry credentials
    }

    /// <summary>A copy of the configuration without the given keys (and anything under them).</summary>
    static IConfiguration Without(IConfiguration configuration, List<string> keys) =>
        new ConfigurationBuilder().AddInMemoryCollection(configuration.AsEnumerable()
            .Where(kv => kv.Value is not null && !keys.Any(k =>
                kv.Key.Equals(k, StringComparison.OrdinalIgnoreCase) || kv.Key.StartsWith(k + ":", StringComparison.OrdinalIgnoreCase))))
            .Build();

    // Binds property by property so that two bad values in one section are both reported.
    static IEnumerable<(string Key, string Error)> ConversionErrors(IConfigurationSection section, Type type)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var child = section.GetSection(property.Name);
            if (child.Value is null && !child.GetChildren().Any()) continue;
            string? error = null;
            try { child.Get(property.PropertyType); }
            catch (InvalidOperationException) { error = Describe(child, property.PropertyType); }
            if (error is not null) yield return (child.Path, error);
        }
    }

    static string Describe(IConfigurationSection child, Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        var hint = target switch
        {
            _ when target == typeof(TimeSpan) => "a TimeSpan such as 04:00:00 or 2.00:00:00",
            _ when target.IsEnum => "one of " + string.Join(", ", Enum.GetNames(target)),
            _ when target == typeof(int) || target == typeof(long) => "a whole number",
            _ when target == typeof(bool) => "true or false",
            _ when target.IsGenericType => "a list of " + Describe(target.GetGenericArguments()[0]),
            _ => target.Name,
        };
        // Only the key is named, never the value: it may be a secret.
        return $"{child.Path}: expected {hint}";
    }

    static string Describe(Type t) => t.IsEnum ? "(" + string.Join(", ", Enum.GetNames(t)) + ")" : t.Name;
}
