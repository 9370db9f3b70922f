using BreakGlassBot.Deadlines;
using BreakGlassBot.Declaring;
using BreakGlassBot.Detection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Hangfire;
using Microsoft.Extensions.Options;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Digest;

public static class DigestRegistration
{
    /// <summary>The weekly overdue digest: a recurring Hangfire job for managers and Slack:DigestChannel, and /breakglass overdue.</summary>
    public static WebApplicationBuilder AddDigest(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton(sp => new DigestBuilder(sp.GetRequiredService<ChangeMessages>()));
        s.AddSingleton<AllChangesSettings>();
        s.AddSingleton<AllChangesCounter>();
        // The population of merged changes for the digest's line (and the export's section): read only when Detection:Enabled.
        s.TryAddSingleton<PopulationService>();
        s.AddSingleton<DigestContent>();
        s.AddSingleton<DigestSender>();
        s.AddTransient<WeeklyDigestJob>();
        s.AddSingleton<ISubCommand, OverdueCommand>();
        s.AddSingleton<IRecurringSchedule, DigestSchedule>();
        // The Home tab: what is mine, published on app_home_opened and after a click on it.
        s.AddSingleton<HomeView>();
        s.AddSingleton<HomeTab>();
        s.AddSingleton<IHomeTabAnswer>(sp => sp.GetRequiredService<HomeTab>());
        s.AddSingleton<ISlackEventHandler, HomeTabOpened>();
        return builder;
    }
}

/// <summary>Registers the recurring job under its stable id at start-up (AddOrUpdate: a changed cron or zone replaces the old one).</summary>
internal sealed class DigestSchedule(IRecurringJobManager recurring, InstanceQueue queue, IOptions<PolicyOptions> policy) : IRecurringSchedule
{
    public string? Id => WeeklyDigestJob.RecurringId;

    // Per instance on a shared job store: each instance's digest covers its own changes (see InstanceQueue).
    public void Register() =>
        queue.AddOrUpdate<WeeklyDigestJob>(recurring, WeeklyDigestJob.RecurringId, j => j.RunAsync(null, CancellationToken.None), policy.Value.DigestCron,
            new RecurringJobOptions { TimeZone = ConfigurationCheck.FindTimeZone(policy.Value.DigestTimeZone) });
}
