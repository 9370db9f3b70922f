using BreakGlassBot.Slack;
using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

/// <summary>X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body with the webhook secret.</summary>
public static class GitHubSignature
{
    public const string Header = "X-Hub-Signature-256";

    public static bool Verify(string secret, string? header, ReadOnlySpan<byte> body)
    {
        if (!TryParse(header, out var claimed)) return false;
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body);
        return CryptographicOperations.FixedTimeEquals(expected, claimed);
    }

    /// <summary>"sha256=" and 64 hex digits; anything else cannot be a signature, so nothing needs to be read.</summary>
    public static bool TryParse(string? header, out byte[] claimed)
    {
        claimed = [];
        if (header is null || header.Length != 7 + 64 || !header.StartsWith("sha256=", StringComparison.Ordinal)) return false;
        try { claimed = Convert.FromHexString(header.AsSpan(7)); return true; }
        catch (FormatException) { return false; }
    }

    /// <summary>
    /// Reads the body while hashing it, and stops at <paramref name="maxBytes"/>: a forged or oversized request costs at
    /// most that much memory, and one without a well-formed signature header costs no read at all.
    /// </summary>
    public static async Task<(byte[]? Body, int Status)> ReadVerifiedAsync(HttpRequest request, string secret, int maxBytes, CancellationToken ct)
    {
        if (!TryParse(request.Headers[Header], out var claimed)) return (null, StatusCodes.Status401Unauthorized);
        if (request.ContentLength > maxBytes) return (null, StatusCodes.Status413PayloadTooLarge);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        var body = new ArrayBufferWriter<byte>(16 * 1024);
        while (true)
        {
            var chunk = body.GetMemory(16 * 1024)[..(16 * 1024)];
            var read = await request.Body.ReadAsync(chunk, ct);
            if (read == 0) break;
            if (body.WrittenCount + read > maxBytes) return (null, StatusCodes.Status413PayloadTooLarge);
            hmac.AppendData(chunk.Span[..read]);
            body.Advance(read);
        }
        return CryptographicOperations.FixedTimeEquals(hmac.GetHashAndReset(), claimed)
            ? (body.WrittenSpan.ToArray(), StatusCodes.Status200OK)
            : (null, StatusCodes.Status401Unauthorized);
    }
}

/// <summary>
/// Sees every webhook delivery whose signature verified (any event), before GitHub gets its answer: what it keeps must be
/// stored by then, so a crash after the answer loses nothing. Quick and local only: no calls to GitHub here.
/// </summary>
public interface IGitHubWebhookObserver
{
    void Observe(string eventName, JsonElement payload, string delivery);
}

/// <summary>How many webhook bodies may be read at once (each at most GitHub:MaxWebhookBytes) before their signatures are known.</summary>
public sealed class WebhookReadGate
{
    public const int Concurrent = 4;
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    public SemaphoreSlim Reads { get; } = new(Concurrent, Concurrent);
}

/// <summary>
/// POST /github/webhooks. The signature is checked over the raw bytes before anything is parsed (a bad one is
/// 401 with no side effect). Review and close events re-evaluate the changes that link the PR at once, so
/// reviewers are not nagged after they reviewed; without webhooks the tracker's polling gets there too.
/// </summary>
public static partial class GitHubWebhooks
{
    public const string Route = "/github/webhooks";

    public static IEndpointRouteBuilder MapGitHub(this IEndpointRouteBuilder app)
    {
        app.MapPost(Route, HandleAsync);
        return app;
    }

