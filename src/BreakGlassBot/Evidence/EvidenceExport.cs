using System.Globalization;
using System.Text.Json;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;
using CsvHelper;

namespace BreakGlassBot.Evidence;

/// <summary>An audit window: whole days in the policy's time zone, <see cref="To"/> included.</summary>
public sealed record ExportWindow(DateOnly From, DateOnly To, string TimeZone, DateTimeOffset FromUtc, DateTimeOffset ToUtcExclusive)
{
    public static ExportWindow Create(DateOnly from, DateOnly to, TimeZoneInfo zone)
    {
        DateTimeOffset Start(DateOnly d)
        {
            var local = d.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
            return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
        }
        return new ExportWindow(from, to, zone.Id, Start(from), Start(to.AddDays(1)));
    }

    public double Weeks => (ToUtcExclusive - FromUtc).TotalDays / 7;
}

/// <summary>One change as one row: the columns an auditor filters on. Times are UTC (ISO 8601), durations in minutes.</summary>
public sealed record ExportRow(
    string Id, string Status, string Verdict, DateTimeOffset DeclaredAt, string DeclaredBy, string? DeclaredByName, string Summary,
    string? Service, string? Severity, string? BypassMode, string? BypassGranted, string? BypassHeadSha, DateTimeOffset? BypassGrantedAt,
    DateTimeOffset? BypassEndedAt, DateTimeOffset DueAt, string ReviewPolicy, DateTimeOffset? ReviewedAt, double? TimeToReviewMinutes,
    double? LateByMinutes, string Approvers, DateTimeOffset? FirstApprovalAt, int ChangeRequests, int Reminders, int Escalations,
    DateTimeOffset? OverdueAt, DateTimeOffset? EscalatedAt, string? CancelledBy, DateTimeOffset? CancelledAt, string? CancelReason,
    string PullRequests, string? PrApprovedBy, DateTimeOffset? PrApprovedAt, DateTimeOffset? PrMergedAt, string JiraIssues, string? JiraStatusAtReview,
    string? AnnouncementPermalink, string EvidenceUrl, string Integrity, string? WithdrawnAfterUse,
    string Source, string? DetectedChange, string? DetectedActor);

/// <param name="Changes">Every change declared in the window, cancelled ones included.</param>
/// <param name="Open">Still open at export time, overdue ones included (<paramref name="OpenOverdue"/>).</param>
/// <param name="EmergencyChangesPerWeek">Changes not cancelled, per week of the window: the trend of break-glass use.</param>
/// <param name="BreakGlassRate">Changes not cancelled divided by <paramref name="TotalChanges"/> (all changes the team shipped, given by the caller).</param>
public sealed record ExportSummary(
    int Changes, int ReviewedOnTime, int ReviewedLate, int Open, int OpenOverdue, int Cancelled,
    double? MedianTimeToReviewMinutes, string? MedianTimeToReview, double EmergencyChangesPerWeek, int? TotalChanges, double? BreakGlassRate)
{
    /// <summary>Where <see cref="TotalChanges"/> came from: given by the caller, counted at GitHub, or why it is unknown.</summary>
    public string? TotalChangesSource { get; init; }
    /// <summary>Changes whose record disagrees with the sealed trail: counted in none of the outcomes above.</summary>
    public int Tampered { get; init; }
}

/// <param name="Intact">The chain is intact and every change record agrees with it (<see cref="ChainReport.Trustworthy"/>).</param>
public sealed record ChainSummary(bool Intact, long Events, long LastSequence, string? LastHash, string? FirstBreak)
{
    public IReadOnlyList<string> TamperedRecords { get; init; } = [];

    public static ChainSummary Of(ChainReport chain) =>
        new(chain.Trustworthy, chain.Events, chain.HeadSequence, chain.HeadHash, chain.FirstBreak?.ToString() ?? chain.StateProblems.FirstOrDefault()?.ToString())
        { TamperedRecords = [.. chain.StateProblems.Select(p => p.ToString())] };
}

