
namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// Working hours in a time zone: which days, which hours, which holidays. Pure: all arithmetic is on
/// instants given by the caller, and local times are converted through the zone's rules (so a DST
/// change moves 09:00 local to another UTC hour, and the working day keeps its local shape).
/// </summary>
public sealed class BusinessCalendar
{
    readonly TimeZoneInfo zone;
    readonly HashSet<DayOfWeek> days;
    readonly TimeOnly start;
    readonly TimeOnly end;
    readonly HashSet<DateOnly> dates;
    readonly List<PublicHoliday.IPublicHolidays> countries;

    public BusinessCalendar(TimeZoneInfo zone, HashSet<DayOfWeek> days, TimeOnly start, TimeOnly end, IEnumerable<DateOnly> holidays, IEnumerable<string> countryCodes)
    {
        if (end <= start) throw new ArgumentException("Business hours must end after they start on the same day.");
        this.zone = zone;
        this.days = days;
        this.start = start;
        this.end = end;
        dates = [.. holidays];
        countries = [.. countryCodes.Select(c => (PublicHoliday.IPublicHolidays)PublicHoliday.PublicHolidayFactory.GetPublicHolidayForCountry(c.ToUpperInvariant()))];
    }

    public TimeZoneInfo Zone => zone;
    /// <summary>The length of a full working day (a business day of the review window).</summary>
    public TimeSpan DayLength => end - start;

    public bool IsWorkingDay(DateOnly date) =>
        days.Contains(date.DayOfWeek) && !dates.Contains(date)
        && !countries.Any(c => c.IsPublicHoliday(date.ToDateTime(TimeOnly.MinValue)));

    /// <summary>The working interval of a local date, as instants (empty for non-working days).</summary>
    public (DateTimeOffset Start, DateTimeOffset End)? Interval(DateOnly date) =>
        IsWorkingDay(date) ? (ToInstant(date, start), ToInstant(date, end)) : null;

    public bool IsWorkingTime(DateTimeOffset at) =>
        Interval(LocalDate(at)) is { } i && at >= i.Start && at < i.End;

    /// <summary><paramref name="at"/> itself when it is working time, else the start of the next working interval.</summary>
    public DateTimeOffset NextWorkingTime(DateTimeOffset at)
    {
        foreach (var (s, e) in IntervalsFrom(at))
            return s;
        throw new InvalidOperationException("No working day within ten years: check Policy:BusinessHours and Policy:Holidays.");
    }

    /// <summary>Moves forward by <paramref name="amount"/> of working time, starting at <paramref name="from"/>.</summary>
    public DateTimeOffset AddWorkingTime(DateTimeOffset from, TimeSpan amount)
    {
        var left = amount;
        foreach (var (s, e) in IntervalsFrom(from))
        {
            if (e - s >= left) return s + left;
            left -= e - s;
        }
        throw new InvalidOperationException("No working day within ten years: check Policy:BusinessHours and Policy:Holidays.");
    }

    /// <summary>Working time between two instants (zero when <paramref name="to"/> is earlier).</summary>
    public TimeSpan WorkingTimeBetween(DateTimeOffset from, DateTimeOffset to)
    {
        var total = TimeSpan.Zero;
        foreach (var (s, e) in IntervalsFrom(from))
        {
            if (s >= to) break;
            total += (e < to ? e : to) - s;
        }
        return total;
    }

    /// <summary>Working intervals from <paramref name="from"/> on, the first one clipped to start at it.</summary>
    IEnumerable<(DateTimeOffset Start, DateTimeOffset End)> IntervalsFrom(DateTimeOffset from)
    {
        var date = LocalDate(from);
        for (var i = 0; i < 3660; i++, date = date.AddDays(1))
        {
            if (Interval(date) is not { } interval || interval.End <= from) continue;
            yield return (interval.Start < from ? from : interval.Start, interval.End);
        }
    }

    DateOnly LocalDate(DateTimeOffset at) => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(at, zone).DateTime);

    DateTimeOffset ToInstant(DateOnly date, TimeOnly time)
    {
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        // A local time skipped by a DST change (02:30 on spring-forward day) starts at the first valid minute after it.
        while (zone.IsInvalidTime(local)) local = local.AddMinutes(1);
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone), TimeSpan.Zero);
    }
}
