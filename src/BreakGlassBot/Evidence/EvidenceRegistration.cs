using System.Globalization;
using BreakGlassBot.Declaring;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace BreakGlassBot.Evidence;

public static class EvidenceRegistration
{
    public static WebApplicationBuilder AddEvidence(this WebApplicationBuilder builder)
    {
        // The digest registers it too (whichever comes first): the population of merged changes, read when Detection:Enabled.
        builder.Services.TryAddSingleton<PopulationService>();
        builder.Services.AddSingleton<EvidenceService>();
        builder.Services.AddSingleton<ISubCommand, ExportCommand>();
        return builder;
    }

    /// <summary>
    /// GET /evidence/BG-n (JSON, or HTML for Accept: text/html / ?format=html), GET /evidence?from=&amp;to= (JSON, or CSV for
    /// Accept: text/csv / ?format=csv: the changes, or with &amp;part=population every merged change), GET /evidence/verify (the
    /// audit chain). All behind <see cref="EvidenceAccess"/>.
    /// </summary>
    public static IEndpointRouteBuilder MapEvidence(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/evidence").AddEndpointFilter<EvidenceAccess>();

        group.MapGet("/verify", (ChangeStore store) =>
        {
            var report = store.VerifyAuditChain();
            return Results.Json(new
            {
                // Intact means what an auditor needs: the chain holds and no change record says what the chain does not.
                intact = report.Trustworthy,
                chain_intact = report.Intact,
                tampered_records = report.StateProblems.Select(p => new { change = $"BG-{p.ChangeNumber}", sequence = p.Sequence, detail = p.Detail }),
                unsealed_changes = report.UnsealedChanges,
                events = report.Events,
                last_sequence = report.HeadSequence,
                last_hash = report.HeadHash,
                migrated_events = report.Migrated,
                first_break = report.FirstBreak is { } b ? new { sequence = b.Sequence, fault = b.Fault.ToString().ToLowerInvariant(), change = b.ChangeNumber is { } n ? $"BG-{n}" : null, type = b.Type, at = b.At, detail = b.ToString() } : null,
                message = report.Describe(),
            }, EvidenceService.Json);
        });

        group.MapGet("/{id}", (string id, string? format, HttpRequest request, EvidenceService evidence) =>
        {
            if (!ChangeId.TryParse(id, out var changeId)) return Results.Json(new { error = $"'{id}' is not a change id like BG-42" }, statusCode: 400);
            var packet = evidence.Packet(changeId);
            if (packet is null) return Results.Json(new { error = $"there is no {changeId}" }, statusCode: 404);
            if (Wants(format, request, "html", "text/html"))
            {
                request.HttpContext.Response.Headers.ContentSecurityPolicy = EvidenceHtml.ContentSecurityPolicy;
                request.HttpContext.Response.Headers.XContentTypeOptions = "nosniff";
                return Results.Content(EvidenceHtml.Render(packet), "text/html; charset=utf-8");
            }
            return Results.Json(packet, EvidenceService.Json);
        });

        group.MapGet("", async (string? from, string? to, string? format, string? total, string? part, HttpRequest request, EvidenceService evidence) =>
        {
            var population = string.Equals(part, "population", StringComparison.OrdinalIgnoreCase);
            if (part is not null && !population && !string.Equals(part, "changes", StringComparison.OrdinalIgnoreCase))
                return Results.Json(new { error = "part is changes (the default) or population (every merged change; CSV)" }, statusCode: 400);
            if (!TryDate(from, out var f) || !TryDate(to, out var t) || t < f)
                return Results.Json(new { error = "give the audit window as ?from=YYYY-MM-DD&to=YYYY-MM-DD (to included, not before from)" }, statusCode: 400);
            int? totalChanges = null;
            if (!string.IsNullOrEmpty(total))
            {
                if (!int.TryParse(total, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
                    return Results.Json(new { error = "total must be the positive number of all changes shipped in the window" }, statusCode: 400);
                totalChanges = n;
            }
            var export = await evidence.ExportAsync(evidence.Window(f, t), totalChanges, request.HttpContext.RequestAborted);
            if (Wants(format, request, "csv", "text/csv"))
            {
                if (population && !export.Population.Collected) return Results.Json(new { error = export.Population.Statement }, statusCode: 404);
                var name = population ? "population" : "evidence";
                request.HttpContext.Response.Headers.ContentDisposition = $"attachment; filename=\"breakglass-{name}-{f:yyyy-MM-dd}-{t:yyyy-MM-dd}.csv\"";
                return Results.Text(population ? EvidenceExport.PopulationCsv(export.Population.Rows) : EvidenceExport.Csv(export.Changes), "text/csv; charset=utf-8");
            }
            return Results.Json(export, EvidenceService.Json);
        });
        return app;
    }

    /// <summary>?format= wins; otherwise the Accept header, where JSON is the default.</summary>
    static bool Wants(string? format, HttpRequest request, string name, string mediaType) =>
        format is not null ? string.Equals(format, name, StringComparison.OrdinalIgnoreCase)
            : request.GetTypedHeaders().Accept.Where(a => a.MediaType.HasValue).OrderByDescending(a => a.Quality ?? 1).FirstOrDefault() is { } best
              && string.Equals(best.MediaType.Value, mediaType, StringComparison.OrdinalIgnoreCase);

    internal static bool TryDate(string? text, out DateOnly date) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
}
