using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>
/// Cancel is for mistakes, not for escaping review: once a Team bypass put the declarer in the team, the declarer cannot
/// cancel (an admin who declared it neither); an admin who is not the declarer withdraws it, the bypass ends at once and
/// the change still needs its retrospective review.
/// </summary>
[Trait("Category", "EndToEnd")]
public class CancelAfterUseTests : TeamBypassTest
{
    const string OtherAdmin = "U0ADMIN2";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["Slack:Admins:0"] = TestBot.Admin,
        ["Slack:Admins:1"] = TestBot.Declarer, // an admin who declared: still no cancel of their own used bypass
        ["Slack:Admins:2"] = OtherAdmin,
    };

    async Task<string> Text(string command, string user) => (await Bot.CommandJsonAsync(command, user))["text"]!.GetValue<string>();

    [Fact]
    public async Task TheDeclarerCannotCancelAUsedBypassAndAnotherAdminWithdrawsItButTheReviewIsStillOwed()
    {
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot") && Change().Bypass?.Granted == true, "granted");

        var refused = await Text("cancel BG-1 wrong incident", TestBot.Declarer);
        Assert.StartsWith(":no_entry: BG-1's bypass was used (GitHub user hubot was added to acme/breakglass), so it cannot be cancelled", refused);
        Assert.Equal((ChangeStatus.Open, null), (Change().Status, Change().Cancellation));
        Assert.True(GitHub.IsMember(Team, "hubot"));
        var refusal = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.CancelRefused);
        Assert.Equal(("bypass used", "GitHub user hubot was added to acme/breakglass"), (refusal.Data["reason"], refusal.Data["used"]));

        var withdrawn = await Text("cancel BG-1 declared for the wrong service", OtherAdmin);
        Assert.Equal("BG-1 is withdrawn after use: its bypass ends now, and it still needs its retrospective review (GitHub user hubot was added to acme/breakglass).", withdrawn);
        var c = Change();
        Assert.Equal(ChangeStatus.Open, c.Status); // still reminded, overdue, in the digest and every rate
        Assert.Equal((true, OtherAdmin), (c.Cancellation!.AfterUse, c.Cancellation.By));
        Assert.Contains(Bot.Store.OpenChanges(), o => o.Id == 1);
        // The removal is stored before its outcome is recorded: wait for the event too.
        await WaitUntil(() => !GitHub.IsMember(Team, "hubot") && Bot.Store.AuditTrail(1).Any(e => e.Type == GitHubAuditTypes.BypassRevoked), "bypass ended at once");
        var revoked = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal("withdrawn after use", revoked.Data["reason"]);
        var recorded = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.WithdrawnAfterUse);
        Assert.Equal((OtherAdmin, "GitHub user hubot was added to acme/breakglass"), (recorded.Actor, recorded.Data["used"]));
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Cancelled);
        await WaitUntil(() => Thread().Any(m => m.Text.Contains("withdrawn after use", StringComparison.Ordinal)), "thread note");
        Assert.Contains("*still needs its retrospective review*", Thread().Single(m => m.Text.Contains("withdrawn after use", StringComparison.Ordinal)).Text);

        Assert.Equal("BG-1 was already withdrawn after use by <@U0ADMIN2>; it still needs its retrospective review.", await Text("cancel BG-1 again", TestBot.Admin));
    }

    [Fact]
    public async Task ACancelBeforeAnythingWasUsedStillEndsTheChange()
    {
        GitHub.Down = true; // the grant cannot happen: nothing was used
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => Change().Steps.Single(s => s.Kind == GitHubStepKinds.BypassGrant).LastError is not null, "grant failed");
        Assert.Equal("BG-1 is cancelled; it stays in the record with your reason.", await Text("cancel BG-1 wrong incident", TestBot.Declarer));
        Assert.Equal(ChangeStatus.Cancelled, Change().Status);
        Assert.Equal("nothing", Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.Cancelled).Data["used"]);
    }
}
