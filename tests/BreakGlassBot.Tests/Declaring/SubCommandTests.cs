using System.Text.RegularExpressions;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

[Trait("Category", "EndToEnd")]
public class SubCommandTests : BotTest
{
    async Task<string> Text(string command, string user = TestBot.Declarer) =>
        (await Bot.CommandJsonAsync(command, user))["text"]!.GetValue<string>();

    [Fact]
    public async Task HelpListsEverySubCommand()
    {
        var help = await Text("help");
        foreach (var sub in new[] { "status", "list", "overdue", "cancel", "help" }) Assert.Contains($"/breakglass {sub}", help);
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task StatusShowsOneChangeOrTheCallersOpenOnes()
    {
        Assert.Contains("no open emergency changes", await Text("status"));
        await Text("First fix");
        await Text("Second fix", user: "U0OTHER");
        var mine = await Text("status");
        Assert.Contains("BG-1", mine);
        Assert.DoesNotContain("BG-2", mine);
        var one = await Bot.CommandJsonAsync("status BG-2");
        Assert.Contains("Second fix", one.ToJsonString());
        Assert.Contains("There is no BG-9", await Text("status BG-9"));
        Assert.Contains("not a change id", await Text("status banana"));
    }

    [Fact]
    public async Task ListFiltersOpenOverdueAndMine()
    {
        await Text("Fix one");
        await Text("Fix two", user: "U0OTHER");
        var open = await Text("list");
        Assert.Contains("BG-1", open);
        Assert.Contains("BG-2", open);
        Assert.Contains("none", await Text("list overdue"));
        Assert.Contains("Nothing is overdue", await Text("overdue")); // the digest, on demand
        var mine = await Text("list mine", user: "U0OTHER");
        Assert.Contains("BG-2", mine);
        Assert.DoesNotContain("BG-1", mine);
        Assert.Contains("`open`, `overdue` or `mine`", await Text("list everything"));
    }

    [Fact]
    public async Task TheDeclarerCancelsWithAReasonAndTheRecordIsKept()
    {
        await Text("Mistaken declaration");
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced");
        Assert.Contains("is cancelled", await Text("cancel BG-1 typed in the wrong channel"));

        var change = Bot.Store.Get(1)!;
        Assert.Equal(ChangeStatus.Cancelled, change.Status);
        Assert.Equal("typed in the wrong channel", change.Cancellation!.Reason);
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Cancelled && e.Actor == TestBot.Declarer);

        await Eventually.Until(() => Slack.CallsTo("chat.update").Count == 1, "announcement updated");
        await Eventually.Until(() => Bot.Store.Get(1)!.NextStepAt is null, "thread note posted");
        Assert.Contains("Cancelled", Slack.Announcements("BG-1")[0].AllText);
        Assert.Single(Slack.Thread(TestBot.Channel, change.Announcement!.Ts), m => m.Text.Contains("cancelled by"));
        Assert.Contains("already cancelled", await Text("cancel BG-1 again"));
        Assert.Contains("BG-1", await Text("list mine"));
    }

    [Fact]
    public async Task OnlyTheDeclarerOrAnAdminMayCancel()
    {
        await Text("Someone else's change");
        Assert.Contains("Only", await Text("cancel BG-1 not mine", user: "U0OTHER"));
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(1)!.Status);
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.CancelRefused && e.Actor == "U0OTHER");
        Assert.Contains("is cancelled", await Text("cancel BG-1 duplicate of BG-0", user: TestBot.Admin));
        Assert.Equal(TestBot.Admin, Bot.Store.Get(1)!.Cancellation!.By);
    }

    [Theory]
    [InlineData("cancel", "Which change?")]
    [InlineData("cancel BG-1", "Say why")]
    [InlineData("cancel nope reason", "Which change?")]
    [InlineData("cancel BG-77 reason", "There is no BG-77")]
    public async Task CancelWithBadArgumentsGetsItsUsage(string command, string expected)
    {
        await Text("A change");
        Assert.Contains(expected, await Text(command));
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(1)!.Status);
    }

    [Theory]
    [InlineData("status page down in eu", "not a change id")]
    [InlineData("list of broken things fixed", "I can list")]
    [InlineData("cancel the deploy, it breaks checkout", "Which change?")]
    public async Task ASubCommandWordWithArgumentsThatDoNotParseSaysHowToDeclareInstead(string command, string usage)
    {
        var reply = await Text(command);
        Assert.Contains(usage, reply);
        Assert.Contains("To declare an emergency with this text, start it with a different word, or use `/breakglass` alone", reply);
        Assert.Equal(0, Bot.Store.Count());
    }

    [Fact]
    public async Task ASubCommandUsedAsMeantIsNotToldAboutDeclaring()
    {
        await Text("A change");
        Assert.DoesNotContain("To declare an emergency", await Text("cancel BG-1"));
        Assert.DoesNotContain("To declare an emergency", await Text("status BG-1"));
    }

    [Fact]
    public void TheManifestsUsageHintNamesEverySubCommand()
    {
        var manifest = File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "manifest.yml"));
        var hint = Regex.Match(manifest, "usage_hint: \"(?<hint>[^\"]*)\"").Groups["hint"].Value;
        // The alternatives are separated by " | "; "list [open|overdue|mine]" names the list filter, not the overdue sub-command.
        var words = hint.Split(" | ").Select(alternative => alternative.Split(' ')[0]).ToHashSet();
        string[] builtIn = ["status", "list", "overdue", "cancel", "help"];
        foreach (var sub in builtIn.Concat(Bot.Service<IEnumerable<ISubCommand>>().Select(c => c.Name)))
            Assert.True(words.Contains(sub), $"usage_hint lacks '{sub}': {hint}");
    }
}
