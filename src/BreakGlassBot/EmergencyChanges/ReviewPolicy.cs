using System.Globalization;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// The review policy as arithmetic: when a change is due, when to remind, when to escalate. Pure functions
/// of the configured policy and the instants passed in; the caller reads the clock.
/// </summary>
public sealed class ReviewPolicy
{
    readonly PolicyOptions options;

    public ReviewPolicy(IOptions<PolicyOptions> options)
    {
        this.options = options.Value;
        Calendar = CreateCalendar(this.options);
    }

    public PolicyOptions Options => options;
    public BusinessCalendar Calendar { get; }

    public static BusinessCalendar CreateCalendar(PolicyOptions options)
    {
        if (!BusinessHours.TryParse(options.BusinessHours, out var days, out var start, out var end))
            throw new FormatException($"Policy:BusinessHours '{options.BusinessHours}' is not like 'Mon-Fri 09:00-17:00'");
        var dates = new List<DateOnly>();
        var countries = new List<string>();
        foreach (var entry in options.Holidays)
            if (DateOnly.TryParseExact(entry, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)) dates.Add(d);
            else countries.Add(entry);
        return new BusinessCalendar(TimeZoneInfo.FindSystemTimeZoneById(options.TimeZone), days, start, end, dates, countries);
    }

    /// <summary>
    /// Declared time + Policy:ReviewWindow. In business-hours mode the window counts working time only:
    /// its whole days are business days (each as long as the working day), the rest working hours.
    /// </summary>
    public DateTimeOffset DueAt(DateTimeOffset declaredAt)
    {
        var window = options.ReviewWindow;
        if (!options.BusinessHoursOnly) return declaredAt + window;
        var working = Calendar.DayLength * window.Days + (window - TimeSpan.FromDays(window.Days));
        return Calendar.AddWorkingTime(declaredAt, working);
    }

    /// <summary>The next reminder after one sent (or due) at <paramref name="at"/>; in business-hours mode only in working time.</summary>
    public DateTimeOffset NextReminderAt(DateTimeOffset at)
    {
        var next = at + options.ReminderInterval;
        return options.BusinessHoursOnly ? Calendar.NextWorkingTime(next) : next;
    }

    /// <summary>When reminders may go out now, or the first moment they may.</summary>
    public DateTimeOffset ReminderWindowFrom(DateTimeOffset now) => options.BusinessHoursOnly ? Calendar.NextWorkingTime(now) : now;

    public DateTimeOffset EscalateAt(DateTimeOffset dueAt) => dueAt + options.EscalateAfter;

    /// <summary>How the window is counted, in words, for messages and the evidence record.</summary>
    public string Describe() => options.BusinessHoursOnly
        ? $"{Format(options.ReviewWindow, business: true)} of working time ({options.BusinessHours} {options.TimeZone}"
          + (options.Holidays.Count > 0 ? ", holidays: " + string.Join(' ', options.Holidays) : "") + ") after declaration"
        : $"{Format(options.ReviewWindow)} after declaration";

    public static string Format(TimeSpan span, bool business = false)
    {
        var neg = span < TimeSpan.Zero;
        span = span.Duration();
        var d = business ? " business day" : "d";
        var text = span.TotalDays >= 1
            ? business ? $"{(int)span.TotalDays}{d}{((int)span.TotalDays == 1 ? "" : "s")}" + (span.Hours > 0 ? $" {span.Hours}h" : "") : $"{(int)span.TotalDays}d {span.Hours}h"
            : span.TotalHours >= 1 ? $"{(int)span.TotalHours}h {span.Minutes}m"
            : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m"
            : $"{Math.Max(0, (int)span.TotalSeconds)}s";
        return neg ? "-" + text : text;
    }
}
