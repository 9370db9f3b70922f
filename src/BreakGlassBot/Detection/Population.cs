using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Detection;

/// <summary>The category every merged change falls in, exactly one each (see <see cref="Population.Classify"/>).</summary>
public static class PopulationCategories
{
    public const string ReviewedBeforeMerge = "reviewed_before_merge";
    public const string Declared = "declared";
    public const string Detected = "detected";
    public const string Automation = "automation";
    public const string NotSettled = "not_settled";

    // Declared: linked by a declaration before any case was opened, or a declaration that took a detected case over.
    public const string DeclaredDirectly = "declared";
    public const string TookOverCase = "took_over_detected_case";
    // Detected: the outcome of its case.
    public const string ReviewedOnTime = "reviewed_on_time";
    public const string ReviewedLate = "reviewed_late";
    public const string Open = "open";
    public const string OpenOverdue = "open_overdue";
    public const string Cancelled = "cancelled";
    /// <summary>The case was closed by a declaration that the record does not name yet.</summary>
    public const string Closed = "closed";
    /// <summary>The record names a case the store does not hold.</summary>
    public const string CaseMissing = "case_missing";
    // Not settled.
    public const string NotYetChecked = "not_yet_checked";
    public const string CheckFailing = "check_failing";
    public const string InGracePeriod = "in_grace_period";
    public const string AwaitingCase = "awaiting_case";
    public const string UnknownVerdict = "unknown_verdict";
}

public sealed record DeclaredFigures(int Total, int Declared, int TookOverDetectedCase);

public sealed record DetectedFigures(int Total, int ReviewedOnTime, int ReviewedLate, int Open, int OpenOverdue, int Cancelled, int Closed, int CaseMissing);

public sealed record NotSettledFigures(int Total, int NotYetChecked, int CheckFailing, int InGracePeriod, int AwaitingCase, int UnknownVerdict);

/// <summary>How many merged changes fell in each category; the categories add up to <paramref name="MergedChanges"/>.</summary>
public sealed record PopulationFigures(int MergedChanges, int ReviewedBeforeMerge, DeclaredFigures Declared, DetectedFigures Detected, int Automation,
    NotSettledFigures NotSettled)
{
    /// <summary>Every merged change is counted once: the categories, and each category's parts, add up.</summary>
    public bool AddsUp =>
        MergedChanges == ReviewedBeforeMerge + Declared.Total + Detected.Total + Automation + NotSettled.Total
        && Declared.Total == Declared.Declared + Declared.TookOverDetectedCase
        && Detected.Total == Detected.ReviewedOnTime + Detected.ReviewedLate + Detected.Open + Detected.OpenOverdue + Detected.Cancelled + Detected.Closed + Detected.CaseMissing
        && NotSettled.Total == NotSettled.NotYetChecked + NotSettled.CheckFailing + NotSettled.InGracePeriod + NotSettled.AwaitingCase + NotSettled.UnknownVerdict;
}

/// <summary>One merged change as the auditor samples it. <paramref name="ChangeId"/>: the declaration (BG-n) or the detected case.</summary>
public sealed record PopulationRow(string Id, string Kind, string Repository, int? Number, string? Sha, string? Branch, DateTimeOffset? MergedAt,
    string? Actor, string Category, string SubCategory, string Reason, string? ChangeId, string FoundBy);

/// <summary>The merged changes on the watched branches in [<paramref name="From"/>, <paramref name="To"/>), by the time they reached the branch.</summary>
public sealed record PopulationReport(DateTimeOffset From, DateTimeOffset To, PopulationFigures Figures, string Statement, IReadOnlyList<PopulationRow> Rows);

/// <summary>The population of merged changes and what became of each: pure, the caller reads the records, the cases and the clock.</summary>
public static class Population
{
    public static PopulationReport Of(IEnumerable<MergeRecord> records, Func<int, EmergencyChange?> changeOf, DateTimeOffset from, DateTimeOffset to,
        DateTimeOffset now, TimeSpan gracePeriod)
    {
        var rows = records
            .Where(r => r.MergedAt is { } at && at >= from && at < to)
            .DistinctBy(r => r.Id)
            .OrderBy(r => r.MergedAt).ThenBy(r => r.Id, StringComparer.Ordinal)
            .Select(r => Classify(r, changeOf, now, gracePeriod))
            .ToList();
        var figures = Count(rows);
        return new PopulationReport(from, to, figures, Statement(figures), rows);
    }

