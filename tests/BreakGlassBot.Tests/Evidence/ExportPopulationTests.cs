using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Evidence;
using BreakGlassBot.Tests.Support;
using CsvHelper;
using static BreakGlassBot.Tests.Evidence.EvidenceHistoryTests;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>
/// The period export's population of merged changes (Detection:Enabled): merge records and cases written into the real
/// bot's store, a declaration through the slash command, a case cancelled by an admin's command, then the export fetched
/// over HTTP (JSON, the population CSV), from /breakglass export, and a detected case's packet.
/// </summary>
[Trait("Category", "EndToEnd")]
public class ExportPopulationTests : IAsyncLifetime
{
    const string Sha = "5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b";
    const string Reason = "merged without an approving review by someone other than its author";
    readonly FakeSlack slack = new();
    readonly DateTimeOffset now = DateTimeOffset.UtcNow;

    public Task InitializeAsync() => slack.StartAsync();
    public async Task DisposeAsync() => await slack.DisposeAsync();

    internal static Dictionary<string, string?> Settings(bool detection) => new()
    {
        ["Evidence:ApiKeys:0"] = Key0,
        ["Slack:Managers:0"] = Manager,
        ["Detection:Enabled"] = detection ? "true" : "false",
        ["Detection:GracePeriod"] = "01:00:00",
        // Nothing of the detection engine's own schedule runs during the test: the records are the ones written here.
        ["Detection:CheckInterval"] = "1.00:00:00",
        ["Detection:RuleSuitesInterval"] = "00:00:00",
        ["Detection:SweepCron"] = "0 0 1 1 *",
        // The admin who dismisses a case must be someone the bot can tell from its merger.
        [$"People:{TestBot.Admin}:GitHub"] = "the-admin",
    };

    string Window => $"from={now.AddDays(-1):yyyy-MM-dd}&to={now.AddDays(1):yyyy-MM-dd}";

    internal static MergeRecord Save(TestBot bot, int number, TimeSpan ago, string verdict, Action<MergeRecord>? configure = null) =>
        new MergeRecords(bot.Store).Save(MergeRecord.PullRequestId("acme/api", number), _ =>
        {
            var at = DateTimeOffset.UtcNow - ago;
            var r = new MergeRecord
            {
                Id = MergeRecord.PullRequestId("acme/api", number), Kind = DetectedBypass.PullRequestKind, Repository = "acme/api", Branch = "main", Number = number,
                Actor = "dev" + number, MergedAt = at, FirstSeenAt = at, FoundBy = ["webhook"], Verdict = verdict,
            };
            configure?.Invoke(r);
            return r;
        });

    /// <summary>A detected case as the detection engine opens one: source "detected", the merge in .Detected, tracked a day ahead.</summary>
    internal static int Case(TestBot bot, MergeRecord r, TimeSpan dueIn, TimeSpan? reviewedAgo = null, bool reviewedEvent = true)
    {
        var n = DateTimeOffset.UtcNow;
        var draft = new EmergencyChange
        {
            DeclaredBy = TestBot.Declarer, Summary = $"Detected: {r.Describe()} merged without review", DeclaredAt = n - TimeSpan.FromMinutes(30), DueAt = n + dueIn,
            NextCheckAt = n + TimeSpan.FromDays(1), Source = DetectedBypass.SourceName, ReviewedAt = n - reviewedAgo, Status = reviewedAgo is null ? ChangeStatus.Open : ChangeStatus.Reviewed,
            Detected = new DetectedBypass
            {
                Key = r.Id, Kind = r.Kind, Repository = r.Repository, Branch = r.Branch, Number = r.Number, Sha = r.Sha, Commits = r.Commits, Actor = r.Actor,
                ActorId = 4242, MergedAt = r.MergedAt, Reason = Reason, FoundBy = r.FoundBy,
            },
        };
        // A reviewed record needs its reviewed event, or the export calls it tampered.
        var id = bot.Store.Declare(draft, c => reviewedAgo is null || !reviewedEvent ? []
            : [new AuditEvent { ChangeNumber = c.Id, At = c.ReviewedAt!.Value, Actor = "U0REVIEWER", Type = AuditTypes.Reviewed }]).Change.Id;
        new MergeRecords(bot.Store).Save(r.Id, existing => { existing!.CaseId = id; existing.Reason = Reason; return existing; });
        return id;
    }

