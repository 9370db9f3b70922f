using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Declaring;

/// <summary>Posts the announcement to the change channel exactly once; its ts becomes the change's thread.</summary>
internal sealed partial class AnnounceStep(ISlackApi slack, IOptions<SlackOptions> options, ChangeMessages messages, TimeProvider time,
    ILogger<AnnounceStep> log) : IStepHandler
{
    public string Kind => StepKinds.Announce;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        if (change.Announcement is not null) return new StepOutcome.Done();
        var channel = options.Value.AnnouncementChannel!;
        var message = messages.Announcement(change, time.GetUtcNow());
        try
        {
            var (posted, _) = await SlackPosting.PostOnceAsync(slack, new SlackPlace(channel, change.DeclaredAt.AddMinutes(-1)), message,
                SlackPosting.MayHavePosted(step), ct);
            string? permalink = null;
            try { permalink = await slack.GetPermalinkAsync(posted.Channel, posted.Ts, ct); }
            catch (SlackApiException) { } // a link is a convenience; the thread ts is what matters
            var at = time.GetUtcNow();
            return new StepOutcome.Done(c =>
            {
                c.Announcement = new Announcement { Channel = posted.Channel, Ts = posted.Ts, Permalink = permalink, PostedAt = at };
                return [new AuditEvent { ChangeNumber = c.Id, At = at, Actor = "bot", Type = AuditTypes.Announced,
                    Data = new() { ["channel"] = posted.Channel, ["ts"] = posted.Ts, ["permalink"] = permalink ?? "" } }];
            });
        }
        catch (SlackApiException e) { return Blocked(change, channel, e) ?? SlackPosting.RetryFor(e); }
    }

    /// <summary>
    /// An error that lasts until an admin acts (bot not in the channel): keep retrying, and tell the declarer once by DM
    /// (there is no thread yet).
    /// </summary>
    StepOutcome.Retry? Blocked(EmergencyChange change, string channel, SlackApiException e)
    {
        if (AnnouncementBlockedNotice.AdminAction(e.Error, channel) is not { } action) return null;
        var target = DirectMessageStep.Target(change.DeclaredBy, AnnouncementBlockedNotice.KeyFor(e.Error));
        if (AnnouncementBlockedNotice.Owed(change)) return null;
        LogBlocked(log, change.ChangeId.ToString(), channel, e.Error, action);
        var now = time.GetUtcNow();
        return SlackPosting.RetryFor(e) with
        {
            Apply = c =>
            {
                if (!AnnouncementBlockedNotice.Owed(c)) c.Steps.Add(OutboxQueue.NewStep(StepKinds.DirectMessage, now, target));
                return [];
            },
        };
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
        Message = "The announcement of {ChangeId} cannot be posted to {Channel}: Slack says {Error}. An admin must {Action}. Retrying; the declarer is told by direct message")]
    static partial void LogBlocked(ILogger logger, string changeId, string channel, string error, string action);
}

/// <summary>The direct message telling a declarer that their announcement is blocked until an admin acts.</summary>
internal sealed class AnnouncementBlockedNotice(IOptions<SlackOptions> options) : IDirectMessageSource
{
    // Not a reminder: the evidence counts those.
    public string AuditTypeFor(string key) => AuditTypes.AnnouncementFailed;

    public const string Key = "announcement-blocked";

    public static string KeyFor(string error) => $"{Key}:{error}";

    /// <summary>Whether the declarer was already told (or is about to be): once per change, whatever the error.</summary>
    public static bool Owed(EmergencyChange change) =>
        change.Steps.Any(s => s.Kind == StepKinds.DirectMessage && s.Target is { } t && t.StartsWith(change.DeclaredBy + "|" + Key + ":", StringComparison.Ordinal));

    /// <summary>What an admin must do about a Slack error that retrying will not cure; null for the passing ones (429, 5xx, timeouts).</summary>
    public static string? AdminAction(string error, string channel) => error switch
    {
        "not_in_channel" => $"invite the bot to <#{channel}> (type `/invite @BreakGlassBot` in that channel)",
        "channel_not_found" => $"check Slack:AnnouncementChannel (`{channel}`): it must be the id of a channel the bot can see; for a private channel, invite the bot to it",
        "is_archived" => $"unarchive <#{channel}>, or set Slack:AnnouncementChannel to a channel in use",
        "restricted_action" or "restricted_action_read_only_channel" or "restricted_action_thread_only_channel" or "restricted_action_non_threadable_channel"
            => $"let the bot post in <#{channel}>, or set Slack:AnnouncementChannel to a channel where it may",
        "invalid_auth" or "not_authed" or "account_inactive" or "token_revoked" or "token_expired"
            => "set Slack:BotToken to the app's current bot token (reinstall the app if the token was revoked)",
        "missing_scope" or "no_permission" or "not_allowed_token_type" or "ekm_access_denied"
            => "reinstall the Slack app from manifest.yml so the bot has the scopes it needs",
        _ => null,
    };

    public SlackMessage? Render(EmergencyChange change, string key, string user, DateTimeOffset now)
    {
        if (!key.StartsWith(Key + ":", StringComparison.Ordinal) || change.Announcement is not null) return null; // posted since: nothing to say
        var error = key[(Key.Length + 1)..];
        var channel = options.Value.AnnouncementChannel ?? "";
        var action = AdminAction(error, channel) ?? "check the bot's Slack settings";
        var text = $":warning: *{change.ChangeId}* is recorded, but its announcement in <#{channel}> could not be posted: Slack says `{Blocks.Escape(error)}`.\n"
            + $"Reviewers will not see it until an admin fixes this: {action}. The bot keeps retrying and posts it as soon as that is done.";
        return new SlackMessage(text, Blocks.List(Blocks.Section(text)));
    }
}

/// <summary>The details of the change, as the first reply in its thread.</summary>
internal sealed class ThreadDetailsStep(ISlackApi slack, ChangeMessages messages, ReviewPolicy policy) : IStepHandler
{
    public string Kind => StepKinds.ThreadDetails;
    public bool NeedsThread => true;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        try
        {
            var a = change.Announcement!;
            await SlackPosting.PostThreadReplyOnceAsync(slack, a, messages.Details(change, policy.Describe()), step, ct);
            return new StepOutcome.Done();
        }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }
}

/// <summary>Re-renders the announcement after the change's state changed (chat.update is idempotent).</summary>
internal sealed class RefreshAnnouncementStep(ISlackApi slack, ChangeMessages messages, TimeProvider time) : IStepHandler
{
    public string Kind => StepKinds.RefreshAnnouncement;
    public bool NeedsThread => true;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        try
        {
            var a = change.Announcement!;
            await slack.UpdateMessageAsync(a.Channel, a.Ts, messages.Announcement(change, time.GetUtcNow()), ct);
            return new StepOutcome.Done();
        }
        catch (SlackApiException e) { return SlackPosting.RetryFor(e); }
    }
}
