using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>Per test: a fake Slack, a fake Jira, and the real bot pointed at both (started by the test, with its settings).</summary>
public abstract class JiraBotTest : IAsyncLifetime
{
    protected FakeSlack Slack { get; } = new();
    protected FakeJira Jira { get; } = new();
    protected TestBot Bot { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        await Slack.StartAsync();
        await Jira.StartAsync();
    }

    public virtual async Task DisposeAsync()
    {
        if (Bot is not null) await Bot.DisposeAsync();
        await Jira.DisposeAsync();
        await Slack.DisposeAsync();
    }

    public enum Flavor { Cloud, DataCenter, None }

    protected async Task StartBotAsync(Flavor flavor = Flavor.Cloud, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>();
        if (flavor != Flavor.None) settings["Jira:BaseUrl"] = Jira.Url;
        if (flavor == Flavor.Cloud) { settings["Jira:Email"] = FakeJira.Email; settings["Jira:ApiToken"] = FakeJira.ApiToken; }
        if (flavor == Flavor.DataCenter) settings["Jira:PersonalAccessToken"] = FakeJira.Pat;
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        Bot = await TestBot.StartAsync(Slack, settings: settings);
    }

    protected EmergencyChange Change(int id = 1) => Bot.Store.Get(id)!;

    /// <summary>The replies in the change's thread; empty until it is announced.</summary>
    protected IReadOnlyList<PostedSlackMessage> Thread(int id = 1) =>
        Change(id).Announcement is { } a ? Slack.Thread(TestBot.Channel, a.Ts) : [];

    protected Task StepSettled(string kind, int id = 1) =>
        Eventually.Until(() => Change(id).Steps.Any(s => s.Kind == kind) && Change(id).Steps.Where(s => s.Kind == kind).All(s => s.State != StepState.Pending),
            $"{kind} steps of BG-{id} settled");

    protected Task AllSettled(int id = 1) => Eventually.Until(() => Change(id).NextStepAt is null, $"all steps of BG-{id} settled");

    protected static PendingStep StepOf(EmergencyChange c, string kind, string? target = null) =>
        c.Steps.Single(s => s.Kind == kind && (target is null || s.Target == target));

    protected IReadOnlyList<AuditEvent> Audit(string type, int id = 1) => [.. Bot.Store.AuditTrail(id).Where(e => e.Type == type)];

    protected static string AllThreadText(IEnumerable<PostedSlackMessage> messages) => string.Join("\n", messages.Select(m => m.Text));
}
