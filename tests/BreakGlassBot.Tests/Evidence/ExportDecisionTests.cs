using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>/breakglass export &lt;from&gt; &lt;to&gt; [total]: who may export, what arguments it takes, and the figures it answers with, in process.</summary>
public class ExportDecisionTests
{
    const string Manager = "U0MANAGER";

    static async Task<InProcessBot> WithChangesAsync(string? publicBaseUrl = null)
    {
        var bot = InProcessBot.Create(new Dictionary<string, string?> { ["Slack:Managers:0"] = Manager, ["Evidence:PublicBaseUrl"] = publicBaseUrl });
        await bot.ReplyAsync("Hotfix checkout");     // Monday 3 March 2031
        await bot.ReplyAsync("Rotate keys");
        await bot.ReplyAsync("cancel BG-2 mistake");
        bot.Clock.Advance(TimeSpan.FromDays(10));
        await bot.ReplyAsync("Patch the kernel");    // Thursday 13 March, outside the window below
        return bot;
    }

    [Fact]
    public async Task OnlyManagersAndAdminsMayExport()
    {
        await using var bot = await WithChangesAsync();
        var refused = await bot.ReplyAsync("export 2031-03-01 2031-03-05");
        Assert.Equal(":no_entry: Only managers and admins (Slack:Managers, Slack:Admins) may export audit evidence.", refused);
        Assert.Empty(bot.Slack.Responses);
        Assert.DoesNotContain(bot.Logs, l => l.Contains("Evidence export"));
    }

    [Fact]
    public async Task AnExportWithArgumentsItCannotReadSaysWhatToType()
    {
        await using var bot = await WithChangesAsync();
        foreach (var text in new[]
        {
            "export", "export 2031-03-01",
            "export 2031-03-05 2031-03-01",        // to before from
            "export 2031-03-01 2031-03-05 0",      // a total must be positive
            "export 2031-03-01 2031-03-05 twenty", "export 1 March 2031 to 5 March", "export 2031-03-01 2031-03-05 20 more",
        })
        {
            var reply = await bot.ReplyAsync(text, Manager);
            Assert.StartsWith(":warning: Type `/breakglass export <from> <to> [total changes]` evidence for an audit window", reply);
            Assert.Contains("Dates are YYYY-MM-DD, both included", reply);
        }
        Assert.DoesNotContain(bot.Logs, l => l.Contains("Evidence export"));
    }

    /// <summary>The export's answer (an acknowledgement within Slack's 3 s) and the figures it then sends to the command's response_url.</summary>
    static async Task<string> FiguresAsync(InProcessBot bot, string text, string user)
    {
        var ack = await bot.ReplyAsync(text, user);
        Assert.StartsWith(":hourglass_flowing_sand: Counting the evidence for ", ack);
        var figures = await bot.Slack.WaitForAsync("response_url");
        Assert.Equal("https://hooks.slack.com/commands/1234/5678", figures.ResponseUrl);
        Assert.True(figures.Ephemeral);
        return figures.Message!.Text;
    }

    [Fact]
    public async Task AManagerGetsTheWindowsFiguresAndTheLinks()
    {
        await using var bot = await WithChangesAsync();
        var lines = (await FiguresAsync(bot, "export 2031-03-01 2031-03-05 20", Manager)).Split('\n');

        Assert.Equal("*Emergency-change evidence 2031-03-01 – 2031-03-05* (UTC)", lines[0]);
        // As of the clock's now, ten days on: BG-1 is past its two-day window.
        Assert.Equal("2 change(s): 0 reviewed on time, 0 late, 1 still open (1 overdue), 1 cancelled.", lines[1]);
        Assert.Equal("Median time to review: n/a. Break-glass use: 1.4 per week, 5% of 20 changes.", lines[2]); // 1 not cancelled in 5 days
        Assert.StartsWith("Audit trail intact (4 events, last hash `", lines[3]);
        Assert.Equal("Download: CSV: `/evidence?from=2031-03-01&amp;to=2031-03-05&amp;format=csv&amp;total=20` · "
            + "JSON: `/evidence?from=2031-03-01&amp;to=2031-03-05&amp;format=json&amp;total=20` (needs an evidence API key: `Authorization: Bearer <key>`)", lines[4]);
        Assert.Contains(bot.Logs, l => l.Contains($"Evidence export 2031-03-01..2031-03-05 requested in Slack by {Manager}"));
    }

    [Fact]
    public async Task AnAdminMayExportAndWithAPublicAddressTheLinksAreAbsolute()
    {
        await using var bot = await WithChangesAsync("https://breakglass.example.com/");
        var reply = await FiguresAsync(bot, "export 2031-03-10 2031-03-16", InProcessBot.Admin);
        Assert.Contains("1 change(s): 0 reviewed on time, 0 late, 1 still open (0 overdue), 0 cancelled.", reply);
        Assert.Contains("Break-glass use: 1 per week.", reply); // no rate without a total (GitHub, which could count one, is not configured)
        Assert.Contains("<https://breakglass.example.com/evidence?from=2031-03-10&amp;to=2031-03-16&amp;format=csv|CSV>", reply);
    }
}
