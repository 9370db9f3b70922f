using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

[Trait("Category", "EndToEnd")]
public class DeclarationTests : GitHubBotTest
{
    [Fact]
    public async Task DeclaringLabelsAndCommentsTheLinkedPullRequestAndStoresWhatGitHubSays()
    {
        GitHub.AddPr("acme", "web", 7, p => { p.AuthorLogin = "hubot"; p.AuthorId = 42; p.HeadSha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; p.BaseRef = "main"; });
        await Bot.CommandJsonAsync($"Roll back the payments deploy {PrUrl} https://github.com/acme/web/pull/7");
        await WaitUntil(() => StepsSettled(), "GitHub steps done");

        // Exact paths on the configured base, with the token.
        var get = Assert.Single(GitHub.CallsTo("GET", "/repos/acme/api/pulls/1347"));
        Assert.Equal("token ghp_test", get.Headers["Authorization"], ignoreCase: true);
        var label = Assert.Single(GitHub.CallsTo("POST", "/repos/acme/api/issues/1347/labels"));
        // The shape GitHub's OpenAPI description documents, not Octokit's bare array.
        Assert.Equal("""{"labels":["break-glass"]}""", JsonNode.Parse(label.Body)!.ToJsonString());
        Assert.Single(GitHub.CallsTo("GET", "/repos/acme/api/issues/1347/comments"));
        Assert.Single(GitHub.CallsTo("POST", "/repos/acme/api/issues/1347/comments"));
        Assert.Equal(["break-glass"], GitHub.PullRequest("acme/web#7").Labels);

        var change = Change();
        var comment = Assert.Single(GitHub.PullRequest(Pr).Comments);
        Assert.Contains("<!-- breakglass:BG-1 -->", comment);
        Assert.Contains("BG-1", comment);
        Assert.Contains("Roll back the payments deploy", comment);
        Assert.Contains("u0declarer", comment); // the declarer's Slack name
        Assert.Contains(change.DueAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm"), comment);
        Assert.Contains(change.Announcement!.Permalink!, comment);
        Assert.Contains("@octocat", comment);

        var web = change.PullRequests.Single(p => p.Repo == "web");
        Assert.Equal(("hubot", 42L, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "main", false), (web.AuthorLogin, web.AuthorId!.Value, web.HeadSha, web.BaseRef, web.Merged));
        Assert.NotNull(web.FetchedAt);
        Assert.Equal(2, Bot.Store.AuditTrail(1).Count(e => e.Type == GitHubAuditTypes.PullRequestLinked));
    }

    [Fact]
    public async Task RecordOnlyRecordsTheBypassWindowAndChangesNoTeamAndMergesNothing()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => StepsSettled(), "GitHub steps done");
        var change = Change();
        Assert.Equal("RecordOnly", change.Bypass!.Mode);
        Assert.Equal(TimeSpan.FromHours(2), change.Bypass.ExpiresAt - change.Bypass.GrantedAt);
        var granted = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted);
        Assert.Equal("RecordOnly", granted.Data["mode"]);
        Assert.Contains("by hand", granted.Data["granted"]);
        Assert.DoesNotContain(GitHub.Calls, c => c.Key.EndsWith("membership") || c.Key == "PUT merge");
        Assert.DoesNotContain(change.Steps, s => s.Kind == GitHubStepKinds.BypassRevoke);
        Assert.Contains("recorded only", GitHub.PullRequest(Pr).Comments.Single());
    }

    [Fact]
    public async Task AMissingPullRequestLeavesTheDeclarationStandingAndTellsTheThreadWhatToDo()
    {
        var reply = await Bot.CommandJsonAsync($"Fix it https://github.com/acme/api/pull/999 {PrUrl}");
        Assert.Contains("BG-1", reply["text"]!.GetValue<string>());
        bool IsNote(PostedSlackMessage m) => m.MetadataNote?.StartsWith("step-") == true && m.Text.Contains("acme/api#999");
        await WaitUntil(() => StepsSettled() && Thread().Any(IsNote), "missing PR reported");

        var note = Assert.Single(Thread(), IsNote);
        Assert.Contains("Could not link acme/api#999 on GitHub", note.Text);
        Assert.Contains("GitHub has no pull request acme/api#999 that the bot can see", note.Text);
        Assert.Contains("The declaration stands", note.Text);
        var change = Change();
        Assert.Equal(ChangeStatus.Open, change.Status);
        Assert.NotNull(change.PullRequests.Single(p => p.Number == 999).Problem);
        Assert.Equal(StepState.Abandoned, change.Steps.Single(s => s.Target == "acme/api#999").State);
        // The other PR is unaffected, and the missing one is asked once, not retried.
        Assert.Single(GitHub.PullRequest(Pr).Comments);
        Assert.Single(GitHub.CallsTo("GET", "/repos/acme/api/pulls/999"));
    }

    [Fact]
    public async Task AnExistingMarkerCommentIsNotRepeated()
    {
        // As after a crash between commenting and recording it.
        GitHub.PullRequest(Pr).Comments.Enqueue("<!-- breakglass:BG-1 -->\nposted before the crash");
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => StepsSettled(), "GitHub steps done");
        Assert.Single(GitHub.PullRequest(Pr).Comments);
        Assert.Empty(GitHub.CallsTo("POST", "/repos/acme/api/issues/1347/comments"));
        Assert.Equal(["break-glass"], GitHub.PullRequest(Pr).Labels);
        Assert.Equal("already present", Bot.Store.AuditTrail(1).Single(e => e.Type == GitHubAuditTypes.PullRequestLinked).Data["comment"]);
    }

    [Fact]
    public async Task WithoutGitHubCredentialsNothingIsSentToGitHub()
    {
        await Bot.DisposeAsync();
        Bot = await TestBot.StartAsync(Slack, null, new Dictionary<string, string?> { ["GitHub:ApiBaseUrl"] = GitHub.ApiUrl });
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().NextStepAt is null, "steps done");
        Assert.Empty(GitHub.Calls);
        Assert.Null(Change().Bypass);
    }
}

/// <summary>GitHub Enterprise Server: the base URL carries a path (/api/v3/), used verbatim.</summary>
[Trait("Category", "EndToEnd")]
public class EnterpriseBaseUrlTests() : GitHubBotTest("/api/v3")
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["GitHub:Label"] = "emergency" };

    [Fact]
    public async Task TheConfiguredBaseUrlAndLabelAreUsedVerbatim()
    {
        Assert.EndsWith("/api/v3/", GitHub.ApiUrl);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => StepsSettled(), "GitHub steps done");
        var label = Assert.Single(GitHub.Calls, c => c.Key == "POST labels");
        Assert.Equal("/api/v3/repos/acme/api/issues/1347/labels", label.Path);
        Assert.Equal(["emergency"], GitHub.PullRequest(Pr).Labels);
        Assert.All(GitHub.Calls, c => Assert.StartsWith("/api/v3/", c.Path));
    }
}
