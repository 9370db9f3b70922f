using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Digest;

/// <summary>The last seven days in numbers, and emergency changes declared per week for the trend (oldest week first, this week last).</summary>
public sealed record DigestNumbers(int Declared, int Cancelled, int Reviewed, int ReviewedOnTime, int WentOverdue, TimeSpan? MedianTimeToReview,
    IReadOnlyList<int> DeclaredPerWeek)
{
    public int ThisWeek => DeclaredPerWeek[^1];
    public double PreviousAverage => DeclaredPerWeek.Count > 1 ? DeclaredPerWeek.Take(DeclaredPerWeek.Count - 1).Average() : 0;
    public bool IsEmpty => Declared == 0 && Cancelled == 0 && Reviewed == 0 && WentOverdue == 0;
}

/// <summary>
/// What a digest is built from: the first <paramref name="Overdue"/> and <paramref name="DueSoon"/> changes in full, counts
/// of the whole lists, and <paramref name="Times"/> of every change the last <see cref="DigestBuilder.TrendWeeks"/> weeks count.
/// </summary>
/// <param name="AllChanges">All changes per week for the break-glass rate (null: not counted, the count trend is shown).</param>
/// <param name="Reviewers">Per change id, the eligible reviewers who have not acted (absent: unknown, the digest says "a reviewer").</param>
/// <param name="Population">The changes merged to watched branches in the last 7 days (Detection:Enabled; null: not collected, no line).</param>
public sealed record DigestData(IReadOnlyList<EmergencyChange> Overdue, int OverdueCount, IReadOnlyList<EmergencyChange> DueSoon, int DueSoonCount,
    IReadOnlyList<ChangeTimes> Times, AllChangeCounts? AllChanges = null, IReadOnlyDictionary<int, IReadOnlyList<string>>? Reviewers = null,
    PopulationFigures? Population = null);

/// <summary>The weekly digest as a Slack message: overdue changes, changes due soon, the week in numbers. Pure: the caller reads the clock.</summary>
public sealed class DigestBuilder(ChangeMessages messages)
{
    public const string EventType = "breakglass_digest";
    // Slack refuses a message with more than 50 blocks; the text of a section may hold 3000 characters.
    public const int MaxBlocks = 50;
    public const int DefaultMaxListed = 15;
    public const int MaxDueListed = 10;
    /// <summary>Blocks that are not one per overdue change: header, context, summary, "and K more", dividers, due, numbers, trend, footer.</summary>
    const int FixedBlocks = 10;
    /// <summary>The most overdue changes that can get a block of their own, whatever maxListed asks for.</summary>
    public const int MaxListedAtMost = MaxBlocks - FixedBlocks;
    /// <summary>The plain-text fallback is what notifications and screen readers show; Slack advises keeping it short.</summary>
    public const int MaxFallbackText = 3000;
    public const int TrendWeeks = 5;
    /// <summary>Weeks shown as a break-glass rate (emergency changes of all changes), the last of the trend weeks.</summary>
    public const int RateWeeks = 4;
    /// <summary>Eligible reviewers named as "who must act" on one overdue change; the rest are counted.</summary>
    public const int MaxReviewersNamed = 5;
    public static readonly TimeSpan Week = TimeSpan.FromDays(7);

    public static MessageMetadata Metadata(string week, string recipient) =>
        new(EventType, new Dictionary<string, string> { ["week"] = week, ["recipient"] = recipient });

    /// <summary>The ISO week (e.g. 2026-W03) of an instant, in the digest's time zone: one digest per recipient per such week.</summary>
    public static string WeekOf(DateTimeOffset at, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(at, zone).DateTime;
        return $"{ISOWeek.GetYear(local)}-W{ISOWeek.GetWeekOfYear(local):D2}";
    }

    public static DigestNumbers Numbers(IEnumerable<EmergencyChange> changes, DateTimeOffset now) => Numbers(changes.Select(ChangeTimes.Of), now);

    public static DigestNumbers Numbers(IEnumerable<ChangeTimes> changes, DateTimeOffset now)
    {
        var all = changes.ToList();
        var from = now - Week;
        bool InWeek(DateTimeOffset at) => at > from && at <= now;
        var declared = all.Where(c => InWeek(c.DeclaredAt)).ToList();
        var reviewed = all.Where(c => c.ReviewedAt is { } at && InWeek(at) && c.Status != ChangeStatus.Cancelled).ToList();
        var wentOverdue = all.Count(c => c.Status != ChangeStatus.Cancelled && InWeek(c.DueAt) && (c.ReviewedAt is null || c.ReviewedAt > c.DueAt));
        var perWeek = Enumerable.Range(0, TrendWeeks).Reverse()
            .Select(back => all.Count(c => c.Status != ChangeStatus.Cancelled && c.DeclaredAt > now - Week * (back + 1) && c.DeclaredAt <= now - Week * back))
            .ToList();
        return new DigestNumbers(
            Declared: declared.Count(c => c.Status != ChangeStatus.Cancelled),
            Cancelled: declared.Count(c => c.Status == ChangeStatus.Cancelled),
            Reviewed: reviewed.Count,
            ReviewedOnTime: reviewed.Count(c => c.ReviewedAt <= c.DueAt),
            WentOverdue: wentOverdue,
            MedianTimeToReview: Median(reviewed.Select(c => c.ReviewedAt!.Value - c.DeclaredAt)),
            DeclaredPerWeek: perWeek);
    }

