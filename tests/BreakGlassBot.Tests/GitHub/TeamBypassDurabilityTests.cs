using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// Team bypasses survive lost answers and crashes at the points between a write and the step's recorded outcome: nobody is left in
/// the bypass team, and every grant that may have happened gets exactly one end in the audit trail and the thread.
/// </summary>
[Trait("Category", "EndToEnd")]
public class TeamBypassDurabilityTests : TeamBypassTest
{

    IReadOnlyList<PostedSlackMessage> Notes(int id, string key) => [.. Thread(id).Where(m => m.MetadataNote == key)];

    PendingStep Step(int id, string kind) => Change(id).Steps.Single(s => s.Kind == kind);

    async Task DeclareGrantedAsync(int id, string summary)
    {
        await Bot.CommandJsonAsync(summary);
        await WaitUntil(() => Change(id).Bypass is { GrantedAt: var g } && g != default && Notes(id, GitHubNotes.BypassGranted).Count == 1, $"BG-{id} granted");
    }

    /// <summary>Stops the bot, changes its stored data as a crash at some point would have left it, and starts it on the same files.</summary>
    async Task CrashAndRestartAsync(Action<ChangeStore> leftBehind)
    {
        await Bot.DisposeAsync();
        using (var store = new ChangeStore(Path.Combine(DataDirectory, "breakglass.db"))) leftBehind(store);
        Bot = await StartBotAsync();
    }

