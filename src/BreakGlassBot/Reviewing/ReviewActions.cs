using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Declaring;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Reviewing;

/// <summary>The buttons on announcements and reminders; the value of each is the change id (BG-n).</summary>
public static class ReviewActions
{
    public const string Approve = "breakglass_approve";
    public const string RequestChanges = "breakglass_request_changes";
    public const string Details = "breakglass_details";
    public const string BlockId = "breakglass_review";

    public static JsonObject Buttons(EmergencyChange c) => Blocks.Actions(BlockId,
        Blocks.Button("Approve retroactively", Approve, c.ChangeId.ToString(), "primary"),
        Blocks.Button("Request changes", RequestChanges, c.ChangeId.ToString()),
        Blocks.Button("Details", Details, c.ChangeId.ToString()));
}

internal sealed class AnnouncementButtons : IAnnouncementActions
{
    public JsonObject Buttons(EmergencyChange change) => ReviewActions.Buttons(change);
}
