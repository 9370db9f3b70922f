using System.Text.Json;
using System.Text.Json.Serialization;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Evidence;

/// <summary>Reads the store and the clock once per request and hands the pure builders what they need.</summary>
public sealed class EvidenceService(ChangeStore store, ReviewPolicy policy, IOptions<JiraOptions> jira, IOptions<EvidenceOptions> options, TimeProvider time,
    Digest.AllChangesCounter? allChanges = null, RunMode? mode = null, Deadlines.AuditAnchorPublisher? anchors = null,
    Detection.PopulationService? population = null)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        // Served as application/json only, never inlined in HTML: keep + and &amp; readable for the auditor.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public EvidencePacket? Packet(ChangeId id)
    {
        // Read together: the packet compares the record with the trail's last seal.
        var (change, trail) = store.ChangeWithTrail(id.Number);
        return change is null ? null
            : EvidenceBuilder.Packet(change, trail, policy.Describe(), jira.Value.BaseUrl, time.GetUtcNow()) with { Sandbox = mode?.Sandbox == true };
    }

    public ExportWindow Window(DateOnly from, DateOnly to) => ExportWindow.Create(from, to, ConfigurationCheck.FindTimeZone(policy.Options.TimeZone));

    public PeriodExport Export(ExportWindow window, int? totalChanges)
    {
        var now = time.GetUtcNow();
        var current = policy.Describe();
        var rows = store.DeclaredBetween(window.FromUtc, window.ToUtcExclusive)
            .Select(c => store.ChangeWithTrail(c.Id) is ({ } read, var trail) ? EvidenceExport.Row(read, trail, current, PacketUrl(c.ChangeId), now) : null)
            .OfType<ExportRow>().ToList();
        var chain = store.VerifyAuditChain();
        // The head this export vouches for goes outside the bot too (Evidence:AnchorDirectory / AnchorWebhookUrl).
        anchors?.Enqueue("export");
        return new PeriodExport(window, now, EvidenceExport.Summarise(rows, window, totalChanges),
            ChainSummary.Of(chain), rows) { Sandbox = mode?.Sandbox == true, Population = Population(window, now, rows) };
    }

    /// <summary>Every merged change of the window and what became of it, when Detection:Enabled; else that it was not collected.</summary>
    PopulationEvidence Population(ExportWindow window, DateTimeOffset now, IReadOnlyList<ExportRow> changes)
    {
        if (population is not { Enabled: true } p) return PopulationEvidence.NotCollected;
        // The population reads the case records as they are; one that disagrees with its sealed trail says so on its row.
        var tampered = changes.Where(c => c.Verdict == "tampered").Select(c => c.Id).ToHashSet();
        var report = p.For(window.FromUtc, window.ToUtcExclusive, now);
        return PopulationEvidence.Of(tampered.Count == 0 ? report : report with
        {
            Rows = [.. report.Rows.Select(r => r.ChangeId is { } id && tampered.Contains(id)
                ? r with { Reason = $"TAMPERED: the record of {id} disagrees with its sealed audit trail; it claims: {r.Reason}" } : r)],
        });
    }

    /// <summary>
    /// The export with the break-glass rate's denominator: the caller's total, or else all changes counted at GitHub
    /// (merged pull requests, as the digest counts them), or else the reason it is unknown.
    /// </summary>
    public async Task<PeriodExport> ExportAsync(ExportWindow window, int? totalChanges, CancellationToken ct, TimeSpan? countWait = null)
    {
        var source = totalChanges is null ? "unknown: give ?total= (all changes shipped in the window)" : "given by the caller";
        if (totalChanges is null && allChanges is not null)
        {
            var counts = await allChanges.CountAsync([(window.FromUtc, window.ToUtcExclusive)],
                () => store.LinkedRepositoriesDeclaredBetween(window.FromUtc, window.ToUtcExclusive), ct, countWait);
            (totalChanges, source) = counts.PerWeek is [var n]
                ? (n, $"pull requests merged in {counts.Scope} (GitHub search)")
                : ((int?)null, $"unknown: {counts.Unknown}; give ?total= (all changes shipped in the window)");
        }
        var export = Export(window, totalChanges);
        return export with { Summary = export.Summary with { TotalChangesSource = source } };
    }

    /// <summary>Absolute when Evidence:PublicBaseUrl is set (links in Slack and in the CSV), else relative to the bot.</summary>
    public string Url(string pathAndQuery) =>
        string.IsNullOrWhiteSpace(options.Value.PublicBaseUrl) ? pathAndQuery : options.Value.PublicBaseUrl.TrimEnd('/') + pathAndQuery;

    public string PacketUrl(ChangeId id) => Url($"/evidence/{id}");

    public string ExportUrl(ExportWindow window, string format, int? total = null, string? part = null) =>
        Url($"/evidence?from={window.From:yyyy-MM-dd}&to={window.To:yyyy-MM-dd}&format={format}" + (total is { } t ? $"&total={t}" : "") + (part is null ? "" : $"&part={part}"));
}
