using System.Net;
using System.Text.Json.Nodes;
using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Evidence.EvidenceHistoryTests;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>Program.Main writes to the process's console: these tests capture it, so they run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}

[Collection(ConsoleCollection.Name)]
[Trait("Category", "EndToEnd")]
public class AuditVerificationTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly string data = TestBot.NewDataDirectory();
    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    static readonly Dictionary<string, string?> Settings = new() { ["Evidence:ApiKeys:0"] = Key0 };

    /// <summary>verify-audit as the command line runs it, its console output captured (hence the console collection).</summary>
    internal static async Task<(int Code, string Output)> VerifyAuditAsync(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var captured = new StringWriter();
        Console.SetOut(captured);
        Console.SetError(captured);
        try { return (await Program.Main(["verify-audit", .. args]), captured.ToString()); }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    async Task<JsonNode> VerifyEndpointAsync()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings);
        var response = await bot.Http.SendAsync(Get("/evidence/verify", key: Key0));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    [Theory]
    [InlineData("edit the data of #4", 4, "altered")]
    [InlineData("delete #3", 3, "removed")]
    [InlineData("insert an event without a hash at #3, renumbering the rest", 3, "inserted")]
    public async Task TheEndpointAndTheCommandLineNameTheFirstEventThatWasTamperedWith(string tampering, long firstBad, string fault)
    {
        await using (var bot = await TestBot.StartAsync(slack, data, Settings))
        {
            await bot.CommandJsonAsync("Hotfix checkout");
            await bot.CommandJsonAsync("Rotate keys");
            await bot.CommandJsonAsync("Purge CDN cache");
            await bot.CommandJsonAsync("cancel BG-2 duplicate of BG-1");
            await Eventually.Until(() => Enumerable.Range(1, 3).All(i => bot.Store.Get(i)!.NextStepAt is null), "announced and noted");
            Assert.True(bot.Store.AuditCount() >= 6, "enough events to tamper with");
            var ok = JsonNode.Parse(await (await bot.Http.SendAsync(Get("/evidence/verify", key: Key0))).Content.ReadAsStringAsync())!;
            Assert.True(ok["intact"]!.GetValue<bool>(), ok.ToJsonString());
            Assert.Null(ok["first_break"]);
        }
        var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.True(code == 0, output);
        Assert.Contains("audit trail intact", output);

        AuditChainTests.Tamper(Path.Combine(data, "breakglass.db"), tampering);

        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.Equal(1, code);
        Assert.Contains("audit trail NOT intact", output);
        Assert.Contains($"event #{firstBad} ", output);

        var report = await VerifyEndpointAsync();
        Assert.False(report["intact"]!.GetValue<bool>());
        Assert.Equal(firstBad, report["first_break"]!["sequence"]!.GetValue<long>());
        Assert.Equal(fault, report["first_break"]!["fault"]!.GetValue<string>());
        Assert.Contains($"#{firstBad}", report["message"]!.GetValue<string>());
    }

    /// <summary>The command line as an operator runs it, its console captured (the console and Postgres collections run alone).</summary>
    internal static async Task<(int Code, string Output)> MainAsync(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var captured = new StringWriter();
        Console.SetOut(captured);
        Console.SetError(captured);
        try { return (await Program.Main(args), captured.ToString()); }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    [Fact]
    public async Task TheBotWillNotStartOnATrailWhoseMarkerWasDeletedAndMigrateAuditPutsTheReChainingOnTheRecord()
    {
        await using (var bot = await TestBot.StartAsync(slack, data, Settings))
        {
            await bot.CommandJsonAsync("Hotfix checkout");
            await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "announced");
        }
        using (var db = new LiteDB.LiteDatabase(new LiteDB.ConnectionString { Filename = Path.Combine(data, "breakglass.db"), Connection = LiteDB.ConnectionType.Direct }))
            db.GetCollection("counters").Delete(AuditChain.MarkerId);

        var (code, output) = await MainAsync($"--Storage:DataDirectory={data}", "--environment=Production");
        Assert.Equal(4, code);
        Assert.Contains("marker was deleted", output);
        (code, output) = await MainAsync("migrate-audit", $"--Storage:DataDirectory={data}");
        Assert.Equal(2, code);
        Assert.Contains("--reason", output);
        (code, output) = await MainAsync("migrate-audit", $"--Storage:DataDirectory={data}", "--reason=restored marker after ticket SEC-12");
        Assert.True(code == 0, output);

        var report = await VerifyEndpointAsync();
        Assert.True(report["intact"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Contains("already had hashes: the chain marker had been removed", report.ToJsonString());
        using var store = new ChangeStore(Path.Combine(data, "breakglass.db"));
        var record = Assert.Single(store.AuditTrail(0), e => e.Type == AuditChain.MigratedType);
        Assert.Equal("restored marker after ticket SEC-12", record.Data["reason"]);
        Assert.StartsWith("operator:", record.Actor);
    }

    [Fact]
    public async Task AnchorsPublishedOutsideTheBotCatchATruncatedOrRewrittenTrailThatStillVerifies()
    {
        var anchorDir = Path.Combine(data, "..", Path.GetFileName(data) + "-anchors");
        var anchorFile = Path.Combine(anchorDir, AuditAnchorPublisher.FileName);
        var settings = new Dictionary<string, string?>(Settings) { ["Evidence:AnchorDirectory"] = anchorDir, ["Evidence:AnchorWebhookUrl"] = slack.ResponseUrl("anchors") };
        try { await AnchorsCatchAsync(anchorDir, anchorFile, settings); }
        finally { try { Directory.Delete(anchorDir, recursive: true); } catch (IOException) { } }
    }

    async Task AnchorsCatchAsync(string anchorDir, string anchorFile, Dictionary<string, string?> settings)
    {
        long first, second;
        string firstHash;
        await using (var bot = await TestBot.StartAsync(slack, data, settings))
        {
            using (var connection = bot.Service<Hangfire.JobStorage>().GetConnection())
                Assert.Contains(Hangfire.Storage.StorageConnectionExtensions.GetRecurringJobs(connection), j => j.Id == AuditAnchorPublisher.RecurringId && j.Cron == "0 * * * *");
            await bot.CommandJsonAsync("Hotfix checkout");
            await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "announced");
            var a1 = (await bot.Service<AuditAnchorPublisher>().PublishAsync("test", CancellationToken.None))!;
            await bot.CommandJsonAsync("Rotate keys");
            await bot.CommandJsonAsync("Purge CDN cache");
            await Eventually.Until(() => bot.Store.Get(3)?.NextStepAt is null && bot.Store.Get(2)?.NextStepAt is null, "announced");
            // An export publishes the head it vouches for.
            Assert.Equal(HttpStatusCode.OK, (await bot.Http.SendAsync(Get("/evidence?from=2020-01-01&to=2030-01-01", key: Key0))).StatusCode);
            await Eventually.Until(() => File.Exists(anchorFile) && File.ReadAllLines(anchorFile).Any(l => l.Contains("\"reason\":\"export\"")), "the export's anchor");
            // The job notes the head it published after the file and the webhook: until then it would publish it again.
            await Eventually.Until(() => bot.Store.Document<LastAnchor>(LastAnchor.Collection, LastAnchor.DocumentId)?.Sequence
                == AuditAnchor.ReadLines(File.ReadAllLines(anchorFile)).Max(a => a.LastSequence), "the export's anchor noted");
            (first, firstHash, second) = (a1.LastSequence, a1.LastHash!, AuditAnchor.ReadLines(File.ReadAllLines(anchorFile)).Max(a => a.LastSequence));
            // A burst of exports publishes an unchanged head once; the hourly anchor still goes.
            var lines = File.ReadAllLines(anchorFile).Length;
            Assert.Null(await bot.Service<AuditAnchorPublisher>().PublishAsync("export", CancellationToken.None));
            Assert.Equal(lines, File.ReadAllLines(anchorFile).Length);
            Assert.NotNull(await bot.Service<AuditAnchorPublisher>().PublishAsync("schedule", CancellationToken.None));
            Assert.True(second > first + 1, $"anchors at #{first} and #{second}");
        }
        Assert.Contains(slack.Responses, c => c.Body.Contains($"\"last_sequence\":{first}") && c.Body.Contains(firstHash));

        var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", anchorFile);
        Assert.True(code == 0, output);
        Assert.Contains("anchor(s) match", output);

        var file = Path.Combine(data, "breakglass.db");
        var copy = file + ".before-truncation";
        File.Copy(file, copy);
        // Drop every event after the first anchor and rewind the head: the chain alone cannot tell.
        using (var db = new LiteDB.LiteDatabase(new LiteDB.ConnectionString { Filename = file, Connection = LiteDB.ConnectionType.Direct }, ChangeStore.CreateMapper()))
        {
            db.GetCollection<AuditEvent>("audit").DeleteMany(e => e.Sequence > first);
            var head = db.GetCollection("counters").FindById(AuditChain.HeadId);
            (head["value"], head["hash"]) = (first, firstHash);
            db.GetCollection("counters").Update(head);
        }
        // The chain alone cannot tell; the change records that outlived their events can, and the anchor names the cut.
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.Equal(1, code);
        Assert.Contains("audit trail intact, but", output);
        Assert.Contains("BG-3: the change is in the store but not in the audit trail", output);
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", anchorFile);
        Assert.Equal(1, code);
        Assert.Contains($"the trail ends at #{first}, before the event #{second} anchored", output);

        // Rewrite instead: edit event #2 and re-seal everything after it, head included. Intact again, but not what was anchored.
        File.Copy(copy, file, overwrite: true);
        using (var db = new LiteDB.LiteDatabase(new LiteDB.ConnectionString { Filename = file, Connection = LiteDB.ConnectionType.Direct }, ChangeStore.CreateMapper()))
        {
            var audit = db.GetCollection<AuditEvent>("audit");
            var previous = audit.FindOne(e => e.Sequence == 1).Hash!;
            foreach (var e in audit.Find(e => e.Sequence >= 2).OrderBy(e => e.Sequence).ToList())
            {
                if (e.Sequence == 2) e.Actor = "U0SOMEONE_ELSE";
                AuditChain.Seal(e, previous);
                audit.Update(e);
                previous = e.Hash!;
            }
            var head = db.GetCollection("counters").FindById(AuditChain.HeadId);
            head["hash"] = previous;
            db.GetCollection("counters").Update(head);
        }
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.True(code == 0, "the re-sealed rewrite verifies without an anchor: " + output);
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", $"--expect={first}:{firstHash}");
        Assert.Equal(1, code);
        Assert.Contains($"event #{first} is not the one anchored", output);

        // Nothing quietly turns the anchor check off: a misspelt option, an empty file, an anchor of a broken trail.
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", $"--Expect={first}:{firstHash}");
        Assert.Equal(2, code);
        Assert.Contains("Unknown option --Expect", output);
        var empty = Path.Combine(anchorDir, "empty.jsonl");
        File.WriteAllText(empty, "\n");
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", empty);
        Assert.Equal(2, code);
        Assert.Contains("holds no anchor", output);
        var broken = Path.Combine(anchorDir, "broken.jsonl");
        File.WriteAllText(broken, new AuditAnchor(999, null, 999, DateTimeOffset.UtcNow, "schedule", Intact: false, "event #3 was altered").ToJsonLine());
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", broken);
        Assert.Equal(1, code);
        Assert.Contains("before the event #999 anchored", output);
    }

    [Fact]
    public async Task TheCommandLineRefusesADataDirectoryARunningBotHolds()
    {
        await using var bot = await TestBot.StartAsync(slack, data, Settings);
        await bot.CommandJsonAsync("Hotfix checkout");
        var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.Equal(2, code);
        Assert.Contains("in use by a running bot", output);
        Assert.Contains("/evidence/verify", output);
        await bot.StopAsync();
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task TheCommandLineVerifiesACopyWithoutWritingIntoIt()
    {
        await using (var bot = await TestBot.StartAsync(slack, data, Settings))
        {
            await bot.CommandJsonAsync("Hotfix checkout");
            await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "announced");
        }
        // What an auditor is handed: the data file alone, no lock file beside it.
        var copy = TestBot.NewDataDirectory();
        try
        {
            Directory.CreateDirectory(copy);
            File.Copy(Path.Combine(data, "breakglass.db"), Path.Combine(copy, "breakglass.db"));
            var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={copy}");
            Assert.True(code == 0, output);
            Assert.Contains("audit trail intact", output);
            Assert.Equal(["breakglass.db"], Directory.GetFiles(copy).Select(Path.GetFileName));
        }
        finally { try { Directory.Delete(copy, true); } catch (IOException) { } }
    }

    [Fact]
    public async Task TheCommandLineSaysWhenThereIsNoDataFileOrTheConfigurationIsBad()
    {
        var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.Equal(2, code);
        Assert.Contains("No data file", output);
        (code, output) = await VerifyAuditAsync("--Policy:ReviewWindow=soon");
        Assert.Equal(2, code);
        Assert.Contains("Policy:ReviewWindow", output);
    }
    [Fact]
    public async Task AForgedApprovalAndStatusMakeThePacketTheExportAndBothVerificationsSayTampered()
    {
        await using (var bot = await TestBot.StartAsync(slack, data, Settings))
        {
            await bot.CommandJsonAsync("Hotfix checkout");
            await bot.CommandJsonAsync("Rotate keys");
            await Eventually.Until(() => bot.Store.Get(1)?.NextStepAt is null && bot.Store.Get(2)?.NextStepAt is null, "announced");
            var packet = JsonNode.Parse(await (await bot.Http.SendAsync(Get("/evidence/BG-1", key: Key0))).Content.ReadAsStringAsync())!;
            Assert.Equal("sealed", packet["integrity"]!["status"]!.GetValue<string>());
            Assert.Equal("open", packet["verdict"]!["outcome"]!.GetValue<string>());
        }
        // With the bot stopped, a LiteDB editor adds an approval by a friend and marks the change reviewed on time.
        using (var db = new LiteDB.LiteDatabase(new LiteDB.ConnectionString { Filename = Path.Combine(data, "breakglass.db"), Connection = LiteDB.ConnectionType.Direct }, ChangeStore.CreateMapper()))
        {
            var changes = db.GetCollection<EmergencyChange>("changes");
            var c = changes.FindById(1);
            c.Approvals.Add(new Approval { Reviewer = "U0FRIEND", At = c.DeclaredAt.AddMinutes(30), Source = "button" });
            (c.Status, c.ReviewedAt) = (ChangeStatus.Reviewed, c.DeclaredAt.AddMinutes(31));
            changes.Update(c);
        }

        var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}");
        Assert.Equal(1, code);
        Assert.Contains("audit trail intact, but 1 change record(s) were TAMPERED with", output);
        Assert.Contains("BG-1: the record says reviewed, but the trail has no reviewed event", output);
        Assert.Contains("BG-1: the record lists an approval by U0FRIEND that the trail does not record", output);
        Assert.DoesNotContain("BG-2", output);

        await using (var bot = await TestBot.StartAsync(slack, data, Settings))
        {
            async Task<JsonNode> Json(string path) => JsonNode.Parse(await (await bot.Http.SendAsync(Get(path, key: Key0))).Content.ReadAsStringAsync())!;
            var verify = await Json("/evidence/verify");
            Assert.False(verify["intact"]!.GetValue<bool>(), verify.ToJsonString());
            Assert.True(verify["chain_intact"]!.GetValue<bool>());
            Assert.All(verify["tampered_records"]!.AsArray(), p => Assert.Equal("BG-1", p!["change"]!.GetValue<string>()));
            Assert.Contains("TAMPERED", verify["message"]!.GetValue<string>());

            var packet = await Json("/evidence/BG-1");
            Assert.Equal("tampered", packet["integrity"]!["status"]!.GetValue<string>());
            Assert.Equal("tampered", packet["verdict"]!["outcome"]!.GetValue<string>());
            Assert.StartsWith("TAMPERED: the record claims \"reviewed on time", packet["verdict"]!["text"]!.GetValue<string>());
            Assert.Contains(packet["integrity"]!["problems"]!.AsArray(), p => p!.GetValue<string>().Contains("U0FRIEND", StringComparison.Ordinal));
            var html = await (await bot.Http.SendAsync(Get("/evidence/BG-1?format=html", key: Key0))).Content.ReadAsStringAsync();
            Assert.Contains("class=\"verdict tampered\" id=\"verdict\">Verdict: TAMPERED", html);
            Assert.Equal("sealed", (await Json("/evidence/BG-2"))["integrity"]!["status"]!.GetValue<string>());

            var export = await Json("/evidence?from=2020-01-01&to=2040-01-01");
            Assert.Equal(["tampered", "open"], export["changes"]!.AsArray().Select(r => r!["verdict"]!.GetValue<string>()));
            Assert.Equal(["tampered", "sealed"], export["changes"]!.AsArray().Select(r => r!["integrity"]!.GetValue<string>()));
            Assert.Equal((1, 0), (export["summary"]!["tampered"]!.GetValue<int>(), export["summary"]!["reviewed_on_time"]!.GetValue<int>()));
            Assert.False(export["audit_chain"]!["intact"]!.GetValue<bool>());
        }
    }
}
