using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using BreakGlassBot.GitHub;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Jira;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Slack;

/// <summary>What people type, in and out: Slack's formatting decoded once at the edge, encoded once per destination (issue 16, item 3).</summary>
public sealed class SlackFormattingTests
{
    [Theory]
    [InlineData("lgtm &amp; ship it", "lgtm & ship it")]
    [InlineData("a &lt;b&gt; &amp;lt; c", "a <b> &lt; c")] // decoded once: a typed "&lt;" stays "&lt;"
    [InlineData("thanks <@U012AB3CD>", "thanks <@U012AB3CD>")] // a mention is kept as the one reference
    [InlineData("cc <@U012AB3CD|bob>", "cc <@U012AB3CD>")]
    [InlineData("see <https://example.com/a?x=1&amp;y=2>", "see https://example.com/a?x=1&y=2")]
    [InlineData("see <http://example.com|example.com>", "see http://example.com")]
    [InlineData("see <https://example.com/runbook|the runbook>", "see the runbook (https://example.com/runbook)")]
    [InlineData("in <#C0838UC2D|general> and <#C0838UC2D>", "in #general and #C0838UC2D")]
    [InlineData("<!here> <!channel|channel> <!everyone>", "@here @channel @everyone")]
    [InlineData("ping <!subteam^SAZ94GDB8|@oncall>", "ping @oncall")]
    [InlineData("at <!date^1392734382^{date}|Feb 18>", "at Feb 18")]
    [InlineData("mail <mailto:a@example.com|a@example.com>", "mail a@example.com")]
    [InlineData("plain text", "plain text")]
    public void DecodeGivesTheTextAsTyped(string fromSlack, string stored) => Assert.Equal(stored, SlackFormatting.Decode(fromSlack));

    [Theory]
    [InlineData("Roll back @here #general <!channel>", "Roll back @here #general &lt;!channel&gt;")]
    [InlineData("lgtm & ship it <@U123>", "lgtm &amp; ship it @U123")] // a summary or reason notifies nobody
    [InlineData("see <https://evil.example|click here>", "see &lt;https://evil.example|click here&gt;")]
    public void UserTextEscapesEverything(string stored, string mrkdwn) => Assert.Equal(mrkdwn, Blocks.UserText(stored));

    [Theory]
    [InlineData("lgtm & ship it <@U123>", "lgtm &amp; ship it <@U123>")] // a reply's mention is shown as one
    [InlineData("<@u123> <!here> <#C1>", "&lt;@u123&gt; &lt;!here&gt; &lt;#C1&gt;")]
    public void ACommentKeepsOnlyItsMentions(string stored, string mrkdwn) => Assert.Equal(mrkdwn, Blocks.UserTextWithMentions(stored));

    [Fact]
    public void EveryMrkdwnTextObjectIsVerbatim() =>
        Assert.True(Blocks.Section("x")["text"]!["verbatim"]!.GetValue<bool>());

    [Fact]
    public void GitHubGetsTheTextAsTypedWithoutMentionsOrHtml() =>
        Assert.Equal("lgtm & ship it @\u200bU123 &lt;!-- x --> &amp;amp;", PullRequestStep.Quiet("lgtm & ship it <@U123> <!-- x --> &amp;"));
}

/// <summary>The fake Slack refuses what a workspace restricting @channel refuses, and nothing else.</summary>
public sealed class ChannelMentionRestrictionTests
{
    static JsonObject Message(string text, string blockText, bool verbatim, bool linkNames = false)
    {
        var mrkdwn = new JsonObject { ["type"] = "mrkdwn", ["text"] = blockText };
        if (verbatim) mrkdwn["verbatim"] = true;
        var args = new JsonObject { ["channel"] = "C1", ["text"] = text, ["blocks"] = new JsonArray(new JsonObject { ["type"] = "section", ["text"] = mrkdwn }) };
        if (linkNames) args["link_names"] = "1";
        return args;
    }

    [Theory]
    [InlineData("hi", "Roll back @here", false, false, 1)] // auto-parsed mrkdwn
    [InlineData("hi", "Roll back @here", true, false, 0)] // verbatim
    [InlineData("hi", "Roll back <!channel>", true, false, 1)] // explicit, even verbatim
    [InlineData("hi", "Roll back &lt;!channel&gt; and email@here.example", false, false, 0)]
    [InlineData("Roll back @channel", "x", true, false, 0)] // the top-level text is parsed only with link_names
    [InlineData("Roll back @channel", "x", true, true, 1)]
    [InlineData("Roll back <!here|here>", "x", true, false, 1)]
    public void OnlyWhatSlackWouldTurnIntoAChannelMentionCounts(string text, string blockText, bool verbatim, bool linkNames, int expected) =>
        Assert.Equal(expected, FakeSlack.ChannelMentions(Message(text, blockText, verbatim, linkNames)).Count);
}

