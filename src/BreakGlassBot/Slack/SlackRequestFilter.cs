using System.Collections.Concurrent;
using System.Text;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Slack;

/// <summary>The verified raw body of a Slack request, available to handlers after <see cref="SlackRequestFilter"/>.</summary>
public sealed record VerifiedSlackRequest(byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>The first answer to a signed request: status, content type and body, as sent.</summary>
public sealed record SlackAnswer(int Status, string? ContentType, string Body);

/// <summary>
/// First answers by (timestamp, signature), kept durably while Slack's signature window would accept the same request again,
/// so a replay is answered like the first even after a restart. Declaring keeps them beside the changes.
/// </summary>
public interface ISlackReplayStore
{
    SlackAnswer? Find(string key);
    void Save(string key, SlackAnswer answer, DateTimeOffset expires);
}

/// <summary>
/// Runs before any parsing: body size limit, then the v0 signature over the raw bytes.
/// A request that fails never reaches a handler, so it cannot have a side effect. A command or interaction seen before (same
/// timestamp and signature: a replay within the window) gets the first answer again and reaches no handler.
/// </summary>
internal sealed partial class SlackRequestFilter(IOptions<SlackOptions> options, TimeProvider time, IEnumerable<ISlackRequestListener> listeners,
    IEnumerable<ISlackReplayStore> replayStores, SlackRequestsInFlight requestsInFlight, ILogger<SlackRequestFilter> log) : IEndpointFilter
{
    readonly byte[] secret = Encoding.UTF8.GetBytes(options.Value.SigningSecret ?? "");
    readonly ISlackReplayStore? replays = replayStores.LastOrDefault();
    readonly ConcurrentDictionary<string, Task<SlackAnswer>> inFlight = requestsInFlight.Answers;

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
        // Events are deduplicated by event_id in the inbox; commands and interactions carry no id of their own.
        if (replays is null || http.Request.Path.Value?.EndsWith("/events", StringComparison.Ordinal) == true) return await next(context);
        string timestamp = http.Request.Headers[SlackSignature.TimestampHeader]!, signature = http.Request.Headers[SlackSignature.SignatureHeader]!;
        var expires = DateTimeOffset.FromUnixTimeSeconds(long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture)) + slack.SignatureTolerance;
        // Lower-cased: the check accepts either case of hex, so the same MAC in capitals must not pass for a new request.
        return await OnceAsync(http.Request.Path + ":" + timestamp + ":" + signature[3..].ToLowerInvariant(), expires, context, next);
    }

    async Task<object?> OnceAsync(string key, DateTimeOffset expires, EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var path = context.HttpContext.Request.Path.Value ?? "";
        var mine = new TaskCompletionSource<SlackAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = inFlight.GetOrAdd(key, mine.Task);
        if (running != mine.Task)
        {
            LogReplayed(log, path);
            return new StoredAnswer(await running);
        }
        try
        {
            if (replays!.Find(key) is { } first)
            {
                LogReplayed(log, path);
                mine.SetResult(first);
                return new StoredAnswer(first);
            }
            var result = await next(context);
            if (result is not IResult handled)
            {
                mine.SetResult(new SlackAnswer(StatusCodes.Status200OK, null, ""));
                return result;
            }
            var answer = await CaptureAsync(context.HttpContext, handled);
            replays.Save(key, answer, expires);
            mine.SetResult(answer);
            return new StoredAnswer(answer);
        }
        catch (Exception e)
        {
            mine.TrySetException(e);
            _ = mine.Task.Exception; // observed here: a concurrent replay, if any, sees it too
            throw;
        }
        finally { inFlight.TryRemove(KeyValuePair.Create(key, mine.Task)); }
    }

    /// <summary>What <paramref name="result"/> would send, written to a buffer instead of the connection.</summary>
    static async Task<SlackAnswer> CaptureAsync(HttpContext http, IResult result)
    {
        using var buffer = new MemoryStream();
        var capture = new DefaultHttpContext { RequestServices = http.RequestServices };
        capture.Response.Body = buffer;
        await result.ExecuteAsync(capture);
        return new SlackAnswer(capture.Response.StatusCode, capture.Response.ContentType, Encoding.UTF8.GetString(buffer.ToArray()));
    }

    sealed class StoredAnswer(SlackAnswer answer) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = answer.Status;
            if (answer.ContentType is not null) http.Response.ContentType = answer.ContentType;
            if (answer.Body.Length > 0) await http.Response.WriteAsync(answer.Body, Encoding.UTF8);
        }
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

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Slack request to {Path} is a replay (same timestamp and signature): answered as the first, nothing done again")]
    static partial void LogReplayed(ILogger logger, string path);
}

/// <summary>
/// Requests being handled now, by replay key: a concurrent replay waits for the first's answer instead of running twice.
/// One per host (the endpoint filter may be made per request).
/// </summary>
internal sealed class SlackRequestsInFlight
{
    public ConcurrentDictionary<string, Task<SlackAnswer>> Answers { get; } = new();
}

public static class SlackRequestExtensions
{
    public static VerifiedSlackRequest VerifiedSlackBody(this HttpContext http) =>
        http.Items[typeof(VerifiedSlackRequest)] as VerifiedSlackRequest
        ?? throw new InvalidOperationException("Slack endpoint mapped without SlackRequestFilter");
}
