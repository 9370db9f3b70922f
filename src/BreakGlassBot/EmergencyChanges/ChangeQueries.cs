using LiteDB;
using static BreakGlassBot.EmergencyChanges.StoreFile;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>The reads: every query over the changes, with its values as parameters (see <see cref="StoreFile.Where"/>).</summary>
internal sealed class ChangeQueries(StoreFile file)
{
    readonly ILiteCollection<EmergencyChange> changes = file.Changes;

    /// <summary>Every change declared in [<paramref name="from"/>, <paramref name="to"/>), oldest first.</summary>
    public IReadOnlyList<EmergencyChange> DeclaredBetween(DateTimeOffset from, DateTimeOffset to) =>
        changes.Find(Where("$.DeclaredAt >= @0 AND $.DeclaredAt < @1", from.UtcTicks, to.UtcTicks))
            .OrderBy(c => c.DeclaredAt).ThenBy(c => c.Id).ToList();

    /// <summary>
    /// The owner/repo of every pull request linked to a change declared in [from, to) that is not cancelled (repeats kept):
    /// only those two fields are read, not whole changes.
    /// </summary>
    public IReadOnlyList<string> LinkedRepositoriesDeclaredBetween(DateTimeOffset from, DateTimeOffset to) =>
        changes.Query().Where(Where("$.DeclaredAt >= @0 AND $.DeclaredAt < @1 AND $.Status != 'Cancelled'", from.UtcTicks, to.UtcTicks))
            .Select(LinkedRepositoryFields).ToEnumerable()
            .SelectMany(d => d["r"].IsArray ? d["r"].AsArray.Select(v => v.AsString) : [])
            .ToList();

    static readonly BsonExpression LinkedRepositoryFields = BsonExpression.Create("{ r: MAP($.PullRequests[*] => (@.Owner + '/' + @.Repo)) }");

    public EmergencyChange? ByAnnouncement(string channel, string ts) =>
        changes.FindOne(Where("$.Announcement.Ts = @0", ts)) is { } c && c.Announcement?.Channel == channel ? c : null;

    public EmergencyChange? Get(int id) => changes.FindById(id);

    public IReadOnlyList<EmergencyChange> OpenChanges(int limit = int.MaxValue) =>
        changes.Find(Where(IsOpen), limit: limit).ToList();

    public IReadOnlyList<EmergencyChange> OpenChangesOf(string user, int limit = 50) =>
        changes.Find(Where("$.DeclaredBy = @0 AND " + IsOpen, user), limit: limit).ToList();

    public IReadOnlyList<EmergencyChange> ChangesOf(string user, int limit = 50) =>
        changes.Query().Where(Where("$.DeclaredBy = @0", user)).OrderByDescending(BsonExpression.Create("$._id")).Limit(limit).ToList();

    /// <summary>Overdue changes in full (<see cref="EmergencyChange.IsOverdue"/>), most overdue first, ties by id.</summary>
    public IReadOnlyList<EmergencyChange> Overdue(DateTimeOffset now, int limit = int.MaxValue) => FirstOpenDue(DateTimeOffset.MinValue, now.AddTicks(-1), limit);

    public int CountOverdue(DateTimeOffset now) => CountOpenDue(DateTimeOffset.MinValue, now.AddTicks(-1));

    public IReadOnlyList<EmergencyChange> WithDueSteps(DateTimeOffset now, int limit = 100) =>
        // Between, not LTE: BSON orders null below numbers, and changes with nothing pending have a null NextStepAt.
        changes.Find(Where("$.NextStepAt BETWEEN @0 AND @1", 0L, now.UtcTicks), limit: limit).ToList();

    public const string BypassLoginIndex = "BypassLogin";
    public const string BypassLogin = "LOWER($.Bypass.Login)";

    /// <summary>
    /// The change other than <paramref name="except"/>, not cancelled, whose granted <paramref name="mode"/> bypass for <paramref name="login"/>
    /// in <paramref name="team"/> (both case-insensitive) is open at <paramref name="now"/>: not revoked, not expired; the one that ends last.
    /// </summary>
    public EmergencyChange? LatestOpenBypass(string mode, string team, string login, DateTimeOffset now, int except) =>
        LatestBypass("$.Bypass.GrantedAt != 0 AND $.Bypass.ExpiresAt > @4 AND $.Status != 'Cancelled'", mode, team, login, except, now.UtcTicks);

    /// <summary>
    /// The change other than <paramref name="except"/> whose <paramref name="mode"/> bypass for <paramref name="login"/> in <paramref name="team"/>
    /// the bot has granted (or begun to grant) and not yet revoked, whatever the change's status and even past its window; the one that ends last.
    /// </summary>
    public EmergencyChange? LatestUnrevokedBypass(string mode, string team, string login, int except) =>
        LatestBypass("$.Bypass.Problem = null", mode, team, login, except);

    /// <summary>The unrevoked bypass of the same person, team and mode on another change that also meets <paramref name="condition"/> (parameters from @4); the one that ends last.</summary>
    EmergencyChange? LatestBypass(string condition, string mode, string team, string login, int except, params BsonValue[] more) =>
        changes.Query()
            .Where(Where(BypassLogin + " = @0 AND LOWER($.Bypass.Team) = @1 AND $.Bypass.Mode = @2 AND $._id != @3 AND $.Bypass.RevokedAt = null AND " + condition,
                [login.ToLowerInvariant(), team.ToLowerInvariant(), mode, except, .. more]))
            .OrderByDescending("$.Bypass.ExpiresAt")
            .FirstOrDefault();

