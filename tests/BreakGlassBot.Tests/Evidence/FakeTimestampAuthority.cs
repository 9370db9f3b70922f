using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>
/// An RFC 3161 timestamping authority on loopback: answers a TimeStampReq with a TimeStampResp whose token is a CMS
/// SignedData over a TSTInfo (id-ct-TSTInfo) with a signing-certificate-v2 attribute (RFC 5816), signed by a self-signed
/// certificate with the critical timeStamping EKU, as a real authority's is. Built with AsnWriter and SignedCms, not with
/// the bot's own code, so the bot's request and checks meet an independent encoder.
/// </summary>
public sealed class FakeTimestampAuthority : FakeServer
{
    public enum Answer { Grant, WrongNonce, Reject }

    /// <summary>What the next requests get.</summary>
    public Answer Mode { get; set; } = Answer.Grant;
    public X509Certificate2 Certificate { get; } = CreateCertificate("CN=Fake TSA, O=BreakGlassBot tests");
    public DateTimeOffset GenTime { get; set; } = new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);
    public string TimestampUrl => Url + "/tsa";
    long serial;

    protected override string KeyOf(HttpContext http) => "tsa";

    protected override void Map(WebApplication app) => app.MapPost("/tsa", async http =>
    {
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body);
        if (http.Request.ContentType != "application/timestamp-query" || !Rfc3161TimestampRequest.TryDecode(body.ToArray(), out var request, out _))
        {
            http.Response.StatusCode = 400;
            return;
        }
        http.Response.ContentType = "application/timestamp-reply";
        await http.Response.Body.WriteAsync(Reply(request));
    });

    /// <summary>The TimeStampResp to <paramref name="request"/> in the current <see cref="Mode"/> (also for tests without HTTP).</summary>
    public byte[] Reply(Rfc3161TimestampRequest request) => Mode == Answer.Reject ? Response(status: 2, token: null) : Response(0, Token(request));

    public static X509Certificate2 CreateCertificate(string subject)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        // RFC 3161 2.3: exactly one EKU, id-kp-timeStamping, marked critical.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.8")], critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        // Exported and re-read so the private key works with SignedCms on every platform.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    byte[] Token(Rfc3161TimestampRequest request)
    {
        var nonce = request.GetNonce()?.ToArray();
        if (Mode == Answer.WrongNonce && nonce is not null) nonce[^1] ^= 0x01;
        var tstInfo = TstInfo(request.HashAlgorithmId.Value!, request.GetMessageHash().ToArray(), Interlocked.Increment(ref serial), GenTime, nonce);
        var cms = new SignedCms(new ContentInfo(new Oid("1.2.840.113549.1.9.16.1.4"), tstInfo), detached: false);
        var signer = new CmsSigner(SubjectIdentifierType.IssuerAndSerialNumber, Certificate)
        {
            DigestAlgorithm = new Oid("2.16.840.1.101.3.4.2.1"),
            IncludeOption = request.RequestSignerCertificate ? X509IncludeOption.EndCertOnly : X509IncludeOption.None,
        };
        signer.SignedAttributes.Add(new AsnEncodedData(new Oid("1.2.840.113549.1.9.16.2.47"), SigningCertificateV2(Certificate)));
        cms.ComputeSignature(signer);
        return cms.Encode();
    }

    /// <summary>TSTInfo (RFC 3161 2.4.2): version, policy, messageImprint, serialNumber, genTime, accuracy, nonce.</summary>
    static byte[] TstInfo(string hashOid, byte[] hash, long serialNumber, DateTimeOffset genTime, byte[]? nonce)
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteInteger(1);
            w.WriteObjectIdentifier("1.3.6.1.4.1.99999.1"); // a made-up TSA policy
            using (w.PushSequence())
            {
                using (w.PushSequence())
                {
                    w.WriteObjectIdentifier(hashOid);
                    w.WriteNull();
                }
                w.WriteOctetString(hash);
            }
            w.WriteInteger(serialNumber);
            w.WriteGeneralizedTime(genTime, omitFractionalSeconds: true);
            using (w.PushSequence()) w.WriteInteger(1); // accuracy: 1 second
            if (nonce is not null) w.WriteInteger(new BigInteger(nonce, isUnsigned: false, isBigEndian: true));
        }
        return w.Encode();
    }

    /// <summary>SigningCertificateV2 with one ESSCertIDv2: SHA-256 (the default, so omitted) of the signer's certificate.</summary>
    static byte[] SigningCertificateV2(X509Certificate2 cert)
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        using (w.PushSequence())
        using (w.PushSequence())
            w.WriteOctetString(SHA256.HashData(cert.RawData));
        return w.Encode();
    }

    /// <summary>TimeStampResp: PKIStatusInfo (0 granted, 2 rejection with a failInfo), then the token when granted.</summary>
    static byte[] Response(int status, byte[]? token)
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            using (w.PushSequence())
            {
                w.WriteInteger(status);
                if (token is null) w.WriteBitString([0x80], unusedBitCount: 7); // badAlg
            }
            if (token is not null) w.WriteEncodedValue(token);
        }
        return w.Encode();
    }
}