    /// <summary>Every category: declared (by the command), detected (on time, overdue, cancelled by an admin, a direct push still open), reviewed before merge, automation, not settled (failing check, grace period), and one from before the window.</summary>
    async Task<(int Declared, int OnTime, int Overdue, int Cancelled, int Push)> SeedAsync(TestBot bot)
    {
        var reply = await bot.CommandJsonAsync("Hotfix checkout acme/api#1");
        Assert.Contains("BG-1", reply["text"]!.GetValue<string>());
        Save(bot, 1, TimeSpan.FromHours(5), Verdicts.Unreviewed, r => r.DeclaredAs = 1);
        var onTime = Case(bot, Save(bot, 2, TimeSpan.FromHours(5), Verdicts.Unreviewed), TimeSpan.FromDays(1), reviewedAgo: TimeSpan.FromMinutes(10));
        var overdue = Case(bot, Save(bot, 3, TimeSpan.FromHours(5), Verdicts.Unreviewed), -TimeSpan.FromHours(1));
        var cancelled = Case(bot, Save(bot, 4, TimeSpan.FromHours(5), Verdicts.Unreviewed, r => r.Actor = "deploy-helper"), TimeSpan.FromDays(1));
        var cancel = await bot.CommandJsonAsync($"cancel BG-{cancelled} the merge was the release bot's, not a person's", TestBot.Admin);
        Assert.Contains("is cancelled", cancel["text"]!.GetValue<string>());
        var push = new MergeRecords(bot.Store).Save(MergeRecord.PushId("acme/api", Sha), _ => new MergeRecord
        {
            Id = MergeRecord.PushId("acme/api", Sha), Kind = DetectedBypass.DirectPushKind, Repository = "acme/api", Branch = "main", Sha = Sha, Commits = [Sha],
            Actor = "night-owl", MergedAt = now - TimeSpan.FromHours(4), FirstSeenAt = now - TimeSpan.FromHours(4), FoundBy = ["webhook", "rule_suite"],
            Verdict = Verdicts.Unreviewed,
        });
        var pushCase = Case(bot, push, TimeSpan.FromDays(2));
        Save(bot, 5, TimeSpan.FromHours(3), Verdicts.ReviewedBeforeMerge, r => (r.ApprovedBy, r.ApprovedAt) = ("rev1", now - TimeSpan.FromHours(4)));
        Save(bot, 6, TimeSpan.FromHours(3), Verdicts.Ignored, r => r.Actor = "release-bot");
        Save(bot, 7, TimeSpan.FromHours(2), Verdicts.Pending, r => (r.LastError, r.Attempts) = ("GitHub answered 502 Bad Gateway", 2));
        Save(bot, 8, TimeSpan.FromMinutes(5), Verdicts.Unreviewed);
        Save(bot, 9, TimeSpan.FromDays(10), Verdicts.ReviewedBeforeMerge); // before the window
        return (1, onTime, overdue, cancelled, pushCase);
    }

    static async Task<JsonNode> ExportJsonAsync(TestBot bot, string query)
    {
        var response = await bot.Http.SendAsync(Get("/evidence?" + query, key: Key0));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    static string S(JsonNode? node) => node!.GetValue<string>();
    static int I(JsonNode? node) => node!.GetValue<int>();

    [Fact]
    public async Task TheExportCountsEveryMergedChangeAndListsEachForSampling()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Settings(detection: true));
        var ids = await SeedAsync(bot);

        var export = await ExportJsonAsync(bot, Window);
        var population = export["population"]!;
        Assert.True(population["collected"]!.GetValue<bool>());
        Assert.True(population["adds_up"]!.GetValue<bool>());
        var f = population["figures"]!;
        Assert.Equal(9, I(f["merged_changes"]));
        Assert.Equal(1, I(f["reviewed_before_merge"]));
        Assert.Equal(1, I(f["declared"]!["total"]));
        Assert.Equal(4, I(f["detected"]!["total"]));
        Assert.Equal(1, I(f["detected"]!["reviewed_on_time"]));
        Assert.Equal(1, I(f["detected"]!["open_overdue"]));
        Assert.Equal(1, I(f["detected"]!["open"]));
        Assert.Equal(1, I(f["detected"]!["cancelled"]));
        Assert.Equal(1, I(f["automation"]));
        Assert.Equal(2, I(f["not_settled"]!["total"]));
        Assert.Equal(1, I(f["not_settled"]!["check_failing"]));
        Assert.Equal(1, I(f["not_settled"]!["in_grace_period"]));
        Assert.Equal(I(f["merged_changes"]), I(f["reviewed_before_merge"]) + I(f["declared"]!["total"]) + I(f["detected"]!["total"]) + I(f["automation"]) + I(f["not_settled"]!["total"]));
        Assert.StartsWith("9 change(s) merged or pushed to the watched branches: 1 reviewed before merge, 1 declared, 4 detected", S(population["statement"]));
        Assert.Contains("2 not yet settled", S(population["statement"]));

