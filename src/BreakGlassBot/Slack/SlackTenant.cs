using System.Text.Json;
using BreakGlassBot.Hosting;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Slack;

/// <summary>The workspace (team), Enterprise Grid org and app one Slack request says it comes from.</summary>
public sealed record RequestOrigin(string? TeamId, string? EnterpriseId, string? AppId, IReadOnlyList<(string? TeamId, string? EnterpriseId)> Authorizations)
{
    /// <summary>A slash command's form: <c>team_id</c>, <c>enterprise_id</c>, <c>api_app_id</c>.</summary>
    public static RequestOrigin FromCommandForm(string form)
    {
        Dictionary<string, Microsoft.Extensions.Primitives.StringValues> fields;
        try { fields = new FormReader(form).ReadForm(); }
        catch (InvalidDataException) { return new(null, null, null, []); }
        string? F(string key) => fields.TryGetValue(key, out var v) && v.Count > 0 && v[0] is { Length: > 0 } s ? s : null;
        return new(F("team_id"), F("enterprise_id"), F("api_app_id"), []);
    }

    /// <summary>An interaction's <c>payload</c>: <c>team.id</c> (null for an org-wide install, then <c>user.team_id</c>), <c>enterprise.id</c>, <c>api_app_id</c>.</summary>
    public static RequestOrigin FromInteractionForm(string form)
    {
        try
        {
            var json = new FormReader(form).ReadForm().TryGetValue("payload", out var v) ? v.ToString() : null;
            if (string.IsNullOrEmpty(json)) return new(null, null, null, []);
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var team = Text(Child(root, "team"), "id") ?? Text(Child(root, "user"), "team_id");
            return new(team, Text(Child(root, "enterprise"), "id"), Text(root, "api_app_id"), []);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException) { return new(null, null, null, []); }
    }

    /// <summary>An Events API body: <c>team_id</c>, <c>enterprise_id</c>, <c>api_app_id</c> and each of <c>authorizations</c>.</summary>
    public static RequestOrigin FromEvent(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var authorizations = Child(root, "authorizations") is { ValueKind: JsonValueKind.Array } list
                ? list.EnumerateArray().Select(a => (Text(a, "team_id"), Text(a, "enterprise_id"))).ToList()
                : [];
            return new(Text(root, "team_id"), Text(root, "enterprise_id"), Text(root, "api_app_id"), authorizations);
        }
        catch (JsonException) { return new(null, null, null, []); }
    }

    static JsonElement Child(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) ? v : default;

    static string? Text(JsonElement o, string name) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : null;
}

public enum OriginCheck { Accepted, ForeignApp, ForeignWorkspace, Unknown }

/// <summary>Whether a request comes from the workspace (or org) and app this bot serves; asked on every request, both transports.</summary>
public interface ISlackOriginCheck
{
    ValueTask<OriginCheck> CheckAsync(RequestOrigin origin, CancellationToken ct);
}

/// <summary>The installation last learned, kept durably: a restart while Slack's Web API is down still knows its workspace.</summary>
public interface ISlackInstallationMemory
{
    SlackInstallation? Recall();
    void Remember(SlackInstallation installation);
}

