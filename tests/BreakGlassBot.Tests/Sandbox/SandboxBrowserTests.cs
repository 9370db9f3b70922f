using System.Collections.Concurrent;
using BreakGlassBot.EmergencyChanges;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BreakGlassBot.Tests.Sandbox;

/// <summary>The sandbox page in headless Chromium, against the real bot in sandbox mode. Screenshots go to a temp folder.</summary>
[Collection(ChromiumCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class SandboxBrowserTests(Chromium chromium) : IAsyncLifetime
{
    const string Reviewer = "U0SBXRILEY";
    readonly string shots = Path.Combine(Path.GetTempPath(), "bgb-sandbox-screenshots-" + Guid.NewGuid().ToString("N")[..8]);
    readonly ConcurrentQueue<string> leftTheMachine = new();
    SandboxBot bot = null!;
    IBrowserContext browser = null!;
    IPage page = null!;

    public async Task InitializeAsync()
    {
        SetDefaultExpectTimeout(30_000); // only a failing test waits that long
        Directory.CreateDirectory(shots);
        bot = await SandboxBot.StartAsync();
        browser = await chromium.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1500, Height = 950 } });
        // The page must work offline: anything not asked of the sandbox itself is recorded and refused.
        await browser.RouteAsync("**/*", async route =>
        {
            if (new Uri(route.Request.Url).Host == "127.0.0.1") await route.ContinueAsync();
            else { leftTheMachine.Enqueue(route.Request.Url); await route.AbortAsync(); }
        });
        page = await browser.NewPageAsync();
        await page.GotoAsync(bot.Url + "/sandbox");
    }

    public async Task DisposeAsync()
    {
        await browser.DisposeAsync();
        await bot.DisposeAsync();
    }

    ILocator Conversation => page.Locator("#messages");
    ILocator Thread => page.Locator("#thread-messages");

    async Task<string> ShotAsync(string name)
    {
        var file = Path.Combine(shots, name + ".png");
        await page.ScreenshotAsync(new() { Path = file });
        return file;
    }

    [Fact]
    public async Task DeclareInTheComposerGetAReminderApproveAsAReviewerAndSeeTheChangeReviewed()
    {
        var files = new List<string>();
        await Expect(page.Locator("#banner")).ToContainTextAsync("SANDBOX — not connected to Slack");

        // The declarer breaks the glass in the channel, linking the simulated Jira issue.
        await page.Locator("#composer-input").FillAsync("/breakglass Roll back payments deploy SBX-1");
        await page.Locator("#composer-input").PressAsync("Enter");
        await Expect(Conversation.Locator("[data-testid=ephemeral]")).ToContainTextAsync("BG-1 declared");
        var announcement = Conversation.Locator("[data-testid=message]").Filter(new() { HasText = "BG-1 · Emergency change" });
        await Expect(announcement).ToContainTextAsync("Roll back payments deploy");
        await Expect(announcement).ToContainTextAsync("Awaiting retrospective review", new() { IgnoreCase = true });
        await Expect(page.Locator("[data-testid=jira-SBX-1]")).ToContainTextAsync("Emergency change BG-1 declared"); // the bot's comment
        files.Add(await ShotAsync("1-declared"));

        // A reviewer gets the reminder as a direct message, and approves from it.
        await page.SelectOptionAsync("#person", Reviewer);
        await Expect(page.Locator("#person-role")).ToContainTextAsync("Riley Reviewer");
        await page.Locator("[data-testid=dm-item]").ClickAsync();
        var reminder = Conversation.Locator("[data-testid=message]").Filter(new() { HasText = "Retrospective review needed" }).First;
        await Expect(reminder).ToContainTextAsync("BG-1");
        files.Add(await ShotAsync("2-reminder"));
        await reminder.GetByRole(AriaRole.Button, new() { Name = "Approve retroactively" }).ClickAsync();
        await Expect(Conversation.Locator("[data-testid=ephemeral]")).ToContainTextAsync("You approved BG-1 retrospectively");

        // Still open: the linked Jira issue is not reviewed yet. Moving it to Done completes the evidence.
        await page.Locator("[data-testid=channel-item]").ClickAsync();
        await Expect(announcement).ToContainTextAsync("Approved by @Riley Reviewer");
        await Expect(announcement).ToContainTextAsync("Jira issue SBX-1 is in status 'In Review'");
        await page.Locator("[data-testid=jira-SBX-1]").GetByRole(AriaRole.Button, new() { Name = "Move to Done" }).ClickAsync();
        await Expect(announcement).ToContainTextAsync("✅ Reviewed");
        await announcement.Locator(".replies").ClickAsync();
        await Expect(Thread).ToContainTextAsync("approved retrospectively by @Riley Reviewer");
        await Expect(Thread).ToContainTextAsync("BG-1 is reviewed");
        files.Add(await ShotAsync("3-reviewed"));

        Assert.Equal(ChangeStatus.Reviewed, bot.Store.Get(1)!.Status);
        Assert.Contains(bot.Store.Get(1)!.Approvals, a => a.Reviewer == Reviewer && a.Source == "reminder-button");
        AssertScreenshots(files);
        Assert.Empty(leftTheMachine);
    }

    [Fact]
    public async Task AMissedDeadlineEscalatesToTheManagerAndTheDigestShowsIt()
    {
        // A window of seconds: the change goes overdue while the page is open, and the manager hears of it as it happens.
        await bot.DisposeAsync();
        bot = await SandboxBot.StartAsync("--Policy:ReviewWindow=00:00:04", "--Policy:EscalateAfter=00:00:01");
        await page.GotoAsync(bot.Url + "/sandbox");
        await page.Locator("#composer-input").FillAsync("/breakglass Restart the stuck queue consumer");
        await page.Locator("#composer-input").PressAsync("Enter");
        await Expect(Conversation.Locator("[data-testid=ephemeral]")).ToContainTextAsync("BG-1 declared");

        await page.SelectOptionAsync("#person", "U0SBXMORGAN");
        await page.Locator("[data-testid=dm-item]").ClickAsync();
        var escalation = Conversation.Locator("[data-testid=message]").Filter(new() { HasText = "Escalation" }).First;
        await Expect(escalation).ToContainTextAsync("BG-1");
        await Expect(escalation).ToContainTextAsync("overdue by");
        var file = await ShotAsync("escalation");

        await page.Locator("[data-testid=channel-item]").ClickAsync();
        var announcement = Conversation.Locator("[data-testid=message]").Filter(new() { HasText = "BG-1 · Emergency change" });
        await Expect(announcement).ToContainTextAsync("Overdue", new() { IgnoreCase = true });
        await page.Locator("#composer-input").FillAsync("/breakglass overdue");
        await page.Locator("#composer-input").PressAsync("Enter");
        var digest = Conversation.Locator("[data-testid=ephemeral]").Filter(new() { HasText = "Break-glass review digest" }).Last;
        await Expect(digest).ToContainTextAsync("BG-1");
        await Expect(digest).ToContainTextAsync("Restart the stuck queue consumer");

        Assert.NotNull(bot.Store.Get(1)!.EscalatedAt);
        AssertScreenshots([file, await ShotAsync("digest")]);
        Assert.Empty(leftTheMachine);
    }

    [Fact]
    public async Task TheModalOpensFromTheComposerShowsTheBotsFieldErrorsAndDeclares()
    {
        await page.Locator("#composer-input").FillAsync("/breakglass");
        await page.Locator("#composer-input").PressAsync("Enter");
        var modal = page.Locator("[data-testid=modal]");
        await Expect(modal).ToContainTextAsync("Break the glass");

        // Slack itself refuses an empty required field; the bot refuses a summary that says nothing.
        await modal.Locator("[data-testid=modal-submit]").ClickAsync();
        await Expect(modal.Locator("[data-block-id=summary] .error")).ToHaveTextAsync("Please complete this required field.");
        await modal.Locator("[data-block-id=summary] input").FillAsync("ab");
        await modal.Locator("[data-block-id=justification] textarea").FillAsync("Checkout is down for every customer.");
        await modal.Locator("[data-block-id=severity] select").SelectOptionAsync("SEV1");
        await modal.Locator("[data-testid=modal-submit]").ClickAsync();
        await Expect(modal.Locator("[data-block-id=summary] .error")).ToHaveTextAsync("Say in a few words what you are changing.");
        var file = await ShotAsync("modal-errors");

        await modal.Locator("[data-block-id=summary] input").FillAsync("Disable the broken fraud rule");
        await modal.Locator("[data-testid=modal-submit]").ClickAsync();
        await Expect(modal).ToContainTextAsync("BG-1 declared");
        await modal.Locator("[data-testid=modal-close]").ClickAsync();
        await Expect(page.Locator("#modal-backdrop")).ToBeHiddenAsync();
        await Expect(Conversation.Locator("[data-testid=message]").Filter(new() { HasText = "BG-1 · Emergency change" })).ToContainTextAsync("Disable the broken fraud rule");

        var change = bot.Store.Get(1)!;
        Assert.Equal(("Checkout is down for every customer.", "SEV1"), (change.Justification, change.Severity));
        AssertScreenshots([file]);
        Assert.Empty(leftTheMachine);
    }

    [Fact]
    public async Task MergingWithoutReviewInTheSidePanelShowsTheDetectedCaseAndAsksTheMergerToExplainIt()
    {
        // A grace period of a second: the case opens while the page is open.
        await bot.DisposeAsync();
        bot = await SandboxBot.StartAsync("--Detection:GracePeriod=00:00:01", "--Detection:CheckInterval=00:00:00.200");
        await page.GotoAsync(bot.Url + "/sandbox");
        var pr = page.Locator("[data-testid=github-0]");
        await Expect(page.Locator("#github")).ToContainTextAsync("grace period (1s here");

        await pr.Locator("[data-testid=github-merge-0]").ClickAsync();
        await Expect(pr).ToContainTextAsync("Merged by dana-declarer");
        var announcement = Conversation.Locator("[data-testid=message]").Filter(new() { HasText = "Undeclared bypass detected" });
        await Expect(announcement).ToContainTextAsync("acme/payments#42");
        await Expect(page.Locator("#wire")).ToContainTextAsync("POST /github/webhooks pull_request closed (signed sha256) → 200");
        var file = await ShotAsync("detected");

        await page.Locator("[data-testid=dm-item]").ClickAsync();
        var ask = Conversation.Locator("[data-testid=message]").Filter(new() { HasText = "nobody declared it" }).First;
        await Expect(ask).ToContainTextAsync("BG-1");
        await ask.GetByRole(AriaRole.Button, new() { Name = "Add summary and justification" }).ClickAsync();
        await Expect(page.Locator("[data-testid=modal]")).ToBeVisibleAsync();

        Assert.NotNull(bot.Store.Get(1)!.Detected);
        AssertScreenshots([file, await ShotAsync("detected-explain")]);
        Assert.Empty(leftTheMachine);
    }

    static void AssertScreenshots(IEnumerable<string> files)
    {
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            Assert.True(bytes.Length > 1000, $"{file} is only {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        }
    }
}