        // Every record's row, so an auditor can sample: the one before the window is not among them.
        var rows = population["rows"]!.AsArray();
        Assert.Equal(9, rows.Count);
        Assert.DoesNotContain(rows, r => S(r!["id"]) == "pr:acme/api#9");
        foreach (var category in new[] { "declared", "detected", "reviewed_before_merge", "automation", "not_settled" })
            Assert.Equal(I(category is "declared" or "detected" or "not_settled" ? f[category]!["total"] : f[category]), rows.Count(r => S(r!["category"]) == category));
        JsonNode Row(string id) => rows.Single(r => S(r!["id"]) == id)!;
        Assert.Equal(("declared", "BG-1"), (S(Row("pr:acme/api#1")["category"]), S(Row("pr:acme/api#1")["change_id"])));
        var cancelledRow = Row("pr:acme/api#4");
        Assert.Equal(("detected", "cancelled", $"BG-{ids.Cancelled}", "deploy-helper"),
            (S(cancelledRow["category"]), S(cancelledRow["sub_category"]), S(cancelledRow["change_id"]), S(cancelledRow["actor"])));
        Assert.Contains($"cancelled by {TestBot.Admin} at ", S(cancelledRow["reason"]));
        Assert.EndsWith(": the merge was the release bot's, not a person's", S(cancelledRow["reason"]));
        var pushRow = Row($"push:acme/api@{Sha}");
        Assert.Equal(("direct_push", Sha, "night-owl", "open", "webhook rule_suite"),
            (S(pushRow["kind"]), S(pushRow["sha"]), S(pushRow["actor"]), S(pushRow["sub_category"]), S(pushRow["found_by"])));
        Assert.Contains("GitHub answered 502 Bad Gateway", S(Row("pr:acme/api#7")["reason"]));
        Assert.Contains("waiting for a declaration until", S(Row("pr:acme/api#8")["reason"]));
        Assert.Equal("approved by rev1", S(Row("pr:acme/api#5")["reason"])[..16]);

        // The list of changes shows where each came from: the detected ones with their PR or commit and who merged it.
        var changes = export["changes"]!.AsArray();
        JsonNode Change(int id) => changes.Single(c => S(c!["id"]) == $"BG-{id}")!;
        Assert.Equal(("declared", null), (S(Change(ids.Declared)["source"]), Change(ids.Declared)["detected_change"]));
        Assert.Equal(("detected", "acme/api#3", "dev3"), (S(Change(ids.Overdue)["source"]), S(Change(ids.Overdue)["detected_change"]), S(Change(ids.Overdue)["detected_actor"])));
        Assert.Equal(("detected", $"acme/api@{Sha}", "night-owl"), (S(Change(ids.Push)["source"]), S(Change(ids.Push)["detected_change"]), S(Change(ids.Push)["detected_actor"])));
        Assert.Equal("cancelled", S(Change(ids.Cancelled)["verdict"]));
        // What the export did before the population is still there.
        Assert.Equal(5, I(export["summary"]!["changes"]));
        Assert.True(export["audit_chain"]!["intact"]!.GetValue<bool>());

