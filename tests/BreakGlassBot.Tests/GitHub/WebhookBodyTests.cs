using System.Security.Cryptography;
using System.Text;
using BreakGlassBot.GitHub;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>What a webhook request costs before its signature is known: counted in bytes read from the request body.</summary>
public class WebhookBodyTests
{
    const string Secret = "It's a Secret to Everybody";
    const int Cap = 1024 * 1024;

    sealed class CountingStream(long length) : Stream
    {
        public long BytesRead { get; private set; }
        public override int Read(byte[] buffer, int offset, int count) => ReadCore(count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => ValueTask.FromResult(ReadCore(buffer.Length));
        int ReadCore(int count)
        {
            var n = (int)Math.Min(count, length - BytesRead);
            BytesRead += n;
            return n; // the bytes are zeros: the buffer is left as it is
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    static (HttpRequest Request, CountingStream Body) Request(long length, string? signature, bool announceLength = false)
    {
        var http = new DefaultHttpContext();
        var body = new CountingStream(length);
        http.Request.Body = body;
        if (announceLength) http.Request.ContentLength = length;
        if (signature is not null) http.Request.Headers[GitHubSignature.Header] = signature;
        return (http.Request, body);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sha1=0123")]
    [InlineData("sha256=not-hex-at-all-not-hex-at-all-not-hex-at-all-not-hex-at-all-ab")]
    [InlineData("sha256=00")]
    public async Task WithoutAWellFormedSignatureNothingIsRead(string? signature)
    {
        var (request, body) = Request(26L * 1024 * 1024, signature);
        var (read, status) = await GitHubSignature.ReadVerifiedAsync(request, Secret, Cap, default);
        Assert.Null(read);
        Assert.Equal(StatusCodes.Status401Unauthorized, status);
        Assert.Equal(0, body.BytesRead);
    }

    [Fact]
    public async Task AForgedSignatureOnAHugeBodyStopsReadingAtTheCap()
    {
        var (request, body) = Request(26L * 1024 * 1024, "sha256=" + new string('0', 64));
        var (read, status) = await GitHubSignature.ReadVerifiedAsync(request, Secret, Cap, default);
        Assert.Null(read);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, status);
        Assert.InRange(body.BytesRead, Cap, Cap + 64 * 1024); // at most one read beyond the cap
    }

    [Fact]
    public async Task AnAnnouncedLengthOverTheCapIsRefusedBeforeReading()
    {
        var (request, body) = Request(26L * 1024 * 1024, "sha256=" + new string('0', 64), announceLength: true);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, (await GitHubSignature.ReadVerifiedAsync(request, Secret, Cap, default)).Status);
        Assert.Equal(0, body.BytesRead);
    }

    [Fact]
    public async Task ASignedBodyWithinTheCapIsReturnedWhole()
    {
        var bytes = new byte[Cap]; // zeros, as the counting stream produces
        var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), bytes));
        var (request, _) = Request(bytes.Length, signature);
        var (read, status) = await GitHubSignature.ReadVerifiedAsync(request, Secret, Cap, default);
        Assert.Equal(StatusCodes.Status200OK, status);
        Assert.Equal(bytes, read);
    }
}
