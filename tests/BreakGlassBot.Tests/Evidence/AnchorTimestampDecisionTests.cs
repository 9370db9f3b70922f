using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Text;
using BreakGlassBot.Deadlines;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>What an anchor's RFC 3161 token covers and when it holds, without a bot (the fake authority answers in-process).</summary>
public class AnchorTimestampDecisionTests
{
    static readonly AuditAnchor Anchor = new(42, new string('a', 64), 42, new DateTimeOffset(2026, 12, 3, 9, 15, 30, TimeSpan.Zero).AddTicks(1234567),
        "schedule", Intact: true);

    static AuditAnchor Stamped(AuditAnchor anchor, FakeTimestampAuthority tsa)
    {
        var request = Rfc3161TimestampRequest.CreateFromData(AnchorTimestamp.StampedBytes(anchor), HashAlgorithmName.SHA256, null,
            RandomNumberGenerator.GetBytes(8), requestSignerCertificates: true);
        var token = request.ProcessResponse(tsa.Reply(request), out _);
        return anchor with { Rfc3161 = Convert.ToBase64String(token.AsSignedCms().Encode()), Rfc3161Time = token.TokenInfo.Timestamp };
    }

    [Fact]
    public void TheStampedTextIsTheDocumentedFixedOrderForm()
    {
        Assert.Equal($"breakglass-anchor-v1\n42\n{new string('a', 64)}\n42\n2026-12-03T09:15:30.1234567Z\nschedule\ntrue\n\n",
            Encoding.UTF8.GetString(AnchorTimestamp.StampedBytes(Anchor)));
        Assert.Equal("breakglass-anchor-v1\n0\n\n0\n2026-12-03T08:15:30.0000000Z\nexport\nfalse\nevent #3 was altered\n",
            Encoding.UTF8.GetString(AnchorTimestamp.StampedBytes(new AuditAnchor(0, null, 0, new DateTimeOffset(2026, 12, 3, 9, 15, 30, TimeSpan.FromHours(1)),
                "export", Intact: false, "event #3 was altered"))));
    }

    [Fact]
    public async Task ATokenHoldsForItsAnchorOnlyAndForItsSignerOnly()
    {
        await using var tsa = new FakeTimestampAuthority();
        var stamped = Stamped(Anchor, tsa);
        var (ok, detail) = AnchorTimestamp.Verify(stamped, pinned: null);
        Assert.True(ok, detail);
        Assert.Contains("CN=Fake TSA", detail);
        Assert.True(AnchorTimestamp.Verify(stamped, tsa.Certificate).Ok);
        // Survives the JSON line it is kept in.
        Assert.True(AnchorTimestamp.Verify(AuditAnchor.ReadLines([stamped.ToJsonLine()])[0], tsa.Certificate).Ok);

        foreach (var edited in new[]
        {
            stamped with { LastSequence = 41 }, stamped with { LastHash = new string('b', 64) }, stamped with { Events = 43 },
            stamped with { Utc = stamped.Utc.AddTicks(1) }, stamped with { Reason = "export" }, stamped with { Intact = false },
            stamped with { FirstBreak = "x" },
        })
            Assert.Contains("stamps other content", AnchorTimestamp.Verify(edited, null).Detail);

        Assert.Contains("not by the pinned --tsa-cert", AnchorTimestamp.Verify(stamped, FakeTimestampAuthority.CreateCertificate("CN=Other")).Detail);
        Assert.False(AnchorTimestamp.Verify(stamped with { Rfc3161 = "not base64!" }, null).Ok);
        Assert.False(AnchorTimestamp.Verify(stamped with { Rfc3161 = Convert.ToBase64String([0x30, 0x03, 0x02, 0x01, 0x00]) }, null).Ok);
    }
}
