using BreakGlassBot.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Tests.Deadlines;

public class ReviewPolicyTests
{
    static ReviewPolicy Policy(string window = "2.00:00:00", bool business = true, string zone = "Europe/Berlin", string hours = "Mon-Fri 09:00-17:00",
        string reminder = "04:00:00", params string[] holidays) =>
        new(Options.Create(new PolicyOptions
        {
            ReviewWindow = TimeSpan.Parse(window), BusinessHoursOnly = business, TimeZone = zone, BusinessHours = hours,
            ReminderInterval = TimeSpan.Parse(reminder), Holidays = [.. holidays],
        }));

    /// <summary>A local wall-clock time in <paramref name="zone"/>, as an instant.</summary>
    static DateTimeOffset Local(string zone, int y, int mo, int d, int h, int mi = 0)
    {
        var tz = TimeZoneInfo.FindSystemTimeZoneById(zone);
        var local = new DateTime(y, mo, d, h, mi, 0, DateTimeKind.Unspecified);
        return new DateTimeOffset(local, tz.GetUtcOffset(local));
    }

    static DateTime InZone(DateTimeOffset at, string zone) => TimeZoneInfo.ConvertTime(at, TimeZoneInfo.FindSystemTimeZoneById(zone)).DateTime;

    const string Berlin = "Europe/Berlin";
    const string NewYork = "America/New_York";

    [Fact]
    public void WallClockWindowsIgnoreWeekendsAndNights()
    {
        var declared = Local(Berlin, 2026, 11, 28, 3); // Saturday 03:00
        Assert.Equal(declared.AddHours(24), Policy("1.00:00:00", business: false).DueAt(declared));
        Assert.Equal(declared.AddDays(2), Policy(business: false).DueAt(declared));
    }

    [Theory]
    // Monday 10:00 + 2 business days (16 working hours) = Wednesday 10:00
    [InlineData(2026, 11, 23, 10, 0, 2026, 11, 25, 10, 0)]
    // Friday 16:00: 1 h Friday, 8 h Monday, 7 h Tuesday = Tuesday 16:00
    [InlineData(2026, 11, 27, 16, 0, 2026, 12, 1, 16, 0)]
    // Sunday 03:00: the clock starts Monday 09:00 = Tuesday 17:00
    [InlineData(2026, 11, 29, 3, 0, 2026, 12, 1, 17, 0)]
    // Saturday noon: same as Sunday
    [InlineData(2026, 11, 28, 12, 0, 2026, 12, 1, 17, 0)]
    // Monday 20:00 (after hours): Tuesday 09:00 + 16 h = Wednesday 17:00
    [InlineData(2026, 11, 23, 20, 0, 2026, 11, 25, 17, 0)]
    // Monday 07:00 (before hours): Monday 09:00 + 16 h = Tuesday 17:00
    [InlineData(2026, 11, 23, 7, 0, 2026, 11, 24, 17, 0)]
    // Friday 17:00 exactly (closing time): Monday 09:00 + 16 h = Tuesday 17:00
    [InlineData(2026, 11, 27, 17, 0, 2026, 12, 1, 17, 0)]
    public void TwoBusinessDaysInBerlin(int y, int mo, int d, int h, int mi, int ey, int emo, int ed, int eh, int emi)
    {
        var due = Policy().DueAt(Local(Berlin, y, mo, d, h, mi));
        Assert.Equal(new DateTime(ey, emo, ed, eh, emi, 0), InZone(due, Berlin));
    }

    [Fact]
    public void GermanPublicHolidaysAreSkipped()
    {
        // Thu 24 Dec 10:00: 7 h Thursday; Fri 25 (Christmas) and Sat/Sun off; Mon 28 8 h; 1 h Tuesday = Tue 29 Dec 10:00.
        // (Sat 26 is a holiday too, but a weekend anyway.)
        var due = Policy(holidays: "DE").DueAt(Local(Berlin, 2026, 12, 24, 10));
        Assert.Equal(new DateTime(2026, 12, 29, 10, 0, 0), InZone(due, Berlin));
        // Without the holiday calendar Friday counts.
        Assert.Equal(new DateTime(2026, 12, 28, 10, 0, 0), InZone(Policy().DueAt(Local(Berlin, 2026, 12, 24, 10)), Berlin));
    }

