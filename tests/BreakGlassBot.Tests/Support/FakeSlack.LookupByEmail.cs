using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.Support;

/// <summary>users.lookupByEmail (the SSO directory): the workspace's users by e-mail, answered in the fixture's shape.</summary>
public sealed partial class FakeSlack
{
    /// <summary>A workspace member as users.lookupByEmail finds them; <see cref="EmailConfirmed"/> null leaves is_email_confirmed out.</summary>
    public sealed record Member(string Id, bool Deleted = false, bool IsBot = false, bool? EmailConfirmed = true);

    /// <summary>Members by e-mail (case-insensitive, as Slack matches addresses).</summary>
    public ConcurrentDictionary<string, Member> MembersByEmail { get; } = new(StringComparer.OrdinalIgnoreCase);

    IResult LookupByEmail(HttpRequest request, JsonObject args)
    {
        // Slack: "This method does not currently accept application/json".
        if (request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true) return Refuse("invalid_arguments");
        var email = Str(args, "email") ?? "";
        // A deactivated user is not found either, as Slack documents.
        if (!MembersByEmail.TryGetValue(email, out var member) || member.Deleted)
            return Json(Fixtures.Object("slack/users_lookupByEmail_error_users_not_found.json"));
        var reply = Fixtures.Object("slack/users_lookupByEmail.json");
        var user = reply["user"]!.AsObject();
        user["id"] = member.Id;
        user["name"] = member.Id.ToLowerInvariant();
        user["is_bot"] = member.IsBot;
        user["is_admin"] = false;
        user["profile"]!["email"] = email;
        if (member.EmailConfirmed is { } confirmed) user["is_email_confirmed"] = confirmed;
        return Json(reply);
    }
}