/// <summary>
/// User text at the wire, the real bot against the fakes: it never pings a channel or links what was not typed as a link
/// (item 2), and an "&amp;" typed once is one "&amp;" in Slack, GitHub, Jira and the export (item 3).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class UserTextWireTests() : BotTest(Fakes.GitHub | Fakes.Jira)
{
    const string Reviewer = ApprovalTests.Reviewer1;
    const string EvidenceKey = "evidence-key-user-text-0123456789";
    const string PrUrl = "https://github.com/acme/api/pull/1347";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer,
        ["Evidence:ApiKeys:0"] = EvidenceKey,
        [$"People:{Reviewer}:GitHub"] = "hubot", // known on GitHub, so the approval is mirrored on the PR
    };

    protected override void SeedFakes()
    {
        GitHub.AddPr("acme", "api", 1347);
        Jira.Add("OPS-7");
        Slack.RestrictChannelMentions = true; // as a workspace where only admins may notify a channel
    }

    async Task<string> AnnouncedAsync()
    {
        await Bot.Until(() => Bot.Store.Get(1)?.Announcement is not null, "announced", TimeSpan.FromSeconds(20));
        return Change().Announcement!.Ts;
    }

    async Task ReplyAsync(string ts, string text) =>
        await Bot.EventAsync(ThreadReplyTests.Reply("Ev" + Guid.NewGuid().ToString("N"), Reviewer, text, ts));

    /// <summary>Nothing posted would notify a channel or had Slack's automatic parsing (which links #name) switched on.</summary>
    void AssertNothingPings()
    {
        foreach (var call in Slack.CallsTo("chat.postMessage").Concat(Slack.CallsTo("chat.update")))
        {
            var args = JsonNode.Parse(call.Body)!.AsObject();
            Assert.Empty(FakeSlack.ChannelMentions(args));
            // The top-level text (the notification) is parsed automatically only when asked to.
            Assert.False(args.ContainsKey("link_names") || args["parse"]?.ToString() == "full", call.Body);
        }
        foreach (var message in Slack.Messages) Assert.Empty(FakeSlack.AutoParsedTexts(message));
    }

    [Theory]
    [InlineData("Roll back @here #general <!channel>")] // as a client that does not escape would send it
    [InlineData("Roll back @here #general &lt;!channel&gt;")] // as Slack sends what was typed
    public async Task ASummaryWithChannelMentionsIsAnnouncedAndPingsNobody(string typed)
    {
        await Bot.CommandJsonAsync(typed);
        var ts = await AnnouncedAsync();
        Assert.Equal("Roll back @here #general " + (typed.Contains("&lt;") ? "<!channel>" : "@channel"), Change().Summary);
        await ReplyAsync(ts, "lgtm - <!here> @channel #general"); // a remark after a separator: still an approval
        await Bot.Until(() => Thread().Any(m => m.Text.Contains("approved retrospectively")), "the approval noted in the thread");
        Assert.Contains("lgtm - @here @channel #general", Thread().Single(m => m.Text.Contains("approved retrospectively")).Text);
        Assert.Single(Slack.Announcements("BG-1"));
        AssertNothingPings();
    }

    [Fact]
    public async Task AReasonTypedInAModalIsStoredRawAndNotedWithoutPinging()
    {
        await Bot.CommandJsonAsync("Roll back @here payments");
        await AnnouncedAsync();
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer, BreakGlassBot.Reviewing.ReviewActions.RequestChanges, "BG-1"));
        var view = JsonNode.Parse(Assert.Single(Slack.CallsTo("views.open")).Body)!["view"]!;
        Assert.Contains(BlockTexts(view["blocks"]), t => t.Contains("Roll back @here payments"));
        Assert.Empty(AutoParsed(view["blocks"]));

        // Modal input arrives raw: no entities to decode, and stored as typed.
        var submission = Fixtures.Object("slack/view_submission.json");
        submission["user"] = new JsonObject { ["id"] = Reviewer };
        submission["view"]!["callback_id"] = "breakglass_request_changes";
        submission["view"]!["private_metadata"] = "BG-1";
        submission["view"]!["state"] = new JsonObject { ["values"] = new JsonObject { ["reason"] = new JsonObject { ["value"] =
            new JsonObject { ["type"] = "plain_text_input", ["value"] = "@channel <!here> rollback & retry" } } } };
        await Bot.InteractionAsync(submission);
        await Bot.Until(() => Thread().Any(m => m.Text.Contains("requested changes")), "the change request noted in the thread");
        Assert.Equal("@channel <!here> rollback & retry", Assert.Single(Change().ChangeRequests).Reason);
        Assert.Contains("@channel &lt;!here&gt; rollback &amp; retry", Thread().Single(m => m.Text.Contains("requested changes")).Text);
        AssertNothingPings();
    }

    [Fact]
    public async Task AnAmpersandTypedOnceIsOneAmpersandInSlackGitHubJiraAndTheExport()
    {
        // The form body carries what Slack sends for "Hotfix lgtm & ship it": the ampersand escaped as &amp;.
        await Bot.CommandJsonAsync($"Hotfix lgtm &amp; ship it {PrUrl} OPS-7");
        var ts = await AnnouncedAsync();
        Assert.Equal("Hotfix lgtm & ship it", Change().Summary);
        var announcement = Assert.Single(Slack.Announcements("BG-1"));
        Assert.Contains("Hotfix lgtm & ship it", Shown(announcement.Text));
        Assert.All(BlockTexts(announcement), t => Assert.DoesNotContain("&amp;", Shown(t)));
        Assert.Contains(BlockTexts(announcement), t => Shown(t).Contains("Hotfix lgtm & ship it"));

        await ReplyAsync(ts, "lgtm &amp; ship it <@U0MENTIONED>");
        await Bot.Until(() => Thread().Any(m => m.Text.Contains("approved retrospectively")), "the approval noted in the thread");
        Assert.Equal("lgtm & ship it <@U0MENTIONED>", Assert.Single(Change().Approvals).Comment);
        var note = Thread().Single(m => m.Text.Contains("approved retrospectively"));
        // Single-escaped on the wire (Slack shows "&"), and the mention is a mention.
        Assert.Contains("lgtm &amp; ship it <@U0MENTIONED>", note.Text);
        Assert.Contains(BlockTexts(note), t => t.Contains("lgtm &amp; ship it <@U0MENTIONED>"));

        var pr = GitHub.PullRequest("acme/api#1347");
        await Bot.Until(() => pr.Comments.Count >= 2, "the PR commented on for the declaration and the approval", TimeSpan.FromSeconds(20));
        Assert.Contains(pr.Comments, c => c.Contains("**Summary:** Hotfix lgtm & ship it"));
        Assert.Contains(pr.Comments, c => c.Contains("> lgtm & ship it @\u200bU0MENTIONED"));
        Assert.DoesNotContain(pr.Comments, c => c.Contains("&amp;"));

        var issue = Jira["OPS-7"];
        await Bot.Until(() => { lock (issue.Comments) return issue.Comments.Count >= 2; }, "the Jira issue commented on twice", TimeSpan.FromSeconds(20));
        List<string> jira;
        lock (issue.Comments) jira = [.. issue.Comments.Select(c => FakeJira.TextOf(c.Body))];
        Assert.Contains(jira, t => t.Contains("Hotfix lgtm & ship it"));
        Assert.Contains(jira, t => t.Contains("lgtm & ship it @U0MENTIONED"));
        Assert.DoesNotContain(jira, t => t.Contains("&amp;"));

        var today = DateTime.UtcNow.Date;
        var request = new HttpRequestMessage(HttpMethod.Get,
            $"/evidence?from={today.AddDays(-1):yyyy-MM-dd}&to={today.AddDays(1):yyyy-MM-dd}&format=csv");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", EvidenceKey);
        var csv = await (await Bot.Http.SendAsync(request)).Content.ReadAsStringAsync();
        Assert.Contains("Hotfix lgtm & ship it", csv);
        Assert.DoesNotContain("&amp;", csv);
        AssertNothingPings();
    }

    static List<string> BlockTexts(PostedSlackMessage message) => BlockTexts(message.Blocks);

    static IReadOnlyList<string> AutoParsed(JsonNode? blocks) =>
        FakeSlack.AutoParsedTexts(new PostedSlackMessage("C", "1", null, "", blocks?.AsArray(), null));

    /// <summary>The text of every text object in the blocks, as sent.</summary>
    static List<string> BlockTexts(JsonNode? blocks)
    {
        var texts = new List<string>();
        void Walk(JsonNode? node)
        {
            if (node is JsonArray a) foreach (var item in a) Walk(item);
            else if (node is JsonObject o)
            {
                if (o["type"]?.GetValue<string>() is "mrkdwn" or "plain_text" && o["text"] is JsonValue v) texts.Add(v.GetValue<string>());
                foreach (var (_, child) in o) Walk(child);
            }
        }
        Walk(blocks);
        return texts;
    }

    /// <summary>What Slack shows for mrkdwn text: its three entities decoded, once.</summary>
    static string Shown(string mrkdwn) => mrkdwn.Replace("&lt;", "<", StringComparison.Ordinal).Replace("&gt;", ">", StringComparison.Ordinal)
        .Replace("&amp;", "&", StringComparison.Ordinal);
}