        // The same rows as CSV, for a spreadsheet.
        var csvResponse = await bot.Http.SendAsync(Get($"/evidence?{Window}&format=csv&part=population", key: Key0));
        Assert.Equal(HttpStatusCode.OK, csvResponse.StatusCode);
        Assert.Contains("breakglass-population-", csvResponse.Content.Headers.ContentDisposition!.ToString());
        using var csv = CsvReader.FromText(await csvResponse.Content.ReadAsStringAsync(), null);
        var records = new List<Dictionary<string, string>>();
        while (csv.Read()) records.Add(csv.Headers!.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => csv.GetString(x.i)));
        Assert.Equal(EvidenceExport.PopulationColumnNames, csv.Headers);
        Assert.Equal(rows.Select(r => S(r!["id"])), records.Select(r => r["id"]));
        Assert.Equal(rows.Select(r => S(r!["category"])), records.Select(r => r["category"]));
        Assert.Equal(HttpStatusCode.BadRequest, (await bot.Http.SendAsync(Get($"/evidence?{Window}&part=everything", key: Key0))).StatusCode);
    }

    [Fact]
    public async Task ACaseWhoseRecordDisagreesWithItsTrailIsMarkedOnItsRow()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Settings(detection: true));
        // Reviewed in the record only: no reviewed event in the trail, as if someone edited the file.
        var id = Case(bot, Save(bot, 1, TimeSpan.FromHours(2), Verdicts.Unreviewed), TimeSpan.FromDays(1), reviewedAgo: TimeSpan.FromMinutes(5), reviewedEvent: false);
        var export = await ExportJsonAsync(bot, Window);
        Assert.Equal("tampered", S(export["changes"]![0]!["verdict"]));
        var row = export["population"]!["rows"]![0]!;
        Assert.Equal($"BG-{id}", S(row["change_id"]));
        Assert.StartsWith($"TAMPERED: the record of BG-{id} disagrees with its sealed audit trail; it claims: ", S(row["reason"]));
    }

    [Fact]
    public async Task ADetectedCasesPacketShowsItsSource()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Settings(detection: true));
        var ids = await SeedAsync(bot);

        var packet = await bot.Http.SendAsync(Get($"/evidence/BG-{ids.Push}", key: Key0));
        var json = JsonNode.Parse(await packet.Content.ReadAsStringAsync())!;
        Assert.Equal("detected", S(json["source"]));
        Assert.Equal(($"acme/api@{Sha}", "direct_push", "night-owl", 4242L, Reason),
            (S(json["detected"]!["change"]), S(json["detected"]!["kind"]), S(json["detected"]!["actor"]), json["detected"]!["actor_id"]!.GetValue<long>(), S(json["detected"]!["reason"])));
        Assert.Equal(["webhook", "rule_suite"], json["detected"]!["found_by"]!.AsArray().Select(S));
        var declared = JsonNode.Parse(await (await bot.Http.SendAsync(Get($"/evidence/BG-{ids.Declared}", key: Key0))).Content.ReadAsStringAsync())!;
        Assert.Equal("declared", S(declared["source"]));
        Assert.Null(declared["detected"]);

        var html = await (await bot.Http.SendAsync(Get($"/evidence/BG-{ids.Push}?format=html", key: Key0))).Content.ReadAsStringAsync();
        Assert.Contains("<h2 id=\"detected\">Detected</h2>", html);
        Assert.Contains("Source: detected. Nobody declared this change", html);
        Assert.Contains($"<code>acme/api@{Sha}</code> to main", html);
        Assert.Contains("night-owl (GitHub user 4242)", html);
        var declaredHtml = await (await bot.Http.SendAsync(Get($"/evidence/BG-{ids.Declared}?format=html", key: Key0))).Content.ReadAsStringAsync();
        Assert.DoesNotContain("id=\"detected\"", declaredHtml);
    }

    [Fact]
    public async Task TheExportCommandGivesThePopulationStatementAndItsLink()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Settings(detection: true));
        await SeedAsync(bot);
        var figures = await CommandFiguresAsync(bot);
        Assert.Contains("5 change(s): 1 reviewed on time, 0 late, 3 still open (1 overdue), 1 cancelled.", figures);
        var line = figures.Split('\n').Last();
        Assert.StartsWith("Population: 9 change(s) merged or pushed to the watched branches: 1 reviewed before merge, 1 declared, 4 detected", line);
        Assert.Contains($"format=csv&amp;part=population", line);
    }

    [Fact]
    public async Task WithDetectionOffTheExportSaysThePopulationIsNotCollected()
    {
        await using var bot = await TestBot.StartAsync(slack, settings: Settings(detection: false));
        await bot.CommandJsonAsync("Hotfix checkout");
        Save(bot, 1, TimeSpan.FromHours(1), Verdicts.ReviewedBeforeMerge); // a record left from when it was on: not counted

        var export = await ExportJsonAsync(bot, Window + "&total=10");
        var population = export["population"]!;
        Assert.False(population["collected"]!.GetValue<bool>());
        Assert.StartsWith("Not collected: Detection:Enabled is off", S(population["statement"]));
        Assert.Null(population["figures"]);
        Assert.Empty(population["rows"]!.AsArray());
        Assert.Equal(0.1, export["summary"]!["break_glass_rate"]!.GetValue<double>()); // the rate is still given
        Assert.Equal(HttpStatusCode.NotFound, (await bot.Http.SendAsync(Get($"/evidence?{Window}&format=csv&part=population", key: Key0))).StatusCode);

        var figures = await CommandFiguresAsync(bot);
        Assert.Contains("1 change(s)", figures);
        Assert.EndsWith("Population: Not collected: Detection:Enabled is off, so merged changes that were neither declared nor reviewed are not looked for; "
            + "this export covers declared emergency changes only.", figures);
    }

    async Task<string> CommandFiguresAsync(TestBot bot)
    {
        var before = slack.Responses.Count;
        var response = await bot.SendSignedAsync("/slack/commands",
            TestBot.CommandForm($"export {now.AddDays(-1):yyyy-MM-dd} {now.AddDays(1):yyyy-MM-dd}", Manager, responseUrl: slack.ResponseUrl("export")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Eventually.Until(() => slack.Responses.Count > before, "the figures are sent to response_url");
        return JsonNode.Parse(slack.Responses.Last().Body)!["text"]!.GetValue<string>();
    }
}
