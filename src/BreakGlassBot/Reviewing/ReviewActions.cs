namespace BreakGlassBot.Reviewing;

/// <summary>The buttons on announcements and reminders; the value of each is the change id (BG-n).</summary>
public static class ReviewActions
{
    public const string Approve = "breakglass_approve";
    public const string RequestChanges = "breakglass_request_changes";
    public const string Details = "breakglass_details";
    public const string BlockId = "breakglass_review";
}
