using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

public class SlackSignatureTests
{
    static readonly JsonObject Example = Fixtures.Object("slack/signing_example.json");
    static readonly byte[] Body = Fixtures.Bytes("slack/" + Example["body_file"]!.GetValue<string>());
    static readonly byte[] Secret = Encoding.UTF8.GetBytes(Example["signing_secret"]!.GetValue<string>());
    static readonly string Timestamp = Example["x_slack_request_timestamp"]!.GetValue<string>();
    static readonly string Signature = Example["x_slack_signature"]!.GetValue<string>();
    static readonly DateTimeOffset SignedAt = DateTimeOffset.FromUnixTimeSeconds(long.Parse(Timestamp));
    static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    [Fact]
    public void SlacksDocumentedExampleVerifies()
    {
        Assert.Equal(SignatureCheck.Valid, SlackSignature.Verify(Secret, Timestamp, Signature, Body, SignedAt.AddSeconds(30), Window));
        Assert.Equal(Signature, SlackSignature.Compute(Example["signing_secret"]!.GetValue<string>(), Timestamp, Body));
    }

    [Fact]
    public void ATamperedBodyIsAMismatch()
    {
        var tampered = (byte[])Body.Clone();
        tampered[^1] ^= 1;
        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify(Secret, Timestamp, Signature, tampered, SignedAt, Window));
    }

    [Fact]
    public void AnotherSecretIsAMismatch() =>
        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify("not-the-secret"u8, Timestamp, Signature, Body, SignedAt, Window));

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    [InlineData(-86400)]
    public void TimestampsOutsideFiveMinutesEitherWayAreStale(int offsetSeconds) =>
        Assert.Equal(SignatureCheck.Stale, SlackSignature.Verify(Secret, Timestamp, Signature, Body, SignedAt.AddSeconds(-offsetSeconds), Window));

    [Theory]
    [InlineData(-299)]
    [InlineData(299)]
    public void TimestampsInsideTheWindowAreAccepted(int offsetSeconds) =>
        Assert.Equal(SignatureCheck.Valid, SlackSignature.Verify(Secret, Timestamp, Signature, Body, SignedAt.AddSeconds(offsetSeconds), Window));

    [Theory]
    [InlineData(null, "v0=abc")]
    [InlineData("1531420618", null)]
    [InlineData("", "v0=abc")]
    [InlineData("not-a-number", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")]
    [InlineData("000000000000000000000001531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")]
    public void MissingOrUnreadableHeadersAreRefused(string? timestamp, string? signature) =>
        Assert.NotEqual(SignatureCheck.Valid, SlackSignature.Verify(Secret, timestamp, signature, Body, SignedAt, Window));

    [Theory]
    [InlineData("v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")]
    [InlineData("v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B50")]
    [InlineData("v0=zz114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")]
    [InlineData("v0=")]
    public void MalformedSignaturesAreMismatches(string signature) =>
        Assert.Equal(SignatureCheck.Mismatch, SlackSignature.Verify(Secret, Timestamp, signature, Body, SignedAt, Window));

    [Fact]
    public void TheTestSignerAgreesWithTheDocumentedExample() =>
        Assert.Equal(Signature, SlackSigner.Sign(Example["signing_secret"]!.GetValue<string>(), long.Parse(Timestamp), Encoding.UTF8.GetString(Body)));
}
