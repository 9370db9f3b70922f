using System.Text;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Slack;

/// <summary>The verified raw body of a Slack request, available to handlers after <see cref="SlackRequestFilter"/>.</summary>
public sealed record VerifiedSlackRequest(byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// Runs before any parsing: body size limit, then the v0 signature over the raw bytes.
/// A request that fails never reaches a handler, so it cannot have a side effect.
/// </summary>
internal sealed partial class SlackRequestFilter(IOptions<SlackOptions> options, TimeProvider time, IEnumerable<ISlackRequestListener> listeners, ILogger<SlackRequestFilter> log) : IEndpointFilter
{
    readonly byte[] secret = Encoding.UTF8.GetBytes(options.Value.SigningSecret ?? "");

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var slack = options.Value;
        if (!slack.IsConfigured)
            return Results.Json(new
            {
                ok = false,
                error = "slack_not_configured",
                message = "BreakGlassBot has no Slack credentials yet. Set: " + string.Join("; ", slack.MissingSettings()),
            }, statusCode: StatusCodes.Status503ServiceUnavailable);

        var limit = slack.MaxRequestBytes;
        if (http.Request.ContentLength > limit) return TooLarge(limit);
        var body = await ReadLimitedAsync(http.Request.Body, limit, http.RequestAborted);
        if (body is null) return TooLarge(limit);

        // Slack's certificate check posts ssl_check=1 to the command URL unsigned: a 200, and nothing else is read from it.
        if (IsSslCheck(http.Request.Path, body)) return Results.Ok();

        var check = SlackSignature.Verify(secret, http.Request.Headers[SlackSignature.TimestampHeader], http.Request.Headers[SlackSignature.SignatureHeader],
            body, time.GetUtcNow(), slack.SignatureTolerance);
        if (check != SignatureCheck.Valid)
        {
            LogRejected(log, http.Request.Path, check, http.Connection.RemoteIpAddress?.ToString());
            return Results.Json(new { ok = false, error = "invalid_signature" }, statusCode: StatusCodes.Status401Unauthorized);
        }
        http.Items[typeof(VerifiedSlackRequest)] = new VerifiedSlackRequest(body);
        foreach (var listener in listeners) listener.RequestArrived();
        return await next(context);
    }

    static bool IsSslCheck(PathString path, byte[] body) =>
        path.Value?.EndsWith("/commands", StringComparison.Ordinal) == true
        && body.AsSpan().IndexOf("ssl_check="u8) >= 0 // every declaration passes here: parse the form only when it may be one
        && Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body)).TryGetValue("ssl_check", out var check)
        && check == "1";

    static IResult TooLarge(int limit) =>
        Results.Json(new { ok = false, error = "request_too_large", message = $"Slack requests are limited to {limit} bytes." },
            statusCode: StatusCodes.Status413PayloadTooLarge);

    static async Task<byte[]?> ReadLimitedAsync(Stream body, int limit, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    // Never log the signature or the body: only why it was refused and from where.
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Slack request to {Path} rejected: {Reason} (from {Remote})")]
    static partial void LogRejected(ILogger logger, string path, SignatureCheck reason, string? remote);
}

public static class SlackRequestExtensions
{
    public static VerifiedSlackRequest VerifiedSlackBody(this HttpContext http) =>
        http.Items[typeof(VerifiedSlackRequest)] as VerifiedSlackRequest
        ?? throw new InvalidOperationException("Slack endpoint mapped without SlackRequestFilter");
}
