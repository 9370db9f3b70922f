namespace BreakGlassBot.Outbox;

/// <summary>Asks the deadline tracker to look at a change again now (a webhook said its PR was reviewed, an approval arrived).</summary>
public interface IReevaluation
{
    void Reevaluate(int changeId);
}
