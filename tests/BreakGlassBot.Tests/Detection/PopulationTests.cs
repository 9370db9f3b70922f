using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Tests.Detection;

/// <summary>The population of merged changes: every record in exactly one category, the figures adding up, the period by merge time.</summary>
public class PopulationTests
{
    static readonly DateTimeOffset Now = new(2031, 3, 10, 12, 0, 0, TimeSpan.Zero);
    static readonly DateTimeOffset From = new(2031, 3, 1, 0, 0, 0, TimeSpan.Zero);
    static readonly DateTimeOffset To = new(2031, 3, 11, 0, 0, 0, TimeSpan.Zero);
    static readonly TimeSpan Grace = TimeSpan.FromMinutes(15);

    static MergeRecord Pr(int number, DateTimeOffset mergedAt, string verdict, Action<MergeRecord>? configure = null)
    {
        var r = new MergeRecord
        {
            Id = MergeRecord.PullRequestId("acme/api", number), Kind = DetectedBypass.PullRequestKind, Repository = "acme/api", Branch = "main",
            Number = number, Sha = $"{number:D4}aaaabbbbccccddddeeeeffff0000111122223333"[..40], Actor = "dev" + number, MergedAt = mergedAt, FirstSeenAt = mergedAt,
            FoundBy = ["webhook"], Verdict = verdict,
        };
        configure?.Invoke(r);
        return r;
    }

    static EmergencyChange Case(int id, DateTimeOffset dueAt, DateTimeOffset? reviewedAt = null, ChangeStatus? status = null, Cancellation? cancellation = null) => new()
    {
        Id = id, DeclaredAt = dueAt - TimeSpan.FromDays(2), DueAt = dueAt, ReviewedAt = reviewedAt, Cancellation = cancellation, Source = DetectedBypass.SourceName,
        Status = status ?? (reviewedAt is null ? ChangeStatus.Open : ChangeStatus.Reviewed),
    };

    /// <summary>One record of every category and sub-category, plus two outside the period.</summary>
    static (List<MergeRecord> Records, Dictionary<int, EmergencyChange> Changes) Mixed()
    {
        var day = Now - TimeSpan.FromDays(1);
        var changes = new[]
        {
            Case(1, Now + TimeSpan.FromDays(1)),                                             // the declaration of #1
            Case(2, Now - TimeSpan.FromDays(1), reviewedAt: Now - TimeSpan.FromDays(2)),   // detected, reviewed on time
            Case(3, Now - TimeSpan.FromDays(3), reviewedAt: Now - TimeSpan.FromDays(2)),   // detected, reviewed a day late
            Case(4, Now + TimeSpan.FromDays(1)),                                             // detected, open
            Case(5, Now - TimeSpan.FromHours(3)),                                            // detected, overdue
            Case(6, Now + TimeSpan.FromDays(1), status: ChangeStatus.Cancelled,
                cancellation: new Cancellation { By = "U0ADMIN", At = Now - TimeSpan.FromHours(1), Reason = "the release bot's merge, not a person's" }),
            Case(7, Now + TimeSpan.FromDays(1)),                                             // the declaration that took case 8 over
            Case(8, Now + TimeSpan.FromDays(1), status: ChangeStatus.Closed),
        }.ToDictionary(c => c.Id);
        changes[8].Detected = new DetectedBypass { AbsorbedBy = 7 };
        List<MergeRecord> records =
        [
            Pr(1, day, Verdicts.Unreviewed, r => r.DeclaredAs = 1),
            Pr(2, day, Verdicts.Unreviewed, r => (r.DeclaredAs, r.CaseId) = (7, 8)),
            Pr(3, day, Verdicts.Unreviewed, r => (r.CaseId, r.Reason) = (2, "merged without an approving review by someone other than its author")),
            Pr(4, day, Verdicts.Unreviewed, r => r.CaseId = 3),
            Pr(5, day, Verdicts.Unreviewed, r => r.CaseId = 4),
            Pr(6, day, Verdicts.Unreviewed, r => r.CaseId = 5),
            Pr(7, day, Verdicts.Unreviewed, r => r.CaseId = 6),
            Pr(8, day, Verdicts.Unreviewed, r => r.CaseId = 99),                             // a case the store does not hold
            Pr(9, day, Verdicts.ReviewedBeforeMerge, r => (r.ApprovedBy, r.ApprovedAt) = ("rev1", day - TimeSpan.FromHours(1))),
            Pr(10, day, Verdicts.ReviewedBeforeMerge),
            Pr(11, day, Verdicts.Ignored, r => r.Actor = "release-bot"),
            Pr(12, Now - TimeSpan.FromMinutes(1), Verdicts.Pending),
            Pr(13, day, Verdicts.Pending, r => (r.LastError, r.Attempts, r.NextAttemptAt) = ("GitHub answered 502", 3, Now + TimeSpan.FromMinutes(5))),
            Pr(14, Now - TimeSpan.FromMinutes(5), Verdicts.Unreviewed),                   // within its grace period
            Pr(15, Now - TimeSpan.FromHours(2), Verdicts.Unreviewed),                     // past it, no case yet
            Pr(16, day, "something_new"),
            Pr(17, From - TimeSpan.FromTicks(1), Verdicts.ReviewedBeforeMerge),           // before the period
            Pr(18, To, Verdicts.Unreviewed, r => r.CaseId = 4),                           // at its end, which is excluded
        ];
        return (records, changes);
    }

