using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.EmergencyChanges;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// <c>migrate-store --to</c> moves an embedded data directory into an empty PostgreSQL database as it is: the same numbers,
/// audit sequences and hashes, so verify-audit says the same on both sides, and a replica carries on from there. Runs the
/// command line as an operator does (its console captured: the Postgres collection runs alone).
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "EndToEnd")]
public class StoreMigrationTests(PostgresServer postgres) : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly string data = TestBot.NewDataDirectory();

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    static Task<(int Code, string Output)> RunAsync(params string[] args) => Evidence.AuditVerificationTests.MainAsync(args);

    /// <summary>verify-audit's verdict without where it looked: "audit trail intact: N event(s), last #S, last hash H".</summary>
    static string Verdict(string output) => Regex.Match(output, @"audit trail [^\n]*").Value.Trim();

    /// <summary>A data directory with declared, approved, cancelled and bypassed changes, linked accounts and a long trail.</summary>
    async Task<(int Changes, long Events)> WriteHistoryAsync()
    {
        await using var bot = await TestBot.StartAsync(slack, data, new Dictionary<string, string?> { ["Slack:Reviewers:0"] = ApprovalTests.Reviewer1 });
        await bot.CommandJsonAsync("Roll back the payments deploy https://github.com/acme/payments/pull/42 OPS-7");
        await bot.Until(() => bot.Store.Get(1)!.Announcement is not null, "announced");
        await bot.InteractionAsync(ApprovalTests.Click(ApprovalTests.Reviewer1, ReviewActions.Approve, "BG-1"));
        await bot.Until(() => bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "approved");
        await bot.CommandJsonAsync("Raise the connection limit");
        await bot.CommandJsonAsync("cancel BG-2 declared in the wrong channel");
        bot.Store.LinkAccount(ApprovalTests.Reviewer1, "github", "octocat");
        for (var i = 0; i < 120; i++)
        {
            var (change, _) = await bot.Store.DeclareAsync(new EmergencyChange { DeclaredBy = TestBot.Declarer, Summary = $"Hotfix {i}", DeclaredAt = DateTimeOffset.UtcNow,
                DueAt = DateTimeOffset.UtcNow.AddDays(2), Bypass = i % 10 == 0 ? new Bypass { Mode = "RecordOnly", GrantedAt = DateTimeOffset.UtcNow } : null }, c =>
                [new AuditEvent { ChangeNumber = c.Id, At = DateTimeOffset.UtcNow, Actor = TestBot.Declarer, Type = AuditTypes.Declared, Data = new() { ["summary"] = c.Summary } }]);
            await bot.Store.UpdateAsync(change.Id, c => { c.Justification = $"pager {i}"; return []; });
        }
        await bot.Until(() => bot.Store.WithDueSteps(DateTimeOffset.UtcNow.AddSeconds(1)).Count == 0, "the outbox settled");
        return (bot.Store.Count(), bot.Store.AuditCount());
    }

    [Fact]
    public async Task ADataDirectoryMovesVerbatimAndVerifiesTheSameOnBothSides()
    {
        var (changes, events) = await WriteHistoryAsync();
        Assert.True(events > 200, $"a long trail ({events} events)");
        var db = await postgres.NewDatabaseAsync();

        var (code, output) = await RunAsync("migrate-store", "--to", db, $"--Storage:DataDirectory={data}");
        Assert.True(code == 0, output);
        Assert.Contains($"copied {changes} change(s) (last BG-{changes})", output);
        Assert.DoesNotContain("MISMATCH", output);

        var (fileCode, fromFile) = await RunAsync("verify-audit", $"--Storage:DataDirectory={data}");
        var (dbCode, fromDb) = await RunAsync("verify-audit", "--Storage:Store=PostgreSql", $"--Storage:ConnectionString={db}");
        Assert.Equal((0, 0), (fileCode, dbCode));
        Assert.StartsWith($"audit trail intact: {events} event(s), last #{events}, last hash ", Verdict(fromFile));
        Assert.Equal(Verdict(fromFile), Verdict(fromDb));
        Assert.Contains("postgresql://127.0.0.1", fromDb);
        Assert.DoesNotContain("Password", fromDb, StringComparison.OrdinalIgnoreCase);

        // Moved once: a second run refuses, and what was copied stays as it was.
        var (again, refusal) = await RunAsync("migrate-store", "--to", db, $"--Storage:DataDirectory={data}");
        Assert.Equal(2, again);
        Assert.Contains("not empty", refusal);

        // A replica on the database carries on: the same records, the next number after the last.
        var fresh = TestBot.NewDataDirectory();
        await using var replica = await TestBot.StartAsync(slack, fresh, new Dictionary<string, string?> { ["Storage:Store"] = "PostgreSql", ["Storage:ConnectionString"] = db });
        var first = replica.Store.Get(1)!;
        Assert.Equal((ChangeStatus.Reviewed, ApprovalTests.Reviewer1), (first.Status, Assert.Single(first.Approvals).Reviewer));
        Assert.Equal(ChangeStatus.Cancelled, replica.Store.Get(2)!.Status);
        Assert.Equal("octocat", replica.Store.LinkedAccount(ApprovalTests.Reviewer1, "github"));
        Assert.Contains("Roll back the payments deploy", (await replica.CommandJsonAsync("status BG-1")).ToJsonString());
        Assert.Contains($"BG-{changes + 1}", (await replica.CommandJsonAsync("One more fix")).ToJsonString());
        Assert.True(replica.Store.VerifyAuditChain().Trustworthy, replica.Store.VerifyAuditChain().Describe());
    }

    [Fact]
    public async Task ATamperedTrailIsNotMovedAndTheTargetStaysEmpty()
    {
        await WriteHistoryAsync();
        AuditChainTests.Tamper(Path.Combine(data, "breakglass.db"), "edit the data of #4");
        var db = await postgres.NewDatabaseAsync();

        var (code, output) = await RunAsync("migrate-store", "--to", db, $"--Storage:DataDirectory={data}");
        Assert.Equal(2, code);
        Assert.Contains("NOT intact", output);
        // Nothing was created there either: verify-audit, which never creates or upgrades a schema, finds no store.
        var (verified, fromDb) = await RunAsync("verify-audit", "--Storage:Store=PostgreSql", $"--Storage:ConnectionString={db}");
        Assert.Equal(2, verified);
        Assert.Contains("holds no BreakGlassBot store", fromDb);
    }

    [Fact]
    public async Task WithoutATargetOrWithTheBotRunningNothingIsCopied()
    {
        var (code, output) = await RunAsync("migrate-store", $"--Storage:DataDirectory={data}");
        Assert.Equal(2, code);
        Assert.Contains("migrate-store --to", output);

        await using var bot = await TestBot.StartAsync(slack, data);
        var db = await postgres.NewDatabaseAsync();
        (code, output) = await RunAsync("migrate-store", "--to", db, $"--Storage:DataDirectory={data}");
        Assert.Equal(2, code);
        Assert.Contains("in use by a running bot", output);
    }
}
