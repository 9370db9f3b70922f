using System.Security.Cryptography;
using System.Text;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Evidence;

/// <summary>
/// Guards every /evidence endpoint with a Bearer key from Evidence:ApiKeys (never a query string, which proxies log; nor
/// logged itself). Loopback goes without one only in Development with no key configured.
/// </summary>
internal sealed partial class EvidenceAccess(IOptions<EvidenceOptions> options, IHostEnvironment environment, ILogger<EvidenceAccess> log) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var resource = http.Request.Path + http.Request.QueryString;
        var client = Identify(http);
        if (client is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"BreakGlassBot evidence\"";
            return Results.Json(new { error = "an evidence API key is required: Authorization: Bearer <key from Evidence:ApiKeys>" }, statusCode: StatusCodes.Status401Unauthorized);
        }
        LogFetched(log, resource, client, http.Connection.RemoteIpAddress?.ToString() ?? "?");
        http.Response.Headers.CacheControl = "no-store";
        return await next(context);
    }

    /// <summary>Who is asking, in words safe to log; null when not allowed.</summary>
    string? Identify(HttpContext http)
    {
        var keys = options.Value.ApiKeys.Where(k => !string.IsNullOrEmpty(k)).ToList();
        var header = http.Request.Headers.Authorization.ToString();
        if (keys.Count == 0)
        {
            if (environment.IsDevelopment() && http.Connection.RemoteIpAddress is { } ip && System.Net.IPAddress.IsLoopback(ip)) return "loopback (Development, no Evidence:ApiKeys)";
            LogRejected(log, http.Request.Path, "no Evidence:ApiKeys configured");
            return null;
        }
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            LogRejected(log, http.Request.Path, header.Length == 0 ? "no Authorization header" : "not a Bearer key");
            return null;
        }
        var presented = header[7..].Trim();
        if (!ApiKeys.Matches(keys, presented))
        {
            LogRejected(log, http.Request.Path, "unknown key");
            return null;
        }
        // Which key it was, for the log: compared as hashes in constant time, like ApiKeys.Matches.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var index = -1;
        for (var i = 0; i < options.Value.ApiKeys.Count; i++)
            if (!string.IsNullOrEmpty(options.Value.ApiKeys[i]) && CryptographicOperations.FixedTimeEquals(given, SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.ApiKeys[i]))))
                index = i;
        return $"Evidence:ApiKeys:{index} (sha256 {Convert.ToHexStringLower(given)[..8]}…)";
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Evidence {Resource} fetched by {Client} from {Remote}")]
    static partial void LogFetched(ILogger logger, string resource, string client, string remote);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "Evidence request for {Path} refused: {Reason}")]
    static partial void LogRejected(ILogger logger, string path, string reason);
}
