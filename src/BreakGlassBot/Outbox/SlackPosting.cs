using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Outbox;

/// <summary>Maps Slack failures to outbox outcomes, and posts "at most once" using message metadata.</summary>
public static class SlackPosting
{
    /// <summary>
    /// Whether an earlier attempt (<c>step.Attempts</c> counts the current one) may have reached Slack: unless every
    /// earlier one ended in a clear refusal (429, ok:false). From a persisted count, so a later clear error cannot hide it.
    /// </summary>
    public static bool MayHavePosted(PendingStep step) => step.Attempts - 1 > step.AttemptsKnownUnsent;

    /// <summary>Whether a failed post may still have reached Slack (timeout, 5xx, a lost or garbled answer), as opposed to a clear refusal.</summary>
    public static bool IsUncertain(string error) => UncertainErrors.Any(error.Contains);

    static readonly string[] UncertainErrors = ["timeout", "http_5", "unreadable_json", "invalid_response", "connection_failed", "Exception"];

    public static StepOutcome.Retry RetryFor(SlackApiException e) => new($"slack {e.Method}: {e.Error}", e.RetryAfter);

    /// <summary>
    /// Posts <paramref name="message"/> at most once: chat.postMessage has no idempotency key, so after an uncertain
    /// attempt our metadata tag is looked for first. <paramref name="beforePost"/> runs only when a post is about to be made.
    /// </summary>
    public static async Task<(PostedMessage Message, bool Found)> PostOnceAsync(ISlackApi slack, SlackPlace place, SlackMessage message,
        bool mayHavePosted, CancellationToken ct, Func<Task>? beforePost = null)
    {
        if (mayHavePosted && message.Metadata is { } tag)
        {
            var seen = place.ThreadTs is { } thread
                ? await slack.GetRepliesAsync(place.Channel, thread, ct)
                : await slack.GetHistoryAsync(place.Channel, place.LookBackFrom, ct);
            if (seen.FirstOrDefault(m => Matches(m.Metadata, tag)) is { } found) return (new PostedMessage(place.Channel, found.Ts), true);
        }
        if (beforePost is not null) await beforePost();
        var posted = await slack.PostMessageAsync(place.Channel, place.ThreadTs is null ? message : message with { ThreadTs = place.ThreadTs }, ct);
        return (posted, false);
    }

    /// <summary><see cref="PostOnceAsync"/> of an outbox step's reply in a change's thread.</summary>
    public static async Task<PostedMessage> PostThreadReplyOnceAsync(ISlackApi slack, Announcement thread, SlackMessage message, PendingStep step,
        CancellationToken ct) =>
        (await PostOnceAsync(slack, SlackPlace.Thread(thread.Channel, thread.Ts), message, MayHavePosted(step), ct)).Message;

    public static bool Matches(MessageMetadata? found, MessageMetadata wanted) =>
        found is not null && found.EventType == wanted.EventType
        && wanted.Payload.All(kv => found.Payload.TryGetValue(kv.Key, out var v) && v == kv.Value);
}

/// <summary>Where a message goes: a channel or DM, found again in its history from <paramref name="LookBackFrom"/>; or a reply in a thread.</summary>
public sealed record SlackPlace(string Channel, DateTimeOffset LookBackFrom, string? ThreadTs = null)
{
    public static SlackPlace Thread(string channel, string threadTs) => new(channel, default, threadTs);
}
