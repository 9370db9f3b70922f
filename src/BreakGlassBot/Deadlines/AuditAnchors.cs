using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Hangfire;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// The audit trail's head as published outside the bot: an auditor who holds one can prove that no event up to it was
/// edited, removed or re-hashed since, and that the trail was not cut short (<c>verify-audit --anchors</c>).
/// </summary>
public sealed record AuditAnchor(
    [property: JsonPropertyName("last_sequence")] long LastSequence,
    [property: JsonPropertyName("last_hash")] string? LastHash,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("utc")] DateTimeOffset Utc,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("intact")] bool Intact,
    [property: JsonPropertyName("first_break")] string? FirstBreak = null)
{
    /// <summary>The RFC 3161 TimeStampToken (base64 DER) over <see cref="AnchorTimestamp.StampedBytes"/>, when a timestamping authority is configured.</summary>
    [JsonPropertyName("rfc3161"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Rfc3161 { get; init; }
    /// <summary>The token's genTime, as the authority said.</summary>
    [JsonPropertyName("rfc3161_time"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? Rfc3161Time { get; init; }
    /// <summary>Why this anchor has no token (the authority was down, refused, or answered something else).</summary>
    [JsonPropertyName("rfc3161_error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Rfc3161Error { get; init; }

    public string ToJsonLine() => JsonSerializer.Serialize(this);

    /// <summary>One anchor per line (the file the bot appends to, or a copy an auditor kept); blank lines skipped.</summary>
    public static IReadOnlyList<AuditAnchor> ReadLines(IEnumerable<string> lines) =>
        [.. lines.Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => JsonSerializer.Deserialize<AuditAnchor>(l)
            ?? throw new FormatException("an empty anchor line"))];
}

/// <summary>
/// Publishes the head to where the bot's own credentials cannot rewrite it: a line appended to
/// <c>Evidence:AnchorDirectory/audit-anchors.jsonl</c> (meant to be shipped to write-once storage) and/or a POST to
/// <c>Evidence:AnchorWebhookUrl</c> (the auditors' inbox). Hourly by default, and after every digest and export.
/// A broken chain is published too, as broken: that is news for the auditors, not something to hold back.
/// </summary>
public sealed partial class AuditAnchorPublisher(ChangeStore store, IOptions<EvidenceOptions> options, IHttpClientFactory http,
    IBackgroundJobClient jobs, InstanceQueue queue, TimeProvider time, ILogger<AuditAnchorPublisher> log, TimestampAuthority timestamps)
{
    public const string RecurringId = "audit-anchor";
    public const string FileName = "audit-anchors.jsonl";
    public const string HttpClientName = "audit-anchors";

    public bool Configured => !string.IsNullOrWhiteSpace(options.Value.AnchorDirectory) || !string.IsNullOrWhiteSpace(options.Value.AnchorWebhookUrl);

    /// <summary>Publishes after the caller's work (a digest, an export) without making it wait.</summary>
    public void Enqueue(string reason)
    {
        if (!Configured) return;
        if (queue.Name is { } q) jobs.Enqueue<AuditAnchorPublisher>(q, p => p.PublishAsync(reason, CancellationToken.None));
        else jobs.Enqueue<AuditAnchorPublisher>(p => p.PublishAsync(reason, CancellationToken.None));
    }

    [AutomaticRetry(Attempts = 10)]
    public async Task<AuditAnchor?> PublishAsync(string reason, CancellationToken ct)
    {
        if (!Configured) return null;
        var report = store.VerifyAuditChain();
        // Exports and digests may come in bursts (any read key can ask for an export): a head already published is not
        // published again for them. The hourly one always goes, as a sign of life.
        var last = store.Document<LastAnchor>(LastAnchor.Collection, LastAnchor.DocumentId);
        // A head published unstamped (the authority was down) is published again, so it gets its timestamp.
        if (reason != "schedule" && last is not null && last.Sequence == report.HeadSequence && last.Hash == report.HeadHash
            && (last.Stamped || !timestamps.Configured)) return null;
        var anchor = await timestamps.StampAsync(new AuditAnchor(report.HeadSequence, report.HeadHash, report.Events, time.GetUtcNow(), reason, report.Intact,
            report.FirstBreak?.Detail), ct);
        var line = anchor.ToJsonLine();
        if (options.Value.AnchorDirectory is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            // Append-only, flushed to disk before the anchor counts as published.
            await using var file = new FileStream(Path.Combine(dir, FileName), FileMode.Append, FileAccess.Write, FileShare.Read);
            await file.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), ct);
            file.Flush(flushToDisk: true);
        }
        if (options.Value.AnchorWebhookUrl is { Length: > 0 } url)
        {
            using var response = await http.CreateClient(HttpClientName).PostAsync(url, new StringContent(line, Encoding.UTF8, "application/json"), ct);
            // Hangfire retries: the auditors get it late rather than never.
            if (!response.IsSuccessStatusCode) throw new HttpRequestException($"the anchor webhook answered {(int)response.StatusCode}");
        }
        store.SaveDocument<LastAnchor>(LastAnchor.Collection, LastAnchor.DocumentId,
            _ => new LastAnchor { Id = LastAnchor.DocumentId, Sequence = anchor.LastSequence, Hash = anchor.LastHash, Stamped = anchor.Rfc3161 is not null });
        if (anchor.Intact) LogPublished(log, anchor.LastSequence, anchor.LastHash ?? "(none)", reason);
        else LogPublishedBroken(log, anchor.FirstBreak ?? "?", reason);
        return anchor;
    }

    [LoggerMessage(EventId = 7201, Level = LogLevel.Information, Message = "Audit anchor published: #{Sequence} {Hash} ({Reason})")]
    static partial void LogPublished(ILogger logger, long sequence, string hash, string reason);
    [LoggerMessage(EventId = 7202, Level = LogLevel.Error, Message = "Audit anchor published for a BROKEN trail: {Break} ({Reason})")]
    static partial void LogPublishedBroken(ILogger logger, string @break, string reason);
}

/// <summary>The head published last (kept in the store), so a burst of exports publishes it once.</summary>
public sealed class LastAnchor
{
    public const string Collection = "audit_anchors";
    public const string DocumentId = "last";
    public string Id { get; set; } = "";
    public long Sequence { get; set; }
    public string? Hash { get; set; }
    /// <summary>It carries an RFC 3161 timestamp.</summary>
    public bool Stamped { get; set; }
}

/// <summary>The hourly anchor (<c>Evidence:AnchorCron</c>), when a sink is configured.</summary>
internal sealed class AuditAnchorSchedule(IRecurringJobManager recurring, InstanceQueue queue, IOptions<EvidenceOptions> options) : IRecurringSchedule
{
    public string? Id => string.IsNullOrWhiteSpace(options.Value.AnchorDirectory) && string.IsNullOrWhiteSpace(options.Value.AnchorWebhookUrl)
        ? null : AuditAnchorPublisher.RecurringId;

    public void Register()
    {
        if (Id is null) recurring.RemoveIfExists(queue.RecurringId(AuditAnchorPublisher.RecurringId));
        else queue.AddOrUpdate<AuditAnchorPublisher>(recurring, AuditAnchorPublisher.RecurringId, p => p.PublishAsync("schedule", CancellationToken.None), options.Value.AnchorCron);
    }
}

/// <summary>Checks a trail against anchors published earlier: each anchored event still has its hash, and none is gone.</summary>
public static class AnchorCheck
{
    /// <summary>
    /// What is wrong, one sentence per anchor that no longer holds; empty when every anchor holds. An anchor with an empty
    /// hash (published for a broken trail) is checked for the trail's length only.
    /// </summary>
    public static IReadOnlyList<string> Problems(IReadOnlyDictionary<long, string?> hashBySequence, long lastSequence, IEnumerable<(long Sequence, string Hash, string Label)> anchors)
    {
        var problems = new List<string>();
        foreach (var (sequence, hash, label) in anchors.OrderBy(a => a.Sequence))
        {
            if (sequence > lastSequence)
                problems.Add($"the trail ends at #{lastSequence}, before the event #{sequence} anchored {label}: the events after #{lastSequence} were removed");
            else if (sequence == 0) continue; // an anchor of an empty trail: only its length counts
            else if (!hashBySequence.TryGetValue(sequence, out var found))
                problems.Add($"event #{sequence}, anchored {label}, is gone");
            else if (hash.Length > 0 && !string.Equals(found, hash, StringComparison.OrdinalIgnoreCase))
                problems.Add($"event #{sequence} is not the one anchored {label}: its hash is {found ?? "(none)"}, the anchor says {hash}");
        }
        return problems;
    }

    /// <summary>"12:ab34…" as given to <c>--expect</c>.</summary>
    public static bool TryParseExpect(string text, out (long Sequence, string Hash, string Label) anchor)
    {
        anchor = default;
        var colon = text.IndexOf(':');
        if (colon <= 0 || !long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)) return false;
        var hash = text[(colon + 1)..].Trim();
        if (hash.Length != 64 || !hash.All(Uri.IsHexDigit)) return false;
        anchor = (sequence, hash, $"by --expect {sequence}:{hash[..12]}…");
        return true;
    }
}
