using LiteDB;

namespace BreakGlassBot.EmergencyChanges;

public enum ChangeStatus { Open, Reviewed, Closed, Cancelled }

/// <summary>
/// The aggregate, stored as one LiteDB document. Mutated only through <see cref="ChangeStore.Update"/>,
/// which serialises writers (LiteDB loses concurrent read-modify-writes otherwise).
/// </summary>
public sealed class EmergencyChange
{
    /// <summary>The n in BG-n; also the document id.</summary>
    public int Id { get; set; }
    [BsonIgnore] public ChangeId ChangeId => new(Id);
    public string DeclaredBy { get; set; } = "";
    public string? DeclaredByName { get; set; }
    public string Summary { get; set; } = "";
    public string? Justification { get; set; }
    public string? Service { get; set; }
    public string? Severity { get; set; }
    public DateTimeOffset DeclaredAt { get; set; }
    /// <summary>Where the declaration came from ("command" or "modal:&lt;view id&gt;"); a modal submitted twice declares once.</summary>
    public string? SourceKey { get; set; }
    public string? DeclaredInChannel { get; set; }

    public List<LinkedPullRequest> PullRequests { get; set; } = [];
    public List<LinkedJiraIssue> JiraIssues { get; set; } = [];

    public Announcement? Announcement { get; set; }
    public DateTimeOffset DueAt { get; set; }
    public ChangeStatus Status { get; set; } = ChangeStatus.Open;
    public Cancellation? Cancellation { get; set; }

    /// <summary>Outgoing work not yet done (the outbox): saved with the change, so a crash cannot lose it.</summary>
    public List<PendingStep> Steps { get; set; } = [];
    /// <summary>The earliest time any pending step is due; indexed for the sweep. Null when nothing is pending.</summary>
    public DateTimeOffset? NextStepAt { get; set; }

    public bool IsOverdue(DateTimeOffset now) => Status == ChangeStatus.Open && now > DueAt;

    public void RecomputeNextStep() =>
        NextStepAt = Steps.Where(s => s.State == StepState.Pending).Select(s => (DateTimeOffset?)s.NextAttemptAt).Min();
}

public sealed class LinkedPullRequest
{
    public string Host { get; set; } = "github.com";
    public string Owner { get; set; } = "";
    public string Repo { get; set; } = "";
    public int Number { get; set; }
    [BsonIgnore] public PullRequestRef Ref => new(Host, Owner, Repo, Number);
}

public sealed class LinkedJiraIssue
{
    public string Key { get; set; } = "";
}

public sealed class Announcement
{
    public string Channel { get; set; } = "";
    public string Ts { get; set; } = "";
    public string? Permalink { get; set; }
    public DateTimeOffset PostedAt { get; set; }
}

public sealed class Cancellation
{
    public string By { get; set; } = "";
    public DateTimeOffset At { get; set; }
    public string Reason { get; set; } = "";
}

public enum StepState { Pending, Done }

/// <summary>One unit of outgoing work for a change: retried with back-off until done.</summary>
public sealed class PendingStep
{
    public string Kind { get; set; } = "";
    /// <summary>What the step acts on, when a kind applies to several things (a PR, a Jira key).</summary>
    public string? Target { get; set; }
    public StepState State { get; set; } = StepState.Pending;
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public string? LastError { get; set; }
    public DateTimeOffset? DoneAt { get; set; }
}
