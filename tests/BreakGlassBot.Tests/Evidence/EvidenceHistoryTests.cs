using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Evidence;
using BreakGlassBot.GitHub;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;
using CsvHelper;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>
/// A realistic history through the real entry points (signed slash commands, signed button clicks and modal submissions,
/// the real Hangfire tracker with a 15-second review window, the Team bypass and the PR review at a fake GitHub, the
/// issue at a fake Jira), then the evidence packets and the period export.
/// </summary>
[Collection(SerialCollection.Name)] // real-time Hangfire reminders and deadlines: run alone
[Trait("Category", "EndToEnd")]
public class EvidenceHistoryTests() : BotTest(Fakes.GitHub | Fakes.Jira)
{
    internal const string Reviewer1 = ApprovalTests.Reviewer1;
    internal const string Reviewer2 = ApprovalTests.Reviewer2;
    const string MistakenDeclarer = "U0MISTAKEN";
    internal const string Manager = "U0MGR";
    internal const string Key0 = "evidence-key-zero-0f1e2d";
    internal const string Key1 = "evidence-key-one-9a8b7c";
    const string Team = "acme/emergency-merge";
    const string DeclarerLogin = "decl-gh";

    protected override void SeedFakes()
    {
        GitHub.AddPr("acme", "pay", 42, pr => (pr.Title, pr.HeadSha, pr.BaseRef) = ("Revert payments 2.3", "9f2c1e0d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e", "main"));
        Jira.Add("OPS-7", "Payments outage");
        GitHub.OrgMembers[$"acme:{DeclarerLogin}"] = "active"; // Team grants go only to organisation members
    }

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer1,
        ["Slack:Reviewers:1"] = Reviewer2,
        ["Slack:Managers:0"] = Manager,
        ["Policy:ReviewWindow"] = "00:00:15", // long enough for the on-time approval on a loaded machine
        ["Policy:ReminderInterval"] = "00:00:03",
        ["GitHub:BypassMode"] = "Team",
        ["GitHub:BypassTeam"] = Team,
        ["Slack:Declarers:0"] = TestBot.Declarer, // Team mode names who may declare
        ["Slack:Declarers:1"] = MistakenDeclarer,
        ["Policy:BypassDuration"] = "00:00:04",
        [$"People:{TestBot.Declarer}:GitHub"] = DeclarerLogin,
        // The reviewers are known on GitHub (and wrote no linked PR), so their Slack approvals count.
        [$"People:{Reviewer1}:GitHub"] = "rev1-gh",
        [$"People:{Reviewer2}:GitHub"] = "rev2-gh",
        ["Evidence:ApiKeys:0"] = Key0,
        ["Evidence:ApiKeys:1"] = Key1,
        ["Evidence:PublicBaseUrl"] = "https://breakglass.example.com",
    };

    internal static HttpRequestMessage Get(string path, string? key = Key1, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (accept is not null) request.Headers.Accept.ParseAdd(accept);
        return request;
    }

    async Task<int> DeclareAsync(string text, string user = TestBot.Declarer)
    {
        var reply = await Bot.CommandJsonAsync(text, user);
        var id = int.Parse(Regex.Match(reply["text"]!.GetValue<string>(), @"BG-(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        await Eventually.Until(() => Bot.Store.Get(id)!.Announcement is not null, $"BG-{id} announced");
        return id;
    }

    async Task<JsonObject> JsonAsync(string path)
    {
        var response = await Bot.Http.SendAsync(Get(path));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    static string S(JsonNode? n) => n!.GetValue<string>();
    static DateTimeOffset T(JsonNode? n) => DateTimeOffset.Parse(S(n), CultureInfo.InvariantCulture);

    [Fact]
    public async Task ARealisticHistoryIsHandedOverFieldByField()
    {
        // The late one (BG-1): GitHub refuses the Team bypass (never granted); the declarer may not approve it; reminders,
        // overdue and escalation happen; changes are requested; approved late.
        GitHub.Fail("PUT membership", new Fault.Status(404, """{"message":"Not Found"}"""));
        var two = await DeclareAsync("Emergency DNS change");
        await Eventually.Until(() => Bot.Store.Get(two)!.Steps.Any(s => s.Kind == GitHubStepKinds.BypassGrant && s.State == StepState.Abandoned), "BG-1's grant gave up");
        await Bot.InteractionAsync(ApprovalTests.Click(TestBot.Declarer, ReviewActions.Approve, $"BG-{two}"));

        // The on-time one (BG-2): declared with a PR and a Jira issue; the declarer joins the bypass team until it expires.
        var one = await DeclareAsync("Roll back payments deploy https://github.com/acme/pay/pull/42 OPS-7");
        await Eventually.Until(() => Bot.Store.Get(one)!.JiraIssues[0].FetchedAt is not null && Bot.Store.Get(one)!.PullRequests[0].FetchedAt is not null
            && Bot.Store.Get(one)!.Bypass is { Granted: true }, "BG-2 linked at GitHub and Jira, bypass granted");
        Assert.True(GitHub.IsMember(Team, DeclarerLogin));
        Assert.Equal("In Progress", Bot.Store.Get(one)!.JiraIssues[0].Status);
        // Then, at the fakes and with no webhook: the PR is merged, a non-author approves after the merge, the issue is done.
        var pr42 = GitHub.PullRequest("acme/pay#42");
        var mergedAt = new DateTimeOffset(DateTime.UtcNow.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var approvedAt = mergedAt.AddSeconds(1);
        (pr42.Merged, pr42.MergedAt) = (true, mergedAt);
        lock (pr42.Reviews)
        {
            pr42.Reviews.Add(FakeGitHub.Review(90, DeclarerLogin, 7, "APPROVED", approvedAt, commitId: pr42.HeadSha)); // the declarer's own: does not count
            pr42.Reviews.Add(FakeGitHub.Review(91, "hubot", 2, "APPROVED", approvedAt, commitId: pr42.HeadSha));
        }
        var flippedAt = DateTimeOffset.UtcNow;
        (Jira["OPS-7"].StatusName, Jira["OPS-7"].CategoryKey, Jira["OPS-7"].CategoryName) = ("Done", "done", "Done");
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer1, ReviewActions.Approve, $"BG-{one}"));

        // BG-3: declared by mistake and cancelled.
        // By someone with no GitHub account known: no team grant, nothing used, so the declarer may cancel it.
        var three = await DeclareAsync("Restart ingest", MistakenDeclarer);
        await Bot.CommandJsonAsync($"cancel BG-{three} declared twice by mistake", MistakenDeclarer);

        await Eventually.Until(() => Bot.Store.Get(one)!.Status == ChangeStatus.Reviewed, "the on-time change reviewed", TimeSpan.FromSeconds(40));
        await Eventually.Until(() => Bot.Store.AuditTrail(two).Count(e => e.Type == AuditTypes.EscalationSent) == 2, "the late change escalated to the manager and the declarer", TimeSpan.FromSeconds(40));
        await Eventually.Until(() => Bot.Store.AuditTrail(two).Any(e => e.Type == AuditTypes.ReminderSent), "a reminder about the late change delivered");

        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer2, ReviewActions.RequestChanges, $"BG-{two}"));
        var submission = Fixtures.Object("slack/view_submission.json");
        submission["user"] = new JsonObject { ["id"] = Reviewer2 };
        submission["view"]!["callback_id"] = "breakglass_request_changes";
        submission["view"]!["private_metadata"] = $"BG-{two}";
        submission["view"]!["state"] = new JsonObject { ["values"] = new JsonObject { ["reason"] = new JsonObject { ["value"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = "Add the TTL rollback to the runbook" } } } };
        Assert.Equal(HttpStatusCode.OK, (await Bot.InteractionAsync(submission)).StatusCode);
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer1, ReviewActions.Approve, $"BG-{two}", actionTs: "1548426418.000001"));
        // The changes Reviewer2 asked for hold the review until Reviewer2 approves too.
        await Eventually.Until(() => Bot.Store.Get(two)!.Evidence.Any(e => e.Missing?.Contains("changes requested by") == true), "the request holds the review");
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(two)!.Status);
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer2, ReviewActions.Approve, $"BG-{two}", actionTs: "1548426419.000001"));
        await Eventually.Until(() => Bot.Store.Get(two)!.Status == ChangeStatus.Reviewed, "the late change reviewed", TimeSpan.FromSeconds(40));

        // BG-4: still open; its summary would be a formula in a spreadsheet.
        var four = await DeclareAsync("=SUM(1+1) hotfix cache");
        await Eventually.Until(() => Bot.Store.Get(one)!.Bypass!.RevokedAt is not null, "BG-2's bypass ended", TimeSpan.FromSeconds(20));
        await Eventually.Until(() => Enumerable.Range(1, 3).All(i => Bot.Store.Get(i)!.NextStepAt is null), "every note and update of the first three sent", TimeSpan.FromSeconds(20));
        // BG-4's Team grant runs in the background too: both exports below must see the same, settled bypass.
        await Eventually.Until(() => Bot.Store.Get(four)!.Steps.Where(s => s.Kind == GitHubStepKinds.BypassGrant).All(s => s.State != StepState.Pending)
            && Bot.Store.Get(four)!.Bypass is not null, "BG-4's bypass grant settled", TimeSpan.FromSeconds(20));

        // ---- Reviewed on time, with bypass, PR and Jira facts.
        var c1 = Bot.Store.Get(one)!;
        IReadOnlyList<AuditEvent> trail(int id) => Bot.Store.AuditTrail(id);
        var p1 = await JsonAsync($"/evidence/BG-{one}");
        Assert.Equal($"BG-{one}", S(p1["id"]));
        Assert.Equal("reviewed", S(p1["status"]));
        var d = p1["declaration"]!;
        Assert.Equal(TestBot.Declarer, S(d["by"]));
        Assert.Equal("u0declarer", S(d["by_name"]));
        Assert.Equal(c1.DeclaredAt, T(d["at"]));
        Assert.Equal("Roll back payments deploy", S(d["summary"]));
        Assert.Equal("C2147483705", S(d["channel"]));
        Assert.Equal("command", S(d["source"]));
        Assert.Equal(["https://github.com/acme/pay/pull/42", $"{Jira.Url}/browse/OPS-7"], d["links"]!.AsArray().Select(l => S(l!["url"])));
        Assert.Equal(["acme/pay#42", "OPS-7"], d["links"]!.AsArray().Select(l => S(l!["ref"])));
        var b = p1["bypass"]!;
        var bypass = c1.Bypass!;
        Assert.Equal("Team", S(b["mode"]));
        Assert.Equal(Team, S(b["team"]));
        Assert.Equal(DeclarerLogin, S(b["login"]));
        Assert.True(b["granted"]!.GetValue<bool>());
        Assert.Equal(bypass.GrantedAt, T(b["granted_at"]));
        Assert.InRange(bypass.GrantedAt, c1.DeclaredAt, c1.DeclaredAt.AddSeconds(10));
        Assert.Equal(bypass.GrantedAt.AddSeconds(4), T(b["expires_at"]));
        Assert.Equal(bypass.RevokedAt, T(b["revoked_at"]));
        Assert.Equal(bypass.RevokedAt, T(b["ended_at"]));
        Assert.Null(b["not_granted_reason"]);
        Assert.Single(trail(one), e => e.Type == GitHubAuditTypes.BypassGranted);
        Assert.Single(trail(one), e => e.Type == GitHubAuditTypes.BypassRevoked);
        var a = p1["announcement"]!;
        Assert.Equal(TestBot.Channel, S(a["channel"]));
        Assert.Equal(c1.Announcement!.Ts, S(a["ts"]));
        Assert.Equal(c1.Announcement.Permalink, S(a["permalink"]));
        Assert.StartsWith($"https://example.slack.com/archives/{TestBot.Channel}/p", S(a["permalink"]));
        Assert.Equal($"{c1.Announcement.Permalink}?thread_ts={c1.Announcement.Ts}&cid={TestBot.Channel}", S(a["thread_permalink"]));
        var dl = p1["deadline"]!;
        Assert.Equal(c1.DueAt, T(dl["due_at"]));
        Assert.Equal(c1.DeclaredAt.AddSeconds(15), c1.DueAt);
        Assert.Equal("15s after declaration", S(dl["policy"]));
        Assert.True(dl["policy_recorded_at_declaration"]!.GetValue<bool>());
        var v1 = p1["verdict"]!;
        Assert.Equal("reviewed_on_time", S(v1["outcome"]));
        Assert.Equal(c1.ReviewedAt, T(v1["reviewed_at"]));
        Assert.StartsWith("reviewed on time (", S(v1["text"]));
        Assert.Equal((long)(c1.ReviewedAt!.Value - c1.DeclaredAt).TotalSeconds, v1["time_to_review_seconds"]!.GetValue<long>());
        var ap = Assert.Single(p1["approvals"]!.AsArray())!;
        Assert.Equal(Reviewer1, S(ap["reviewer"]));
        Assert.Equal(c1.Approvals[0].At, T(ap["at"]));
        Assert.True(ap["within_window"]!.GetValue<bool>());
        Assert.Equal("button", S(ap["source"]));
        var pr1 = Assert.Single(p1["pull_requests"]!.AsArray())!;
        Assert.Equal("acme/pay#42", S(pr1["ref"]));
        Assert.Equal("octocat", S(pr1["author"]));
        Assert.Equal("Revert payments 2.3", S(pr1["title"]));
        Assert.Equal("9f2c1e0d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e", S(pr1["head_sha"]));
        Assert.True(pr1["merged"]!.GetValue<bool>());
        Assert.Equal(mergedAt, T(pr1["merged_at"]));
        Assert.Equal("hubot", S(pr1["approved_by"]));
        Assert.Equal(2, pr1["approved_by_id"]!.GetValue<long>());
        Assert.Equal(approvedAt, T(pr1["approved_at"]));
        Assert.True(pr1["review"]!["satisfied"]!.GetValue<bool>());
        var j1 = Assert.Single(p1["jira_issues"]!.AsArray())!;
        var linkedIssue = c1.JiraIssues[0];
        Assert.Equal("OPS-7", S(j1["key"]));
        Assert.Equal("Done", S(j1["status_at_review"]));
        Assert.Equal("done", S(j1["status_category_at_review"]));
        Assert.Equal(linkedIssue.StatusAtReviewAsOf, T(j1["status_at_review_as_of"]));
        // Read by a review check after the flip at the fake (not the declaration's "In Progress"), before the packet was made.
        Assert.InRange(T(j1["status_at_review_as_of"]), flippedAt, T(p1["generated_at"]));
        Assert.Equal("Done", S(j1["status"]));
        Assert.Equal(linkedIssue.FetchedAt, T(j1["status_as_of"]));
        Assert.Equal($"{Jira.Url}/browse/OPS-7", S(j1["url"]));
        Assert.True(j1["review"]!["satisfied"]!.GetValue<bool>());
        Assert.Contains(p1["evidence_checks"]!.AsArray(), e => S(e!["kind"]) == "SlackApproval" && e["satisfied"]!.GetValue<bool>());
        Assert.Null(p1["cancellation"]);
        var trail1 = trail(one);
        Assert.Equal(trail1.Select(e => e.Hash), p1["audit_trail"]!.AsArray().Select(e => S(e!["hash"])));
        Assert.Equal(trail1.Select(e => e.Type), p1["audit_trail"]!.AsArray().Select(e => S(e!["type"])));

        // ---- Reminded, overdue, escalated, change requested, refused self-approval, approved late.
        var c2 = Bot.Store.Get(two)!;
        var p2 = await JsonAsync($"/evidence/BG-{two}");
        var b2 = p2["bypass"]!;
        Assert.False(b2["granted"]!.GetValue<bool>());
        Assert.Null(b2["granted_at"]);
        Assert.Null(b2["expires_at"]);
        Assert.Null(b2["ended_at"]);
        Assert.StartsWith("not granted: GitHub answered 404 for team `acme/emergency-merge`", S(b2["not_granted_reason"]));
        var v2 = p2["verdict"]!;
        Assert.Equal("reviewed_late", S(v2["outcome"]));
        var late = c2.ReviewedAt!.Value - c2.DueAt;
        Assert.Equal((long)late.TotalSeconds, v2["late_by_seconds"]!.GetValue<long>());
        Assert.Equal($"reviewed late by {BreakGlassBot.EmergencyChanges.ReviewPolicy.Format(late)}", S(v2["text"]));
        var dl2 = p2["deadline"]!;
        Assert.Equal(c2.OverdueAt, T(dl2["overdue_at"]));
        Assert.Equal(c2.EscalatedAt, T(dl2["escalated_at"]));
        Assert.Equal([Manager, TestBot.Declarer], dl2["escalated_to"]!.AsArray().Select(S));
        var reminders = p2["reminders"]!.AsArray();
        Assert.Equal(c2.Reminders.Count, reminders.Count);
        Assert.Equal(c2.Reminders.Select(r => (r.Number, r.Kind, r.User, r.At)), reminders.Select(r => (r!["number"]!.GetValue<int>(), S(r["kind"]), S(r["to"]), T(r["decided_at"]))));
        Assert.Contains(reminders, r => S(r!["kind"]) == "reminder" && S(r["to"]) == Reviewer1 && r["sent_at"] is not null && S(r["sent_to"]) == "D" + Reviewer1);
        Assert.Contains(reminders, r => S(r!["kind"]) == "escalation" && S(r["to"]) == Manager && r["sent_at"] is not null);
        Assert.Contains(reminders, r => S(r!["kind"]) == "escalation" && S(r["to"]) == TestBot.Declarer && r["sent_at"] is not null);
        Assert.DoesNotContain(reminders, r => S(r!["to"]) == TestBot.Declarer && S(r["kind"]) == "reminder");
        var cr = Assert.Single(p2["change_requests"]!.AsArray())!;
        Assert.Equal(Reviewer2, S(cr["reviewer"]));
        Assert.Equal("Add the TTL rollback to the runbook", S(cr["reason"]));
        Assert.Equal(c2.ChangeRequests[0].At, T(cr["at"]));
        var refused = Assert.Single(p2["refused_approvals"]!.AsArray())!;
        Assert.Equal(TestBot.Declarer, S(refused["user"]));
        Assert.Contains("you declared this change", S(refused["reason"]));
        Assert.Equal([Reviewer1, Reviewer2], p2["approvals"]!.AsArray().Select(a => S(a!["reviewer"])));
        var ap2 = p2["approvals"]![0]!;
        Assert.False(ap2["within_window"]!.GetValue<bool>());
        Assert.Empty(p2["pull_requests"]!.AsArray());

        // ---- BG-3 cancelled, BG-4 open.
        var p3 = await JsonAsync($"/evidence/BG-{three}");
        Assert.Equal("cancelled", S(p3["verdict"]!["outcome"]));
        Assert.Equal(MistakenDeclarer, S(p3["cancellation"]!["by"]));
        Assert.Equal("declared twice by mistake", S(p3["cancellation"]!["reason"]));
        Assert.Equal(Bot.Store.Get(three)!.Cancellation!.At, T(p3["cancellation"]!["at"]));
        var p4 = await JsonAsync($"/evidence/BG-{four}");
        var expected4 = T(p4["generated_at"]) > Bot.Store.Get(four)!.DueAt ? "open_overdue" : "open";
        Assert.Equal(expected4, S(p4["verdict"]!["outcome"]));
        Assert.Null(p4["verdict"]!["reviewed_at"]);

        // ---- The period export (JSON), with the total number of changes for the break-glass rate.
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var from = today.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var to = today.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var export = await JsonAsync($"/evidence?from={from}&to={to}&total=30");
        Assert.Equal(from, S(export["window"]!["from"]));
        Assert.Equal("UTC", S(export["window"]!["time_zone"]));
        var summary = export["summary"]!;
        Assert.Equal(4, summary["changes"]!.GetValue<int>());
        Assert.Equal(1, summary["reviewed_on_time"]!.GetValue<int>());
        Assert.Equal(1, summary["reviewed_late"]!.GetValue<int>());
        Assert.Equal(1, summary["open"]!.GetValue<int>());
        Assert.Equal(1, summary["cancelled"]!.GetValue<int>());
        var minutes = new[] { c1, c2 }.Select(c => Math.Round((long)(c.ReviewedAt!.Value - c.DeclaredAt).TotalSeconds / 60.0, 1)).ToList();
        Assert.Equal(Math.Round((minutes[0] + minutes[1]) / 2, 1), summary["median_time_to_review_minutes"]!.GetValue<double>(), 3);
        Assert.Equal(7.0, summary["emergency_changes_per_week"]!.GetValue<double>(), 3); // 3 not cancelled in a 3-day window
        Assert.Equal(30, summary["total_changes"]!.GetValue<int>());
        Assert.Equal(0.1, summary["break_glass_rate"]!.GetValue<double>(), 4);
        Assert.True(export["audit_chain"]!["intact"]!.GetValue<bool>());
        Assert.Equal(Bot.Store.AuditCount(), export["audit_chain"]!["events"]!.GetValue<long>());
        var rows = export["changes"]!.AsArray();
        Assert.Equal(["BG-1", "BG-2", "BG-3", "BG-4"], rows.Select(r => S(r!["id"])));
        Assert.Equal(["reviewed_late", "reviewed_on_time", "cancelled", expected4], rows.Select(r => S(r!["verdict"])));
        Assert.All(rows, r => Assert.Equal("sealed", S(r!["integrity"]))); // every record is the state its trail sealed
        var r1 = rows[one - 1]!;
        Assert.Equal("Team", S(r1["bypass_mode"]));
        Assert.Equal(Team, S(r1["bypass_granted"]));
        Assert.Equal(bypass.GrantedAt, T(r1["bypass_granted_at"]));
        Assert.Equal(bypass.RevokedAt, T(r1["bypass_ended_at"]));
        Assert.Equal("acme/pay#42", S(r1["pull_requests"]));
        Assert.Equal("hubot", S(r1["pr_approved_by"]));
        Assert.Equal(approvedAt, T(r1["pr_approved_at"]));
        Assert.Equal(mergedAt, T(r1["pr_merged_at"]));
        Assert.Equal("OPS-7", S(r1["jira_issues"]));
        Assert.Equal("OPS-7: Done", S(r1["jira_status_at_review"]));
        Assert.Equal($"https://breakglass.example.com/evidence/BG-{one}", S(r1["evidence_url"]));
        var r2 = rows[two - 1]!;
        Assert.StartsWith("not granted: ", S(r2["bypass_granted"]));
        Assert.Null(r2["bypass_granted_at"]);
        Assert.Null(r2["bypass_ended_at"]);
        Assert.Equal(Math.Round((long)late.TotalSeconds / 60.0, 1), r2["late_by_minutes"]!.GetValue<double>(), 3);
        Assert.Equal(1, r2["change_requests"]!.GetValue<int>());
        Assert.Equal(2, r2["escalations"]!.GetValue<int>());
        Assert.Equal(c2.Reminders.Count(r => r.Kind != "escalation"), r2["reminders"]!.GetValue<int>());
        Assert.StartsWith(Reviewer1, S(r2["approvers"]));
        Assert.Equal("declared twice by mistake", S(rows[2]!["cancel_reason"]));

        // ---- The same export as CSV, read back with CsvHelper.
        var csvResponse = await Bot.Http.SendAsync(Get($"/evidence?from={from}&to={to}", accept: "text/csv"));
        Assert.Equal("text/csv", csvResponse.Content.Headers.ContentType!.MediaType);
        Assert.Contains("attachment", csvResponse.Content.Headers.ContentDisposition!.ToString());
        using var csv = CsvReader.FromText(await csvResponse.Content.ReadAsStringAsync(), null);
        var records = new List<Dictionary<string, string>>();
        while (csv.Read()) records.Add(csv.Headers!.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => csv.GetString(x.i)));
        Assert.Equal(EvidenceExport.ColumnNames, csv.Headers);
        Assert.Equal(4, records.Count);
        foreach (var (row, json) in records.Zip(rows))
            foreach (var column in EvidenceExport.ColumnNames)
            {
                var value = json![column];
                var expected = value switch
                {
                    null => "",
                    JsonValue v when v.TryGetValue<double>(out var number) => number.ToString(CultureInfo.InvariantCulture),
                    JsonValue v when v.TryGetValue<string>(out var text) && DateTimeOffset.TryParseExact(text, "yyyy-MM-ddTHH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
                        => time.ToString("O", CultureInfo.InvariantCulture),
                    _ => value.ToString(),
                };
                if (column == "summary" && expected.StartsWith('=')) expected = "'" + expected;
                Assert.True(expected == row[column], $"{row["id"]} {column}: CSV '{row[column]}', JSON '{expected}'");
            }
        Assert.Equal(c2.DeclaredAt, DateTimeOffset.Parse(records[two - 1]["declared_at"], CultureInfo.InvariantCulture));
        Assert.Equal("'=SUM(1+1) hotfix cache", records[3]["summary"]); // shown as text by a spreadsheet, not run

        // Outside the window: nothing.
        var later = today.AddDays(2).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var empty = await JsonAsync($"/evidence?from={later}&to={later}");
        Assert.Equal(0, empty["summary"]!["changes"]!.GetValue<int>());
        Assert.Empty(empty["changes"]!.AsArray());
        Assert.Equal(HttpStatusCode.BadRequest, (await Bot.Http.SendAsync(Get($"/evidence?from={to}&to={from}"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Bot.Http.SendAsync(Get("/evidence?from=2026-13-01&to=2026-12-31"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Bot.Http.SendAsync(Get("/evidence/BG-99"))).StatusCode);
    }
}
