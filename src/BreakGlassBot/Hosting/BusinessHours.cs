using System.Globalization;
using System.Text.RegularExpressions;

namespace BreakGlassBot.Hosting;

/// <summary>The Policy:BusinessHours setting; the configuration check and the business calendar both read it.</summary>
public static partial class BusinessHours
{
    /// <summary>Parses Policy:BusinessHours ("Mon-Fri 09:00-17:00", "Sun-Thu 08:30-16:30", "Mon,Tue,Thu 10:00-14:00").</summary>
    public static bool TryParse(string text, out HashSet<DayOfWeek> days, out TimeOnly start, out TimeOnly end)
    {
        days = [];
        start = end = default;
        var m = HoursPattern().Match(text.Trim());
        if (!m.Success) return false;
        if (!TimeOnly.TryParseExact(m.Groups["from"].Value, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out start)
            || !TimeOnly.TryParseExact(m.Groups["to"].Value, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out end)
            || end <= start)
            return false;
        foreach (var part in m.Groups["days"].Value.Split(','))
        {
            var range = part.Split('-');
            if (range.Length is < 1 or > 2 || !TryDay(range[0], out var first)) return false;
            var last = first;
            if (range.Length == 2 && !TryDay(range[1], out last)) return false;
            for (var d = first; ; d = (DayOfWeek)(((int)d + 1) % 7))
            {
                days.Add(d);
                if (d == last) break;
            }
        }
        return days.Count > 0;
    }

    static bool TryDay(string text, out DayOfWeek day)
    {
        day = default;
        var names = new[] { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
        var i = Array.IndexOf(names, text.Trim().ToLowerInvariant()[..Math.Min(3, text.Trim().Length)]);
        if (i < 0) return false;
        day = (DayOfWeek)i;
        return true;
    }

    [GeneratedRegex(@"^(?<days>[A-Za-z]{3}(?:-[A-Za-z]{3})?(?:,[A-Za-z]{3}(?:-[A-Za-z]{3})?)*)\s+(?<from>\d{2}:\d{2})-(?<to>\d{2}:\d{2})$")]
    private static partial Regex HoursPattern();
}