    static PopulationReport Report() => Report(Mixed());

    static PopulationReport Report((List<MergeRecord> Records, Dictionary<int, EmergencyChange> Changes) data) =>
        Population.Of(data.Records, id => data.Changes.GetValueOrDefault(id), From, To, Now, Grace);

    [Fact]
    public void EveryCategoryIsCountedAndTheFiguresAddUp()
    {
        var f = Report().Figures;

        Assert.Equal(16, f.MergedChanges);
        Assert.Equal(2, f.ReviewedBeforeMerge);
        Assert.Equal(new DeclaredFigures(2, 1, 1), f.Declared);
        Assert.Equal(new DetectedFigures(Total: 6, ReviewedOnTime: 1, ReviewedLate: 1, Open: 1, OpenOverdue: 1, Cancelled: 1, Closed: 0, CaseMissing: 1), f.Detected);
        Assert.Equal(1, f.Automation);
        Assert.Equal(new NotSettledFigures(Total: 5, NotYetChecked: 1, CheckFailing: 1, InGracePeriod: 1, AwaitingCase: 1, UnknownVerdict: 1), f.NotSettled);
        Assert.True(f.AddsUp);
        Assert.Equal(f.MergedChanges, f.ReviewedBeforeMerge + f.Declared.Total + f.Detected.Total + f.Automation + f.NotSettled.Total);
    }

    [Fact]
    public void ARecordOutsideThePeriodIsNotCounted()
    {
        var report = Report();
        Assert.DoesNotContain(report.Rows, r => r.Number is 17 or 18);
        Assert.Equal(Enumerable.Range(1, 16), report.Rows.Select(r => r.Number!.Value).Order());

        // Moved inside the period, it is.
        var data = Mixed();
        data.Records.Single(r => r.Number == 17).MergedAt = From;
        Assert.Equal(17, Report(data).Figures.MergedChanges);
        Assert.Equal(3, Report(data).Figures.ReviewedBeforeMerge);
    }

