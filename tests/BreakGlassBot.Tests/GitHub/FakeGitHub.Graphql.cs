using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// GitHub's GraphQL endpoint (POST /graphql; GitHub Enterprise Server: /api/graphql beside /api/v3), for the organisation's
/// SAML/SCIM external identities only, paged by cursor in the fixture's shape. Route key for <see cref="FakeServer.Fail"/>: "POST graphql".
/// </summary>
public sealed partial class FakeGitHub
{
    /// <summary>An external identity: <paramref name="Login"/> null is an identity no GitHub account has claimed (user: null).</summary>
    public sealed record ExternalIdentity(string Email, string? Login, long? DatabaseId, bool Primary = true, bool Scim = true);

    /// <summary>The organisation with SAML configured; any other login answers GitHub's NOT_FOUND error.</summary>
    public string SsoOrganization { get; set; } = "acme";
    public ConcurrentQueue<ExternalIdentity> ExternalIdentities { get; } = new();
    /// <summary>At most this many nodes a page, whatever "first" asks.</summary>
    public int GraphqlPageSize { get; set; } = 100;
    /// <summary>Every GraphQL request: the organisation and cursor it asked for.</summary>
    public ConcurrentQueue<(string? Org, string? After)> GraphqlQueries { get; } = new();

    string GraphqlPath => pathPrefix.EndsWith("/api/v3", StringComparison.Ordinal) ? pathPrefix[..^"/v3".Length] + "/graphql" : pathPrefix + "/graphql";

    bool IsGraphql(HttpContext http) => http.Request.Method == "POST" && http.Request.Path.Value == GraphqlPath;

    [GeneratedRegex(@"externalIdentities\(first:\s*(?<first>\d+)")]
    private static partial Regex FirstArgument();

    async Task Graphql(HttpContext http, string body)
    {
        // GitHub takes "bearer" or "token" here; the token must be the bot's.
        var auth = http.Request.Headers.Authorization.ToString();
        var expected = ExpectedAuthorization[(ExpectedAuthorization.IndexOf(' ') + 1)..];
        if (auth.IndexOf(' ') is var space and > 0 ? auth[(space + 1)..] != expected : true)
        {
            await Write(http, 401, new JsonObject { ["message"] = "Bad credentials", ["documentation_url"] = "https://docs.github.com/graphql" });
            return;
        }
        var request = JsonNode.Parse(body)!;
        var query = request["query"]!.GetValue<string>();
        var org = request["variables"]?["org"]?.GetValue<string>();
        var after = request["variables"]?["after"]?.GetValue<string>();
        GraphqlQueries.Enqueue((org, after));
        if (!query.Contains("samlIdentityProvider", StringComparison.Ordinal) || !string.Equals(org, SsoOrganization, StringComparison.OrdinalIgnoreCase))
        {
            var error = Fixtures.Object("github/graphql_error_not_found.json");
            error["errors"]![0]!["message"] = $"Could not resolve to an Organization with the login of '{org}'.";
            await Write(http, 200, error);
            return;
        }
        var first = FirstArgument().Match(query) is { Success: true } m ? int.Parse(m.Groups["first"].Value) : 100;
        var size = Math.Min(first, GraphqlPageSize);
        var start = after is null ? 0 : int.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(after))["cursor:v2:".Length..]);
        var all = ExternalIdentities.ToList();
        var page = all.Skip(start).Take(size).ToList();
        var answer = Fixtures.Object("github/graphql_org_external_identities.json");
        var connection = answer["data"]!["organization"]!["samlIdentityProvider"]!["externalIdentities"]!;
        var claimed = connection["nodes"]![0]!;
        var end = start + page.Count;
        connection["pageInfo"]!["hasNextPage"] = end < all.Count;
        connection["pageInfo"]!["endCursor"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"cursor:v2:{end}"));
        connection["nodes"] = new JsonArray([.. page.Select((identity, i) =>
        {
            var node = claimed.DeepClone();
            node["guid"] = $"0bf3ba3c-6d2f-4b8b-9d2a-{start + i:D12}";
            node["samlIdentity"]!["nameId"] = identity.Email;
            node["samlIdentity"]!["emails"]![0]!["value"] = identity.Email;
            node["samlIdentity"]!["emails"]![0]!["primary"] = identity.Primary;
            if (identity.Scim)
            {
                node["scimIdentity"]!["username"] = identity.Email;
                node["scimIdentity"]!["emails"]![0]!["value"] = identity.Email;
                node["scimIdentity"]!["emails"]![0]!["primary"] = identity.Primary;
            }
            else node["scimIdentity"] = null;
            node["user"] = identity.Login is null ? null : new JsonObject { ["login"] = identity.Login, ["databaseId"] = identity.DatabaseId };
            return node;
        })]);
        await Write(http, 200, answer);
    }
}
