using System.Text.Json.Nodes;
using BreakGlassBot.Deadlines;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Evidence.FakeTimestampAuthority;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>RFC 3161 timestamps on the published anchors (issue 19, item 3), through the real bot and verify-audit.</summary>
[Collection(ConsoleCollection.Name)]
[Trait("Category", "EndToEnd")]
public class AnchorTimestampTests : IAsyncLifetime
{
    /// <summary>Stands for a credential in the authority's address: it must never reach a log or an anchor.</summary>
    const string UrlSecret = "tsa-s3cret-9f8e7d";
    readonly FakeSlack slack = new();
    readonly FakeTimestampAuthority tsa = new();
    readonly string data = TestBot.NewDataDirectory();
    string AnchorDirectory => data + "-anchors";
    string AnchorFile => Path.Combine(AnchorDirectory, AuditAnchorPublisher.FileName);

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        await tsa.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        await tsa.DisposeAsync();
        foreach (var dir in new[] { data, AnchorDirectory })
            try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    Dictionary<string, string?> Settings(string? tsaUrl = null) => new()
    {
        ["Evidence:AnchorDirectory"] = AnchorDirectory,
        ["Evidence:AnchorWebhookUrl"] = slack.ResponseUrl("anchors"),
        ["Evidence:TimestampAuthorityUrl"] = tsaUrl ?? tsa.TimestampUrl + "?token=" + UrlSecret,
        ["Evidence:TimestampTimeout"] = "00:00:02",
    };

    static Task<(int Code, string Output)> VerifyAuditAsync(params string[] args) => AuditVerificationTests.VerifyAuditAsync(args);

