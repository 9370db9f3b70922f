using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Outbox;

/// <summary>Maps Slack failures to outbox outcomes, and posts "at most once" using message metadata.</summary>
public static class SlackPosting
{
    /// <summary>
    /// Whether an earlier attempt of this step (<c>step.Attempts</c> counts the current one) may have reached Slack:
    /// one of them crashed mid-way (no outcome was recorded) or failed in a way that says nothing about whether Slack
    /// acted (timeout, 5xx, a lost or garbled answer). Only when every earlier attempt ended in a clear refusal (429,
    /// ok:false) is it known that nothing was posted. Decided from a persisted count, not from the last error: a clear
    /// error on a later attempt (a 429 on the lookup) must not hide an earlier uncertain post.
    /// </summary>
    public static bool MayHavePosted(PendingStep step) => step.Attempts - 1 > step.AttemptsKnownUnsent;

    /// <summary>Whether a failed post may still have reached Slack (timeout, 5xx, a lost or garbled answer), as opposed to a clear refusal.</summary>
    public static bool IsUncertain(string error) => UncertainErrors.Any(error.Contains);

    static readonly string[] UncertainErrors = ["timeout", "http_5", "invalid_json", "invalid_response", "connection_failed", "Exception"];

    public static StepOutcome.Retry RetryFor(SlackApiException e) => new($"slack {e.Method}: {e.Error}", e.RetryAfter);

    /// <summary>
    /// chat.postMessage has no idempotency key. On a repeated attempt (the first may have been posted before a
    /// crash or a timeout) look for our own metadata tag in the thread first, and adopt that message.
    /// </summary>
    public static async Task<PostedMessage> PostThreadReplyOnceAsync(ISlackApi slack, string channel, string threadTs, SlackMessage message,
        PendingStep step, CancellationToken ct)
    {
        if (MayHavePosted(step) && message.Metadata is { } tag)
        {
            var replies = await slack.GetRepliesAsync(channel, threadTs, ct);
            var existing = replies.FirstOrDefault(m => Matches(m.Metadata, tag));
            if (existing is not null) return new PostedMessage(channel, existing.Ts);
        }
        return await slack.PostMessageAsync(channel, message with { ThreadTs = threadTs }, ct);
    }

    public static bool Matches(MessageMetadata? found, MessageMetadata wanted) =>
        found is not null && found.EventType == wanted.EventType
        && wanted.Payload.All(kv => found.Payload.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
