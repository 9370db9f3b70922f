using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.Jira;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Jira;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace BreakGlassBot.Tests.Wire;

/// <summary>
/// The check the fakes run on every request (GitHub's and Jira Cloud's own OpenAPI descriptions, Fixtures/openapi) rejects
/// what the services would, so a malformed request of the bot cannot pass the wire tests unnoticed.
/// </summary>
public class RequestSchemaTests
{
    static IReadOnlyList<string> Jira(string method, string path, string body = "", string query = "") =>
        OpenApiCheck.Jira.Check(method, path, Query(query), body);

    static IReadOnlyList<string> GitHub(string method, string path, string body = "", string query = "") =>
        OpenApiCheck.GitHub.Check(method, path, Query(query), body);

    static IQueryCollection Query(string query) => new QueryCollection(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query));

    static string Adf(string text) => new JsonObject
    {
        ["body"] = new JiraDocument([JiraDocument.Line(text)]).ToAdf(),
    }.ToJsonString();

    [Fact]
    public void AJiraCloudCommentMustBeAnAtlassianDocumentNotAString()
    {
        Assert.Empty(Jira("POST", "/rest/api/3/issue/OPS-1/comment", Adf("lgtm & ship it")));
        Assert.Contains(Jira("POST", "/rest/api/3/issue/OPS-1/comment", """{"body":"lgtm"}"""), p => p.Contains("/body"));
        // An ADF document whose paragraph holds a bare string instead of text nodes is no document either.
        Assert.NotEmpty(Jira("POST", "/rest/api/3/issue/OPS-1/comment", """{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":["lgtm"]}]}}"""));
        Assert.NotEmpty(Jira("POST", "/rest/api/3/issue/OPS-1/comment"));
    }

    [Fact]
    public void AJiraCloudCreateWithAStringDescriptionOrAnUnknownLabelOperationIsRefused()
    {
        var adf = new JiraDocument([JiraDocument.Line("Declared")]).ToAdf();
        var good = new JsonObject { ["fields"] = new JsonObject { ["project"] = new JsonObject { ["key"] = "OPS" }, ["summary"] = "[BG-1] x", ["description"] = adf } };
        Assert.Empty(Jira("POST", "/rest/api/3/issue", good.ToJsonString()));
        good["fields"]!["description"] = "Declared";
        Assert.NotEmpty(Jira("POST", "/rest/api/3/issue", good.ToJsonString()));
        Assert.Empty(Jira("PUT", "/rest/api/3/issue/OPS-1", """{"update":{"labels":[{"add":"break-glass"}]}}"""));
        Assert.NotEmpty(Jira("PUT", "/rest/api/3/issue/OPS-1", """{"update":{"labels":[{"append":"break-glass"}]}}"""));
        Assert.NotEmpty(Jira("PUT", "/rest/api/3/issue/OPS-1", """{"update":{"labels":{"add":"break-glass"}}}"""));
    }

    [Fact]
    public void JiraOperationsAndParametersOutsideTheDescriptionAreRefused()
    {
        Assert.Empty(Jira("GET", "/rest/api/3/search/jql", query: "?jql=project%20%3D%20OPS&fields=summary,status,labels&maxResults=20"));
        // Cloud removed GET /rest/api/3/search (its description marks it removed); the excerpt keeps only /search/jql.
        Assert.NotEmpty(Jira("GET", "/rest/api/3/search", query: "?jql=project%20%3D%20OPS"));
        Assert.NotEmpty(Jira("GET", "/rest/api/3/search/jql", query: "?jql=x&maxResults=twenty"));
        Assert.NotEmpty(Jira("GET", "/rest/api/3/issue/OPS-1/comment", query: "?startAt=0&pageSize=100"));
        Assert.NotEmpty(Jira("DELETE", "/rest/api/3/issue/OPS-1"));
    }

    [Fact]
    public void GitHubLabelsMustBeStringsUnderLabels()
    {
        Assert.Empty(GitHub("POST", "/repos/acme/api/issues/1347/labels", """{"labels":["break-glass"]}"""));
        Assert.NotEmpty(GitHub("POST", "/repos/acme/api/issues/1347/labels", """{"labels":[1]}"""));
        Assert.NotEmpty(GitHub("POST", "/repos/acme/api/issues/1347/labels", """{"labels":"break-glass"}"""));
        Assert.NotEmpty(GitHub("POST", "/repos/acme/api/issues/1347/labels", """{"labels":[]}"""));
        // The bare array Octokit's AddToIssue posts is not in the description (only in its prose).
        Assert.NotEmpty(GitHub("POST", "/repos/acme/api/issues/1347/labels", """["break-glass"]"""));
    }

    [Fact]
    public void GitHubCommentsMergesAndParametersAreCheckedToo()
    {
        Assert.Empty(GitHub("POST", "/repos/acme/api/issues/1347/comments", """{"body":"Emergency change BG-1"}"""));
        Assert.NotEmpty(GitHub("POST", "/repos/acme/api/issues/1347/comments", """{"text":"Emergency change BG-1"}"""));
        Assert.NotEmpty(GitHub("POST", "/repos/acme/api/issues/1347/comments", """{"body":42}"""));
        Assert.Empty(GitHub("PUT", "/repos/acme/api/pulls/1347/merge", """{"sha":"6dcb09b","merge_method":"squash"}"""));
        Assert.NotEmpty(GitHub("PUT", "/repos/acme/api/pulls/1347/merge", """{"sha":"6dcb09b","merge_method":"fast-forward"}"""));
        Assert.NotEmpty(GitHub("GET", "/repos/acme/api/pulls/abc"));
        Assert.NotEmpty(GitHub("GET", "/repos/acme/api/issues/1347/comments", query: "?per_page=100&sort=created"));
        Assert.NotEmpty(GitHub("GET", "/search/issues", query: "?per_page=1"));
        Assert.NotEmpty(GitHub("POST", "/repos/acme/api/pulls/1347/comments", """{"body":"x"}"""));
    }

    [Fact]
    public async Task TheFakesRefuseAMalformedRequestLikeTheServiceAndRecordIt()
    {
        await using var github = new FakeGitHub();
        await using var jira = new FakeJira();
        await github.StartAsync();
        await jira.StartAsync();
        github.AddPr("acme", "api", 1347);
        jira.Add("OPS-1");
        using var http = new HttpClient();

        using var labels = new HttpRequestMessage(HttpMethod.Post, github.ApiUrl + "repos/acme/api/issues/1347/labels")
        { Content = new StringContent("""{"labels":[1]}""", Encoding.UTF8, "application/json") };
        labels.Headers.TryAddWithoutValidation("Authorization", "token " + FakeGitHub.Token);
        var refused = await http.SendAsync(labels);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("Invalid request", await refused.Content.ReadAsStringAsync());
        Assert.Single(github.SchemaViolations);
        Assert.Empty(github.PullRequest("acme/api#1347").Labels);

        using var comment = new HttpRequestMessage(HttpMethod.Post, jira.Url + "/rest/api/3/issue/OPS-1/comment")
        { Content = new StringContent("""{"body":"lgtm"}""", Encoding.UTF8, "application/json") };
        comment.Headers.TryAddWithoutValidation("Authorization", FakeJira.BasicAuth);
        var rejected = await http.SendAsync(comment);
        Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        Assert.NotEmpty(JsonNode.Parse(await rejected.Content.ReadAsStringAsync())!["errorMessages"]!.AsArray());
        Assert.Single(jira.SchemaViolations);
        Assert.Empty(jira["OPS-1"].Comments);
    }
}
