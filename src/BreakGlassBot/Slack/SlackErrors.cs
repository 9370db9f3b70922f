namespace BreakGlassBot.Slack;

/// <summary>What retrying a failed Slack call can achieve.</summary>
public enum SlackErrorKind
{
    /// <summary>Passes by itself (429, 5xx, timeouts, Slack's own outages): retry with back-off.</summary>
    Transient,
    /// <summary>One recipient of a direct message can never get it (a bot user, deactivated, unknown): skip that person.</summary>
    Recipient,
    /// <summary>Every call of the kind fails until an admin fixes the app or its token (scopes, Messages tab, revoked token): tell once.</summary>
    Workspace,
    /// <summary>This call fails until someone changes it or its channel (invalid blocks, archived channel): park the step.</summary>
    Permanent,
}

/// <summary>
/// Slack's errors in one place: which pass by themselves and which need a person. Unknown ok:false errors count as
/// permanent: Slack documents its passing errors, a parked step is still re-checked, and an error retried forever
/// without a word is what this classification exists to end.
/// </summary>
public static class SlackErrors
{
    static readonly HashSet<string> TransientErrors =
    [
        "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
        "team_added_to_org", "timeout", "connection_failed", "unreadable_json", "invalid_response",
    ];

    static readonly HashSet<string> RecipientErrors = ["cannot_dm_bot", "user_not_found", "user_disabled", "user_not_visible"];

    static readonly HashSet<string> WorkspaceErrors =
    [
        "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope", "no_permission",
        "not_allowed_token_type", "ekm_access_denied", "messages_tab_disabled", "team_access_not_granted", "org_login_required",
    ];

    /// <summary>The kind of <paramref name="error"/> (Slack's <c>error</c>, or the client's own: <c>http_503</c>, <c>timeout</c>).</summary>
    public static SlackErrorKind Classify(string error)
    {
        if (TransientErrors.Contains(error) || error.StartsWith("http_5", StringComparison.Ordinal) || error == "http_429") return SlackErrorKind.Transient;
        if (RecipientErrors.Contains(error)) return SlackErrorKind.Recipient;
        if (WorkspaceErrors.Contains(error)) return SlackErrorKind.Workspace;
        return SlackErrorKind.Permanent;
    }

    public static SlackErrorKind Classify(SlackApiException e) => Classify(e.Error);

    /// <summary>The error code at the end of an outbox error text ("slack chat.postMessage: not_in_channel"), or null when it is not Slack's.</summary>
    public static string? CodeOf(string? stepError)
    {
        if (stepError is null || !stepError.StartsWith("slack ", StringComparison.Ordinal)) return null;
        var colon = stepError.LastIndexOf(": ", StringComparison.Ordinal);
        return colon < 0 ? null : stepError[(colon + 2)..];
    }

    /// <summary>What an admin must do about an error retrying will not cure, in words; a generic hint for the rest.</summary>
    public static string AdminAction(string error) => error switch
    {
        "messages_tab_disabled" => "enable the Messages tab of the app's App Home (reinstall the app from manifest.yml, or turn it on under App Home in the app's settings)",
        "invalid_auth" or "not_authed" or "account_inactive" or "token_revoked" or "token_expired"
            => "set Slack:BotToken to the app's current bot token (reinstall the app if the token was revoked)",
        "missing_scope" or "no_permission" or "not_allowed_token_type" or "ekm_access_denied" or "team_access_not_granted"
            => "reinstall the Slack app from manifest.yml so the bot has the scopes it needs",
        "not_in_channel" => "invite the bot to the channel (`/invite @BreakGlassBot`)",
        "channel_not_found" => "check the channel setting: it must be the id of a channel the bot can see",
        "is_archived" => "unarchive the channel, or point the setting at a channel in use",
        "invalid_blocks" or "invalid_blocks_format" or "invalid_arguments" or "msg_too_long" or "metadata_too_large"
            => "report it to the bot's maintainers: Slack refuses the message the bot built",
        "cannot_dm_bot" or "user_not_found" or "user_disabled" or "user_not_visible" => "remove the person from the bot's settings",
        _ when error.StartsWith("restricted_action", StringComparison.Ordinal) => "let the bot post in the channel, or use a channel where it may",
        _ => "check the bot's Slack app and settings",
    };
}