    /// <summary>Open changes whose tracking check is overdue by more than the grace (or was never set): their job may be lost.</summary>
    public IReadOnlyList<EmergencyChange> UntrackedOpenChanges(DateTimeOffset before, int limit = 1000) =>
        changes.Find(Where("($.NextCheckAt = null OR $.NextCheckAt BETWEEN @0 AND @1) AND " + IsOpen, 0L, before.UtcTicks), limit: limit).ToList();

    static BsonExpression OpenDueIn(DateTimeOffset from, DateTimeOffset to) => Where("$.OpenDueAt BETWEEN @0 AND @1", from.UtcTicks, to.UtcTicks);

    /// <summary>How many open changes are due in [<paramref name="from"/>, <paramref name="to"/>]: read from the index keys, no document is loaded.</summary>
    public int CountOpenDue(DateTimeOffset from, DateTimeOffset to) =>
        changes.Query().Where(OpenDueIn(from, to)).Select(nameof(EmergencyChange.OpenDueAt)).ToEnumerable().Count();

    /// <summary>
    /// The first <paramref name="take"/> open changes due in [<paramref name="from"/>, <paramref name="to"/>] in full, soonest
    /// first, ties by id.
    /// </summary>
    public IReadOnlyList<EmergencyChange> FirstOpenDue(DateTimeOffset from, DateTimeOffset to, int take)
    {
        var first = new List<ChangeTimes>();
        if (take <= 0) return [];
        foreach (var t in changes.Query().Where(OpenDueIn(from, to)).OrderBy(nameof(EmergencyChange.OpenDueAt)).Select(ChangeTimes.Fields)
                     .ToEnumerable().Select(ChangeTimes.From))
        {
            if (first.Count >= take && t.DueAt != first[^1].DueAt) break;
            first.Add(t);
        }
        return GetMany(first.OrderBy(t => t.DueAt).ThenBy(t => t.Id).Take(take).Select(t => t.Id));
    }

    /// <summary>The times of every open change due in [<paramref name="from"/>, <paramref name="to"/>] (five fields each, not whole changes).</summary>
    public IReadOnlyList<ChangeTimes> OpenDueTimes(DateTimeOffset from, DateTimeOffset to) =>
        changes.Query().Where(OpenDueIn(from, to)).Select(ChangeTimes.Fields).ToEnumerable().Select(ChangeTimes.From).ToList();

    /// <summary>The times of the changes declared or reviewed at or after <paramref name="since"/>, without loading them whole.</summary>
    public IReadOnlyList<ChangeTimes> DeclaredOrReviewedTimesSince(DateTimeOffset since)
    {
        var found = changes.Query().Where(Where("$.DeclaredAt >= @0", since.UtcTicks)).Select(ChangeTimes.Fields).ToEnumerable()
            .Select(ChangeTimes.From).ToList();
        var ids = found.Select(c => c.Id).ToHashSet();
        found.AddRange(changes.Query().Where(Where("$.ReviewedAt >= @0", since.UtcTicks)).Select(ChangeTimes.Fields).ToEnumerable()
            .Select(ChangeTimes.From).Where(c => ids.Add(c.Id)));
        return found;
    }

    /// <summary>The changes reviewed at or after <paramref name="since"/> (indexed on ReviewedAt).</summary>
    public IReadOnlyList<EmergencyChange> ReviewedSince(DateTimeOffset since) =>
        changes.Query().Where(Where("$.ReviewedAt >= @0", since.UtcTicks)).ToList();

    /// <summary>The changes with these ids, in the order given (an id without a change is skipped).</summary>
    public IReadOnlyList<EmergencyChange> GetMany(IEnumerable<int> ids) => ids.Select(id => changes.FindById(id)).OfType<EmergencyChange>().ToList();

    /// <summary>Changes declared or reviewed at or after <paramref name="since"/> (the weekly digest's numbers; a scan once a week is cheap).</summary>
    public IReadOnlyList<EmergencyChange> DeclaredOrReviewedSince(DateTimeOffset since)
    {
        // Two index range scans merged by id: LiteDB's Query.Or of them is much slower.
        // BSON orders null below numbers, so a change not yet reviewed does not match the ReviewedAt half.
        var found = changes.Find(Where("$.DeclaredAt >= @0", since.UtcTicks)).ToList();
        var ids = found.Select(c => c.Id).ToHashSet();
        found.AddRange(changes.Find(Where("$.ReviewedAt >= @0", since.UtcTicks)).Where(c => ids.Add(c.Id)));
        return found;
    }

    public const string LinkedNumberIndex = "LinkedPullRequestNumber";
    public const string LinkedNumber = "$.PullRequests[*].Number";

    /// <summary>Every change that links owner/repo#number (any case), oldest first: through the index on the linked numbers.</summary>
    public IReadOnlyList<EmergencyChange> ChangesLinking(string owner, string repo, int number) =>
        [.. changes.Find(Where(LinkedNumber + " ANY = @0", number))
            .Where(c => c.PullRequests.Any(p => p.Number == number && string.Equals(p.Owner, owner, StringComparison.OrdinalIgnoreCase)
                && string.Equals(p.Repo, repo, StringComparison.OrdinalIgnoreCase)))
            .OrderBy(c => c.Id)];

    public int Count() => changes.Count();
}