    static async Task<IResult> HandleAsync(HttpContext http, IOptions<GitHubOptions> options, IOptions<PolicyOptions> policy, ChangeStore store,
        IReevaluation reevaluation, TimeProvider time, ILoggerFactory logs, WebhookReadGate gate, IEnumerable<IGitHubWebhookObserver> webhookObservers)
    {
        var observers = webhookObservers as IGitHubWebhookObserver[] ?? [.. webhookObservers];
        var log = logs.CreateLogger("BreakGlassBot.GitHub.Webhooks");
        var secret = options.Value.WebhookSecret;
        if (string.IsNullOrEmpty(secret))
            return Results.Json(new { ok = false, error = "webhooks_not_configured", message = "Set GitHub:WebhookSecret to the secret of the GitHub webhook." },
                statusCode: StatusCodes.Status503ServiceUnavailable);
        var delivery = http.Request.Headers["X-GitHub-Delivery"].ToString();
        // Bodies are held until their signature is known: only a few at a time, so forged ones cannot pile up in memory.
        if (!await gate.Reads.WaitAsync(WebhookReadGate.Wait, http.RequestAborted))
            return Results.Json(new { ok = false, error = "busy" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        byte[]? body;
        int status;
        try { (body, status) = await GitHubSignature.ReadVerifiedAsync(http.Request, secret, options.Value.MaxWebhookBytes, http.RequestAborted); }
        finally { gate.Reads.Release(); }
        if (status == StatusCodes.Status413PayloadTooLarge) return Results.StatusCode(status);
        if (body is null)
        {
            LogRejected(log, delivery, http.Connection.RemoteIpAddress?.ToString());
            return Results.Json(new { ok = false, error = "invalid_signature" }, statusCode: StatusCodes.Status401Unauthorized);
        }
        // GitHub redelivers with the same X-GitHub-Delivery (a timeout, a manual "Redeliver"): handled once.
        var seenKey = "github-delivery:" + delivery;
        if (delivery.Length > 0 && store.WasSeen(seenKey)) return Results.Json(new { ok = true, handled = false, duplicate = true });

        var eventName = http.Request.Headers["X-GitHub-Event"].ToString();
        PullRequestEvent? evt;
        try { evt = PullRequestEvent.Parse(eventName, body); }
        // InvalidOperationException: a part of the wrong shape (TryGetProperty on a non-object, a number that is a
        // string), or a string that is not valid UTF-8 (it parses, and throws only when read). A signed body is only
        // as well-formed as its sender made it.
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return Results.Json(new { ok = false, error = "malformed_payload" }, statusCode: StatusCodes.Status400BadRequest);
        }
        // Later features (detection) see every verified delivery, after the handling above and apart from it; what they
        // keep is stored before GitHub gets its answer.
        if (observers.Length > 0)
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                foreach (var observer in observers) observer.Observe(eventName, doc.RootElement, delivery);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                if (evt is null) return Results.Json(new { ok = false, error = "malformed_payload" }, statusCode: StatusCodes.Status400BadRequest);
            }
        }
        if (evt is null) return Results.Json(new { ok = true, handled = false, @event = eventName });

