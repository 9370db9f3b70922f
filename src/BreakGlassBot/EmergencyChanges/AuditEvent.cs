namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// One append-only fact about a change: who did what, when, and from which Slack/GitHub/Jira id.
/// Never updated or deleted; <see cref="Sequence"/> orders the whole trail.
/// </summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public long Sequence { get; set; }
    public int ChangeNumber { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary>A Slack user id, or "bot" for the bot's own actions.</summary>
    public string Actor { get; set; } = "";
    public string Type { get; set; } = "";
    public Dictionary<string, string> Data { get; set; } = [];
    /// <summary>The <see cref="Hash"/> of the event before this one (<see cref="AuditChain.Genesis"/> for the first): the hash chain.</summary>
    public string? PreviousHash { get; set; }
    /// <summary>SHA-256 (lower-case hex) of this event's canonical form, which includes <see cref="PreviousHash"/>.</summary>
    public string? Hash { get; set; }
    /// <summary>
    /// The change's sealed state (<see cref="ChangeState"/>) after the write this event belongs to, and before it ("" for a new
    /// change): set on the change's last event of a write that changed it. Null on events that changed nothing sealed.
    /// </summary>
    public string? State { get; set; }
    public string? PreviousState { get; set; }
}

public static class AuditTypes
{
    public const string Declared = "declared";
    public const string Announced = "announced";
    public const string AnnouncementFailed = "announcement_failed";
    public const string StepFailed = "step_failed";
    public const string StepAbandoned = "step_abandoned";
    /// <summary>A Slack step failed with an error retrying will not cure: it waits for an admin, re-checked now and then.</summary>
    public const string StepParked = "step_parked";
    public const string StepUnparked = "step_unparked";
    /// <summary>A direct message was not sent because Slack says the person cannot get one (bot user, deactivated, unknown).</summary>
    public const string DirectMessageSkipped = "direct_message_skipped";
    public const string ParkedNoticeSent = "parked_notice_sent";
    public const string Cancelled = "cancelled";
    /// <summary>An admin ended a used bypass's change early: the change stays open and still needs its review.</summary>
    public const string WithdrawnAfterUse = "withdrawn_after_use";
    public const string Reviewed = "reviewed";
    /// <summary>A reviewed change is open again: a head nobody approved was merged while its bypass was open. Data: pr, head_sha, reviewed_head.</summary>
    public const string Reopened = "reopened";
    /// <summary>The bot changed what a change records (a review fact read, a status from Jira) with no other event to carry its state.</summary>
    public const string StateRecorded = "state_recorded";
    public const string Approved = "approved";
    public const string ApprovalRefused = "approval_refused";
    /// <summary>An approval stopped counting. Data: reviewer, index (its position), because (withdrawn, or what it did not cover).</summary>
    public const string ApprovalVoided = "approval_voided";
    public const string ChangesRequested = "changes_requested";
    public const string Overdue = "overdue";
    public const string Escalated = "escalated";
    public const string ReminderSent = "reminder_sent";
    public const string EscalationSent = "escalation_sent";
    public const string CancelRefused = "cancel_refused";
    /// <summary>About the bot, not a change (<see cref="AuditEvent.ChangeNumber"/> 0): an action taken on the Hangfire dashboard.</summary>
    public const string DashboardAction = "dashboard_action";
    /// <summary>A detected case (source "detected") was taken over by a declaration that links the same change: it closed. Data: declared_as.</summary>
    public const string DetectionAbsorbed = "detection_absorbed";
    /// <summary>The person responsible for a detected case gave its summary and justification.</summary>
    public const string DetectionExplained = "detection_explained";
    /// <summary>An admin named the person responsible for a detected case. Data: responsible, previous.</summary>
    public const string DetectionAssigned = "detection_assigned";
    /// <summary>About the bot (change 0): branch protection or a ruleset of a watched repository was weakened or switched off.</summary>
    public const string ProtectionWeakened = "protection_weakened";
    /// <summary>About the bot (change 0): a detection source (sweep, rule suites, a check) failed and is retried. Data: source, error, attempts.</summary>
    public const string DetectionFailed = "detection_failed";
    /// <summary>About the bot (change 0): a sweep finished. Data: window, repositories, merged, pushes, new.</summary>
    public const string DetectionSwept = "detection_swept";
    /// <summary>About the bot (change 0): a recurring job that had been deleted was registered again.</summary>
    public const string RecurringJobRestored = "recurring_job_restored";
}
