using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Declaring;

public static class DeclaringRegistration
{
    public static WebApplicationBuilder AddDeclaring(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton<Permissions>();
        s.AddSingleton<DeclarerPolicy>();
        s.AddSingleton<ISlackReplayStore, SlackReplays>();
        s.AddSingleton<ISlackInstallationMemory, SlackInstallationMemory>();
        s.AddSingleton<ReadAccess>();
        s.AddSingleton(sp => LinkHosts.From(sp.GetRequiredService<IOptions<GitHubOptions>>().Value.WebBaseUrl,
            sp.GetRequiredService<IOptions<JiraOptions>>().Value.BaseUrl));
        s.AddSingleton<Declarations>();
        s.AddSingleton<DeclareCommand>();
        // The built-in sub-commands first: help lists them in this order, then the ones other features add.
        s.AddSingleton<ISubCommand, StatusCommand>();
        s.AddSingleton<ISubCommand, ListCommand>();
        s.AddSingleton<ISubCommand, CancelCommand>();
        s.AddSingleton<ISubCommand, LinkChangeCommand>();
        s.AddSingleton<BreakGlassCommand>();
        s.AddSingleton<ISlashCommandHandler>(sp => sp.GetRequiredService<BreakGlassCommand>());
        s.AddSingleton<DeclarationModal>();
        s.AddSingleton<IViewSubmissionHandler>(sp => sp.GetRequiredService<DeclarationModal>());
        s.AddSingleton<IStepHandler, AnnounceStep>();
        s.AddSingleton<IStepHandler, ThreadDetailsStep>();
        s.AddSingleton<IStepHandler, RefreshAnnouncementStep>();
        s.AddSingleton<IThreadNoteSource, CancelledNote>();
        s.AddSingleton<IThreadNoteSource, LinksAddedNote>();
        s.AddSingleton<IDirectMessageSource, AnnouncementBlockedNotice>();
        s.AddSingleton(sp =>
        {
            var github = sp.GetRequiredService<IOptions<GitHubOptions>>().Value;
            return new ChangeMessages(
                sp.GetRequiredService<IOptions<JiraOptions>>().Value.BaseUrl,
                sp.GetRequiredService<IOptions<SlackOptions>>().Value.AnnouncementChannel,
                // Without GitHub credentials no mode grants anything: word it as RecordOnly.
                new BypassSettings(github.IsConfigured ? github.BypassMode : BypassMode.RecordOnly, github.BypassTeam,
                    sp.GetRequiredService<IOptions<PolicyOptions>>().Value.BypassDuration),
                sp.GetService<IAnnouncementActions>());
        });
        return builder;
    }
}