    /// <summary>The windows of the last <see cref="RateWeeks"/> weeks, oldest first, as the trend counts them: (now - 7d·(k+1), now - 7d·k].</summary>
    public static IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> RateWindows(DateTimeOffset now) =>
        [.. Enumerable.Range(0, RateWeeks).Reverse().Select(back => (now - Week * (back + 1), now - Week * back))];

    public static TimeSpan? Median(IEnumerable<TimeSpan> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) return null;
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : TimeSpan.FromTicks((sorted[mid - 1].Ticks + sorted[mid].Ticks) / 2);
    }

    /// <param name="week">The ISO week the digest is for (shown in the header); null on demand.</param>
    /// <param name="maxListed">How many overdue changes get a block of their own; the rest are counted and pointed to.</param>
    public SlackMessage Build(IEnumerable<EmergencyChange> changes, DateTimeOffset now, string? week = null, int maxListed = DefaultMaxListed)
    {
        var all = changes.DistinctBy(c => c.Id).ToList();
        var overdue = all.Where(c => c.IsOverdue(now)).OrderBy(c => c.DueAt).ThenBy(c => c.Id).ToList();
        var dueSoon = all.Where(c => c.Status == ChangeStatus.Open && !c.IsOverdue(now) && c.DueAt <= now + Week).OrderBy(c => c.DueAt).ThenBy(c => c.Id).ToList();
        return Build(new DigestData(overdue, overdue.Count, dueSoon, dueSoon.Count, all.Select(ChangeTimes.Of).ToList()), now, week, maxListed);
    }

    /// <summary>The digest from what the store read: in full only the changes shown (<see cref="MaxListedAtMost"/>, <see cref="MaxDueListed"/>).</summary>
    public SlackMessage Build(DigestData data, DateTimeOffset now, string? week = null, int maxListed = DefaultMaxListed)
    {
        var overdue = data.Overdue;
        var numbers = Numbers(data.Times, now);

        if (data.OverdueCount == 0 && data.DueSoonCount == 0 && numbers.IsEmpty)
        {
            var quiet = ":white_check_mark: Break-glass digest: nothing is overdue for review, nothing is due in the coming week, "
                + "and no emergency change was declared or reviewed in the last 7 days."
                + (data.Population is { } merged ? "\n" + PopulationLine(merged) : "");
            return new SlackMessage(quiet, Blocks.List(Blocks.Section(quiet)));
        }

        var listed = overdue.Take(Math.Clamp(maxListed, 0, MaxListedAtMost)).ToList();
        var more = data.OverdueCount - listed.Count;
        var headline = data.OverdueCount == 0
            ? $":white_check_mark: Nothing is overdue for review; {data.DueSoonCount} due in the coming week."
            : $":warning: *{data.OverdueCount} emergency change{Plural(data.OverdueCount)} overdue* for retrospective review; {data.DueSoonCount} more due in the coming week.";

        var blocks = new JsonArray
        {
            Blocks.Header(week is null ? "Break-glass review digest" : $"Break-glass review digest · {week}"),
            Blocks.Context($"As of {Blocks.Date(now)}. Who needs to act is named on each change."),
            Blocks.Section(headline),
        };
        foreach (var c in listed) blocks.Add(Blocks.Section(OverdueItem(c, now, data.Reviewers?.GetValueOrDefault(c.Id))));
        if (more > 0) blocks.Add(Blocks.Section($"…and {more} more: `/breakglass list overdue`"));
        blocks.Add(Blocks.Divider());
        blocks.Add(Blocks.Section(DueSoon(data.DueSoon, data.DueSoonCount, now)));
        blocks.Add(Blocks.Divider());
        string[] fields =
        [
            $"*Declared (last 7 days)*\n{numbers.Declared}" + (numbers.Cancelled > 0 ? $" (+{numbers.Cancelled} cancelled)" : ""),
            $"*Reviewed on time*\n{numbers.ReviewedOnTime} of {numbers.Reviewed} reviewed",
            $"*Went overdue*\n{numbers.WentOverdue}",
            $"*Median time to review*\n{(numbers.MedianTimeToReview is { } m ? ReviewPolicy.Format(m) : "n/a (none reviewed)")}",
        ];
        // A field of the same block, not a block of its own: the block budget (MaxListedAtMost) stays as it is.
        blocks.Add(Blocks.Fields(data.Population is { } population ? [.. fields, PopulationField(population)] : fields));
        blocks.Add(Blocks.Context(Trend(numbers, data.AllChanges)));
        blocks.Add(Blocks.Context("`/breakglass overdue` shows this digest any time · `/breakglass list overdue` lists every overdue change"));

        return new SlackMessage(Fallback(headline, overdue, data.OverdueCount, listed.Count, numbers, now, data.Population), blocks);
    }

    /// <summary>Every change merged to a watched branch in the last 7 days, by what became of it: the population behind the numbers.</summary>
    public static string PopulationLine(PopulationFigures p) =>
        $"Merged to watched branches (last 7 days): {PopulationCounts(p)}.";

    static string PopulationField(PopulationFigures p) => $"*Merged to watched branches (last 7 days)*\n{PopulationCounts(p)}";

    static string PopulationCounts(PopulationFigures p) =>
        $"{p.MergedChanges}: {p.ReviewedBeforeMerge} reviewed before merge, {p.Declared.Total} declared, "
        + $"{p.Detected.Total} detected ({p.Detected.ReviewedOnTime} reviewed on time), {p.Automation} automation, {p.NotSettled.Total} not yet settled";

    string OverdueItem(EmergencyChange c, DateTimeOffset now, IReadOnlyList<string>? reviewers)
    {
        var id = c.Announcement?.Permalink is { } link ? Blocks.Link(link, c.ChangeId.ToString()) : c.ChangeId.ToString();
        var sb = new StringBuilder();
        sb.Append($"*{id}* {Blocks.UserText(Blocks.Truncate(c.Summary, 150))} · declared by {Blocks.Mention(c.DeclaredBy)}");
        sb.Append($" · *overdue by {ReviewPolicy.Format(now - c.DueAt)}*\n");
        var missing = c.Evidence.Where(e => !e.Satisfied).Select(e => Missing(c, e)).ToList();
        sb.Append(missing.Count == 0
            ? $"Missing: not checked yet · links: {messages.Links(c)}{Thread(c, " · ")}"
            : "Missing: " + string.Join(" · ", missing));
        sb.Append('\n').Append(NextAction(c, reviewers));
        return sb.ToString();
    }

    /// <summary>One missing piece of evidence, with a link to where it is given.</summary>
    string Missing(EmergencyChange c, EvidenceCheck e)
    {
        switch (e.Kind)
        {
            case nameof(EvidenceKind.SlackApproval):
                return "Slack approval" + Thread(c, " in ");
            case nameof(EvidenceKind.PullRequestApproved):
                var pr = c.PullRequests.FirstOrDefault(p => p.Ref.ToString() == e.Target);
                return "PR review " + (pr is null ? Blocks.Escape(e.Target ?? "") : Blocks.Link(pr.Ref.Url, pr.Ref.ToString()));
            case nameof(EvidenceKind.JiraReviewed):
                var issue = c.JiraIssues.FirstOrDefault(j => j.Key == e.Target);
                return "Jira status " + (e.Target is null ? "" : messages.JiraLink(e.Target))
                    + (issue?.Status is { } status ? $" (is {Blocks.Escape(status)})" : "");
            default:
                return Blocks.Escape(Blocks.Truncate(e.Missing ?? e.Kind, 200));
        }
    }

    static string Thread(EmergencyChange c, string prefix) =>
        c.Announcement?.Permalink is { } link ? prefix + Blocks.Link(link, "the thread") : "";

    /// <summary>Who acts next: the declarer after an unanswered change request, else the reviewers who have not acted, else "a reviewer".</summary>
    static string NextAction(EmergencyChange c, IReadOnlyList<string>? reviewers)
    {
        var request = c.ChangeRequests.OrderBy(r => r.At).LastOrDefault();
        var lastApproval = c.StandingApprovals.Select(a => (DateTimeOffset?)a.At).Max();
        return request is not null && (lastApproval is null || lastApproval < request.At)
            ? $"_Next:_ {Blocks.Mention(c.DeclaredBy)} to address the changes {Blocks.Mention(request.Reviewer)} requested"
            : reviewers is { Count: > 0 }
                ? $"_Next:_ {Names(reviewers)} (eligible, not yet acted) to review it"
                : $"_Next:_ a reviewer (not {Blocks.Mention(c.DeclaredBy)}) to review it";
    }

    static string Names(IReadOnlyList<string> users) =>
        string.Join(", ", users.Take(MaxReviewersNamed).Select(Blocks.Mention))
        + (users.Count > MaxReviewersNamed ? $" or one of {users.Count - MaxReviewersNamed} more" : "");

    string DueSoon(IReadOnlyList<EmergencyChange> due, int count, DateTimeOffset now)
    {
        if (count == 0) return "*Due in the coming week*: nothing.";
        var sb = new StringBuilder($"*Due in the coming week* ({count})");
        var shown = 0;
        foreach (var c in due.Take(MaxDueListed))
        {
            var line = "\n• " + messages.Line(c, now);
            if (sb.Length + line.Length > Blocks.SectionTextLimit - 100) break;
            sb.Append(line);
            shown++;
        }
        if (shown < count) sb.Append($"\n…and {count - shown} more: `/breakglass list open`");
        return sb.ToString();
    }

    /// <summary>
    /// The break-glass rate auditors watch: emergency changes as a share of all merged PRs per week; without that count,
    /// the weekly emergency count, its direction and why.
    /// </summary>
    static string Trend(DigestNumbers n, AllChangeCounts? all)
    {
        if (all?.PerWeek is { } totals && totals.Count == RateWeeks)
        {
            var emergency = n.DeclaredPerWeek.TakeLast(RateWeeks).ToList();
            var rates = emergency.Zip(totals, (e, t) => t > 0 ? (double?)e / t : null).ToList();
            var weeks = string.Join(" · ", emergency.Select((e, i) =>
            {
                var text = $"{e} emergency of {totals[i]} changes = {Percent(rates[i])}";
                return i == RateWeeks - 1 ? $"*{text}*" : text;
            }));
            var previous = rates.Take(RateWeeks - 1).OfType<double>().ToList();
            var direction = rates[^1] is not { } current || previous.Count == 0 ? "no trend yet"
                : current > previous.Average() ? $":arrow_upper_right: up from an average of {Percent(previous.Average())}"
                : current < previous.Average() ? $":arrow_lower_right: down from an average of {Percent(previous.Average())}"
                : $":arrow_right: level with the average of {Percent(previous.Average())}";
            return $"Break-glass rate, emergency changes of all changes (merged pull requests in {all.Scope}) per week (last {RateWeeks} weeks, oldest first): "
                + $"{weeks} — {direction}.";
        }
        var counts = string.Join(" · ", n.DeclaredPerWeek.Select((count, i) => i == n.DeclaredPerWeek.Count - 1 ? $"*{count}*" : count.ToString(CultureInfo.InvariantCulture)));
        var average = n.PreviousAverage.ToString("0.#", CultureInfo.InvariantCulture);
        var trend = n.ThisWeek > n.PreviousAverage ? $":arrow_upper_right: up from an average of {average}"
            : n.ThisWeek < n.PreviousAverage ? $":arrow_lower_right: down from an average of {average}"
            : $":arrow_right: level with the average of {average}";
        return $"Break-glass trend, emergency changes declared per week (last {n.DeclaredPerWeek.Count} weeks, oldest first): {counts} — {trend}. "
            + $"As a share of all changes: unknown ({Blocks.Escape(all?.Unknown ?? "all changes were not counted")}).";
    }

    static string Percent(double? rate) => rate is { } r ? (r * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "n/a";

    static string Fallback(string headline, IReadOnlyList<EmergencyChange> overdue, int overdueCount, int listed, DigestNumbers n, DateTimeOffset now,
        PopulationFigures? population)
    {
        var sb = new StringBuilder(headline);
        // At most the default number of lines, whatever the blocks list: the numbers line must survive the length limit.
        var lines = Math.Min(listed, DefaultMaxListed);
        foreach (var c in overdue.Take(lines))
            sb.Append($"\n• {c.ChangeId} {Blocks.UserText(Blocks.Truncate(c.Summary, 80))} (overdue by {ReviewPolicy.Format(now - c.DueAt)})");
        if (overdueCount > lines) sb.Append($"\n…and {overdueCount - lines} more: /breakglass list overdue");
        sb.Append($"\nLast 7 days: {n.Declared} declared, {n.ReviewedOnTime} of {n.Reviewed} reviewed on time, {n.WentOverdue} went overdue");
        if (n.MedianTimeToReview is { } m) sb.Append($", median time to review {ReviewPolicy.Format(m)}");
        sb.Append('.');
        if (population is not null) sb.Append('\n').Append(PopulationLine(population));
        return Blocks.Truncate(sb.ToString(), MaxFallbackText);
    }

    static string Plural(int n) => n == 1 ? " is" : "s are";
}
