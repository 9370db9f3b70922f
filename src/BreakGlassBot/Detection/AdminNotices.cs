using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Hangfire;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Detection;

/// <summary>
/// What detection tells the admins that belongs to no change (protection weakened, a source failing): an audit event on
/// change 0 at once, and a direct message to each Slack:Admins member through a Hangfire job, so Slack being down delays
/// the message but does not lose it.
/// </summary>
public sealed class AdminNotices(ChangeStore store, IBackgroundJobClient jobs, InstanceQueue queue, IOptions<SlackOptions> slack, TimeProvider time)
{
    public void ProtectionWeakened(string repository, string what, string actor, string delivery)
    {
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = time.GetUtcNow(), Actor = actor.Length > 0 ? "github:" + actor : "github", Type = AuditTypes.ProtectionWeakened,
            Data = new() { ["repository"] = repository, ["what"] = what, ["delivery"] = delivery },
        });
        Send($":warning: Protection of *{Blocks.Escape(repository)}* was weakened by {Blocks.Escape(actor.Length > 0 ? actor : "someone")}: {Blocks.Escape(what)}. "
            + "While it is off, merges pass GitHub's rules without a recorded bypass; the bot still checks every merge for a review before it.");
    }

    public void Failed(string source, string doing, string error, int attempts)
    {
        store.Append(new AuditEvent
        {
            ChangeNumber = 0, At = time.GetUtcNow(), Actor = "bot", Type = AuditTypes.DetectionFailed,
            Data = new() { ["source"] = source, ["doing"] = doing, ["error"] = error, ["attempts"] = attempts.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        });
        Send($":warning: Undeclared-bypass detection could not finish {Blocks.Escape(doing)}: {Blocks.Escape(error)} (attempt {attempts}). "
            + "It is retried; nothing is skipped. Check GitHub's status and the bot's GitHub token or App permissions.");
    }

    // One job per admin: a retry after Slack failed for one does not send the others theirs again.
    void Send(string text)
    {
        foreach (var admin in slack.Value.Admins.Distinct())
            if (queue.Name is { } q) jobs.Enqueue<AdminNoticeJob>(q, j => j.SendAsync(admin, text, CancellationToken.None));
            else jobs.Enqueue<AdminNoticeJob>(j => j.SendAsync(admin, text, CancellationToken.None));
    }
}

/// <summary>Sends one admin notice to one admin; Hangfire retries it while Slack fails.</summary>
public sealed class AdminNoticeJob(ISlackApi slack)
{
    public async Task SendAsync(string admin, string text, CancellationToken ct)
    {
        var channel = await slack.OpenDirectMessageAsync(admin, ct);
        await slack.PostMessageAsync(channel, new SlackMessage(text, Blocks.List(Blocks.Section(text))), ct);
    }
}