/// <summary>
/// The expected workspace, org and app: Slack:TeamId, Slack:EnterpriseId, Slack:AppId, or, for any not configured, what the
/// bot token says (auth.test; bots.info for the app). A workspace install accepts its own team only (not the org's other
/// workspaces); an org-wide install (or Slack:EnterpriseId alone) accepts every workspace of the org by enterprise id.
/// Until the workspace is known, requests are refused (fail closed); what was learned before a restart stands in while
/// Slack cannot be asked. An app id Slack will not tell (bots.info refused) is not checked, since the signature or the
/// Socket Mode connection already proves the app.
/// </summary>
public sealed partial class SlackTenant(IOptions<SlackOptions> options, ISlackApi slack, TimeProvider time, ILogger<SlackTenant> log,
    IEnumerable<ISlackInstallationMemory> memories) : ISlackOriginCheck
{
    readonly ISlackInstallationMemory? memory = memories.LastOrDefault();
    /// <summary>How long a request waits for auth.test when the workspace is not known yet.</summary>
    static readonly TimeSpan LearnBudget = TimeSpan.FromSeconds(1);
    readonly Lock gate = new();
    Task<SlackInstallation?>? learning;
    SlackInstallation? learned;

    bool NeedsLearning
    {
        get
        {
            var o = options.Value;
            return string.IsNullOrWhiteSpace(o.TeamId) && string.IsNullOrWhiteSpace(o.EnterpriseId) || string.IsNullOrWhiteSpace(o.AppId);
        }
    }

    /// <summary>Learns in the background (at start-up), so the first request seldom waits.</summary>
    internal void WarmUp()
    {
        if (options.Value.IsConfigured && NeedsLearning) _ = LearnAsync();
    }

    public async ValueTask<OriginCheck> CheckAsync(RequestOrigin origin, CancellationToken ct)
    {
        var o = options.Value;
        var team = Blank(o.TeamId);
        var enterprise = Blank(o.EnterpriseId);
        var app = Blank(o.AppId);
        var orgInstall = team is null && enterprise is not null;
        if (NeedsLearning)
        {
            var known = learned;
            if (known is null)
            {
                try { known = await LearnAsync().WaitAsync(LearnBudget, time, ct); }
                catch (TimeoutException) { known = null; }
                known ??= memory?.Recall();
            }
            if (team is null && enterprise is null)
            {
                if (known is null) return OriginCheck.Unknown;
                orgInstall = known.IsEnterpriseInstall && known.EnterpriseId is not null;
                team = orgInstall ? null : known.TeamId;
                enterprise = known.EnterpriseId;
            }
            app ??= known?.AppId;
        }
        if (app is not null && origin.AppId != app) return OriginCheck.ForeignApp;
        bool Ours(string? t, string? e) => orgInstall ? e == enterprise : t == team && (e is null || enterprise is null || e == enterprise);
        if (!Ours(origin.TeamId, origin.EnterpriseId)) return OriginCheck.ForeignWorkspace;
        if (origin.Authorizations.Count > 0 && !origin.Authorizations.Any(a => Ours(a.TeamId, a.EnterpriseId))) return OriginCheck.ForeignWorkspace;
        return OriginCheck.Accepted;
    }

    /// <summary>One auth.test (and bots.info) at a time; a failure is forgotten, so the next request asks again.</summary>
    Task<SlackInstallation?> LearnAsync()
    {
        lock (gate)
        {
            if (learned is not null) return Task.FromResult<SlackInstallation?>(learned);
            return learning ??= Task.Run(async () =>
            {
                try
                {
                    var installation = await slack.InstallationAsync(CancellationToken.None);
                    if (installation.TeamId.Length == 0) throw new SlackApiException("auth.test", "no_team_id");
                    if (installation.AppId is null) LogNoAppId(log);
                    lock (gate) learned = installation;
                    memory?.Remember(installation);
                    LogLearned(log, installation.TeamId, installation.EnterpriseId ?? "-", installation.IsEnterpriseInstall, installation.AppId ?? "-");
                    return installation;
                }
                catch (SlackApiException e)
                {
                    LogLearnFailed(log, e.Method, e.Error);
                    return null;
                }
                finally { lock (gate) learning = null; }
            });
        }
    }

    static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    [LoggerMessage(EventId = 1120, Level = LogLevel.Information, Message = "Slack requests are accepted from team {TeamId} (enterprise {EnterpriseId}, org-wide install {OrgInstall}), app {AppId}, as auth.test says")]
    static partial void LogLearned(ILogger logger, string teamId, string enterpriseId, bool orgInstall, string appId);
    [LoggerMessage(EventId = 1121, Level = LogLevel.Warning, Message = "Could not learn the bot's Slack workspace ({Method}: {Error}); requests are refused until it is known. Set Slack:TeamId and Slack:AppId to not depend on it")]
    static partial void LogLearnFailed(ILogger logger, string method, string error);
    [LoggerMessage(EventId = 1122, Level = LogLevel.Warning, Message = "Slack did not tell the bot's app id (bots.info); api_app_id is not checked. Set Slack:AppId")]
    static partial void LogNoAppId(ILogger logger);
}

/// <summary>Starts <see cref="SlackTenant"/>'s learning when the host starts, if it is the check in use.</summary>
internal sealed class SlackTenantWarmUp(ISlackOriginCheck check) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        (check as SlackTenant)?.WarmUp();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
