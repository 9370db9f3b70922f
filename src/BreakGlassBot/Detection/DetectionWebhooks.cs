using System.Globalization;
using System.Text.Json;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;

namespace BreakGlassBot.Detection;

/// <summary>
/// The instant source (every plan): a PR merged into a watched branch and a push to one become merge records (checked later,
/// off the request); branch protection or a ruleset weakened is an audit event and a note to the admins. Only stores: the
/// GitHub calls happen in the detector, so GitHub gets its answer at once.
/// </summary>
internal sealed class DetectionWebhooks(Detector detector, WatchedScope scope, AdminNotices notices, TimeProvider time) : IGitHubWebhookObserver
{
    public const string FoundBy = "webhook";

    public void Observe(string eventName, JsonElement payload, string delivery)
    {
        if (!scope.Options.Enabled || payload.ValueKind != JsonValueKind.Object) return;
        var repository = Str(Obj(payload, "repository"), "full_name");
        var defaultBranch = Str(Obj(payload, "repository"), "default_branch");
        var sender = Str(Obj(payload, "sender"), "login") ?? "";
        switch (eventName)
        {
            case "pull_request" when Str(payload, "action") == "closed" && repository is not null && scope.IsWatchedRepository(repository):
                MergedPullRequest(Obj(payload, "pull_request"), repository, defaultBranch);
                break;
            case "push" when repository is not null && scope.IsWatchedRepository(repository):
                Push(payload, repository, defaultBranch, sender);
                break;
            case "branch_protection_rule" or "branch_protection_configuration" or "repository_ruleset":
                if (Weakening(eventName, payload) is { } what && Concerns(repository, Str(Obj(payload, "organization"), "login")) is { } where)
                    notices.ProtectionWeakened(where, what, sender, delivery);
                break;
        }
    }