/// <summary>
/// Every change merged to a watched branch in the window and what became of it (Detection:Enabled), so an auditor can test
/// completeness: <paramref name="Figures"/> add up to the rows, and <paramref name="Statement"/> says so in words.
/// </summary>
/// <param name="Collected">False with detection off: the export then covers declared changes only.</param>
public sealed record PopulationEvidence(bool Collected, string Statement, PopulationFigures? Figures, bool? AddsUp, IReadOnlyList<PopulationRow> Rows)
{
    public static readonly PopulationEvidence NotCollected = new(false,
        "Not collected: Detection:Enabled is off, so merged changes that were neither declared nor reviewed are not looked for; "
        + "this export covers declared emergency changes only.", null, null, []);

    public static PopulationEvidence Of(PopulationReport report) => new(true, report.Statement, report.Figures, report.Figures.AddsUp, report.Rows);
}

public sealed record PeriodExport(ExportWindow Window, DateTimeOffset GeneratedAt, ExportSummary Summary, ChainSummary AuditChain, IReadOnlyList<ExportRow> Changes)
{
    /// <summary>Made in sandbox mode (simulated Slack, GitHub and Jira): not evidence of anything real.</summary>
    public bool Sandbox { get; init; }
    public PopulationEvidence Population { get; init; } = PopulationEvidence.NotCollected;
}

public static class EvidenceExport
{
    public static ExportRow Row(EmergencyChange c, IReadOnlyList<AuditEvent> trail, string currentPolicy, string evidenceUrl, DateTimeOffset now)
    {
        var integrity = IntegrityEvidence.Of(ChangeSeals.Check(c.Id, c, trail));
        var verdict = EvidenceBuilder.Sealed(EvidenceBuilder.VerdictOf(c, now), integrity);
        var policy = trail.FirstOrDefault(e => e.Type == AuditTypes.Declared)?.Data.GetValueOrDefault("policy") ?? currentPolicy;
        // A bypass that was never granted has no grant, times or end: "not granted: <reason>" says why.
        var b = c.Bypass;
        var granted = b is { Granted: true } ? b : null;
        var prs = c.PullRequests;
        return new ExportRow(
            c.ChangeId.ToString(), c.Status.ToString().ToLowerInvariant(), verdict.Outcome, c.DeclaredAt, c.DeclaredBy, c.DeclaredByName, SlackFormatting.Plain(c.Summary),
            c.Service, c.Severity, b?.Mode, b is null ? null : granted is null ? EvidenceBuilder.NotGrantedReason(c, b) : b.Team ?? b.PullRequest ?? "granted",
            granted?.HeadSha, granted?.GrantedAt, granted is null ? null : EvidenceBuilder.EndOf(granted, now),
            c.DueAt, policy, c.ReviewedAt, Minutes(verdict.TimeToReviewSeconds), verdict.Outcome == "reviewed_late" ? Minutes(verdict.LateBySeconds) : null,
            string.Join("; ", c.Approvals.Select(a => a.ReviewerName is { Length: > 0 } n ? $"{a.Reviewer} ({n})" : a.Reviewer)),
            c.Approvals.Select(a => (DateTimeOffset?)a.At).Min(), c.ChangeRequests.Count,
            c.Reminders.Count(x => x.Kind != "escalation"), c.Reminders.Count(x => x.Kind == "escalation"),
            c.OverdueAt, c.EscalatedAt, c.Cancellation?.By, c.Cancellation?.At, c.Cancellation is { } x ? SlackFormatting.Plain(x.Reason) : null,
            string.Join(' ', prs.Select(p => p.Ref.ToString())),
            Joined(prs.Select(p => p.ApprovedBy ?? (p.ApprovedById is { } id ? $"user {id}" : null))),
            prs.Select(p => p.ApprovedAt).Where(t => t is not null).Max(), prs.Select(p => p.MergedAt).Where(t => t is not null).Max(),
            string.Join(' ', c.JiraIssues.Select(j => j.Key)),
            Joined(c.JiraIssues.Select(j => j.StatusAtReview is null ? null : $"{j.Key}: {j.StatusAtReview}")),
            c.Announcement?.Permalink, evidenceUrl, integrity.Status, c.Cancellation is { AfterUse: true } w ? w.Used : null,
            SourceOf(c), c.Detected is { } d ? DetectedChange(d) : null, c.Detected?.Actor);
    }

