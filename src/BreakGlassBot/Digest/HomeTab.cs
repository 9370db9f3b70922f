using System.Text.Json.Nodes;
using BreakGlassBot.Deadlines;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Digest;

/// <summary>
/// What one person's Home tab shows: the first of their own open changes and of the changes awaiting their review (soonest
/// due first) with the counts of both lists, and for a manager the number of overdue changes.
/// </summary>
/// <param name="ToReviewAtLeast">Only the first <see cref="HomeTab.MaxOpenRead"/> open changes were looked at: the count is a floor.</param>
/// <param name="ReviewersUnknown">The reviewer user group could not be read: changes the person may review can be missing.</param>
/// <param name="Overdue">For a manager, every overdue change; null for anyone else.</param>
/// <param name="GroupProblem">The reviewer group is misconfigured (only an admin can fix it), in words: group members are not listed.</param>
public sealed record HomeData(IReadOnlyList<EmergencyChange> Mine, int MineCount, IReadOnlyList<EmergencyChange> ToReview, int ToReviewCount,
    bool ToReviewAtLeast = false, bool ReviewersUnknown = false, int? Overdue = null, string? GroupProblem = null);

/// <summary>The Home tab as a Block Kit home view. Pure: the caller reads the store and the clock.</summary>
public sealed class HomeView(ChangeMessages messages)
{
    /// <summary>Slack refuses a home view with more than 100 blocks.</summary>
    public const int MaxBlocks = 100;
    public const int MaxMine = 10;
    /// <summary>Two blocks each (the change, its buttons).</summary>
    public const int MaxToReview = 30;
    /// <summary>Blocks that are not one per change: header, notice, context, two titles, two "more" lines, the group note, dividers, manager line.</summary>
    const int FixedBlocks = 12;
    /// <summary>The most blocks <see cref="Build"/> makes, whatever the lists hold: within <see cref="MaxBlocks"/>.</summary>
    public const int MostBlocks = FixedBlocks + MaxMine + 2 * MaxToReview;

    public static string ReviewBlockId(EmergencyChange c) => $"{ReviewActions.BlockId}_{c.Id}";

    /// <param name="notice">The answer to the person's last click on this tab (a Home tab has no other place for it).</param>
    public JsonObject Build(HomeData data, DateTimeOffset now, string? notice = null)
    {
        var blocks = new JsonArray { Blocks.Header("Emergency changes") };
        if (notice is not null) blocks.Add(Blocks.Section(notice));
        blocks.Add(Blocks.Context($"As of {Blocks.Date(now)}. `/breakglass` declares an emergency change; `/breakglass help` lists the rest."));

        blocks.Add(Blocks.Section(data.ToReviewCount == 0
            ? "*Awaiting your review*: nothing" + (data.ReviewersUnknown || data.GroupProblem is not null ? " that the bot could tell." : ".")
            : $"*Awaiting your review* ({data.ToReviewCount}{(data.ToReviewAtLeast ? "+" : "")}), soonest due first:"));
        var toReview = data.ToReview.Take(MaxToReview).ToList();
        foreach (var c in toReview)
        {
            blocks.Add(Blocks.Section(ToReviewItem(c, now)));
            // The announcement's buttons (same action ids, so the same handlers); block ids are unique in a view.
            blocks.Add(Blocks.Actions(ReviewBlockId(c),
                Blocks.Button("Approve retroactively", ReviewActions.Approve, c.ChangeId.ToString(), "primary"),
                Blocks.Button("Request changes", ReviewActions.RequestChanges, c.ChangeId.ToString())));
        }
        if (data.ToReviewCount > toReview.Count)
            blocks.Add(Blocks.Context($"…and {data.ToReviewCount - toReview.Count}{(data.ToReviewAtLeast ? "+" : "")} more awaiting your review: `/breakglass list open`"));
        if (data.GroupProblem is { } problem)
            blocks.Add(Blocks.Context(":warning: Changes you may review can be missing: " + Blocks.Escape(problem) + "."));
        else if (data.ReviewersUnknown)
            blocks.Add(Blocks.Context(":hourglass_flowing_sand: The reviewer group could not be read just now, so changes you may review can be missing. Open this tab again in a minute."));
        blocks.Add(Blocks.Divider());

        blocks.Add(Blocks.Section(data.MineCount == 0 ? "*Your open changes*: none." : $"*Your open changes* ({data.MineCount}), soonest due first:"));
        var mine = data.Mine.Take(MaxMine).ToList();
        foreach (var c in mine) blocks.Add(Blocks.Section(MineItem(c, now)));
        if (data.MineCount > mine.Count)
            blocks.Add(Blocks.Context($"…and {data.MineCount - mine.Count} more of yours: `/breakglass list mine`"));

        if (data.Overdue is { } overdue)
        {
            blocks.Add(Blocks.Divider());
            blocks.Add(Blocks.Section(overdue == 0
                ? "*Overdue for review (all changes)*: none."
                : $":warning: *Overdue for review (all changes)*: {overdue}. `/breakglass overdue` shows the digest; `/breakglass list overdue` lists them."));
        }
        return new JsonObject { ["type"] = "home", ["blocks"] = blocks };
    }

