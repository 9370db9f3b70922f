using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Reviewing.ApprovalTests;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>Slack:Readers (issue 19, item 6): who may read which change through status, list, overdue and Details.</summary>
[Trait("Category", "EndToEnd")]
public class ReaderTests : BotTest
{
    const string Reader = "U0READER";
    const string Stranger = "U0STRANGER";
    /// <summary>A member of the fixture's user group (slack/usergroups_users_list.json), listed in Slack:Readers as the group.</summary>
    const string GroupMember = "U060R4BJ4";
    const string Summary = "Rotate the payments signing key";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Readers:0"] = Reader,
        ["Slack:Readers:1"] = "S0AUDITORS",
        ["Slack:Reviewers:0"] = Reviewer1,
    };

    /// <summary>The answer's text and blocks, as one string to search.</summary>
    async Task<string> Text(string command, string user)
    {
        var reply = await Bot.CommandJsonAsync(command, user);
        return reply["text"]!.GetValue<string>() + "\n" + reply["blocks"]?.ToJsonString();
    }

    async Task<string> DetailsAsync(string user, string value)
    {
        var before = Slack.Responses.Count;
        await Bot.InteractionAsync(Click(user, ReviewActions.Details, value, responseUrl: Slack.ResponseUrl("details-" + user)));
        await Eventually.Until(() => Slack.Responses.Count > before, "the click answered");
        return Slack.Responses.Last().Body;
    }

    [Fact]
    public async Task SomeoneNotAReaderIsRefusedEveryWayInAndLearnsNothing()
    {
        await Bot.CommandJsonAsync(Summary, TestBot.Declarer);
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "announced");

        var status = await Text("status BG-1", Stranger);
        Assert.Contains("not allowed to read BG-1", status);
        Assert.Contains("Slack:Readers", status);
        Assert.DoesNotContain("payments signing key", status);
        // A change that does not exist gets the same answer: the refusal does not tell which ids exist.
        Assert.Contains("not allowed to read BG-7", await Text("status BG-7", Stranger));

        var details = await DetailsAsync(Stranger, "BG-1");
        Assert.Contains("not allowed to read BG-1", details);
        Assert.DoesNotContain("payments signing key", details);
        Assert.Contains("ephemeral", details);

        foreach (var list in new[] { "list", "list open", "list overdue", "overdue" })
        {
            var answer = await Text(list, Stranger);
            Assert.DoesNotContain("payments signing key", answer);
            Assert.DoesNotContain("BG-1", answer);
        }
        Assert.Contains("not allowed to read other people's", await Text("overdue", Stranger));

        // Cancel and link refuse alike, without naming the declarer; the refused cancel is still on the record.
        foreach (var command in new[] { "cancel BG-1 not mine", "link BG-1 OPS-7" })
        {
            var refused = await Text(command, Stranger);
            Assert.Contains("not allowed to read BG-1", refused);
            Assert.DoesNotContain(TestBot.Declarer, refused);
            Assert.Contains("not allowed to read BG-7", await Text(command.Replace("BG-1", "BG-7"), Stranger));
        }
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.CancelRefused && e.Actor == Stranger);
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(1)!.Status);
    }

    [Fact]
    public async Task ReadersTheDeclarerReviewersAndAdminsSeeTheChange()
    {
        await Bot.CommandJsonAsync(Summary, TestBot.Declarer);
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "announced");
        foreach (var user in new[] { Reader, GroupMember, TestBot.Declarer, Reviewer1, TestBot.Admin })
        {
            Assert.Contains("payments signing key", await Text("status BG-1", user));
            Assert.Contains("payments signing key", await Text("list", user));
            Assert.Contains("payments signing key", await DetailsAsync(user, "BG-1"));
        }
        // The declarer, not a reader, sees their own change in the lists and no one else's.
        await Bot.CommandJsonAsync("Someone else's fix", Reader);
        var declarers = await Text("list", TestBot.Declarer);
        Assert.Contains("BG-1", declarers);
        Assert.DoesNotContain("BG-2", declarers);
        Assert.DoesNotContain("Someone else", declarers);
        Assert.Contains("not allowed to read BG-2", await Text("status BG-2", TestBot.Declarer));
        Assert.Contains("BG-2", await Text("list", Reader));
    }
}

/// <summary>Without Slack:Readers everyone in the workspace reads every change, as before.</summary>
[Trait("Category", "EndToEnd")]
public class DefaultReaderTests : BotTest
{
    [Fact]
    public async Task EveryoneReadsEveryChangeByDefault()
    {
        await Bot.CommandJsonAsync("Rotate the payments signing key", TestBot.Declarer);
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "announced");
        Assert.Contains("payments signing key", (await Bot.CommandJsonAsync("status BG-1", "U0STRANGER")).ToJsonString());
        Assert.Contains("payments signing key", (await Bot.CommandJsonAsync("list", "U0STRANGER")).ToJsonString());
        Assert.Contains("There is no BG-7", (await Bot.CommandJsonAsync("status BG-7", "U0STRANGER")).ToJsonString());
        await Bot.InteractionAsync(Click("U0STRANGER", ReviewActions.Details, "BG-1", responseUrl: Slack.ResponseUrl("d")));
        await Eventually.Until(() => Slack.Responses.Count == 1, "the click answered");
        Assert.Contains("payments signing key", Slack.Responses[0].Body);
        Assert.DoesNotContain(ReadAccess.RefusalOfAll, (await Bot.CommandJsonAsync("overdue", "U0STRANGER")).ToJsonString());
    }
}
