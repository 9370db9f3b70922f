using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>Inbound Slack events kept until handled, and the external ids already seen (Slack retries with the same id).</summary>
internal sealed class EventInbox(StoreFile file)
{
    readonly ILiteCollection<BsonDocument> seen = file.Seen;
    readonly ILiteCollection<BsonDocument> inbox = file.Inbox;
    readonly Lock writeLock = file.WriteLock;

    /// <summary>Records that an external id (Slack event, view) was handled; false if it was seen before.</summary>
    public bool MarkSeen(string key, DateTimeOffset at)
    {
        lock (writeLock)
        {
            if (seen.FindById(key) is not null) return false;
            seen.Insert(new BsonDocument { ["_id"] = key, ["at"] = at.UtcTicks });
            return true;
        }
    }

    public bool WasSeen(string key) => seen.FindById(key) is not null;

    /// <summary>Forgets ids seen before <paramref name="before"/>: Slack and GitHub retry within hours, and every Home-tab opening adds one.</summary>
    public int PruneSeen(DateTimeOffset before)
    {
        lock (writeLock) return seen.DeleteMany(StoreFile.Where("$.at < @0", before.UtcTicks));
    }

    /// <summary>
    /// Saves an inbound Slack event before it is acknowledged, unless its id was seen before (Slack retries with
    /// the same event_id). Processed later by the inbox worker; kept until done, so a crash loses nothing.
    /// </summary>
    public bool AcceptInbound(string eventId, string json, DateTimeOffset at)
    {
        var key = "event:" + eventId;
        lock (writeLock)
        {
            if (seen.FindById(key) is not null) return false;
            return file.InTransaction(() =>
            {
                seen.Insert(new BsonDocument { ["_id"] = key, ["at"] = at.UtcTicks });
                inbox.Insert(new BsonDocument { ["_id"] = eventId, ["json"] = json, ["at"] = at.UtcTicks });
                return true;
            });
        }
    }

    public IReadOnlyList<(string EventId, string Json)> PendingInbound(int limit = 100) =>
        inbox.FindAll().Take(limit).Select(d => (d["_id"].AsString, d["json"].AsString)).ToList();

    /// <summary>The pending events whose next attempt is due at <paramref name="now"/>, with their stored failures and waits.</summary>
    public IReadOnlyList<InboundEvent> DueInbound(DateTimeOffset now) =>
        [.. inbox.FindAll()
            .Where(d => !d["due"].IsNumber || d["due"].AsInt64 <= now.UtcTicks)
            .Select(d => new InboundEvent(d["_id"].AsString, d["json"].AsString, d["failures"].IsNumber ? d["failures"].AsInt32 : 0,
                d["waits"].IsNumber ? d["waits"].AsInt32 : 0))];

    public void RetryInbound(string eventId, int failures, int waits, DateTimeOffset dueAt)
    {
        lock (writeLock)
        {
            if (inbox.FindById(eventId) is not { } d) return;
            (d["failures"], d["waits"], d["due"]) = (failures, waits, dueAt.UtcTicks);
            inbox.Update(d);
        }
    }

    public void CompleteInbound(string eventId)
    {
        lock (writeLock) inbox.Delete(eventId);
    }
}