    [Fact]
    public void UsThanksgivingIsSkippedInNewYork()
    {
        // Wed 25 Nov 09:00 ET: 8 h Wednesday, Thursday is Thanksgiving, 8 h Friday = Fri 27 Nov 17:00 ET.
        var due = Policy(zone: NewYork, holidays: "US").DueAt(Local(NewYork, 2026, 11, 25, 9));
        Assert.Equal(new DateTime(2026, 11, 27, 17, 0, 0), InZone(due, NewYork));
    }

    [Fact]
    public void ExplicitHolidayDatesAreSkipped()
    {
        var due = Policy("1.00:00:00", holidays: ["2026-11-24", "2026-11-25"]).DueAt(Local(Berlin, 2026, 11, 23, 17));
        Assert.Equal(new DateTime(2026, 11, 26, 17, 0, 0), InZone(due, Berlin)); // Tue and Wed off: all of Thursday
    }

    [Fact]
    public void SpringForwardInBerlinKeepsTheLocalWorkingDay()
    {
        // Fri 27 Mar 2026 16:00 CET (UTC+1); clocks go forward on Sunday 29 Mar. One business day = 8 working hours:
        // 1 h Friday, then Monday 09:00 CEST (UTC+2) + 7 h = Monday 16:00 local = 14:00 UTC.
        var due = Policy("1.00:00:00").DueAt(Local(Berlin, 2026, 3, 27, 16));
        Assert.Equal(new DateTime(2026, 3, 30, 16, 0, 0), InZone(due, Berlin));
        Assert.Equal(new DateTimeOffset(2026, 3, 30, 14, 0, 0, TimeSpan.Zero), due.ToUniversalTime());
    }

    [Theory]
    // 03:00 on the Sunday the clocks go forward (02:00 → 03:00): the first working hour is Monday 09:00 in summer time,
    // and 2 business days (16 working hours) end on Tuesday 17:00 local.
    [InlineData(Berlin, 2026, 3, 29, 31, 15)]   // CEST, UTC+2
    [InlineData(NewYork, 2026, 3, 8, 10, 21)]   // EDT, UTC-4
    public void AThreeAmDeclarationOnAClockChangeSundayCountsFromMondayMorning(string zone, int y, int mo, int d, int dueDay, int dueUtcHour)
    {
        var declared = Local(zone, y, mo, d, 3);
        var policy = Policy(zone: zone);
        var due = policy.DueAt(declared);
        var tuesday = new DateTime(y, mo, d, 17, 0, 0).AddDays(2);
        Assert.Equal(tuesday, InZone(due, zone));
        Assert.Equal(new DateTimeOffset(y, mo, dueDay, dueUtcHour, 0, 0, TimeSpan.Zero), due.ToUniversalTime());
        // Reminders wait for the working day too: Monday 09:00 local, in summer time.
        Assert.Equal(new DateTime(y, mo, d, 9, 0, 0).AddDays(1), InZone(policy.ReminderWindowFrom(declared), zone));
        // In wall-clock mode the window is an exact duration from 03:00, across the missing hour.
        Assert.Equal(declared.AddHours(24), Policy("1.00:00:00", business: false, zone: zone).DueAt(declared));
    }