    void MergedPullRequest(JsonElement pr, string repository, string? defaultBranch)
    {
        if (pr.ValueKind != JsonValueKind.Object || !(pr.TryGetProperty("merged", out var merged) && merged.ValueKind == JsonValueKind.True)) return;
        var branch = Str(Obj(pr, "base"), "ref");
        if (branch is null || !scope.IsWatchedBranch(repository, branch, defaultBranch) || !pr.TryGetProperty("number", out var n) || !n.TryGetInt32(out var number)) return;
        detector.Observe(new MergeObservation(DetectedBypass.PullRequestKind, repository, FoundBy)
        {
            Branch = branch, Number = number, Title = Str(pr, "title"), Sha = Str(pr, "merge_commit_sha"),
            Actor = Str(Obj(pr, "merged_by"), "login"), ActorId = Long(Obj(pr, "merged_by"), "id"),
            AuthorLogin = Str(Obj(pr, "user"), "login"), AuthorId = Long(Obj(pr, "user"), "id"),
            MergedAt = DateTimeOffset.TryParse(Str(pr, "merged_at"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null,
        });
    }

    void Push(JsonElement payload, string repository, string? defaultBranch, string sender)
    {
        const string Heads = "refs/heads/";
        var reference = Str(payload, "ref") ?? "";
        var after = Str(payload, "after") ?? "";
        if (!reference.StartsWith(Heads, StringComparison.Ordinal) || payload.TryGetProperty("deleted", out var d) && d.ValueKind == JsonValueKind.True
            || after.Length == 0 || after.All(c => c == '0')) return;
        var branch = reference[Heads.Length..];
        if (!scope.IsWatchedBranch(repository, branch, defaultBranch)) return;
        var commits = payload.TryGetProperty("commits", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(c => Str(c, "id")).OfType<string>().ToList()
            : [];
        var forced = payload.TryGetProperty("forced", out var f) && f.ValueKind == JsonValueKind.True;
        // A branch pointed at commits it already had brings nothing new to review, unless it was forced there.
        if (commits.Count == 0 && !forced) return;
        detector.Observe(new MergeObservation(DetectedBypass.DirectPushKind, repository, FoundBy)
        {
            Branch = branch, Sha = after, Commits = [.. commits.TakeLast(Detector.MaxCommits)], Forced = forced,
            Actor = sender.Length > 0 ? sender : Str(Obj(payload, "pusher"), "name"), ActorId = Long(Obj(payload, "sender"), "id"),
            MergedAt = time.GetUtcNow(),
        });
    }

    /// <summary>The watched repository (or the organisation of one) an event is about; null when it concerns nothing watched.</summary>
    string? Concerns(string? repository, string? organization)
    {
        if (repository is not null) return scope.IsWatchedRepository(repository) ? repository : null;
        return organization is not null && scope.Repositories().Any(r => r.StartsWith(organization + "/", StringComparison.OrdinalIgnoreCase))
            ? "organisation " + organization : null;
    }

    // Requirement levels: off < non_admins < everyone. For the allow_* settings a higher level is the weaker one.
    static readonly string[] Levels = ["off", "non_admins", "everyone"];
    static readonly string[] StrongerWhenTrue =
    [
        "admin_enforced", "dismiss_stale_reviews_on_push", "require_code_owner_review", "require_last_push_approval", "authorized_actors_only",
        "authorized_dismissal_actors_only", "strict_required_status_checks_policy", "ignore_approvals_from_contributors",
    ];

    /// <summary>What an event weakened, in words; null when it weakened nothing.</summary>
    internal static string? Weakening(string eventName, JsonElement payload)
    {
        var action = Str(payload, "action");
        switch (eventName)
        {
            case "branch_protection_configuration":
                return action == "disabled" ? "all branch protections of the repository were disabled" : null;
            case "branch_protection_rule":
            {
                var rule = Obj(payload, "rule");
                var name = Str(rule, "name") ?? "?";
                if (action == "deleted") return $"branch protection rule '{name}' was deleted";
                if (action != "edited" || Obj(payload, "changes") is not { ValueKind: JsonValueKind.Object } changes) return null;
                var weakened = new List<string>();
                foreach (var change in changes.EnumerateObject())
                {
                    var from = change.Value.ValueKind == JsonValueKind.Object && change.Value.TryGetProperty("from", out var f) ? f : default;
                    var now = rule.ValueKind == JsonValueKind.Object && rule.TryGetProperty(change.Name, out var v) ? v : default;
                    var key = change.Name;
                    bool Lowered(bool reversed)
                    {
                        var (a, b) = (Array.IndexOf(Levels, Text(from)), Array.IndexOf(Levels, Text(now)));
                        return a >= 0 && b >= 0 && (reversed ? b > a : b < a);
                    }
                    var isWeaker = key switch
                    {
                        "required_approving_review_count" => from.ValueKind == JsonValueKind.Number && now.ValueKind == JsonValueKind.Number && now.GetInt32() < from.GetInt32(),
                        _ when key.StartsWith("allow_", StringComparison.Ordinal) && key.EndsWith("_enforcement_level", StringComparison.Ordinal) => Lowered(reversed: true),
                        _ when key.EndsWith("_level", StringComparison.Ordinal) => Lowered(reversed: false),
                        _ when StrongerWhenTrue.Contains(key) => from.ValueKind == JsonValueKind.True && now.ValueKind == JsonValueKind.False,
                        _ => false,
                    };
                    if (isWeaker) weakened.Add($"{key} {Text(from)} → {Text(now)}");
                }
                return weakened.Count == 0 ? null : $"branch protection rule '{name}' was weakened: {string.Join(", ", weakened)}";
            }
            case "repository_ruleset":
            {
                var ruleset = Obj(payload, "repository_ruleset");
                var name = Str(ruleset, "name") ?? "?";
                if (action == "deleted") return $"ruleset '{name}' was deleted";
                if (action != "edited" || Obj(payload, "changes") is not { ValueKind: JsonValueKind.Object } changes) return null;
                var weakened = new List<string>();
                var enforcement = Str(ruleset, "enforcement");
                if (Obj(changes, "enforcement") is { ValueKind: JsonValueKind.Object } e && Str(e, "from") == "active" && enforcement != "active")
                    weakened.Add($"enforcement active → {enforcement}");
                if (Obj(Obj(changes, "rules"), "deleted") is { ValueKind: JsonValueKind.Array } deleted && deleted.GetArrayLength() > 0)
                    weakened.Add("rules removed: " + string.Join(", ", deleted.EnumerateArray().Select(r => Str(r, "type") ?? "?")));
                if (Obj(Obj(changes, "rules"), "updated") is { ValueKind: JsonValueKind.Array } updated && updated.GetArrayLength() > 0)
                    weakened.Add("rules changed: " + string.Join(", ", updated.EnumerateArray().Select(r => Str(Obj(r, "rule"), "type") ?? "?")));
                if (Obj(changes, "conditions") is { ValueKind: JsonValueKind.Object })
                    weakened.Add("the branches it applies to changed");
                return weakened.Count == 0 ? null : $"ruleset '{name}' was changed: {string.Join("; ", weakened)}";
            }
            default:
                return null;
        }
    }

    static string Text(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() ?? "",
        JsonValueKind.Undefined => "?",
        _ => e.GetRawText(),
    };

    static JsonElement Obj(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static long? Long(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l : null;
}
