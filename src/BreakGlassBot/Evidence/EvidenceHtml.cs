using System.Net;
using System.Text;

namespace BreakGlassBot.Evidence;

/// <summary>
/// The evidence packet as one self-contained page (no script, no external asset; served with a CSP that forbids both).
/// Every value is HTML-encoded: summaries, reasons and comments are typed by people.
/// </summary>
public static class EvidenceHtml
{
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'";

    public static string Render(EvidencePacket p)
    {
        var h = new StringBuilder();
        Header(h, p);
        Detected(h, p);
        Declaration(h, p);
        Bypass(h, p);
        Announcement(h, p);
        Deadline(h, p);
        ReviewTables(h, p);
        LinkedWorkTables(h, p);
        if (p.Cancellation is { } c)
        {
            Section(h, "Cancellation", "cancellation");
            Rows(h, (c.AfterUse ? "Withdrawn after use by" : "Cancelled by", Person(c.By, null)), ("At", T(c.At)), ("Reason", E(c.Reason)),
                ("Bypass used", E(c.Used ?? "nothing")));
        }
        AuditTrail(h, p);
        h.Append("</body></html>");
        return h.ToString();
    }

    static void Header(StringBuilder h, EvidencePacket p)
    {
        h.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(p.Id)).Append(" evidence packet</title><style>")
         .Append("body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}")
         .Append("table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.25em .5em;border-bottom:1px solid #eee}th{width:14em;color:#555;font-weight:600}")
         .Append(".verdict{font-size:1.2em;padding:.5em 1em;border-radius:4px;display:inline-block}.reviewed_on_time{background:#e3f6e5}.reviewed_late,.open_overdue{background:#fde7e7}.open,.cancelled{background:#eee}.tampered{background:#b00020;color:#fff;font-weight:700}")
         .Append("code{font-size:.9em;word-break:break-all}.muted{color:#777}#sandbox-banner{background:#ffd400;padding:.5em 1em;font-weight:600}</style></head><body>");
        if (p.Sandbox)
            h.Append("<p id=\"sandbox-banner\">SANDBOX — not connected to Slack. Slack, GitHub and Jira behind this packet were simulated on this machine: it is not evidence of a real change.</p>");
        h.Append("<h1 id=\"change\">").Append(E(p.Id)).Append(": ").Append(E(p.Declaration.Summary)).Append("</h1>");
        h.Append("<p class=\"verdict ").Append(E(p.Verdict.Outcome)).Append("\" id=\"verdict\">Verdict: ").Append(E(p.Verdict.Text)).Append("</p>");
        h.Append("<p id=\"integrity\" class=\"").Append(p.Integrity.Status == "tampered" ? "verdict tampered" : "muted").Append("\">Record: ").Append(E(p.Integrity.Text));
        if (p.Integrity.Problems.Count > 0) h.Append("<br>").Append(string.Join("<br>", p.Integrity.Problems.Select(E)));
        h.Append("</p>");
        h.Append("<p class=\"muted\">Status ").Append(E(p.Status)).Append(" · packet generated ").Append(T(p.GeneratedAt)).Append("</p>");
    }

    static void Declaration(StringBuilder h, EvidencePacket p)
    {
        Section(h, "Declaration", "declaration");
        Rows(h, ("Declared by", Person(p.Declaration.By, p.Declaration.ByName)), ("Declared at", T(p.Declaration.At)), ("Summary", E(p.Declaration.Summary)),
            ("Justification", E(p.Declaration.Justification ?? "—")), ("Service", E(p.Declaration.Service ?? "—")), ("Severity", E(p.Declaration.Severity ?? "—")),
            ("Declared in", E(p.Declaration.Channel ?? "—") + " via " + E(p.Declaration.Source)),
            ("Links", p.Declaration.Links.Count == 0 ? "none" : string.Join(", ", p.Declaration.Links.Select(l => Link(l.Url, l.Ref)))));
    }

    /// <summary>A case the bot opened: what was merged or pushed without review, by whom, and how it was found.</summary>
    static void Detected(StringBuilder h, EvidencePacket p)
    {
        if (p.Detected is not { } d) return;
        Section(h, "Detected", "detected");
        h.Append("<p id=\"source\">Source: detected. Nobody declared this change: the bot found it on GitHub and opened this case.</p>");
        Rows(h, (d.Kind == "direct_push" ? "Direct push" : "Pull request", $"<code>{E(d.Change)}</code>" + (d.Branch is null ? "" : " to " + E(d.Branch))),
            ("By", E(d.Actor ?? "—") + (d.ActorId is { } id ? $" (GitHub user {id})" : "")), ("Merged", Opt(d.MergedAt)), ("Why a bypass", E(d.Reason)),
            ("Found by", E(d.FoundBy.Count == 0 ? "—" : string.Join(", ", d.FoundBy))
                + (d.RuleSuites.Count == 0 ? "" : " · rule suites " + E(string.Join(", ", d.RuleSuites.Select(r => r.ToString(System.Globalization.CultureInfo.InvariantCulture)))))),
            ("Commits", d.Commits.Count == 0 ? "—" : string.Join("<br>", d.Commits.Select(c => $"<code>{E(c)}</code>"))),
            ("Explained", Opt(d.ExplainedAt)), ("Taken over by", d.AbsorbedBy is null ? "—" : E(d.AbsorbedBy) + " at " + Opt(d.AbsorbedAt)));
    }

    static void Bypass(StringBuilder h, EvidencePacket p)
    {
        Section(h, "Bypass granted", "bypass");
        if (p.Bypass is { Granted: false } nb)
            Rows(h, ("Mode", E(nb.Mode)), ("Granted", E(nb.NotGrantedReason ?? "not granted")), ("Requested", E(nb.Team ?? nb.PullRequest ?? "—") + (nb.Login is null ? "" : " for " + E(nb.Login))));
        else if (p.Bypass is { } b)
            Rows(h, ("Mode", E(b.Mode)), ("Granted", E(b.Team ?? b.PullRequest ?? "—") + (b.Login is null ? "" : " to " + E(b.Login)) + (b.WasAlreadyMember ? " (already a member before)" : "")),
                ("Head SHA", b.HeadSha is null ? "—" : $"<code>{E(b.HeadSha)}</code>"), ("Start", Opt(b.GrantedAt)), ("Expires", Opt(b.ExpiresAt)),
                ("Revoked", Opt(b.RevokedAt)), ("End", b.EndedAt is { } end ? T(end) + " (" + E(b.Duration ?? "") + ")" : "still running (planned end: " + Opt(b.ExpiresAt) + ")"),
                ("Problem", E(b.Problem ?? "—")));
        else h.Append("<p>No bypass was recorded for this change (GitHub bypass not configured or not granted).</p>");
    }

    static void Announcement(StringBuilder h, EvidencePacket p)
    {
        Section(h, "Announcement", "announcement");
        if (p.Announcement is { } a)
            Rows(h, ("Posted", T(a.PostedAt) + " in " + E(a.Channel)), ("Announcement", Link(a.Permalink, a.Permalink ?? a.Ts)), ("Thread", Link(a.ThreadPermalink, "review thread")));
        else h.Append("<p>Not announced.</p>");
    }

    static void Deadline(StringBuilder h, EvidencePacket p)
    {
        Section(h, "Deadline", "deadline");
        Rows(h, ("Due", T(p.Deadline.DueAt)), ("Policy", E(p.Deadline.Policy) + (p.Deadline.PolicyRecordedAtDeclaration ? " (recorded at declaration)" : " (current policy: none recorded at declaration)")),
            ("Overdue marked", p.Deadline.OverdueAt is { } o ? T(o) : "—"), ("Escalated", p.Deadline.EscalatedAt is { } x ? T(x) + " to " + string.Join(", ", p.Deadline.EscalatedTo.Select(u => Person(u, null))) : "—"),
            ("Reviewed", p.Verdict.ReviewedAt is { } rv ? T(rv) : "—"));
    }

    static void ReviewTables(StringBuilder h, EvidencePacket p)
    {
        Table(h, "Reminders and escalations", "reminders", ["#", "Kind", "To", "Decided", "Sent"],
            p.Reminders.Select(r => new[] { r.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), E(r.Kind), Person(r.To, null), T(r.DecidedAt), r.SentAt is { } s ? T(s) : "not delivered" }));
        Table(h, "Approvals", "approvals", ["Reviewer", "At", "Within window", "Comment", "Source"],
            p.Approvals.Select(x => new[] { Person(x.Reviewer, x.ReviewerName), T(x.At), x.WithinWindow ? "yes" : "no", E(x.Comment ?? ""), E(x.Source) }));
        Table(h, "Change requests", "change-requests", ["Reviewer", "At", "Reason"], p.ChangeRequests.Select(x => new[] { Person(x.Reviewer, null), T(x.At), E(x.Reason) }));
        Table(h, "Refused approvals", "refusals", ["User", "At", "Reason"], p.RefusedApprovals.Select(x => new[] { Person(x.User, null), T(x.At), E(x.Reason) }));
    }

    static void LinkedWorkTables(StringBuilder h, EvidencePacket p)
    {
        Table(h, "Pull requests", "pull-requests", ["PR", "Author", "Head SHA", "Merged", "Approved by", "Review"],
            p.PullRequests.Select(x => new[] { Link(x.Url, x.Ref) + (x.Title is null ? "" : "<br>" + E(x.Title)), E(x.Author ?? "—"), x.HeadSha is null ? "—" : $"<code>{E(x.HeadSha)}</code>",
                x.Merged ? "merged " + (x.MergedAt is { } m ? T(m) : "") : "not merged",
                x.ApprovedBy is null && x.ApprovedById is null ? "—" : E(x.ApprovedBy ?? $"user {x.ApprovedById}") + " at " + Opt(x.ApprovedAt), Check(x.Review) }));
        Table(h, "Jira issues", "jira-issues", ["Issue", "Status at review", "Latest status", "Review"],
            p.JiraIssues.Select(x => new[] { Link(x.Url, x.Key) + (x.Problem is null ? "" : "<br>not accepted: " + E(x.Problem)) + (x.CommentProblem is null ? "" : "<br>comment refused: " + E(x.CommentProblem)),
                x.StatusAtReviewAsOf is { } ra ? Status(x.StatusAtReview, x.StatusCategoryAtReview) + " (" + T(ra) + ")" : "not reviewed yet",
                Status(x.Status, x.StatusCategory) + (x.StatusAsOf is { } t ? " (" + T(t) + ")" : ""), Check(x.Review) }));
        Table(h, "Evidence checks", "evidence-checks", ["Source", "Target", "Satisfied", "Missing", "Checked"],
            p.EvidenceChecks.Select(x => new[] { E(x.Kind), E(x.Target ?? ""), x.Satisfied ? "yes" : "no", E(x.Missing ?? ""), T(x.CheckedAt) }));
    }

    static void AuditTrail(StringBuilder h, EvidencePacket p)
    {
        Table(h, "Audit trail", "audit-trail", ["#", "At", "Actor", "Event", "Data", "Hash"],
            p.AuditTrail.Select(x => new[] { x.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), T(x.At), E(x.Actor), E(x.Type),
                string.Join("<br>", x.Data.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{E(kv.Key)}: {E(kv.Value)}")), $"<code>{E(x.Hash?[..12] ?? "")}</code>" }));
    }

    static string E(string s) => WebUtility.HtmlEncode(s);
    static string Opt(DateTimeOffset? t) => t is { } v ? T(v) : "—";
    static string Status(string? name, string? category) => E(name ?? "—") + (category is null ? "" : " (" + E(category) + ")");
    static string T(DateTimeOffset t) => $"<time datetime=\"{t.UtcDateTime:O}\">{E(EvidenceBuilder.Time(t))}</time>";
    static string Person(string id, string? name) => E(id) + (string.IsNullOrEmpty(name) ? "" : " (" + E(name) + ")");
    static string Check(CheckEvidence? c) => c is null ? "not checked" : (c.Satisfied ? "reviewed" : "missing: " + E(c.Missing ?? "")) + " (" + T(c.CheckedAt) + ")";

    /// <summary>Only http(s) targets become links; anything else (javascript:, data:) is shown as text.</summary>
    static string Link(string? url, string text) =>
        url is not null && Uri.TryCreate(url, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp)
            ? $"<a href=\"{E(url)}\" rel=\"noreferrer\">{E(text)}</a>"
            : E(text);

    static void Section(StringBuilder h, string title, string id) => h.Append("<h2 id=\"").Append(id).Append("\">").Append(E(title)).Append("</h2>");

    static void Rows(StringBuilder h, params (string Name, string Html)[] rows)
    {
        h.Append("<table>");
        foreach (var (name, html) in rows) h.Append("<tr><th>").Append(E(name)).Append("</th><td>").Append(html).Append("</td></tr>");
        h.Append("</table>");
    }

    static void Table(StringBuilder h, string title, string id, string[] headers, IEnumerable<string[]> rows)
    {
        Section(h, title, id);
        var list = rows.ToList();
        if (list.Count == 0) { h.Append("<p>None.</p>"); return; }
        h.Append("<table><tr>");
        foreach (var head in headers) h.Append("<th>").Append(E(head)).Append("</th>");
        h.Append("</tr>");
        foreach (var row in list)
        {
            h.Append("<tr>");
            foreach (var cell in row) h.Append("<td>").Append(cell).Append("</td>");
            h.Append("</tr>");
        }
        h.Append("</table>");
    }
}
