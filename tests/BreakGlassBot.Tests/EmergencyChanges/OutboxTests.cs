using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Tests.EmergencyChanges;

/// <summary>An integration step that fails a scripted number of times, then succeeds or gives up.</summary>
sealed class ScriptedStep : IStepHandler, IDeclarationStepSource
{
    public const string StepKind = "test-scripted";
    public int FailuresLeft;
    public bool GiveUp;
    public int Runs;

    public string Kind => StepKind;
    public string? Describe(EmergencyChange change, PendingStep step) => $"tell the test server about {change.ChangeId}";
    public IEnumerable<PendingStep> StepsFor(EmergencyChange change, DateTimeOffset now) => [OutboxQueue.NewStep(StepKind, now, "target-1")];

    public Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        Interlocked.Increment(ref Runs);
        if (GiveUp) return Task.FromResult<StepOutcome>(new StepOutcome.GiveUp("the test server will never know it; ask an admin to register it by hand."));
        if (Interlocked.Decrement(ref FailuresLeft) >= 0) return Task.FromResult<StepOutcome>(new StepOutcome.Retry("http_503"));
        return Task.FromResult<StepOutcome>(new StepOutcome.Done());
    }
}

[Trait("Category", "EndToEnd")]
public class OutboxTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly ScriptedStep step = new();
    TestBot bot = null!;

    public async Task InitializeAsync()
    {
        await slack.StartAsync();
        bot = await TestBot.StartAsync(slack, configure: b =>
        {
            b.Services.AddSingleton<IStepHandler>(step);
            b.Services.AddSingleton<IDeclarationStepSource>(step);
        });
    }

    public async Task DisposeAsync()
    {
        await bot.DisposeAsync();
        await slack.DisposeAsync();
    }

    IReadOnlyList<PostedSlackMessage> Thread() => slack.Thread(TestBot.Channel, bot.Store.Get(1)!.Announcement!.Ts);

    [Fact]
    public async Task AFailingStepIsReportedOnceRetriedAndItsRecoveryAnnounced()
    {
        step.FailuresLeft = 3;
        await bot.CommandJsonAsync("Fix it");
        await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "all steps done");
        Assert.Equal(4, step.Runs);
        var failed = Assert.Single(Thread(), m => m.Text.Contains("Could not tell the test server about BG-1 yet (http_503)"));
        Assert.Contains($"<@{TestBot.Declarer}>", failed.Text);
        Assert.Single(Thread(), m => m.Text.Contains("Done after all: tell the test server about BG-1"));
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepFailed && e.Data["step"] == ScriptedStep.StepKind);
    }

    [Fact]
    public async Task AStepThatCanNeverWorkIsReportedOnceAndNotRetried()
    {
        step.GiveUp = true;
        await bot.CommandJsonAsync("Fix it");
        // No step is pending any more (a retry would be: the give-up left none), so nothing can run it again.
        await Eventually.Until(() => bot.Store.Get(1)!.NextStepAt is null, "all steps settled");
        Assert.Equal(1, step.Runs);
        var gaveUp = Assert.Single(Thread(), m => m.Text.Contains("Could not tell the test server about BG-1: the test server will never know it; ask an admin"));
        Assert.Contains($"<@{TestBot.Declarer}>", gaveUp.Text);
        Assert.Equal(StepState.Abandoned, bot.Store.Get(1)!.Steps.Single(s => s.Kind == ScriptedStep.StepKind).State);
        Assert.Single(bot.Store.AuditTrail(1), e => e.Type == AuditTypes.StepAbandoned);
    }
}
