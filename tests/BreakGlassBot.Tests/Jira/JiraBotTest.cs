using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>Per test: a fake Slack, a fake Jira, and the real bot pointed at both (started by the test, with its settings).</summary>
public abstract class JiraBotTest() : BotTest(Fakes.Jira)
{
    protected override bool StartsBotFirst => false;

    public enum Flavor { Cloud, DataCenter, None }

    /// <summary>Starts <see cref="BotTest.Bot"/> against the fake Jira as Jira Cloud (email and API token) or Data Center (a personal access token), or without Jira.</summary>
    protected async Task StartBotAsync(Flavor flavor = Flavor.Cloud, IDictionary<string, string?>? extra = null)
    {
        // On top of the Cloud settings BotTest points the bot at the fake Jira with; null removes one.
        var settings = new Dictionary<string, string?>();
        if (flavor != Flavor.Cloud) { settings["Jira:Email"] = null; settings["Jira:ApiToken"] = null; }
        if (flavor == Flavor.None) settings["Jira:BaseUrl"] = null;
        if (flavor == Flavor.DataCenter) settings["Jira:PersonalAccessToken"] = FakeJira.Pat;
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        Bot = await base.StartBotAsync(settings);
    }

    protected Task StepSettled(string kind, int id = 1) =>
        Eventually.Until(() => Change(id).Steps.Any(s => s.Kind == kind) && Change(id).Steps.Where(s => s.Kind == kind).All(s => s.State != StepState.Pending),
            $"{kind} steps of BG-{id} settled");

    protected Task AllSettled(int id = 1) => Eventually.Until(() => Change(id).NextStepAt is null, $"all steps of BG-{id} settled");

    protected static PendingStep StepOf(EmergencyChange c, string kind, string? target = null) =>
        c.Steps.Single(s => s.Kind == kind && (target is null || s.Target == target));

    protected IReadOnlyList<AuditEvent> Audit(string type, int id = 1) => [.. Bot.Store.AuditTrail(id).Where(e => e.Type == type)];

    protected static string AllThreadText(IEnumerable<PostedSlackMessage> messages) => string.Join("\n", messages.Select(m => m.Text));
}
