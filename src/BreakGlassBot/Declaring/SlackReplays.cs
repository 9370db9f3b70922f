using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>
/// <see cref="ISlackReplayStore"/> in the store file beside the changes: an answer outlives a restart, and is forgotten
/// once Slack's signature window has closed on its request (the signature check refuses it then anyway).
/// </summary>
internal sealed class SlackReplays(ChangeStore store, TimeProvider time) : ISlackReplayStore
{
    const string Collection = "slack_replays";
    static readonly TimeSpan PruneEvery = TimeSpan.FromMinutes(1);
    long prunedAt;

    public SlackAnswer? Find(string key) =>
        store.Document<SlackReplay>(Collection, key) is { } r ? new SlackAnswer(r.Status, r.ContentType, r.Body ?? "") : null; // LiteDB reads an empty string back as null

    public void Save(string key, SlackAnswer answer, DateTimeOffset expires)
    {
        store.SaveDocument<SlackReplay>(Collection, key, _ => new SlackReplay
        {
            Id = key, ExpiresAt = expires.UtcTicks, Status = answer.Status, ContentType = answer.ContentType, Body = answer.Body,
        });
        var now = time.GetUtcNow();
        var last = Interlocked.Read(ref prunedAt);
        if (now.UtcTicks - last < PruneEvery.Ticks || Interlocked.CompareExchange(ref prunedAt, now.UtcTicks, last) != last) return;
        foreach (var old in store.Documents<SlackReplay>(Collection).Where(r => r.ExpiresAt < now.UtcTicks))
            store.DeleteDocument<SlackReplay>(Collection, old.Id);
    }
}

/// <summary><see cref="ISlackInstallationMemory"/> in the store file: one document, replaced whenever auth.test answers.</summary>
internal sealed class SlackInstallationMemory(ChangeStore store) : ISlackInstallationMemory
{
    const string Collection = "slack_installation";

    public SlackInstallation? Recall() =>
        store.Document<RememberedInstallation>(Collection, "installation") is { TeamId.Length: > 0 } r
            ? new SlackInstallation(r.TeamId, r.EnterpriseId, r.IsEnterpriseInstall, r.AppId) : null;

    public void Remember(SlackInstallation installation) =>
        store.SaveDocument<RememberedInstallation>(Collection, "installation", _ => new RememberedInstallation
        {
            Id = "installation", TeamId = installation.TeamId, EnterpriseId = installation.EnterpriseId,
            IsEnterpriseInstall = installation.IsEnterpriseInstall, AppId = installation.AppId,
        });
}

public sealed class RememberedInstallation
{
    public string Id { get; set; } = "";
    public string? TeamId { get; set; }
    public string? EnterpriseId { get; set; }
    public bool IsEnterpriseInstall { get; set; }
    public string? AppId { get; set; }
}

/// <summary>One first answer (see <see cref="SlackReplays"/>); the id is the request's path, timestamp and signature.</summary>
public sealed class SlackReplay
{
    public string Id { get; set; } = "";
    public long ExpiresAt { get; set; }
    public int Status { get; set; }
    public string? ContentType { get; set; }
    public string? Body { get; set; }
}
