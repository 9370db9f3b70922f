using System.Collections.Concurrent;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>
/// <see cref="ISlackReplayStore"/>: first answers held in memory (a replay is looked up there, never in the file) and kept in
/// the store file beside the changes, written in groups by one writer so a command costs no commit of its own; at start-up
/// the unexpired ones are read back, so an answer outlives a restart. An answer is forgotten once Slack's signature window
/// has closed on its request (the signature check refuses it then anyway). Written on shutdown too; a crash can lose the
/// answers of the last moment's requests, as it can lose one between a handler's write and its answer.
/// </summary>
internal sealed class SlackReplays : ISlackReplayStore, IDisposable
{
    const string Collection = "slack_replays";
    static readonly TimeSpan PruneEvery = TimeSpan.FromMinutes(1);
    readonly ChangeStore store;
    readonly TimeProvider time;
    readonly ConcurrentDictionary<string, SlackReplay> answers = new();
    readonly ConcurrentQueue<SlackReplay> unwritten = new();
    readonly Lock writing = new();
    int writerRunning;
    long prunedAt;

    public SlackReplays(ChangeStore store, TimeProvider time)
    {
        (this.store, this.time) = (store, time);
        var now = time.GetUtcNow().UtcTicks;
        foreach (var r in store.Documents<SlackReplay>(Collection).Where(r => r.ExpiresAt >= now)) answers[r.Id] = r;
    }

    public SlackAnswer? Find(string key) =>
        answers.TryGetValue(key, out var r) && r.ExpiresAt >= time.GetUtcNow().UtcTicks ? new SlackAnswer(r.Status, r.ContentType, r.Body ?? "") : null;

    public void Save(string key, SlackAnswer answer, DateTimeOffset expires)
    {
        var replay = new SlackReplay { Id = key, ExpiresAt = expires.UtcTicks, Status = answer.Status, ContentType = answer.ContentType, Body = answer.Body };
        answers[key] = replay;
        unwritten.Enqueue(replay);
        // One writer at a time; whatever arrives while it writes goes into its next group.
        if (Interlocked.CompareExchange(ref writerRunning, 1, 0) == 0) _ = Task.Run(WriteAll);
    }

    void WriteAll()
    {
        try
        {
            while (true)
            {
                Write();
                Interlocked.Exchange(ref writerRunning, 0);
                if (unwritten.IsEmpty || Interlocked.CompareExchange(ref writerRunning, 1, 0) != 0) return;
            }
        }
        catch
        {
            Interlocked.Exchange(ref writerRunning, 0); // the next answer tries again; memory still answers replays meanwhile
        }
    }

    void Write()
    {
        lock (writing)
        {
            var group = new List<(string, SlackReplay)>();
            while (group.Count < 1000 && unwritten.TryDequeue(out var r)) group.Add((r.Id, r));
            store.SaveDocuments(Collection, group);
            var now = time.GetUtcNow().UtcTicks;
            var last = Interlocked.Read(ref prunedAt);
            if (now - last < PruneEvery.Ticks || Interlocked.CompareExchange(ref prunedAt, now, last) != last) return;
            store.DeleteDocumentsBelow<SlackReplay>(Collection, nameof(SlackReplay.ExpiresAt), now);
            foreach (var (id, r) in answers) if (r.ExpiresAt < now) answers.TryRemove(id, out _);
        }
    }

    /// <summary>At shutdown: what is still unwritten is written, so a replay after the restart is still recognised.</summary>
    public void Dispose()
    {
        try { while (!unwritten.IsEmpty) Write(); }
        catch (ObjectDisposedException) { }
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