        var affected = store.OpenChanges().Where(c => c.PullRequests.Any(evt.Matches)).Select(c => c.Id).ToList();
        if (evt.MergedAt is { } mergedAt)
        {
            var now = time.GetUtcNow();
            // A bypass lasts at most Policy:BypassDuration from its grant, which came before the review.
            foreach (var reviewed in store.ReviewedSince(now - policy.Value.BypassDuration - TimeSpan.FromHours(1)).Where(c => c.PullRequests.Any(evt.Matches)))
                if (store.Update(reviewed.Id, c => Reopen(c, evt, mergedAt, now, delivery)).Result) affected.Add(reviewed.Id);
            foreach (var id in affected)
                store.Update(id, c =>
                {
                    var prs = c.PullRequests.Where(p => evt.Matches(p) && !(p.Merged && p.MergedAt == mergedAt)).ToList();
                    foreach (var p in prs) { p.Merged = true; p.MergedAt = mergedAt; }
                    return prs.Select(p => new AuditEvent { ChangeNumber = c.Id, At = now, Actor = evt.Sender ?? "github", Type = GitHubAuditTypes.PullRequestMerged,
                        Data = new()
                        {
                            ["pr"] = p.Ref.ToString(), ["merged_at"] = mergedAt.ToString("O"), ["merge_commit_sha"] = evt.MergeCommitSha ?? "",
                            ["head_sha"] = evt.HeadSha ?? "", ["source"] = "webhook", ["delivery"] = delivery,
                        } }).ToList();
                });
        }
        foreach (var id in affected) reevaluation.Reevaluate(id);
        // Marked once handled: a crash before this lets GitHub's redelivery do the work (recording a merge is idempotent).
        if (delivery.Length > 0) store.MarkSeen(seenKey, time.GetUtcNow());
        LogHandled(log, eventName, evt.Action, $"{evt.Repository}#{evt.Number}", affected.Count, delivery);
        return Results.Json(new { ok = true, handled = true, reevaluated = affected.Select(id => new ChangeId(id).ToString()).ToArray() });
    }

    /// <summary>The few fields of pull_request_review and pull_request (closed) that matter here.</summary>
    /// <summary>
    /// A reviewed change whose bypass was still open when a head its approvals did not cover was merged: open again, the
    /// approvals voided, so the merge gets its review. True when it re-opened.
    /// </summary>
    static Decision<bool> Reopen(EmergencyChange c, PullRequestEvent evt, DateTimeOffset mergedAt, DateTimeOffset now, string delivery)
    {
        if (c.Status != ChangeStatus.Reviewed || c.Bypass is not { Granted: true } bypass || bypass.RevokedAt is { } ended && ended < mergedAt
            || c.PullRequests.FirstOrDefault(evt.Matches) is not { } pr || evt.HeadSha is not { } head
            || ApprovalCoverage.ApprovedHead(c, pr.Ref) is var approved && string.Equals(approved, head, StringComparison.OrdinalIgnoreCase))
            return Decision<bool>.Only(false);
        (c.Status, c.ReviewedAt, pr.HeadSha, pr.Merged, pr.MergedAt) = (ChangeStatus.Open, null, head, true, mergedAt);
        List<AuditEvent> events = [new AuditEvent { ChangeNumber = c.Id, At = now, Actor = evt.Sender ?? "github", Type = AuditTypes.Reopened,
            Data = new() { ["pr"] = pr.Ref.ToString(), ["head_sha"] = head, ["reviewed_head"] = approved ?? "", ["delivery"] = delivery } }];
        events.AddRange(OutboxQueue.VoidUncoveredApprovals(c, now, "bot"));
        OutboxQueue.Enqueue(c, StepKinds.ThreadNote, now, ReopenedNote.Key(pr.Ref.ToString(), head));
        OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
        return new(events, true);
    }

    internal sealed record PullRequestEvent(string Action, string Repository, int Number, DateTimeOffset? MergedAt, string? MergeCommitSha, string? HeadSha, string? Sender)
    {
        // The repository and number identify the PR: the html_url in GitHub's own dismissed-review example points elsewhere.
        public bool Matches(LinkedPullRequest p) =>
            p.Number == Number && string.Equals($"{p.Owner}/{p.Repo}", Repository, StringComparison.OrdinalIgnoreCase);

        public static PullRequestEvent? Parse(string eventName, byte[] body)
        {
            if (eventName is not ("pull_request_review" or "pull_request")) return null;
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            var action = Str(root, "action") ?? "";
            if (eventName == "pull_request" && action != "closed") return null;
            if (!root.TryGetProperty("pull_request", out var pr) || !root.TryGetProperty("repository", out var repo)) return null;
            var fullName = Str(repo, "full_name");
            if (fullName is null || !pr.TryGetProperty("number", out var n) || !n.TryGetInt32(out var number)) return null;
            DateTimeOffset? mergedAt = null;
            if (eventName == "pull_request" && pr.TryGetProperty("merged", out var merged) && merged.ValueKind == JsonValueKind.True
                && DateTimeOffset.TryParse(Str(pr, "merged_at"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                mergedAt = at;
            var head = pr.TryGetProperty("head", out var h) ? Str(h, "sha") : null;
            var sender = root.TryGetProperty("sender", out var s) ? Str(s, "login") : null;
            return new PullRequestEvent(action, fullName, number, mergedAt, Str(pr, "merge_commit_sha"), head, sender is null ? null : "github:" + sender);
        }

        static string? Str(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    // Never log the signature or the body.
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "GitHub webhook {Delivery} rejected: bad signature (from {Remote})")]
    static partial void LogRejected(ILogger logger, string delivery, string? remote);
    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "GitHub {Event} {Action} for {PullRequest}: {Count} open change(s) re-evaluated (delivery {Delivery})")]
    static partial void LogHandled(ILogger logger, string @event, string action, string pullRequest, int count, string delivery);
}

/// <summary>Thread note: a reviewed change opened again by a merge of a head nobody approved. Key "reopened:owner/repo#n@sha".</summary>
internal sealed class ReopenedNote : IThreadNoteSource
{
    const string Prefix = "reopened:";
    public IReadOnlyCollection<string> Names => ["reopened"];
    public static string Key(string pr, string head) => $"{Prefix}{pr}@{head}";

    public string? Render(EmergencyChange change, string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.LastIndexOf('@') is var at && at < 0) return null;
        var (pr, head) = (key[Prefix.Length..at], key[(at + 1)..]);
        return $":rotating_light: {change.ChangeId} is open again: {Blocks.Escape(pr)} was merged at `{Blocks.Escape(ApprovalCoverage.Short(head))}`, "
            + "a head its approvals did not cover, while the bypass was open. It needs a new retrospective review.";
    }
}
