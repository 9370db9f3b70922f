using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Deadlines;

/// <summary>Pure review-deadline arithmetic over the configured policy.</summary>
public sealed class ReviewPolicy(IOptions<PolicyOptions> options)
{
    public PolicyOptions Options => options.Value;

    public DateTimeOffset DueAt(DateTimeOffset declaredAt) => declaredAt + options.Value.ReviewWindow;

    /// <summary>How the window is counted, in words, for messages and the evidence record.</summary>
    public string Describe() => $"{Format(options.Value.ReviewWindow)} after declaration";

    public static string Format(TimeSpan span)
    {
        var neg = span < TimeSpan.Zero;
        span = span.Duration();
        var text = span.TotalDays >= 1 ? $"{(int)span.TotalDays}d {span.Hours}h"
            : span.TotalHours >= 1 ? $"{(int)span.TotalHours}h {span.Minutes}m"
            : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m"
            : $"{Math.Max(0, (int)span.TotalSeconds)}s";
        return neg ? "-" + text : text;
    }
}