    /// <summary>A bot that declares one change and publishes one anchor; the anchor as the file holds it.</summary>
    async Task<(AuditAnchor Anchor, TestBot Bot)> PublishOneAsync(Dictionary<string, string?> settings)
    {
        var bot = await TestBot.StartAsync(slack, data, settings);
        await bot.CommandJsonAsync("Hotfix checkout");
        await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "announced");
        Assert.NotNull(await bot.Service<AuditAnchorPublisher>().PublishAsync("test", CancellationToken.None));
        return (AuditAnchor.ReadLines(File.ReadAllLines(AnchorFile)).Last(), bot);
    }

    [Fact]
    public async Task EachAnchorCarriesATimestampThatVerifyAuditChecksAgainstTheAnchorAsItReadsNow()
    {
        var (anchor, bot) = await PublishOneAsync(Settings());
        await bot.DisposeAsync();
        Assert.NotNull(anchor.Rfc3161);
        Assert.Null(anchor.Rfc3161Error);
        Assert.Equal(tsa.GenTime, anchor.Rfc3161Time);
        var webhook = JsonNode.Parse(Assert.Single(slack.Responses, c => c.Body.Contains("last_sequence")).Body)!;
        Assert.Equal(anchor.Rfc3161, webhook["rfc3161"]!.GetValue<string>());
        Assert.Single(tsa.CallsTo("tsa"));

        var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", AnchorFile);
        Assert.True(code == 0, output);
        Assert.Contains("timestamp verified, stamped 2026-12-03 09:00:00Z by CN=Fake TSA", output);
        Assert.Contains("not pinned", output);

        // Pinned to the authority's certificate (PEM, as an auditor downloads it): verified; pinned to another: refused.
        var pem = Path.Combine(AnchorDirectory, "tsa.pem");
        File.WriteAllText(pem, tsa.Certificate.ExportCertificatePem());
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", AnchorFile, "--tsa-cert", pem);
        Assert.True(code == 0, output);
        Assert.Contains("(pinned)", output);
        var other = Path.Combine(AnchorDirectory, "other.der");
        File.WriteAllBytes(other, CreateCertificate("CN=Someone Else").RawData);
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", AnchorFile, "--tsa-cert", other);
        Assert.Equal(1, code);
        Assert.Contains("timestamp NOT valid", output);

        // The anchor edited after it was stamped (here its time, which the chain check alone does not look at): caught.
        var edited = Path.Combine(AnchorDirectory, "edited.jsonl");
        File.WriteAllText(edited, (anchor with { Utc = anchor.Utc.AddHours(-1) }).ToJsonLine() + "\n");
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", edited);
        Assert.Equal(1, code);
        Assert.Contains("all 1 anchor(s) match", output);
        Assert.Contains("timestamp NOT valid: its timestamp (at 2026-12-03 09:00:00Z) stamps other content", output);

        // A token from another anchor pasted onto this one: caught the same way.
        var swapped = Path.Combine(AnchorDirectory, "swapped.jsonl");
        File.WriteAllText(swapped, (anchor with { Reason = "schedule" }).ToJsonLine() + "\n");
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", swapped);
        Assert.Equal(1, code);
        Assert.Contains("stamps other content", output);

        // A pinned certificate with nothing stamped to check is not a pass.
        var unstamped = Path.Combine(AnchorDirectory, "unstamped.jsonl");
        File.WriteAllText(unstamped, (anchor with { Rfc3161 = null, Rfc3161Time = null }).ToJsonLine() + "\n");
        (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", unstamped, "--tsa-cert", pem);
        Assert.Equal(1, code);
        Assert.Contains("no anchor carries an RFC 3161 timestamp", output);
    }

    public enum Outage { Unavailable, Unreachable, Slow, WrongNonce, Rejected, NotAReply }

    [Theory]
    [InlineData(Outage.Unavailable, "answered HTTP 503")]
    [InlineData(Outage.Unreachable, "could not be reached")]
    [InlineData(Outage.Slow, "did not answer within 00:00:02")]
    [InlineData(Outage.WrongNonce, "does not match the request")]
    [InlineData(Outage.Rejected, "refused the request (PKIStatus 2)")]
    [InlineData(Outage.NotAReply, "is not an RFC 3161 TimeStampResp")]
    public async Task AnAuthorityThatFailsNeverHoldsAnAnchorBackAndTheNextOneIsStamped(Outage outage, string why)
    {
        var settings = Settings(outage == Outage.Unreachable ? "http://127.0.0.1:9/tsa?token=" + UrlSecret : null);
        switch (outage)
        {
            case Outage.Unavailable: tsa.Down = true; break;
            case Outage.Slow: tsa.Fail("tsa", new Fault.Delay(TimeSpan.FromSeconds(30))); break;
            case Outage.WrongNonce: tsa.Mode = Answer.WrongNonce; break;
            case Outage.Rejected: tsa.Mode = Answer.Reject; break;
            case Outage.NotAReply: tsa.Fail("tsa", new Fault.Status(200, "<html>captive portal</html>")); break;
        }
        var (anchor, bot) = await PublishOneAsync(settings);
        await using (bot)
        {
            Assert.Null(anchor.Rfc3161);
            Assert.Null(anchor.Rfc3161Time);
            Assert.Contains(why, anchor.Rfc3161Error);
            Assert.NotNull(anchor.LastHash); // the anchor itself went out, in full
            Assert.Contains(slack.Responses, c => c.Body.Contains("rfc3161_error") && c.Body.Contains(anchor.LastHash));
            Assert.Contains(bot.Logs, l => l.Contains("published without an RFC 3161 timestamp") && l.Contains(why));
            Assert.DoesNotContain(bot.Logs, l => l.Contains(UrlSecret));
            Assert.DoesNotContain(UrlSecret, File.ReadAllText(AnchorFile));

            if (outage == Outage.Unreachable) return;
            // Back up: the same head, asked for by an export, is published again so that it gets its timestamp.
            (tsa.Down, tsa.Mode) = (false, Answer.Grant);
            tsa.ClearFaults();
            var again = await bot.Service<AuditAnchorPublisher>().PublishAsync("export", CancellationToken.None);
            Assert.NotNull(again);
            Assert.Equal(anchor.LastHash, again.LastHash);
            Assert.NotNull(again.Rfc3161);
            Assert.Null(again.Rfc3161Error);
            // Once stamped, a burst of exports publishes it no more.
            Assert.Null(await bot.Service<AuditAnchorPublisher>().PublishAsync("export", CancellationToken.None));
        }
        var (code, output) = await VerifyAuditAsync($"--Storage:DataDirectory={data}", "--anchors", AnchorFile);
        Assert.True(code == 0, output);
        Assert.Contains($"no RFC 3161 timestamp ({anchor.Rfc3161Error})", output);
        Assert.Contains("timestamp verified", output);
    }

    [Fact]
    public async Task WithoutAnAuthorityAnchorsAreAsBefore()
    {
        var settings = Settings();
        settings["Evidence:TimestampAuthorityUrl"] = null;
        var (anchor, bot) = await PublishOneAsync(settings);
        await bot.DisposeAsync();
        Assert.Null(anchor.Rfc3161);
        Assert.Null(anchor.Rfc3161Error);
        Assert.DoesNotContain("rfc3161", File.ReadAllText(AnchorFile));
        Assert.Empty(tsa.Calls);
    }
}
