using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using BreakGlassBot.Jira;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Jira;

/// <summary>The parsers on the fixture bodies, and the bot's real Jira client (as wired, resilience included) against FakeJira.</summary>
[Trait("Category", "EndToEnd")]
public class JiraClientTests : JiraBotTest
{
    IJiraApi Api => Bot.Service<IJiraApi>();

    [Fact]
    public void TheCreateIssue400FixtureBecomesJirasOwnSentence()
    {
        Assert.Equal("Field 'priority' is required", JiraClient.ErrorsOf(Fixtures.Text("jira/jira_error_400_create_issue.json")));
    }

    [Theory]
    [InlineData("""{"errorMessages":[],"errors":{"summary":"You must specify a summary of the issue.","project":"valid project is required"}}""",
        "summary: You must specify a summary of the issue.; project: valid project is required")]
    [InlineData("""{"errorMessages":["One","Two"],"errors":{"labels":"bad"}}""", "One; Two; labels: bad")]
    [InlineData("""{"errorMessages":[],"errors":{}}""", null)]
    [InlineData("Client must be authenticated to access this resource.", null)]
    [InlineData("<html>502 Bad Gateway</html>", null)]
    public void ErrorCollectionsAreReadFieldByField(string body, string? expected) => Assert.Equal(expected, JiraClient.ErrorsOf(body));

    [Fact]
    public void TheGetIssueSpecExampleParsesWithoutTheFieldsItLacks()
    {
        using var doc = JsonDocument.Parse(Fixtures.Text("jira/jira_issue_get.json"));
        var issue = JiraClient.ParseIssue(doc.RootElement);
        Assert.Equal(("10002", "ED-1"), (issue.Id, issue.Key));
        Assert.Null(issue.StatusName);
        Assert.Null(issue.StatusCategoryKey);
        Assert.Empty(issue.Labels);
    }

    [Fact]
    public void DocumentsRenderAsTheSpecsAdfAndAsDataCentersPlainString()
    {
        var adfFixture = Fixtures.Object("jira/jira_comment_add_request_adf.json")["body"]!;
        var text = adfFixture["content"]![0]!["content"]![0]!["text"]!.GetValue<string>();
        Assert.True(JsonNode.DeepEquals(adfFixture, JiraDocument.Of(JiraDocument.Line(text)).ToAdf()), "same ADF shape as Atlassian's example");

        var plain = Fixtures.Object("jira/jira_v2_dc_comment_add_request_plain.json")["body"]!.GetValue<string>();
        Assert.Equal(plain, JiraDocument.Of(JiraDocument.Line(plain)).ToPlainText());
        Assert.Equal("Slack thread: https://x/p1", JiraDocument.Of(JiraDocument.Line("Slack thread", "https://x/p1", "https://x/p1")).ToPlainText());

        using var response = JsonDocument.Parse(Fixtures.Text("jira/jira_comment_add_response.json"));
        Assert.StartsWith("Lorem ipsum dolor sit amet", JiraDocument.TextOf(response.RootElement.GetProperty("body")));
    }

    [Fact]
    public async Task ACreateRefusedWithThe400FixtureThrowsWithJirasWords()
    {
        await StartBotAsync();
        Jira.Fail(FakeJira.CreateIssue, FakeJira.Status(400, Fixtures.Text("jira/jira_error_400_create_issue.json")));
        var e = await Assert.ThrowsAsync<JiraApiException>(() => Api.CreateIssueAsync(
            new JiraNewIssue("OPS", "Task", "x", JiraDocument.Of(JiraDocument.Line("y")), [])));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal("Field 'priority' is required", e.Details);
        Assert.Equal("Jira refused the request (HTTP 400): Field 'priority' is required", e.Reason);
    }

