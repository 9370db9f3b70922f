using System.Text.Json.Nodes;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>Slack: "If a message is updated, use a new block_id" — each chat.update of the announcement carries fresh ones.</summary>
[Trait("Category", "EndToEnd")]
public class AnnouncementRevisionTests : LinkBotTest
{
    [Fact]
    public async Task EveryUpdateOfTheAnnouncementCarriesNewBlockIds()
    {
        await StartAsync();
        await Bot.CommandJsonAsync("Roll back payments deploy");
        await Settled();
        await CommandTextAsync("link BG-1 OPS-7");
        await Bot.Until(() => Slack.CallsTo("chat.update").Count >= 1 && Change().NextStepAt is null, "announcement updated");
        await CommandTextAsync($"link BG-1 {PrUrl}");
        await Bot.Until(() => Slack.CallsTo("chat.update").Count >= 2 && Change().NextStepAt is null, "announcement updated again");

        var post = Slack.CallsTo("chat.postMessage").Select(c => JsonNode.Parse(c.Body)!)
            .Single(b => b["thread_ts"] is null && b["channel"]!.GetValue<string>() == TestBot.Channel);
        var revisions = new List<string[]> { BlockIds(post) };
        revisions.AddRange(Slack.CallsTo("chat.update").Select(c => BlockIds(JsonNode.Parse(c.Body)!)));

        Assert.True(revisions.Count >= 3);
        foreach (var ids in revisions)
        {
            Assert.NotEmpty(ids);
            Assert.Equal(ids.Length, ids.Distinct().Count()); // Slack refuses a message with a duplicate block_id
            Assert.All(ids, id => Assert.InRange(id.Length, 1, 255));
        }
        for (var i = 0; i < revisions.Count; i++)
            for (var j = i + 1; j < revisions.Count; j++)
                Assert.Empty(revisions[i].Intersect(revisions[j]));
    }

    static string[] BlockIds(JsonNode body) =>
        [.. body["blocks"]!.AsArray().Select(b => b!["block_id"]?.GetValue<string>() ?? "")];
}