    [Fact]
    public async Task ACancelWhileTheGrantsAnswerIsLostRemovesTheUserExactlyOnce()
    {
        // GitHub adds the user, but the bot never gets the answer: the grant keeps retrying, and the user is in the team.
        GitHub.Fail("PUT membership", new Fault.AfterWork(502), times: 10_000);
        await Bot.CommandJsonAsync($"Fix it {PrUrl}");
        await WaitUntil(() => GitHub.IsMember(Team, "hubot") && Step(1, GitHubStepKinds.BypassGrant).LastError is not null, "added, answer lost");

        Assert.Contains("is cancelled", (await Bot.CommandJsonAsync("cancel BG-1 wrong incident"))["text"]!.GetValue<string>());
        await WaitUntil(() => !GitHub.IsMember(Team, "hubot") && Change().Bypass?.RevokedAt is not null && Notes(1, GitHubNotes.BypassEnded).Count == 1,
            "removed after the cancel");
        Assert.Equal(StepState.Done, Step(1, GitHubStepKinds.BypassGrant).State);
        Assert.Single(GitHub.CallsTo("DELETE", MembershipPath));
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassGranted); // never confirmed
        var revoked = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal(("true", "change cancelled", "hubot", Team), (revoked.Data["removed"], revoked.Data["reason"], revoked.Data["login"], revoked.Data["team"]));
        Assert.Contains("cancelled while the grant was under way", revoked.Data["revoked"]);
        Assert.Contains("the bot made sure `hubot` is not in `acme/breakglass`", Notes(1, GitHubNotes.BypassEnded).Single().Text);
        Assert.Empty(Notes(1, GitHubNotes.BypassGranted));
    }

    [Fact]
    public async Task ACancelledChangeWhoseGrantWasStoredButNotRecordedBeforeACrashIsRevoked()
    {
        await DeclareGrantedAsync(1, "Fix it");
        // Crash after the grant stored its bypass and before its outcome was recorded: no revocation yet, the grant step pending.
        // After the restart GitHub stays down for the grant, so only the cancel can settle it.
        GitHub.Fail("PUT membership", new Fault.Status(503), times: 10_000);
        await CrashAndRestartAsync(store => store.Update(1, c =>
        {
            c.Steps.RemoveAll(s => s.Kind == GitHubStepKinds.BypassRevoke);
            var grant = c.Steps.Single(s => s.Kind == GitHubStepKinds.BypassGrant);
            (grant.State, grant.NextAttemptAt) = (StepState.Pending, DateTimeOffset.UtcNow);
            return [];
        }));
        await WaitUntil(() => GitHub.CallsTo("PUT", MembershipPath).Count >= 2, "the grant retried after the restart");

        // The grant was stored: the bypass was used, so an admin withdraws it (the declarer could not) and the review stays owed.
        Assert.Contains("is withdrawn after use", (await Bot.CommandJsonAsync("cancel BG-1 wrong incident", TestBot.Admin))["text"]!.GetValue<string>());
        await WaitUntil(() => !GitHub.IsMember(Team, "hubot") && Notes(1, GitHubNotes.BypassEnded).Count == 1, "removed after the cancel");
        Assert.Single(GitHub.CallsTo("DELETE", MembershipPath));
        var revoked = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal(("true", "withdrawn after use"), (revoked.Data["removed"], revoked.Data["reason"]));
    }

    [Fact]
    public async Task ARemovalStoredBeforeACrashIsRecordedOnceAfterTheRestart()
    {
        await DeclareGrantedAsync(1, "Fix it");
        var removedAt = DateTimeOffset.UtcNow;
        // Crash after GitHub removed the user and RevokedAt was stored, before the revocation step's outcome was recorded.
        GitHub.TeamMembers.TryRemove($"{Team}:hubot", out _);
        await CrashAndRestartAsync(store => store.Update(1, c =>
        {
            c.Bypass!.RevokedAt = removedAt;
            var revoke = c.Steps.Single(s => s.Kind == GitHubStepKinds.BypassRevoke);
            (revoke.Attempts, revoke.NextAttemptAt) = (1, removedAt);
            return [];
        }));

        await WaitUntil(() => Step(1, GitHubStepKinds.BypassRevoke).State == StepState.Done && Notes(1, GitHubNotes.BypassEnded).Count == 1, "end recorded");
        var revoked = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked);
        Assert.Equal((removedAt.ToString("O"), "unknown"), (revoked.Data["revoked_at"], revoked.Data["removed"]));
        Assert.Contains("recorded after the restart", revoked.Data["revoked"]);
        Assert.Empty(GitHub.CallsTo("DELETE", MembershipPath)); // the removal itself is not repeated
        Assert.Contains("`hubot` removed from `acme/breakglass`", Notes(1, GitHubNotes.BypassEnded).Single().Text);
        Assert.True(Bot.Store.VerifyAuditChain().Intact);
    }

    [Fact]
    public async Task AHandOverRepeatedAfterACrashIsAuditedOnce()
    {
        await DeclareGrantedAsync(1, "First fix");
        await DeclareGrantedAsync(2, "Second fix");
        // BG-1's revocation handed the removal over to BG-2 (first write), then the bot crashed before BG-1 recorded it.
        await CrashAndRestartAsync(store =>
        {
            store.Update(2, c =>
            {
                c.Bypass!.WasAlreadyMember = false;
                return [new AuditEvent { ChangeNumber = 2, At = DateTimeOffset.UtcNow, Actor = "bot", Type = GitHubAuditTypes.BypassRemovalHandedOver,
                    Data = new() { ["from"] = "BG-1", ["team"] = Team, ["login"] = "hubot" } }];
            });
            store.Update(1, c =>
            {
                var revoke = c.Steps.Single(s => s.Kind == GitHubStepKinds.BypassRevoke);
                (revoke.Attempts, revoke.NextAttemptAt) = (1, DateTimeOffset.UtcNow);
                return [];
            });
        });

        await WaitUntil(() => Change(1).Bypass?.RevokedAt is not null && Notes(1, GitHubNotes.BypassEnded).Count == 1, "BG-1 ended");
        Assert.Equal(2, Change(1).Bypass!.HandedOffTo);
        Assert.True(GitHub.IsMember(Team, "hubot"));
        Assert.Empty(GitHub.CallsTo("DELETE", MembershipPath));
        Assert.Single(Bot.Store.AuditTrail(2), e => e.Type == GitHubAuditTypes.BypassRemovalHandedOver);
        Assert.Equal("BG-2", Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == GitHubAuditTypes.BypassRevoked).Data["handed_to"]);
    }
}