    [Fact]
    public void FallBackInNewYorkKeepsTheLocalWorkingDay()
    {
        // Fri 30 Oct 2026 12:00 EDT (UTC-4); clocks go back on Sunday 1 Nov. 5 h Friday, then Monday 09:00 EST (UTC-5) + 3 h.
        var due = Policy("1.00:00:00", zone: NewYork).DueAt(Local(NewYork, 2026, 10, 30, 12));
        Assert.Equal(new DateTime(2026, 11, 2, 12, 0, 0), InZone(due, NewYork));
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 17, 0, 0, TimeSpan.Zero), due.ToUniversalTime());
    }

    [Fact]
    public void WallClockWindowsAcrossDstAreExactDurations()
    {
        var declared = Local(Berlin, 2026, 3, 28, 12);
        var due = Policy("1.00:00:00", business: false).DueAt(declared);
        Assert.Equal(TimeSpan.FromHours(24), due - declared);
        Assert.Equal(new DateTime(2026, 3, 29, 13, 0, 0), InZone(due, Berlin)); // 24 real hours, 25 on the wall clock
    }

    [Fact]
    public void HoursInTheWindowAreWorkingHours()
    {
        var due = Policy("04:00:00").DueAt(Local(Berlin, 2026, 11, 27, 15)); // Friday 15:00 + 4 working hours
        Assert.Equal(new DateTime(2026, 11, 30, 11, 0, 0), InZone(due, Berlin));
        var dayAndHours = Policy("1.02:00:00").DueAt(Local(Berlin, 2026, 11, 23, 9)); // 8 h + 2 h from Monday 09:00
        Assert.Equal(new DateTime(2026, 11, 24, 11, 0, 0), InZone(dayAndHours, Berlin));
    }

    [Fact]
    public void ASundayToThursdayWeekWorks()
    {
        var due = Policy("1.00:00:00", zone: "Asia/Jerusalem", hours: "Sun-Thu 08:00-16:00").DueAt(Local("Asia/Jerusalem", 2026, 11, 27, 10)); // Friday
        Assert.Equal(new DateTime(2026, 11, 29, 16, 0, 0), InZone(due, "Asia/Jerusalem")); // all of Sunday
    }

    [Fact]
    public void RemindersInBusinessModeWaitForWorkingHours()
    {
        var policy = Policy();
        Assert.Equal(new DateTime(2026, 11, 30, 9, 0, 0), InZone(policy.NextReminderAt(Local(Berlin, 2026, 11, 27, 16, 30)), Berlin)); // Fri 20:30 -> Mon 09:00
        Assert.Equal(new DateTime(2026, 11, 24, 14, 0, 0), InZone(policy.NextReminderAt(Local(Berlin, 2026, 11, 24, 10)), Berlin));
        Assert.Equal(Local(Berlin, 2026, 11, 27, 20, 30), Policy(business: false).NextReminderAt(Local(Berlin, 2026, 11, 27, 16, 30)));
    }

    [Fact]
    public void WorkingTimeBetweenCountsOnlyWorkingHours()
    {
        var cal = Policy().Calendar;
        Assert.Equal(TimeSpan.FromHours(9), cal.WorkingTimeBetween(Local(Berlin, 2026, 11, 27, 16), Local(Berlin, 2026, 12, 1, 9)));
        Assert.Equal(TimeSpan.Zero, cal.WorkingTimeBetween(Local(Berlin, 2026, 11, 28, 9), Local(Berlin, 2026, 11, 29, 20)));
        Assert.True(cal.IsWorkingTime(Local(Berlin, 2026, 11, 27, 16, 59)));
        Assert.False(cal.IsWorkingTime(Local(Berlin, 2026, 11, 27, 17)));
    }

    [Theory]
    [InlineData("Mon-Fri 09:00-17:00", "Monday,Tuesday,Wednesday,Thursday,Friday")]
    [InlineData("Sun-Thu 08:00-16:00", "Sunday,Monday,Tuesday,Wednesday,Thursday")]
    [InlineData("Fri-Mon 10:00-12:00", "Sunday,Monday,Friday,Saturday")]
    [InlineData("Mon,Wed,Fri 10:00-14:00", "Monday,Wednesday,Friday")]
    public void BusinessHoursParse(string text, string expectedDays)
    {
        Assert.True(BusinessHours.TryParse(text, out var days, out _, out _));
        Assert.Equal(expectedDays.Split(',').Select(Enum.Parse<DayOfWeek>).ToHashSet(), days);
    }

    [Theory]
    [InlineData("weekdays")]
    [InlineData("Mon-Fri 17:00-09:00")]
    [InlineData("Mon-Fri 9-17")]
    [InlineData("Moo-Fri 09:00-17:00")]
    [InlineData("Mon-Fri 09:00-25:00")]
    public void BadBusinessHoursAreRejected(string text) => Assert.False(BusinessHours.TryParse(text, out _, out _, out _));

    [Fact]
    public void BadPolicyValuesAreNamedAtStartUp()
    {
        var config = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Policy:BusinessHours"] = "whenever", ["Policy:Holidays:0"] = "Atlantis", ["Policy:Holidays:1"] = "2026-13-01", ["Policy:DigestCron"] = "every monday",
        }).Build();
        var errors = ConfigurationCheck.Validate(config);
        Assert.Contains(errors, e => e.StartsWith("Policy:BusinessHours"));
        Assert.Contains(errors, e => e.Contains("'Atlantis'"));
        Assert.Contains(errors, e => e.Contains("'2026-13-01'"));
        Assert.Contains(errors, e => e.StartsWith("Policy:DigestCron"));
    }
}