    /// <summary>In this order: declared, detected, reviewed before merge, automation, else not settled (and why).</summary>
    public static PopulationRow Classify(MergeRecord r, Func<int, EmergencyChange?> changeOf, DateTimeOffset now, TimeSpan gracePeriod)
    {
        PopulationRow Row(string category, string sub, string reason, int? change) =>
            new(r.Id, r.Kind, r.Repository, r.Number, r.Sha, r.Branch, r.MergedAt, r.Actor, category, sub, reason,
                change is { } n ? new ChangeId(n).ToString() : null, string.Join(' ', r.FoundBy));

        if (r.DeclaredAs is { } declaredAs)
        {
            var outcome = changeOf(declaredAs) is { } declared ? " (" + Outcome(declared, now).Text + ")" : "";
            return r.CaseId is { } took
                ? Row(PopulationCategories.Declared, PopulationCategories.TookOverCase, $"declared as {new ChangeId(declaredAs)}{outcome}, which took over detected case {new ChangeId(took)}", declaredAs)
                : Row(PopulationCategories.Declared, PopulationCategories.DeclaredDirectly, $"declared as {new ChangeId(declaredAs)}{outcome}", declaredAs);
        }
        if (r.CaseId is { } caseId)
        {
            var why = r.Reason is { Length: > 0 } reason ? reason : "merged without review and not declared";
            if (changeOf(caseId) is not { } c)
                return Row(PopulationCategories.Detected, PopulationCategories.CaseMissing, $"{why}; its case {new ChangeId(caseId)} is not in the store", caseId);
            var (sub, text) = Outcome(c, now);
            return Row(PopulationCategories.Detected, sub, $"{why}; detected case {text}", caseId);
        }
        switch (r.Verdict)
        {
            case Verdicts.ReviewedBeforeMerge:
                var by = r.ApprovedBy is { Length: > 0 } who ? $"approved by {who}" + (r.ApprovedAt is { } at ? $" at {Time(at)}" : "") + " before the merge" : r.Reason ?? "approved before the merge";
                return Row(PopulationCategories.ReviewedBeforeMerge, PopulationCategories.ReviewedBeforeMerge, by, null);
            case Verdicts.Ignored:
                return Row(PopulationCategories.Automation, PopulationCategories.Automation,
                    $"{(r.Kind == DetectedBypass.DirectPushKind ? "pushed" : "merged")} by {r.Actor ?? "an automation account"}, listed in Detection:IgnoreActors", null);
            case Verdicts.Pending:
                return r.LastError is { Length: > 0 } error
                    ? Row(PopulationCategories.NotSettled, PopulationCategories.CheckFailing,
                        $"not yet checked: the check against GitHub failed {r.Attempts} time(s) ({error})" + (r.NextAttemptAt is { } next ? $"; next attempt {Time(next)}" : ""), null)
                    : Row(PopulationCategories.NotSettled, PopulationCategories.NotYetChecked, "found, not yet checked against GitHub's reviews", null);
            case Verdicts.Unreviewed:
                var graceEnds = (r.MergedAt ?? r.FirstSeenAt) + gracePeriod;
                var bypass = r.Reason is { Length: > 0 } because ? because : "merged without review";
                return now < graceEnds
                    ? Row(PopulationCategories.NotSettled, PopulationCategories.InGracePeriod, $"{bypass}; waiting for a declaration until {Time(graceEnds)} (Detection:GracePeriod)", null)
                    : Row(PopulationCategories.NotSettled, PopulationCategories.AwaitingCase, $"{bypass}; not declared, grace period ended {Time(graceEnds)}, detected case not opened yet", null);
            default:
                return Row(PopulationCategories.NotSettled, PopulationCategories.UnknownVerdict, $"verdict '{r.Verdict}' is not one the bot knows", null);
        }
    }

