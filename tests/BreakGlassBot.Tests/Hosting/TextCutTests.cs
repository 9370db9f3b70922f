using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Jira;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Tests.Hosting;

/// <summary>Text cut for a limit stays whole: no half surrogate pair, no half link, no half entity.</summary>
public sealed class TextCutTests
{
    static bool Whole(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }

    [Fact]
    public void AnEmojiAtEveryCutPositionIsKeptWholeOrLeftOut()
    {
        for (var before = 0; before < 12; before++)
        for (var max = 2; max < 20; max++)
        {
            var text = new string('a', before) + "🚨👩‍💻" + new string('b', 10);
            var cut = TextCut.Cut(text, max);
            Assert.True(cut.Length <= max, $"{before}/{max}: {cut.Length}");
            Assert.True(Whole(cut), $"{before}/{max}: a half character in '{cut}'");
            Assert.True(Whole(Blocks.Truncate(text, max)), $"{before}/{max}: Blocks.Truncate");
        }
    }

    [Fact]
    public void TheJiraSummaryIsOneLineOfWholeCharactersWithinJirasLimit()
    {
        for (var before = 235; before < 256; before++)
        {
            var change = new EmergencyChange { Id = 1, Summary = new string('x', before) + "🚨 roll\nback" };
            var summary = JiraTexts.CreatedSummary(change);
            Assert.True(summary.Length <= 255, $"{before}: {summary.Length}");
            Assert.True(Whole(summary), $"{before}: half a character");
            Assert.DoesNotContain('\n', summary);
        }
        Assert.Equal("[BG-1] Payments down rolling back", JiraTexts.CreatedSummary(new EmergencyChange { Id = 1, Summary = "Payments down\r\n  rolling back" }));
    }

    [Theory]
    [InlineData("see <https://example.com/a/very/long/path|the runbook> now", 20)]
    [InlineData("ping <@U0123456789> about it", 12)]
    [InlineData("fish &amp; chips &amp; more", 9)]
    public void SlackTextIsNeverCutInsideALinkOrAnEntity(string text, int max)
    {
        var cut = Blocks.Truncate(text, max);
        Assert.True(cut.Length <= max);
        Assert.True(cut.LastIndexOf('<') <= cut.LastIndexOf('>'), cut);
        var amp = cut.LastIndexOf('&');
        Assert.True(amp < 0 || cut.IndexOf(';', amp) > amp, cut);
    }
}
