using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// What an anchor's RFC 3161 timestamp covers: a fixed-order text form of the anchor (not its JSON, whose escaping differs
/// between libraries), so an auditor can rebuild it in any language and check the token with <c>openssl ts -verify -data</c>.
/// </summary>
public static class AnchorTimestamp
{
    public const string Version = "breakglass-anchor-v1";

    /// <summary>
    /// The UTF-8 bytes the timestamp authority stamps (SHA-256): the version, then last_sequence, last_hash (empty when
    /// none), events, utc (yyyy-MM-ddTHH:mm:ss.fffffffZ), reason, intact (true/false), first_break (empty when none),
    /// each followed by "\n".
    /// </summary>
    public static byte[] StampedBytes(AuditAnchor a) => Encoding.UTF8.GetBytes(string.Concat(
        new[]
        {
            Version, a.LastSequence.ToString(CultureInfo.InvariantCulture), a.LastHash ?? "", a.Events.ToString(CultureInfo.InvariantCulture),
            a.Utc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture), a.Reason, a.Intact ? "true" : "false", a.FirstBreak ?? "",
        }.Select(v => v + "\n")));

    /// <summary>
    /// Checks <paramref name="anchor"/>'s token: it decodes, stamps exactly this anchor, and is signed by the certificate it
    /// carries (or by <paramref name="pinned"/>, which must then be the signer). The genTime and signer, or what is wrong.
    /// </summary>
    public static (bool Ok, string Detail) Verify(AuditAnchor anchor, X509Certificate2? pinned)
    {
        if (anchor.Rfc3161 is not { Length: > 0 } encoded) return (false, "no timestamp");
        byte[] der;
        try { der = Convert.FromBase64String(encoded); }
        catch (FormatException) { return (false, "its rfc3161 token is not base64"); }
        if (!Rfc3161TimestampToken.TryDecode(der, out var token, out _) || token is null) return (false, "its rfc3161 token is not an RFC 3161 timestamp token");
        var info = token.TokenInfo;
        if (info.HashAlgorithmId.Value != Oids.Sha256) return (false, $"its timestamp uses hash {info.HashAlgorithmId.Value}, not SHA-256");
        if (!info.GetMessageHash().Span.SequenceEqual(SHA256.HashData(StampedBytes(anchor))))
            return (false, $"its timestamp (at {info.Timestamp:u}) stamps other content: the anchor was changed after it was stamped");
        X509Certificate2Collection? candidates = pinned is null ? null : [pinned];
        if (!token.VerifySignatureForData(StampedBytes(anchor), out var signer, candidates) || signer is null)
            return (false, "its timestamp's signature does not verify" + (pinned is null ? "" : " with the pinned --tsa-cert"));
        if (pinned is not null && !signer.RawDataMemory.Span.SequenceEqual(pinned.RawDataMemory.Span))
            return (false, $"its timestamp is signed by {signer.Subject}, not by the pinned --tsa-cert ({pinned.Subject})");
        return (true, $"stamped {info.Timestamp:u} by {signer.Subject}{(pinned is null ? " (certificate not pinned: pass --tsa-cert)" : " (pinned)")}");
    }

    static class Oids
    {
        public const string Sha256 = "2.16.840.1.101.3.4.2.1";
    }
}

/// <summary>
/// Asks <c>Evidence:TimestampAuthorityUrl</c> for an RFC 3161 timestamp of an anchor. Never throws for the authority's
/// sake: an anchor goes out without a token, marked with why, rather than late or not at all.
/// </summary>
public sealed partial class TimestampAuthority(IHttpClientFactory http, IOptions<EvidenceOptions> options, ILogger<TimestampAuthority> log)
{
    public const string HttpClientName = "timestamp-authority";

    public bool Configured => !string.IsNullOrWhiteSpace(options.Value.TimestampAuthorityUrl);

    /// <summary>The anchor with its token and genTime, or with <c>rfc3161_error</c> when the authority failed.</summary>
    public async Task<AuditAnchor> StampAsync(AuditAnchor anchor, CancellationToken ct)
    {
        if (!Configured) return anchor;
        try
        {
            var (token, at) = await RequestAsync(AnchorTimestamp.StampedBytes(anchor), ct);
            return anchor with { Rfc3161 = Convert.ToBase64String(token), Rfc3161Time = at, Rfc3161Error = null };
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or CryptographicException or TimestampRefusedException
            && !ct.IsCancellationRequested)
        {
            // Worded here, not the exception's text: that may carry the authority's address, which may carry credentials.
            var why = e switch
            {
                TaskCanceledException => $"the timestamping authority did not answer within {options.Value.TimestampTimeout}",
                HttpRequestException { StatusCode: { } status } => $"the timestamping authority answered HTTP {(int)status}",
                HttpRequestException h => $"the timestamping authority could not be reached ({h.HttpRequestError})",
                TimestampRefusedException r => r.Message,
                _ => "the timestamping authority's reply does not match the request (nonce, hash or signature): " + e.GetType().Name,
            };
            LogNotStamped(log, anchor.LastSequence, why);
            return anchor with { Rfc3161Error = why };
        }
    }

    async Task<(byte[] Token, DateTimeOffset At)> RequestAsync(byte[] data, CancellationToken ct)
    {
        var nonce = RandomNumberGenerator.GetBytes(16);
        nonce[0] &= 0x7F; // a positive INTEGER, so the authority echoes it unchanged
        var request = Rfc3161TimestampRequest.CreateFromData(data, HashAlgorithmName.SHA256, requestedPolicyId: null, nonce, requestSignerCertificates: true);
        using var content = new ByteArrayContent(request.Encode());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/timestamp-query");
        using var response = await http.CreateClient(HttpClientName).PostAsync(options.Value.TimestampAuthorityUrl, content, ct);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException("refused", null, response.StatusCode);
        // The reply is judged by its DER, not its Content-Type (application/timestamp-reply), which some authorities get wrong.
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        var status = ReplyStatus(body);
        if (status < 0) throw new TimestampRefusedException("the timestamping authority's answer is not an RFC 3161 TimeStampResp");
        if (status is not (0 or 1)) throw new TimestampRefusedException($"the timestamping authority refused the request (PKIStatus {status})");
        // Checks the nonce, that the token stamps our hash, and that the authority's certificate came with it.
        var token = request.ProcessResponse(body, out _);
        return (token.AsSignedCms().Encode(), token.TokenInfo.Timestamp);
    }

    /// <summary>TimeStampResp's PKIStatus (0 granted, 1 granted with mods, 2 rejection, …); -1 when unreadable.</summary>
    static int ReplyStatus(byte[] body)
    {
        try
        {
            var reader = new System.Formats.Asn1.AsnReader(body, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
            return reader.ReadSequence().TryReadInt32(out var status) ? status : -1;
        }
        catch (System.Formats.Asn1.AsnContentException) { return -1; }
    }

    [LoggerMessage(EventId = 7203, Level = LogLevel.Warning, Message = "Audit anchor #{Sequence} published without an RFC 3161 timestamp: {Why}; the next anchor tries again")]
    static partial void LogNotStamped(ILogger logger, long sequence, string why);
}

/// <summary>The timestamping authority answered, but not with a timestamp.</summary>
public sealed class TimestampRefusedException(string message) : Exception(message);
