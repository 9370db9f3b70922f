using System.Security.Cryptography;
using System.Text;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Deadlines;

/// <summary>
/// /hangfire. Deleting a scheduled check or the tracking sweep switches the control off, so reading and acting are
/// separate: an <c>Evidence:ApiKeys</c> key (the auditor's) sees a read-only dashboard; only an <c>Admin:ApiKeys</c> key
/// may trigger, delete or requeue, and every such action is an audit event. In Development an unauthenticated request
/// from loopback is let in only while no key at all is configured.
/// </summary>
public static class Dashboard
{
    public const string Path = "/hangfire";
    const string CallerKey = "breakglass.dashboard.caller";

    public static void Map(WebApplication app)
    {
        var readKeys = app.Services.GetRequiredService<IOptions<EvidenceOptions>>().Value.ApiKeys.Where(k => k.Length > 0).ToList();
        var adminKeys = app.Services.GetRequiredService<IOptions<AdminOptions>>().Value.ApiKeys.Where(k => k.Length > 0).ToList();
        var openOnLoopback = app.Environment.IsDevelopment() && readKeys.Count == 0 && adminKeys.Count == 0;
        if (!openOnLoopback && readKeys.Count == 0 && adminKeys.Count == 0) return;

        app.UseWhen(http => http.Request.Path.StartsWithSegments(Path) && !HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method),
            branch => branch.Use(AuditWriteAsync));
        app.UseHangfireDashboard(Path, new DashboardOptions
        {
            Authorization = openOnLoopback ? [new LocalRequestsOnlyAuthorizationFilter()] : [new KeyAuthorization(readKeys, adminKeys)],
            IsReadOnlyFunc = context => !openOnLoopback && context.GetHttpContext().Items[CallerKey] is not Caller { Admin: true },
            IgnoreAntiforgeryToken = !openOnLoopback,
        });
    }

    sealed record Caller(bool Admin, string Fingerprint);

    /// <summary>
    /// A dashboard command that Hangfire carried out (2xx) for a caller allowed to act: who (the key's fingerprint, never the
    /// key), what, which jobs. The page's own refresh (POST /stats) is a read, and a read key acts on nothing.
    /// </summary>
    static async Task AuditWriteAsync(HttpContext http, Func<Task> next)
    {
        await next();
        if (http.Response.StatusCode is < 200 or >= 300 || http.Request.Path.Value!.EndsWith("/stats", StringComparison.Ordinal)) return;
        var caller = http.Items[CallerKey] as Caller;
        if (caller is { Admin: false }) return;
        // Read after Hangfire: it has read (and cached) the form of a request it authorised; nothing is buffered for anyone else.
        var form = http.Features.Get<Microsoft.AspNetCore.Http.Features.IFormFeature>()?.Form;
        var services = http.RequestServices;
        var data = new Dictionary<string, string>
        {
            ["action"] = http.Request.Path.Value![Path.Length..],
            ["jobs"] = form is null ? "" : string.Join(",", form["jobs[]"].Concat(form["jobId"]).OfType<string>()),
            ["key"] = caller?.Fingerprint ?? "loopback",
            ["remote"] = http.Connection.RemoteIpAddress?.ToString() ?? "",
        };
        services.GetRequiredService<ChangeStore>().Append(new AuditEvent
        {
            ChangeNumber = 0, At = services.GetRequiredService<TimeProvider>().GetUtcNow(), Actor = "dashboard:" + data["key"],
            Type = AuditTypes.DashboardAction, Data = data,
        });
    }

    /// <summary>Authorization: Bearer &lt;key&gt;, or Basic with the key as password (for a browser).</summary>
    sealed class KeyAuthorization(IReadOnlyList<string> readKeys, IReadOnlyList<string> adminKeys) : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context)
        {
            var http = context.GetHttpContext();
            var header = http.Request.Headers.Authorization.ToString();
            var presented = Presented(header);
            var admin = presented is not null && ApiKeys.Matches(adminKeys, presented);
            if (presented is not null && (admin || ApiKeys.Matches(readKeys, presented)))
            {
                // Antiforgery is off for every request, and browsers resend Basic credentials cross-site: a state-changing
                // Basic request must be same-origin. A browser never sends a Bearer key on its own.
                if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) && !HttpMethods.IsGet(http.Request.Method)
                    && !HttpMethods.IsHead(http.Request.Method) && !SameOrigin(http.Request))
                    return false;
                http.Items[CallerKey] = new Caller(admin, Fingerprint(presented));
                return true;
            }
            http.Response.Headers.WWWAuthenticate = "Basic realm=\"BreakGlassBot\"";
            return false;
        }

        static string? Presented(string header)
        {
            if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return header[7..].Trim();
            if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
                return decoded[(decoded.IndexOf(':') + 1)..];
            }
            catch (FormatException) { return null; }
        }

        /// <summary>Enough to tell keys apart in the audit trail; a hash prefix reveals nothing of the key.</summary>
        static string Fingerprint(string key) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];

        /// <summary>Browsers send Sec-Fetch-Site or Origin on every cross-site POST; a request with neither is not a browser's.</summary>
        static bool SameOrigin(HttpRequest request)
        {
            var site = request.Headers["Sec-Fetch-Site"].ToString();
            if (site.Length > 0) return site is "same-origin" or "none";
            var origin = request.Headers.Origin.ToString();
            if (origin.Length == 0) return true;
            return Uri.TryCreate(origin, UriKind.Absolute, out var o)
                && string.Equals(o.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
        }
    }
}