    [Fact]
    public void EachRowSaysWhichCategoryAndWhy()
    {
        var rows = Report().Rows.ToDictionary(r => r.Number!.Value);

        Assert.Equal(("declared", "declared", "BG-1"), (rows[1].Category, rows[1].SubCategory, rows[1].ChangeId));
        Assert.StartsWith("declared as BG-1 (still open", rows[1].Reason);
        Assert.Equal(("declared", "took_over_detected_case", "BG-7"), (rows[2].Category, rows[2].SubCategory, rows[2].ChangeId));
        Assert.Contains("took over detected case BG-8", rows[2].Reason);
        Assert.Equal(("detected", "reviewed_on_time", "BG-2"), (rows[3].Category, rows[3].SubCategory, rows[3].ChangeId));
        Assert.StartsWith("merged without an approving review by someone other than its author; detected case reviewed on time", rows[3].Reason);
        Assert.Equal("reviewed_late", rows[4].SubCategory);
        Assert.Contains("reviewed late by 1d 0h", rows[4].Reason);
        Assert.Equal("open", rows[5].SubCategory);
        Assert.Equal("open_overdue", rows[6].SubCategory);
        Assert.Contains("overdue by 3h 0m", rows[6].Reason);
        Assert.Equal(("detected", "cancelled"), (rows[7].Category, rows[7].SubCategory));
        Assert.Contains("cancelled by U0ADMIN at 2031-03-10 11:00:00 UTC: the release bot's merge, not a person's", rows[7].Reason);
        Assert.Equal("case_missing", rows[8].SubCategory);
        Assert.Contains("BG-99 is not in the store", rows[8].Reason);
        Assert.Equal("reviewed_before_merge", rows[9].Category);
        Assert.Equal("approved by rev1 at 2031-03-09 11:00:00 UTC before the merge", rows[9].Reason);
        Assert.Null(rows[9].ChangeId);
        Assert.Equal(("automation", "merged by release-bot, listed in Detection:IgnoreActors"), (rows[11].Category, rows[11].Reason));
        Assert.Equal(("not_settled", "not_yet_checked"), (rows[12].Category, rows[12].SubCategory));
        Assert.Equal(("not_settled", "check_failing"), (rows[13].Category, rows[13].SubCategory));
        Assert.Contains("failed 3 time(s) (GitHub answered 502)", rows[13].Reason);
        Assert.Equal(("not_settled", "in_grace_period"), (rows[14].Category, rows[14].SubCategory));
        Assert.Contains("waiting for a declaration until 2031-03-10 12:10:00 UTC", rows[14].Reason);
        Assert.Equal(("not_settled", "awaiting_case"), (rows[15].Category, rows[15].SubCategory));
        Assert.Equal(("not_settled", "unknown_verdict"), (rows[16].Category, rows[16].SubCategory));
        Assert.All(rows.Values, r => Assert.Equal(("acme/api", "main", "webhook", "pull_request"), (r.Repository, r.Branch, r.FoundBy, r.Kind)));
    }

    [Fact]
    public void DeclaredAndDetectedWinOverTheVerdict()
    {
        // An automation merge that someone declared is declared; a merge reviewed before merge with a case is detected.
        var ignoredButDeclared = Pr(1, Now, Verdicts.Ignored, r => r.DeclaredAs = 1);
        var reviewedWithCase = Pr(2, Now, Verdicts.ReviewedBeforeMerge, r => r.CaseId = 2);
        var changes = new Dictionary<int, EmergencyChange> { [1] = Case(1, Now), [2] = Case(2, Now + TimeSpan.FromDays(1)) };
        var rows = Population.Of([ignoredButDeclared, reviewedWithCase], id => changes.GetValueOrDefault(id), From, To, Now, Grace).Rows;
        Assert.Equal(["declared", "detected"], rows.Select(r => r.Category));
    }

    [Fact]
    public void TheStatementSaysCompleteOnlyWhenNothingIsUnsettled()
    {
        var mixed = Report();
        Assert.StartsWith("16 change(s) merged or pushed to the watched branches: 2 reviewed before merge, 2 declared, 6 detected (1 reviewed on time, 1 late, 2 open, 1 cancelled), 1 automation (Detection:IgnoreActors), 5 not yet settled.", mixed.Statement);
        Assert.Contains("those not yet settled are listed with why", mixed.Statement);
        Assert.DoesNotContain("Complete:", mixed.Statement);

        var data = Mixed();
        data.Records.RemoveAll(r => r.Number is >= 12 and <= 16);
        var settled = Report(data);
        Assert.Equal(0, settled.Figures.NotSettled.Total);
        Assert.EndsWith("Complete: every merged change was reviewed before merge, declared or detected, or is automation.", settled.Statement);
    }

    [Fact]
    public void ADirectPushIsRowedWithItsSha()
    {
        var sha = "0123456789abcdef0123456789abcdef01234567";
        var push = new MergeRecord
        {
            Id = MergeRecord.PushId("Acme/API", sha), Kind = DetectedBypass.DirectPushKind, Repository = "Acme/API", Branch = "main", Sha = sha,
            Actor = "ops", MergedAt = Now, Verdict = Verdicts.Ignored, FoundBy = ["webhook", "sweep"],
        };
        var row = Assert.Single(Population.Of([push], _ => null, From, To, Now, Grace).Rows);
        Assert.Equal(($"push:acme/api@{sha}", "direct_push", null, sha, "webhook sweep"), (row.Id, row.Kind, row.Number, row.Sha, row.FoundBy));
        Assert.Equal("pushed by ops, listed in Detection:IgnoreActors", row.Reason);
    }
}