    [Theory]
    [InlineData(Flavor.Cloud, "Jira:Email and Jira:ApiToken")]
    [InlineData(Flavor.DataCenter, "Jira:PersonalAccessToken")]
    public async Task WrongCredentialsNameTheKeysToCheckButNotTheirValues(Flavor flavor, string keys)
    {
        await StartBotAsync(flavor, new Dictionary<string, string?> { ["Jira:ApiToken"] = flavor == Flavor.Cloud ? "wrong-token" : null,
            ["Jira:PersonalAccessToken"] = flavor == Flavor.DataCenter ? "wrong-pat" : null });
        Jira.Add("OPS-7");
        var e = await Assert.ThrowsAsync<JiraApiException>(() => Api.GetIssueAsync("OPS-7"));
        Assert.Equal(HttpStatusCode.Unauthorized, e.Status);
        Assert.Contains(keys, e.Message);
        Assert.DoesNotContain("wrong-", e.Message);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task AShortRetryAfterIsWaitedOutInPlace(int status)
    {
        await StartBotAsync();
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.GetIssue, FakeJira.Status(status, retryAfterSeconds: 1));
        Assert.Equal("OPS-7", (await Api.GetIssueAsync("OPS-7")).Key);
        Assert.Equal(2, Jira.CallsTo(FakeJira.GetIssue).Count);
    }

    [Fact]
    public async Task ALongRetryAfterSurfacesSoTheOutboxCanReschedule()
    {
        await StartBotAsync();
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.GetIssue, FakeJira.Status(429, retryAfterSeconds: 30));
        var e = await Assert.ThrowsAsync<JiraApiException>(() => Api.GetIssueAsync("OPS-7"));
        Assert.Equal(TimeSpan.FromSeconds(30), e.RetryAfter);
        Assert.Single(Jira.CallsTo(FakeJira.GetIssue));
    }

    [Fact]
    public async Task A503WithoutRetryAfterIsNotRepeatedInPlace()
    {
        await StartBotAsync();
        Jira.Add("OPS-7");
        Jira.Fail(FakeJira.AddComment, FakeJira.Status(503));
        var e = await Assert.ThrowsAsync<JiraApiException>(() => Api.AddCommentAsync("OPS-7", JiraDocument.Of(JiraDocument.Line("x"))));
        Assert.Equal("Jira is unavailable (HTTP 503)", e.Reason);
        Assert.Single(Jira.CallsTo(FakeJira.AddComment));
        Assert.Empty(Jira["OPS-7"].Comments);
    }

    [Fact]
    public async Task CommentsAreReadAcrossPages()
    {
        await StartBotAsync();
        var issue = Jira.Add("OPS-7");
        for (var i = 0; i < 5; i++) await Api.AddCommentAsync("OPS-7", JiraDocument.Of(JiraDocument.Line($"comment {i}")));
        Jira.CommentPageSize = 2;
        var comments = await Api.GetCommentsAsync("OPS-7");
        Assert.Equal(["comment 0\n", "comment 1\n", "comment 2\n", "comment 3\n", "comment 4\n"], comments.Select(c => c.Text));
        Assert.Equal(3, Jira.CallsTo(FakeJira.ListComments).Count);
        Assert.Equal(5, issue.Comments.Count);
    }

    [Fact]
    public async Task TransitionsAreReadWithTheirIdsAndPerformedWithA204()
    {
        await StartBotAsync();
        Jira.Add("OPS-7", status: "To Do", categoryKey: "new", categoryName: "To Do", transitions: [new("31", "Review", "Reviewed", "done", "Done"), new("11", "Start", "In Progress", "indeterminate", "In Progress")]);
        var transitions = await Api.GetTransitionsAsync("OPS-7");
        Assert.Equal([("31", "Review", "Reviewed"), ("11", "Start", "In Progress")], transitions.Select(t => (t.Id, t.Name, t.ToStatus!)));
        await Api.TransitionAsync("OPS-7", "31");
        Assert.Equal("""{"transition":{"id":"31"}}""", Assert.Single(Jira.CallsTo(FakeJira.DoTransition)).Body);
        Assert.Equal(("Reviewed", "done"), (Jira["OPS-7"].StatusName, Jira["OPS-7"].CategoryKey));
    }

    [Fact]
    public async Task ABaseUrlWithAPathPrefixIsKept()
    {
        Jira.Add("OPS-7");
        await StartBotAsync();
        // Data Center often lives under a context path such as https://host/jira; the fake does not, so expect its 404 at the prefixed path.
        await using var prefixed = await TestBot.StartAsync(Slack, settings: new Dictionary<string, string?>
        {
            ["Jira:BaseUrl"] = Jira.Url + "/jira/", ["Jira:PersonalAccessToken"] = FakeJira.Pat,
        });
        await Assert.ThrowsAsync<JiraApiException>(() => prefixed.Service<IJiraApi>().GetIssueAsync("OPS-7"));
        Assert.Contains(Jira.Calls, c => c.Path == "/jira/rest/api/2/issue/OPS-7");
    }
}
