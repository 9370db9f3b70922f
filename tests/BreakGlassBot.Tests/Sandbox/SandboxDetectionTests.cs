using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Sandbox;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Sandbox;

/// <summary>
/// Issue 22 in the sandbox: a merge on the side panel's stand-in GitHub reaches the real bot as GitHub's signed webhooks, the
/// real detector reads the stand-in back, and the detected case shows in the stand-in Slack as the page renders it.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class SandboxDetectionTests
{
    // A grace period of a second: the case is due almost at once, and the push's check comes as soon.
    static readonly string[] Fast = ["--Detection:GracePeriod=00:00:01", "--Detection:CheckInterval=00:00:00.200"];
    const string Announcement = ":mag: Undeclared bypass detected";

    [Fact]
    public async Task MergingAnUnreviewedPullRequestFromTheSidePanelShowsTheDetectedCaseInTheChannelAndAsksWhoMergedIt()
    {
        await using var bot = await SandboxBot.StartAsync(Fast);
        // The start-up sweep reads the stand-in too: the merged-PR search and the watched branch's commits.
        await Eventually.Until(() => bot.State.Read(v => v.WireLog.Count(w => w.Ok && (w.What.StartsWith("GitHub GET search/issues repo:acme/payments is:pr is:merged base:main", StringComparison.Ordinal)
            || w.What.StartsWith("GitHub GET commits of acme/payments main", StringComparison.Ordinal))) == 2), "the start-up sweep's reads");

        await PostAsync(bot, "github/0/merge", new { user = SandboxPeople.Declarer });

        await Eventually.Until(() => Posted(bot, SandboxPeople.Channel).Any(m => m.Text.Contains(Announcement, StringComparison.Ordinal)),
            "the detected case announced in the channel", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => NothingLeftToCheck(bot), "the pull request's and the push's records settled", TimeSpan.FromSeconds(30));

        // One case: the push of the merge commit is the same change (its commit came with the pull request).
        var detected = bot.Store.OpenChanges().Where(c => c.Detected is not null).ToList();
        var change = Assert.Single(detected);
        Assert.Equal(DetectedBypass.SourceName, change.Source);
        Assert.Equal((SandboxPeople.GitHubRepository, 42, SandboxPeople.GitHubAuthor), (change.Detected!.Repository, change.Detected.Number, change.Detected.Actor));
        Assert.Equal(SandboxPeople.Declarer, change.DeclaredBy);
        Assert.Equal(["webhook"], change.Detected.FoundBy);
        Assert.Single(await ChannelTexts(bot), t => t.Contains(Announcement, StringComparison.Ordinal));

        // The person who merged is asked, in their DM as the page shows it, with the button that explains the case.
        await Eventually.Until(() => Posted(bot, SandboxPeople.DirectChannel(SandboxPeople.Declarer)).Any(), "the DM to the person who merged", TimeSpan.FromSeconds(30));
        var dm = Assert.Single(await DirectMessages(bot, SandboxPeople.Declarer));
        Assert.Contains(DetectionDirectMessages.ExplainButtonText, ButtonTexts(dm));
        Assert.Contains(change.ChangeId.ToString(), dm["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(await DirectMessages(bot, SandboxPeople.Reviewer1));

        // The webhooks went to the bot's real endpoint, signed, and the bot read the stand-in back through its real client.
        var wire = bot.State.Read(v => v.WireLog.Select(w => w.What).ToList());
        Assert.Contains(wire, w => w.StartsWith("POST /github/webhooks pull_request closed (signed sha256) → 200", StringComparison.Ordinal));
        Assert.Contains(wire, w => w.StartsWith("POST /github/webhooks push (signed sha256) → 200", StringComparison.Ordinal));
        Assert.Contains(wire, w => w.StartsWith("GitHub GET reviews of acme/payments#42", StringComparison.Ordinal) && w.EndsWith("→ 200", StringComparison.Ordinal));
        Assert.Contains(wire, w => w.StartsWith("GitHub GET pulls of commit", StringComparison.Ordinal) && w.EndsWith("→ 200", StringComparison.Ordinal));
        // Nothing the bot asked of the stand-in failed.
        Assert.All(bot.State.Read(v => v.WireLog.Where(w => w.Direction == "from-bot").ToList()), w => Assert.True(w.Ok, w.What));
    }

    [Fact]
    public async Task APullRequestDeclaredBeforeItsMergeIsTheDeclarationsAndOpensNoDetectedCase()
    {
        await using var bot = await SandboxBot.StartAsync(Fast);
        await PostAsync(bot, "message", new { user = SandboxPeople.Declarer, channel = SandboxPeople.Channel,
            text = "/breakglass Revert the payments deploy https://github.com/acme/payments/pull/42" });
        await Eventually.Until(() => bot.Store.Get(1)?.Announcement is not null, "BG-1 announced");

        await PostAsync(bot, "github/0/merge", new { user = SandboxPeople.Declarer });

        var pr = MergeRecord.PullRequestId(SandboxPeople.GitHubRepository, 42);
        await Eventually.Until(() => Records(bot).Get(pr)?.DeclaredAs == 1, "the merge settled as BG-1's", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => NothingLeftToCheck(bot), "the push's record settled", TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(bot.Store.OpenChanges(), c => c.Detected is not null);
        // The declaration heard of the merge from the same webhook.
        Assert.True(bot.Store.Get(1)!.PullRequests.Single().Merged);
    }

    [Fact]
    public async Task APullRequestApprovedOnGitHubByAnotherPersonBeforeItsMergeOpensNoCase()
    {
        await using var bot = await SandboxBot.StartAsync(Fast);

        await PostAsync(bot, "github/0", new { done = true });
        await PostAsync(bot, "github/0/merge", new { user = SandboxPeople.Declarer });

        var pr = MergeRecord.PullRequestId(SandboxPeople.GitHubRepository, 42);
        await Eventually.Until(() => Records(bot).Get(pr)?.Verdict == Verdicts.ReviewedBeforeMerge, "the merge judged reviewed", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => NothingLeftToCheck(bot), "the push's record settled", TimeSpan.FromSeconds(30));

        Assert.Equal(SandboxPeople.GitHubReviewer, Records(bot).Get(pr)!.ApprovedBy);
        Assert.DoesNotContain(bot.Store.OpenChanges(), c => c.Detected is not null);
        Assert.DoesNotContain(await ChannelTexts(bot), t => t.Contains(Announcement, StringComparison.Ordinal));
        Assert.Empty(await DirectMessages(bot, SandboxPeople.Declarer));
    }

    [Fact]
    public async Task APullRequestIsMergedOnceAndTheStandInTellsOfTheMergeLikeGitHub()
    {
        await using var bot = await SandboxBot.StartAsync(Fast);
        await PostAsync(bot, "github/0/merge", new { user = SandboxPeople.Reviewer2 });

        var again = await (await bot.Http.PostAsJsonAsync("/sandbox/api/github/0/merge", new { user = SandboxPeople.Declarer })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("acme/payments#42 is already merged.", again!["problem"]!.GetValue<string>());
        var pr = bot.State.Read(v => v.PullRequests[0]);
        Assert.Equal((true, "sam-reviewer"), (pr.Merged, pr.MergedBy));
        var commit = bot.State.Read(v => v.Commits.Single());
        Assert.Equal((pr.MergeCommitSha, SandboxPeople.GitHubBranch, 42), (commit.Sha, commit.Branch, commit.PullRequest));

        // A new pull request can be merged in turn; the page lists both.
        await PostAsync(bot, "github/open", new { });
        await PostAsync(bot, "github/1/merge", new { user = SandboxPeople.Declarer });
        var state = JsonNode.Parse(await bot.Http.GetStringAsync($"/sandbox/api/state?user={SandboxPeople.Declarer}"))!;
        var listed = state["pullRequests"]!.AsArray().Select(p => (p!["ref"]!.GetValue<string>(), p["merged"]!.GetValue<bool>(), p["mergedBy"]!.GetValue<string>())).ToList();
        Assert.Equal([("acme/payments#42", true, "sam-reviewer"), ("acme/payments#43", true, SandboxPeople.GitHubAuthor)], listed);
        Assert.Equal(SandboxPeople.GitHubBranch, state["sandbox"]!["detection"]!["branch"]!.GetValue<string>());
    }

    static MergeRecords Records(SandboxBot bot) => bot.App.Services.GetRequiredService<MergeRecords>();

    static bool NothingLeftToCheck(SandboxBot bot) =>
        bot.Store.Documents<DetectionWork>(Detector.WorkCollection).Count == 0 && Records(bot).All().Count > 0;

    static List<SandboxMessage> Posted(SandboxBot bot, string channel) => bot.State.Read(v => v.Messages.Where(m => m.Channel == channel).ToList());

    /// <summary>The channel as the page shows it (the page's own state endpoint), message texts.</summary>
    static async Task<List<string>> ChannelTexts(SandboxBot bot)
    {
        var state = JsonNode.Parse(await bot.Http.GetStringAsync($"/sandbox/api/state?user={SandboxPeople.Declarer}"))!;
        return [.. state["messages"]![SandboxPeople.Channel]!.AsArray().Select(m => m!["text"]!.GetValue<string>())];
    }

    static async Task<List<JsonObject>> DirectMessages(SandboxBot bot, string user)
    {
        var state = JsonNode.Parse(await bot.Http.GetStringAsync($"/sandbox/api/state?user={user}"))!;
        return [.. state["messages"]![SandboxPeople.DirectChannel(user)]!.AsArray().Select(m => m!.AsObject())];
    }

    static List<string> ButtonTexts(JsonObject message) =>
        [.. (message["blocks"] as JsonArray ?? []).OfType<JsonObject>().SelectMany(b => b["elements"] as JsonArray ?? [])
            .OfType<JsonObject>().Where(e => e["type"]?.GetValue<string>() == "button").Select(e => e["text"]!["text"]!.GetValue<string>())];

    static async Task PostAsync(SandboxBot bot, string path, object body)
    {
        var response = await bot.Http.PostAsJsonAsync("/sandbox/api/" + path, body);
        response.EnsureSuccessStatusCode();
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(answer["ok"]!.GetValue<bool>(), answer.ToJsonString());
    }
}
