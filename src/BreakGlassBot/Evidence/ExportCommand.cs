using System.Globalization;
using BreakGlassBot.Declaring;
using BreakGlassBot.Hosting;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Evidence;

/// <summary>/breakglass export &lt;from&gt; &lt;to&gt; [total]: the audit window's figures and the export links, for managers and admins.</summary>
internal sealed partial class ExportCommand(EvidenceService evidence, IOptions<SlackOptions> slack, ISlackApi slackApi, IHostApplicationLifetime lifetime,
    ILogger<ExportCommand> log) : ISubCommand
{
    /// <summary>After the acknowledgement GitHub's count of all changes may take this long; then the rate is left out.</summary>
    static readonly TimeSpan CountWait = TimeSpan.FromSeconds(10);

    public const string SubCommandName = "export";
    const string Usage_ = "`/breakglass export <from> <to> [total changes]` evidence for an audit window, e.g. `/breakglass export 2026-07-01 2026-09-30` (managers and admins)";

    public string Name => SubCommandName;
    public string Usage => Usage_;

    public async Task<CommandReply> RunAsync(SlashCommand command, string arguments, CancellationToken ct)
    {
        if (!slack.Value.Managers.Contains(command.UserId) && !slack.Value.Admins.Contains(command.UserId))
            return new CommandReply(":no_entry: Only managers and admins (Slack:Managers, Slack:Admins) may export audit evidence.");
        var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int total = 0;
        if (parts.Length is < 2 or > 3 || !EvidenceRegistration.TryDate(parts[0], out var from) || !EvidenceRegistration.TryDate(parts[1], out var to) || to < from
            || (parts.Length == 3 && (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out total) || total <= 0)))
            return new CommandReply(":warning: Type " + Usage_ + ". Dates are YYYY-MM-DD, both included; the optional total is every change shipped in the window, for the break-glass rate.");

        int? totalChanges = parts.Length == 3 ? total : null;
        var window = evidence.Window(from, to);
        LogExport(log, command.UserId, window.From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), window.To.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        // Years of changes and the whole audit chain do not fit Slack's 3 s: acknowledge now, send the figures to response_url.
        if (command.ResponseUrl is { Length: > 0 } responseUrl)
        {
            _ = Task.Run(() => SendFiguresAsync(responseUrl, window, totalChanges, command.UserId));
            return new CommandReply($":hourglass_flowing_sand: Counting the evidence for {from:yyyy-MM-dd} – {to:yyyy-MM-dd} ({window.TimeZone}); the figures follow here in a moment.");
        }
        return new CommandReply(await FiguresAsync(window, totalChanges, ct, countWait: TimeSpan.FromSeconds(1.5)));
    }

    async Task SendFiguresAsync(string responseUrl, ExportWindow window, int? totalChanges, string user)
    {
        var ct = lifetime.ApplicationStopping;
        string text;
        try { text = await FiguresAsync(window, totalChanges, ct, CountWait); }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogFailed(log, e, user);
            text = ":x: The evidence export failed; the error is in the bot's log. Try again, or download the export (`GET /evidence?from=…&to=…`).";
        }
        try { await slackApi.RespondAsync(responseUrl, new SlackMessage(text), ephemeral: true, ct: ct); }
        catch (Exception e) when (e is SlackApiException or OperationCanceledException) { LogUndelivered(log, user, e.Message); }
    }

    async Task<string> FiguresAsync(ExportWindow window, int? totalChanges, CancellationToken ct, TimeSpan countWait)
    {
        var export = await evidence.ExportAsync(window, totalChanges, ct, countWait);
        var s = export.Summary;
        var (from, to) = (window.From, window.To);
        var lines = new List<string>
        {
            $"*Emergency-change evidence {from:yyyy-MM-dd} – {to:yyyy-MM-dd}* ({window.TimeZone})",
            $"{s.Changes} change(s): {s.ReviewedOnTime} reviewed on time, {s.ReviewedLate} late, {s.Open} still open ({s.OpenOverdue} overdue), {s.Cancelled} cancelled.",
            $"Median time to review: {s.MedianTimeToReview ?? "n/a"}. Break-glass use: {s.EmergencyChangesPerWeek.ToString("0.##", CultureInfo.InvariantCulture)} per week"
                + (s.BreakGlassRate is { } rate ? $", {(rate * 100).ToString("0.#", CultureInfo.InvariantCulture)}% of {s.TotalChanges} changes" + (totalChanges is null ? $" ({Blocks.Escape(s.TotalChangesSource ?? "")})." : ".") : "."),
            export.AuditChain.Intact
                ? $"Audit trail intact ({export.AuditChain.Events} events, last hash `{export.AuditChain.LastHash?[..16]}`)."
                : $":rotating_light: Audit trail NOT intact: {Blocks.Escape(export.AuditChain.FirstBreak ?? "")}",
            $"Download: {Link(evidence.ExportUrl(window, "csv", totalChanges), "CSV")} · {Link(evidence.ExportUrl(window, "json", totalChanges), "JSON")} "
                + "(needs an evidence API key: `Authorization: Bearer <key>`)",
            // Last, so the lines above stay where readers (and scripts) find them.
            export.Population.Collected
                ? $"Population: {Blocks.Escape(export.Population.Statement)} Every merged change: {Link(evidence.ExportUrl(window, "csv", totalChanges, "population"), "CSV")}."
                : $"Population: {Blocks.Escape(export.Population.Statement)}",
        };
        return string.Join('\n', lines);
    }

    // Slack decodes &amp; in the whole text, the link target included; a relative URL (no Evidence:PublicBaseUrl) is shown as text.
    static string Link(string url, string label) =>
        url.StartsWith("http", StringComparison.Ordinal) ? Blocks.Link(Blocks.Escape(url), label) : $"{label}: `{Blocks.Escape(url)}`";

    [LoggerMessage(EventId = 9003, Level = LogLevel.Information, Message = "Evidence export {From}..{To} requested in Slack by {User}")]
    static partial void LogExport(ILogger logger, string user, string from, string to);
    [LoggerMessage(EventId = 9004, Level = LogLevel.Error, Message = "Evidence export requested in Slack by {User} failed")]
    static partial void LogFailed(ILogger logger, Exception e, string user);
    [LoggerMessage(EventId = 9005, Level = LogLevel.Warning, Message = "Could not send the evidence export figures to {User}: {Error}")]
    static partial void LogUndelivered(ILogger logger, string user, string error);
}
