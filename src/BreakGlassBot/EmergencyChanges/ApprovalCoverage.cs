namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// What an approval covers: the change and each thing linked when it was given, a PR with the head it had then. Something
/// linked or pushed afterwards was not seen by the approver, so the approval stops counting (it is kept, voided, so notes
/// and the record that refer to it by position stay right).
/// </summary>
public static class ApprovalCoverage
{
    const string UnknownHead = "?";
    /// <summary>Thread note "voided:&lt;position&gt;": an approval stopped counting because of what was linked or pushed after it.</summary>
    public const string VoidedNotePrefix = "voided:";

    /// <summary>The coverage of an approval given now: "BG-n", "owner/repo#n@sha" ("?" while the head is not read yet), "jira KEY".</summary>
    public static List<string> Of(EmergencyChange c) =>
        [c.ChangeId.ToString(), .. c.PullRequests.Select(p => $"{p.Ref}@{p.HeadSha ?? UnknownHead}"), .. c.JiraIssues.Select(j => "jira " + j.Key)];

    /// <summary>What the change links now that <paramref name="a"/> did not cover; empty when it covers all (or predates coverage).</summary>
    public static IReadOnlyList<string> Uncovered(EmergencyChange c, Approval a)
    {
        if (a.Covered.Count == 0) return [];
        var missing = new List<string>();
        foreach (var p in c.PullRequests)
        {
            var seen = a.Covered.FirstOrDefault(x => x.StartsWith(p.Ref + "@", StringComparison.OrdinalIgnoreCase));
            if (seen is null) { missing.Add(p.Ref.ToString()); continue; }
            var head = seen[(p.Ref.ToString().Length + 1)..];
            // A head unknown at approval is taken as the first one read (the PR is read as it is linked, so this is rare).
            if (p.HeadSha is { } now && head != UnknownHead && !string.Equals(head, now, StringComparison.OrdinalIgnoreCase))
                missing.Add($"{p.Ref} at {Short(now)} (approved at {Short(head)})");
        }
        foreach (var j in c.JiraIssues)
            if (!a.Covered.Contains("jira " + j.Key) && (j.DeclaredKey is null || !a.Covered.Contains("jira " + j.DeclaredKey)))
                missing.Add(j.Key);
        return missing;
    }

    /// <summary>The head of <paramref name="pr"/> the standing approvals were given on, when they agree on one.</summary>
    public static string? ApprovedHead(EmergencyChange c, PullRequestRef pr)
    {
        var heads = c.StandingApprovals.SelectMany(a => a.Covered)
            .Where(x => x.StartsWith(pr + "@", StringComparison.OrdinalIgnoreCase)).Select(x => x[(pr.ToString().Length + 1)..])
            .Where(h => h != UnknownHead).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return heads.Count == 1 ? heads[0] : null;
    }

    /// <summary>
    /// Voids each standing approval that does not cover what the change links now; returns the audit events (one per
    /// approval voided) and the positions voided, for the thread notes.
    /// </summary>
    public static (List<AuditEvent> Events, List<int> Voided) VoidUncovered(EmergencyChange c, DateTimeOffset now, string actor)
    {
        var events = new List<AuditEvent>();
        var voided = new List<int>();
        for (var i = 0; i < c.Approvals.Count; i++)
        {
            var a = c.Approvals[i];
            if (!a.Stands || Uncovered(c, a) is not { Count: > 0 } missing) continue;
            (a.VoidedAt, a.VoidedBecause) = (now, "it did not cover " + string.Join(", ", missing));
            voided.Add(i);
            events.Add(new AuditEvent
            {
                ChangeNumber = c.Id, At = now, Actor = actor, Type = AuditTypes.ApprovalVoided,
                Data = new() { ["reviewer"] = a.Reviewer, ["index"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture), ["because"] = a.VoidedBecause },
            });
        }
        return (events, voided);
    }

    /// <summary>A commit as people read it: its first seven hex digits ("?" when unknown).</summary>
    public static string Short(string? sha) => string.IsNullOrEmpty(sha) ? "?" : sha.Length > 7 ? sha[..7] : sha;
}
