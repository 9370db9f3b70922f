using System.Security.Cryptography;
using System.Text;

namespace BreakGlassBot.Slack;

public enum SignatureCheck { Valid, Missing, Stale, Mismatch }

/// <summary>Slack's v0 request signature: HMAC-SHA256 over "v0:{timestamp}:{raw body}".</summary>
public static class SlackSignature
{
    public const string TimestampHeader = "X-Slack-Request-Timestamp";
    public const string SignatureHeader = "X-Slack-Signature";
    const string Prefix = "v0=";

    public static string Compute(string signingSecret, string timestamp, ReadOnlySpan<byte> body)
    {
        Span<byte> mac = stackalloc byte[32];
        Mac(Encoding.UTF8.GetBytes(signingSecret), timestamp, body, mac);
        return Prefix + Convert.ToHexStringLower(mac);
    }

    public static SignatureCheck Verify(ReadOnlySpan<byte> secret, string? timestamp, string? signature,
        ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signature)) return SignatureCheck.Missing;
        if (timestamp.Length > 19 || !long.TryParse(timestamp, System.Globalization.NumberStyles.None, null, out var seconds)) return SignatureCheck.Missing;
        // Both directions: a future-dated request is as suspicious as a replayed old one.
        if (Math.Abs(now.ToUnixTimeSeconds() - seconds) > tolerance.TotalSeconds) return SignatureCheck.Stale;
        if (signature.Length != Prefix.Length + 64 || !signature.StartsWith(Prefix, StringComparison.Ordinal)) return SignatureCheck.Mismatch;

        Span<byte> given = stackalloc byte[32];
        if (Convert.FromHexString(signature.AsSpan(Prefix.Length), given, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
            return SignatureCheck.Mismatch;
        Span<byte> expected = stackalloc byte[32];
        Mac(secret, timestamp, body, expected);
        return CryptographicOperations.FixedTimeEquals(given, expected) ? SignatureCheck.Valid : SignatureCheck.Mismatch;
    }

    static void Mac(ReadOnlySpan<byte> secret, string timestamp, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        Span<byte> head = stackalloc byte[3 + 20 + 1];
        "v0:"u8.CopyTo(head);
        var n = 3 + Encoding.ASCII.GetBytes(timestamp, head[3..]);
        head[n++] = (byte)':';
        hmac.AppendData(head[..n]);
        hmac.AppendData(body);
        hmac.GetHashAndReset(destination);
    }
}
