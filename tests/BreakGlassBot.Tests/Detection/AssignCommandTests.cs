using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Detection;

/// <summary>"/breakglass assign BG-n @user", over the wire: admins name who is responsible for a detected case.</summary>
[Trait("Category", "EndToEnd")]
public class AssignCommandTests : BotTest
{
    const string Merger = "U0MERGER";

    async Task OpenAsync(string responsible = "")
    {
        var change = await DetectedCases.OpenAsync(Bot.App.Services, responsible);
        await Eventually.Until(() => Done(change.Id), "announced and the first direct messages sent");
    }

    bool Done(int id = 1) => Change(id).Announcement is not null && Change(id).Steps.All(s => s.Kind == StepKinds.Track || s.State != StepState.Pending);

    async Task<string> Reply(string text, string user)
    {
        var reply = await Bot.CommandJsonAsync(text, user);
        Assert.Equal("ephemeral", reply["response_type"]!.GetValue<string>());
        return reply["text"]!.GetValue<string>();
    }

    [Fact]
    public async Task AnAdminAssignsTheResponsiblePersonWhoIsAskedToExplain()
    {
        await OpenAsync();
        // Slack sends an escaped mention with its label; the bot keeps the id.
        var reply = await Reply($"assign BG-1 <@{Merger}|merger>", TestBot.Admin);
        Assert.Contains($"<@{Merger}> is now responsible for BG-1", reply);

        Assert.Equal(Merger, Change().DeclaredBy);
        var assigned = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.DetectionAssigned);
        Assert.Equal(TestBot.Admin, assigned.Actor);
        Assert.Equal(Merger, assigned.Data["responsible"]);
        Assert.Equal("nobody", assigned.Data["previous"]);

        await Eventually.Until(() => Slack.DirectMessages(Merger).Count == 1 && Done(), "the new person asked, the thread told");
        Assert.Contains(DetectionKeys.ExplainAction, Slack.DirectMessages(Merger)[0].Blocks!.ToJsonString());
        var note = Assert.Single(Thread(), m => m.MetadataNote?.StartsWith(DetectionNotes.Assigned, StringComparison.Ordinal) == true);
        Assert.Contains($"<@{TestBot.Admin}> assigned BG-1 to <@{Merger}>", note.Text);
        var announcement = Assert.Single(Slack.TopLevel(TestBot.Channel), m => m.MetadataChangeId == "BG-1");
        Assert.Contains($"`octocat` on GitHub · <@{Merger}>", announcement.Words());
        Assert.DoesNotContain("nobody known", announcement.Words());
    }

    [Fact]
    public async Task ANonAdminIsRefused()
    {
        await OpenAsync();
        var reply = await Reply($"assign BG-1 <@{Merger}>", Merger);
        Assert.StartsWith(":no_entry: Only admins", reply);
        Assert.Equal("", Change().DeclaredBy);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.DetectionAssigned);
        Assert.Empty(Slack.DirectMessages(Merger));
    }

    [Theory]
    [InlineData("assign", "Type `/breakglass assign BG-42 @person`")]
    [InlineData("assign BG-1", "Type `/breakglass assign BG-42 @person`")]
    [InlineData("assign BG-1 @merger", "pick the person from Slack's list")]
    [InlineData("assign BG-9 <@U0MERGER>", "There is no BG-9")]
    public async Task ABadArgumentSaysWhatToType(string command, string expected)
    {
        await OpenAsync();
        Assert.Contains(expected, await Reply(command, TestBot.Admin));
        Assert.Equal("", Change().DeclaredBy);
    }

    [Fact]
    public async Task ADeclaredChangeIsNotAssigned()
    {
        var declared = await Bot.CommandJsonAsync("Roll back the payments deploy");
        Assert.Contains("BG-1", declared["text"]!.GetValue<string>());
        var reply = await Reply($"assign BG-1 <@{Merger}>", TestBot.Admin);
        Assert.Contains("not detected: only a detected bypass is assigned", reply);
        Assert.Equal(TestBot.Declarer, Change().DeclaredBy);
    }

    [Fact]
    public async Task AClosedCaseIsNotAssigned()
    {
        await OpenAsync();
        Bot.Store.Update(1, c =>
        {
            c.Status = ChangeStatus.Closed;
            c.Detected!.AbsorbedBy = 2;
            return [];
        });
        var reply = await Reply($"assign BG-1 <@{Merger}>", TestBot.Admin);
        Assert.Contains("closed: it was declared as BG-2", reply);
        Assert.Equal("", Change().DeclaredBy);
    }

    [Fact]
    public async Task HelpListsAssign()
    {
        var help = await Reply("help", TestBot.Declarer);
        Assert.Contains("`/breakglass assign BG-n @user` (admins)", help);
    }
}