    string ToReviewItem(EmergencyChange c, DateTimeOffset now) =>
        $"*{Id(c)}* {Summary(c)} · declared by {Blocks.Mention(c.DeclaredBy)}\n"
        + $"Review {Due(c, now)} · still missing: {DeadlineMessages.Missing(c)} · links: {messages.Links(c)}";

    string MineItem(EmergencyChange c, DateTimeOffset now)
    {
        var request = c.ChangeRequests.OrderBy(r => r.At).LastOrDefault();
        var lastApproval = c.StandingApprovals.Select(a => (DateTimeOffset?)a.At).Max();
        var changes = request is not null && (lastApproval is null || lastApproval < request.At)
            ? $"\n:memo: {Blocks.Mention(request.Reviewer)} requested changes: {Blocks.Truncate(Blocks.UserText(request.Reason), 300)}"
            : "";
        return $"*{Id(c)}* {Summary(c)}\nReview {Due(c, now)} · still missing: {DeadlineMessages.Missing(c)}{changes}";
    }

    static string Id(EmergencyChange c) => c.Announcement?.Permalink is { } link ? Blocks.Link(link, c.ChangeId.ToString()) : c.ChangeId.ToString();
    static string Summary(EmergencyChange c) => Blocks.Truncate(Blocks.UserText(c.Summary), 150);

    static string Due(EmergencyChange c, DateTimeOffset now) => c.IsOverdue(now)
        ? $"*overdue by {ReviewPolicy.Format(now - c.DueAt)}* (was due {Blocks.Date(c.DueAt)})"
        : $"due {Blocks.Date(c.DueAt)} (in {ReviewPolicy.Format(c.DueAt - now)})";
}

/// <summary>
/// Publishes a person's Home tab (views.publish) when they open it, and again after they click one of its buttons (the
/// click's answer is shown on top, since a Home tab click has no response_url). Other people's tabs are not pushed: Slack
/// sends app_home_opened each time someone enters the tab, so it is current whenever it is looked at.
/// </summary>
public sealed partial class HomeTab(ChangeStore store, Reviewers reviewers, HomeView view, ISlackApi slack, IOptions<SlackOptions> options, TimeProvider time,
    IHostApplicationLifetime lifetime, ILogger<HomeTab> log) : IHomeTabAnswer
{
    /// <summary>Open changes looked at for "awaiting your review" (soonest due first): open changes are few; the cap bounds a backlog.</summary>
    public const int MaxOpenRead = 1000;

    public async Task PublishAsync(string user, string? notice, CancellationToken ct)
    {
        var home = view.Build(await ReadAsync(user, ct), time.GetUtcNow(), notice);
        // A Home view that did not reach Slack is published again the next time the tab is opened: nothing to retry.
        try { await slack.PublishViewAsync(user, home, ct); }
        catch (SlackApiException e) { LogNotPublished(log, user, e.Error); }
    }

    public void Show(string user, string text) => _ = Task.Run(async () =>
    {
        try { await PublishAsync(user, text, lifetime.ApplicationStopping); }
        catch (OperationCanceledException) { }
    });

    public async Task<HomeData> ReadAsync(string user, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var mine = store.OpenChangesOf(user, int.MaxValue).OrderBy(c => c.DueAt).ThenBy(c => c.Id).ToList();
        var open = store.FirstOpenDue(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, MaxOpenRead);
        var toReview = new List<EmergencyChange>();
        var unknown = false;
        foreach (var c in open)
        {
            if (c.DeclaredBy == user || c.Approvals.Any(a => a.Reviewer == user)) continue;
            try
            {
                if (await reviewers.RefusalAsync(c, user, ct) is null) toReview.Add(c);
            }
            catch (ReviewerGroupUnavailableException)
            {
                unknown = true;
                break;
            }
        }
        var overdue = options.Value.Managers.Contains(user) ? store.CountOverdue(now) : (int?)null;
        return new HomeData([.. mine.Take(HomeView.MaxMine)], mine.Count, toReview, toReview.Count,
            ToReviewAtLeast: open.Count == MaxOpenRead, ReviewersUnknown: unknown, Overdue: overdue, GroupProblem: reviewers.GroupProblem);
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Warning, Message = "Could not publish the Home tab of {User}: {Error}")]
    static partial void LogNotPublished(ILogger logger, string user, string error);
}

/// <summary>app_home_opened on the Home tab (not the Messages tab): publish what is the person's.</summary>
internal sealed class HomeTabOpened(HomeTab home) : ISlackEventHandler
{
    public Task HandleAsync(EventEnvelope envelope, CancellationToken ct) =>
        envelope.Event is { Type: "app_home_opened", Tab: "home", User: { Length: > 0 } user } ? home.PublishAsync(user, null, ct) : Task.CompletedTask;
}