    public static ExportSummary Summarise(IReadOnlyList<ExportRow> rows, ExportWindow window, int? totalChanges)
    {
        var reviewMinutes = rows.Where(r => r.TimeToReviewMinutes is not null).Select(r => r.TimeToReviewMinutes!.Value).Order().ToList();
        double? median = reviewMinutes.Count == 0 ? null
            : reviewMinutes.Count % 2 == 1 ? reviewMinutes[reviewMinutes.Count / 2]
            : (reviewMinutes[reviewMinutes.Count / 2 - 1] + reviewMinutes[reviewMinutes.Count / 2]) / 2;
        var emergency = rows.Count(r => r.Verdict != "cancelled");
        return new ExportSummary(
            rows.Count,
            rows.Count(r => r.Verdict == "reviewed_on_time"),
            rows.Count(r => r.Verdict == "reviewed_late"),
            rows.Count(r => r.Verdict is "open" or "open_overdue"),
            rows.Count(r => r.Verdict == "open_overdue"),
            rows.Count(r => r.Verdict == "cancelled"),
            median is null ? null : Math.Round(median.Value, 1),
            median is null ? null : ReviewPolicy.Format(TimeSpan.FromMinutes(median.Value)),
            Math.Round(emergency / window.Weeks, 2),
            totalChanges,
            totalChanges is > 0 ? Math.Round((double)emergency / totalChanges.Value, 4) : null) { Tampered = rows.Count(r => r.Verdict == "tampered") };
    }

    /// <summary>"detected" for a case the bot opened for a bypass nobody declared, else "declared".</summary>
    public static string SourceOf(EmergencyChange c) => c.Source ?? (c.Detected is null ? "declared" : DetectedBypass.SourceName);

    /// <summary>"owner/repo#n" for a pull request, "owner/repo@sha" (the whole sha) for a direct push.</summary>
    public static string DetectedChange(DetectedBypass d) =>
        d.Kind == DetectedBypass.PullRequestKind && d.Number is { } n ? $"{d.Repository}#{n}" : $"{d.Repository}@{d.Sha}";

    /// <summary>One cell for several PRs or issues; null when none has the fact.</summary>
    static string? Joined(IEnumerable<string?> values) => values.Where(v => v is not null).ToList() is { Count: > 0 } list ? string.Join("; ", list) : null;

    static double? Minutes(long? seconds) => seconds is null ? null : Math.Round(seconds.Value / 60.0, 1);

    /// <summary>The CSV columns: every property of <see cref="ExportRow"/> in declaration order, named as in the JSON export.</summary>
    static readonly (string Name, System.Reflection.PropertyInfo Property)[] Columns = ColumnsOf<ExportRow>();

    /// <summary>The population's CSV columns, named as in the JSON export's population rows.</summary>
    static readonly (string Name, System.Reflection.PropertyInfo Property)[] PopulationColumns = ColumnsOf<PopulationRow>();

    static (string Name, System.Reflection.PropertyInfo Property)[] ColumnsOf<T>() =>
        [.. typeof(T).GetProperties().OrderBy(p => p.MetadataToken).Select(p => (JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), p))];

    public static IReadOnlyList<string> ColumnNames => [.. Columns.Select(c => c.Name)];

    public static IReadOnlyList<string> PopulationColumnNames => [.. PopulationColumns.Select(c => c.Name)];

    /// <summary>RFC 4180 CSV with a header row. Times are ISO 8601 (round-trip, UTC), numbers invariant.</summary>
    public static string Csv(IEnumerable<ExportRow> rows) => Csv(rows, Columns);

    /// <summary>The population's rows as CSV, for sampling in a spreadsheet.</summary>
    public static string PopulationCsv(IEnumerable<PopulationRow> rows) => Csv(rows, PopulationColumns);

    static string Csv<T>(IEnumerable<T> rows, (string Name, System.Reflection.PropertyInfo Property)[] columns)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, CsvWriterOptions.Default with
        {
            FormatProvider = CultureInfo.InvariantCulture,
            // Summaries are typed by declarers (and titles and reasons come from GitHub); a cell starting with = + - @ would run as a formula.
            Injection = CsvInjection.Escape,
        }, leaveOpen: true))
        {
            csv.WriteHeader([.. columns.Select(c => c.Name)]);
            foreach (var row in rows)
            {
                foreach (var (_, property) in columns) csv.WriteField(property.GetValue(row));
                csv.EndRecord();
            }
        }
        return text.ToString();
    }
}
