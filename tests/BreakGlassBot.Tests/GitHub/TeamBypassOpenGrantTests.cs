using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>BypassGate.OpenGrant: another change's open Team bypass for the same person and team, found by an indexed query.</summary>
public sealed class TeamBypassOpenGrantTests : IDisposable
{
    const string Team = "acme/breakglass";
    static readonly DateTimeOffset Now = new(2025, 3, 4, 10, 0, 0, TimeSpan.Zero);
    readonly ChangeStore store = new(":memory:");

    public void Dispose() => store.Dispose();

    int Declare(Bypass? bypass, ChangeStatus status = ChangeStatus.Open)
    {
        var (change, _) = store.Declare(new EmergencyChange { DeclaredBy = "U1", Summary = "fix", DeclaredAt = Now }, _ => []);
        store.Update(change.Id, c => { c.Bypass = bypass; c.Status = status; return []; });
        return change.Id;
    }

    static Bypass Open(string login = "hubot", string team = Team, double endsInHours = 1, string mode = "Team") => new()
    {
        Mode = mode, Team = team, Login = login, GrantedAt = Now.AddMinutes(-5), ExpiresAt = Now.AddHours(endsInHours),
    };

    EmergencyChange? OpenGrant(int except = 0, string login = "hubot") => BypassGate.OpenGrant(store, except, Team, login, Now);

    [Fact]
    public void FindsTheOpenGrantOfTheSamePersonAndTeamThatEndsLast()
    {
        var early = Declare(Open(endsInHours: 1));
        var late = Declare(Open(login: "HuBot", team: "ACME/breakglass", endsInHours: 2)); // GitHub logins and slugs ignore case
        Declare(Open(endsInHours: 3), ChangeStatus.Cancelled);
        Declare(Open(endsInHours: 4) is var revoked ? Revoke(revoked) : null);
        Declare(Open(endsInHours: -0.5)); // expired
        Declare(Open(endsInHours: 5) is var pending ? Ungranted(pending) : null); // stored before the PUT, never granted
        Declare(Open(login: "octocat", endsInHours: 6));
        Declare(Open(team: "acme/other", endsInHours: 7));
        Declare(Open(endsInHours: 8, mode: "MergeByBot"));
        Declare(null);

        Assert.Equal(late, OpenGrant()?.Id);
        Assert.Equal(early, OpenGrant(except: late)?.Id);
        Assert.Equal(late, OpenGrant(login: "HUBOT")?.Id);
        Assert.Null(OpenGrant(login: "nobody"));
    }

    [Fact]
    public void AnUnrevokedGrantCountsWhenItsChangeIsCancelledOrItsWindowIsOver()
    {
        Declare(Open(endsInHours: 9) is var revoked ? Revoke(revoked) : null);
        Declare(Open(login: "octocat", endsInHours: 9));
        Declare(Open(team: "acme/other", endsInHours: 9));
        var expired = Declare(Open(endsInHours: -0.5));
        var cancelled = Declare(Open(endsInHours: 0.5), ChangeStatus.Cancelled);

        Assert.Null(OpenGrant());
        EmergencyChange? Unrevoked(int except = 0) => BypassGate.UnrevokedGrant(store, except, Team, "HUBOT", Now);
        Assert.Equal(cancelled, Unrevoked()?.Id);
        Assert.Equal(expired, Unrevoked(except: cancelled)?.Id);
        var open = Declare(Open(endsInHours: 0.25));
        Assert.Equal(open, Unrevoked()?.Id); // an open grant first, although the cancelled one ends later
    }

    static Bypass Revoke(Bypass b) { b.RevokedAt = Now.AddMinutes(-1); return b; }
    static Bypass Ungranted(Bypass b) { b.GrantedAt = default; return b; }
}
