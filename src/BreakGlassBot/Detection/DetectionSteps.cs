using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Detection;

/// <summary>Every declaration that links a PR (at once or later) gets a step that settles the merge record of that PR.</summary>
internal sealed class DetectionDeclarationSteps(IOptions<Hosting.DetectionOptions> options) : IDeclarationStepSource
{
    public IEnumerable<PendingStep> StepsFor(EmergencyChange change, DateTimeOffset now) =>
        StepsForAddedLinks(change, [.. change.PullRequests.Select(p => p.Ref)], [], now);

    public IEnumerable<PendingStep> StepsForAddedLinks(EmergencyChange change, IReadOnlyList<PullRequestRef> pullRequests, IReadOnlyList<string> jiraKeys, DateTimeOffset now) =>
        options.Value.Enabled && change.Detected is null ? pullRequests.Select(pr => OutboxQueue.NewStep(StepKinds.DetectionDeclared, now, pr.ToString())) : [];
}

/// <summary>The declaration's PR: its record is declared, and an open detected case about it is taken over.</summary>
internal sealed class DetectionDeclaredStep(Detector detector) : IStepHandler
{
    public string Kind => StepKinds.DetectionDeclared;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        if (change.PullRequests.FirstOrDefault(p => string.Equals(p.Ref.ToString(), step.Target, StringComparison.OrdinalIgnoreCase)) is { } pr)
            await detector.DeclaredAsync(change, pr.Ref);
        return new StepOutcome.Done();
    }
}

/// <summary>/breakglass cancel of a declaration: the detected cases it had taken over open again (a cancelled declaration reviews nothing).</summary>
internal sealed class ReopenDetectedOnCancel(IOptions<Hosting.DetectionOptions> options) : IChangeCancellation
{
    public void Cancelled(EmergencyChange change, DateTimeOffset now)
    {
        if (options.Value.Enabled && change.Detected is null && change.Status == ChangeStatus.Cancelled && change.PullRequests.Count > 0)
            OutboxQueue.Enqueue(change, StepKinds.DetectionCancelled, now);
    }
}

internal sealed class DetectionCancelledStep(Detector detector) : IStepHandler
{
    public string Kind => StepKinds.DetectionCancelled;

    public async Task<StepOutcome> RunAsync(EmergencyChange change, PendingStep step, CancellationToken ct)
    {
        await detector.DeclarationCancelledAsync(change);
        return new StepOutcome.Done();
    }
}
