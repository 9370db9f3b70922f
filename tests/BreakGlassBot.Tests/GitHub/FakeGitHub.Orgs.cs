using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// Organisations and repository permissions: org memberships, org invitations (a team PUT for a non-member creates one, as
/// GitHub does) and each person's permission on a repository. Route keys for <see cref="FakeServer.Fail"/>:
/// "GET org membership", "GET invitations", "DELETE invitation", "GET permission".
/// </summary>
public sealed partial class FakeGitHub
{
    /// <summary>Organisation memberships per "org:login": "active", or "pending" (invited). Everyone else is not a member.</summary>
    public ConcurrentDictionary<string, string> OrgMembers { get; } = new(StringComparer.OrdinalIgnoreCase)
    {
        // The identity tests' verified account, under its name before and after a rename.
        ["acme:hubot"] = "active", ["acme:octocat"] = "active", ["acme:monalisa"] = "active", ["acme:mona-renamed"] = "active",
    };

    /// <summary>Pending organisation invitations by id: the org and the invitee's login.</summary>
    public ConcurrentDictionary<long, (string Org, string Login)> Invitations { get; } = new();
    long invitationIds = 100;

    /// <summary>Permission per "owner/repo:login" ("admin", "write", "read", "none"); anyone not listed has <see cref="DefaultPermission"/>.</summary>
    public ConcurrentDictionary<string, string> Permissions { get; } = new(StringComparer.OrdinalIgnoreCase);
    public string DefaultPermission { get; set; } = "write";

    public bool IsOrgMember(string org, string login) => OrgMembers.TryGetValue($"{org}:{login}", out var s) && s == "active";

    public long Invite(string org, string login)
    {
        var id = Interlocked.Increment(ref invitationIds);
        Invitations[id] = (org, login);
        OrgMembers.TryAdd($"{org}:{login}", "pending");
        return id;
    }

    public IReadOnlyList<string> InvitedLogins(string org) => [.. Invitations.Values.Where(i => i.Org == org).Select(i => i.Login)];

    /// <summary>What a team PUT creates: a membership as <see cref="NewMembershipState"/> for an org member; else an invitation to the org, pending.</summary>
    string NewTeamMembership(string team, string login)
    {
        var org = team.Split('/')[0];
        if (IsOrgMember(org, login)) return NewMembershipState;
        Invite(org, login);
        return "pending";
    }

    [GeneratedRegex(@"^/orgs/(?<org>[^/]+)/memberships/(?<login>[^/]+)$")]
    private static partial Regex OrgMembershipPath();

    [GeneratedRegex(@"^/orgs/(?<org>[^/]+)/invitations(?:/(?<id>\d+))?$")]
    private static partial Regex InvitationsPath();

    [GeneratedRegex(@"^/repos/(?<o>[^/]+)/(?<r>[^/]+)/collaborators/(?<login>[^/]+)/permission$")]
    private static partial Regex PermissionPath();

    static string? OrgsKey(string method, string path) =>
        OrgMembershipPath().IsMatch(path) ? method + " org membership"
        : InvitationsPath().Match(path) is { Success: true } i ? (i.Groups["id"].Success ? method + " invitation" : method + " invitations")
        : PermissionPath().IsMatch(path) ? method + " permission"
        : null;

    /// <summary>Answers the organisation and permission routes; false for any other path.</summary>
    async Task<bool> Orgs(HttpContext http, string path)
    {
        var method = http.Request.Method;
        JsonObject NotFound(string doc) => new() { ["message"] = "Not Found", ["documentation_url"] = doc, ["status"] = "404" };
        if (OrgMembershipPath().Match(path) is { Success: true } om && method == "GET")
        {
            var (org, login) = (om.Groups["org"].Value, Uri.UnescapeDataString(om.Groups["login"].Value));
            if (!OrgMembers.TryGetValue($"{org}:{login}", out var state))
            {
                await Write(http, 404, NotFound("https://docs.github.com/rest/orgs/members#get-organization-membership-for-a-user"));
                return true;
            }
            var o = Fixtures.Object("github/org_membership_get.json");
            o["url"] = $"https://api.github.com/orgs/{org}/memberships/{login}";
            o["state"] = state;
            o["role"] = "member";
            o["user"]!["login"] = login;
            await Write(http, 200, o);
            return true;
        }
        if (InvitationsPath().Match(path) is { Success: true } im)
        {
            var org = im.Groups["org"].Value;
            if (method == "GET" && !im.Groups["id"].Success)
            {
                var template = Fixtures.Json("github/org_invitations_list.json").AsArray()[0]!;
                await Write(http, 200, new JsonArray([.. Invitations.Where(kv => kv.Value.Org == org).OrderBy(kv => kv.Key).Select(kv =>
                {
                    var i = template.DeepClone();
                    i["id"] = kv.Key;
                    i["login"] = kv.Value.Login;
                    return i;
                })]));
                return true;
            }
            if (method == "DELETE" && im.Groups["id"].Success)
            {
                if (Invitations.TryRemove(long.Parse(im.Groups["id"].Value), out var gone))
                {
                    OrgMembers.TryRemove(new KeyValuePair<string, string>($"{gone.Org}:{gone.Login}", "pending"));
                    http.Response.StatusCode = 204;
                }
                else await Write(http, 404, NotFound("https://docs.github.com/rest/orgs/members#cancel-an-organization-invitation"));
                return true;
            }
        }
        if (PermissionPath().Match(path) is { Success: true } pm && method == "GET")
        {
            var (repo, login) = ($"{pm.Groups["o"].Value}/{pm.Groups["r"].Value}", Uri.UnescapeDataString(pm.Groups["login"].Value));
            var permission = Permissions.GetValueOrDefault($"{repo}:{login}", DefaultPermission);
            var o = Fixtures.Object("github/collaborator_permission_get.json");
            o["permission"] = permission;
            o["role_name"] = permission;
            o["user"]!["login"] = login;
            await Write(http, 200, o);
            return true;
        }
        return false;
    }
}