    /// <summary>A change's outcome as the export's verdicts name it (reviewed on time or late, open, overdue, cancelled).</summary>
    public static (string Category, string Text) Outcome(EmergencyChange c, DateTimeOffset now)
    {
        if (c.Status == ChangeStatus.Cancelled)
            return (PopulationCategories.Cancelled, c.Cancellation is { } x ? $"cancelled by {x.By} at {Time(x.At)}: {x.Reason}" : "cancelled");
        if (c.ReviewedAt is { } reviewed)
            return reviewed <= c.DueAt
                ? (PopulationCategories.ReviewedOnTime, $"reviewed on time at {Time(reviewed)}")
                : (PopulationCategories.ReviewedLate, $"reviewed late by {ReviewPolicy.Format(reviewed - c.DueAt)}");
        if (c.Status == ChangeStatus.Closed)
            return (PopulationCategories.Closed, c.Detected?.AbsorbedBy is { } by ? $"closed: taken over by {new ChangeId(by)}" : "closed without a review");
        return now > c.DueAt
            ? (PopulationCategories.OpenOverdue, $"still open, overdue by {ReviewPolicy.Format(now - c.DueAt)}")
            : (PopulationCategories.Open, $"still open, due {Time(c.DueAt)}");
    }

    public static PopulationFigures Count(IReadOnlyList<PopulationRow> rows)
    {
        int N(string category, string? sub = null) => rows.Count(r => r.Category == category && (sub is null || r.SubCategory == sub));
        const string d = PopulationCategories.Detected, s = PopulationCategories.NotSettled, dc = PopulationCategories.Declared;
        return new PopulationFigures(
            rows.Count,
            N(PopulationCategories.ReviewedBeforeMerge),
            new DeclaredFigures(N(dc), N(dc, PopulationCategories.DeclaredDirectly), N(dc, PopulationCategories.TookOverCase)),
            new DetectedFigures(N(d), N(d, PopulationCategories.ReviewedOnTime), N(d, PopulationCategories.ReviewedLate), N(d, PopulationCategories.Open),
                N(d, PopulationCategories.OpenOverdue), N(d, PopulationCategories.Cancelled), N(d, PopulationCategories.Closed), N(d, PopulationCategories.CaseMissing)),
            N(PopulationCategories.Automation),
            new NotSettledFigures(N(s), N(s, PopulationCategories.NotYetChecked), N(s, PopulationCategories.CheckFailing), N(s, PopulationCategories.InGracePeriod),
                N(s, PopulationCategories.AwaitingCase), N(s, PopulationCategories.UnknownVerdict)));
    }

    /// <summary>The statement of completeness an auditor reads first: every merged change accounted for, or which are not yet and why.</summary>
    public static string Statement(PopulationFigures f)
    {
        var accounted = $"{f.MergedChanges} change(s) merged or pushed to the watched branches: {f.ReviewedBeforeMerge} reviewed before merge, "
            + $"{f.Declared.Total} declared, {f.Detected.Total} detected ({f.Detected.ReviewedOnTime} reviewed on time, {f.Detected.ReviewedLate} late, "
            + $"{f.Detected.Open + f.Detected.OpenOverdue} open, {f.Detected.Cancelled} cancelled), {f.Automation} automation (Detection:IgnoreActors)";
        return f.NotSettled.Total == 0
            ? accounted + ". Complete: every merged change was reviewed before merge, declared or detected, or is automation."
            : accounted + $", {f.NotSettled.Total} not yet settled. Every other merged change was reviewed before merge, declared or detected, or is automation; "
              + "those not yet settled are listed with why.";
    }

    static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Reads the merge records and their cases for a period; the export and the digest call it when Detection:Enabled.</summary>
public sealed class PopulationService(ChangeStore store, IOptions<DetectionOptions> options)
{
    public bool Enabled => options.Value.Enabled;

    public PopulationReport For(DateTimeOffset from, DateTimeOffset to, DateTimeOffset now)
    {
        var records = new MergeRecords(store).MergedBetween(from, to);
        // The declarations and cases the records name, read in one go.
        var ids = records.SelectMany(r => new[] { r.DeclaredAs, r.CaseId }).OfType<int>().Distinct().ToList();
        var changes = store.GetMany(ids).ToDictionary(c => c.Id);
        return Population.Of(records, id => changes.GetValueOrDefault(id), from, to, now, options.Value.GracePeriod);
    }
}
