using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>The Details note in the thread: whatever was typed, the links and the due date are in it.</summary>
[Trait("Category", "EndToEnd")]
public class DetailsNoteTests : BotTest
{
    [Fact]
    public async Task ALongJustificationIsCutButNeverPushesOutTheLinksOrTheDueDate()
    {
        var said = string.Concat(Enumerable.Repeat("The card processor timed out & retries piled up. ", 80)); // ~4,000 characters
        await Bot.CommandJsonAsync($"{said} https://github.com/acme/pay/pull/42 OPS-7");
        await Bot.Until(() => Slack.Messages.Any(m => m.MetadataNote == "details"), "the details note");

        var note = Slack.Messages.Single(m => m.MetadataNote == "details");
        var section = note.Blocks![0]!["text"]!["text"]!.GetValue<string>();
        Assert.InRange(section.Length, 2500, Blocks.SectionTextLimit);
        Assert.Contains("• Justification: The card processor timed out &amp; retries", section);
        Assert.Contains("…", section);
        Assert.Contains("<https://github.com/acme/pay/pull/42|acme/pay#42>", section);
        Assert.Contains("• Jira: OPS-7", section);
        Assert.Contains("• Retrospective review due <!date^", section);
        Assert.EndsWith(")", section);
        Assert.InRange(note.Text.Length, 1, Blocks.SectionTextLimit);
    }
}
