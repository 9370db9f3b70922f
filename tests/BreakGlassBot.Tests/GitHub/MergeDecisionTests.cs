using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>
/// /breakglass merge BG-n in GitHub:BypassMode MergeByBot, decided in process: who may have the bot merge, in which
/// window, at which head. GitHub is a small in-memory gateway; the merge itself is an outbox step, seen, not run.
/// </summary>
public class MergeDecisionTests : IAsyncLifetime
{
    const string PrUrl = "https://github.com/acme/api/pull/1347";
    const string Pr = "acme/api#1347";
    const string Head = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    const string NewHead = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const string Declarer = InProcessBot.Declarer;
    readonly HeadsOnlyGitHub github = new();
    InProcessBot bot = null!;

    public async Task InitializeAsync()
    {
        bot = InProcessBot.Create(new Dictionary<string, string?>
        {
            ["GitHub:Token"] = "ghp_in_process",
            ["GitHub:ApiBaseUrl"] = "http://127.0.0.1:9/",
            ["GitHub:BypassMode"] = "MergeByBot",
            ["GitHub:MergeRepositories:0"] = "acme/api",
            ["Policy:BypassDuration"] = "01:00:00",
            [$"People:{Declarer}:GitHub"] = "hubot",
            [$"People:{InProcessBot.Admin}:GitHub"] = "octoadmin",
        }, builder =>
        {
            builder.Services.RemoveAll<IGitHubGateway>();
            builder.Services.AddSingleton<IGitHubGateway>(github);
        });
        github.Heads[Pr] = Head;
        await bot.ReplyAsync($"Fix it {PrUrl}");
    }

    public async Task DisposeAsync() => await bot.DisposeAsync();

    /// <summary>As the grant and the PR step would have recorded: the bypass is open for an hour, and the PR's head was read.</summary>
    void BypassOpen()
    {
        var now = bot.Clock.GetUtcNow();
        bot.Store.Update(1, c =>
        {
            c.Bypass = new Bypass { Mode = nameof(BypassMode.MergeByBot), GrantedAt = now, ExpiresAt = now.AddHours(1) };
            c.PullRequests[0].HeadSha = Head;
            return [];
        });
    }

    IReadOnlyList<AuditEvent> Refusals() => bot.Audit(GitHubAuditTypes.MergeRefused);

    [Fact]
    public async Task TheDeclarerHasTheBotMergeAtTheHeadTheThreadShowed()
    {
        BypassOpen();
        Assert.Equal(":twisted_rightwards_arrows: Merging acme/api#1347 at head `6dcb09b`; the result follows in the thread.", await bot.ReplyAsync("merge BG-1"));
        Assert.Contains($"{GitHubStepKinds.Merge}:{Pr}@{Head}", bot.PendingSteps());
        var requested = Assert.Single(bot.Audit(GitHubAuditTypes.MergeRequested));
        Assert.Equal((Declarer, Pr, Head), (requested.Actor, requested.Data["pr"], requested.Data["head_sha"]));
        Assert.Equal([Pr], github.Read);
    }

    [Fact]
    public async Task AMergeRequestedIsAUseTheDeclarerCannotCancelAway()
    {
        BypassOpen();
        await bot.ReplyAsync("merge BG-1");
        Assert.StartsWith($":no_entry: BG-1's bypass was used (a merge by the bot was requested ({Pr}@{Head}))", await bot.ReplyAsync("cancel BG-1 oops"));
        Assert.Equal(ChangeStatus.Open, bot.Change().Status);
    }

    [Fact]
    public async Task SomeoneElseCannotHaveTheBotMergeAndTheAttemptIsAudited()
    {
        BypassOpen();
        Assert.Equal(":no_entry: Only <@U0DECLARER>, who declared BG-1, or an admin may have the bot merge its pull requests.", await bot.ReplyAsync("merge BG-1", "U0SOMEONE"));
        Assert.Equal(("not the declarer", "U0SOMEONE"), (Assert.Single(Refusals()).Data["reason"], Refusals()[0].Actor));
        Assert.DoesNotContain(bot.PendingSteps(), s => s.StartsWith(GitHubStepKinds.Merge + ":"));
    }

    [Fact]
    public async Task NothingIsMergedForACancelledChange()
    {
        BypassOpen();
        await bot.ReplyAsync("cancel BG-1 rolled back instead");
        Assert.Equal(":no_entry: BG-1 is cancelled; the bot merges nothing for it.", await bot.ReplyAsync("merge BG-1"));
        Assert.Equal("cancelled", Assert.Single(Refusals()).Data["reason"]);
    }

    [Fact]
    public async Task BeforeTheBypassIsOpenTheDeclarerIsAskedToWait()
    {
        Assert.Equal(":hourglass_flowing_sand: The bypass of BG-1 is not open yet; try again in a moment.", await bot.ReplyAsync("merge BG-1"));
        Assert.Empty(bot.Audit(GitHubAuditTypes.MergeRequested));
        Assert.Empty(github.Read);
    }

    [Fact]
    public async Task OnceTheBypassWindowHasClosedNothingIsMerged()
    {
        BypassOpen();
        bot.Clock.Advance(TimeSpan.FromHours(1));
        Assert.StartsWith(":lock: The bypass window of BG-1 closed ", await bot.ReplyAsync("merge BG-1"));
        Assert.Equal("bypass window closed", Assert.Single(Refusals()).Data["reason"]);
        Assert.DoesNotContain(bot.PendingSteps(), s => s.StartsWith(GitHubStepKinds.Merge + ":"));
    }

    [Fact]
    public async Task AHeadThatMovedSinceItWasShownIsNotMergedAndANewButtonFollows()
    {
        BypassOpen();
        github.Heads[Pr] = NewHead;
        var reply = await bot.ReplyAsync("merge BG-1");
        Assert.StartsWith(":warning: The head of acme/api#1347 moved from `6dcb09b` to `bbbbbbb` since it was shown to you; nothing was merged.", reply);
        Assert.Equal(NewHead, bot.Change().PullRequests[0].HeadSha);
        Assert.Contains($"{GitHubStepKinds.MergeButton}:{Pr}@{NewHead}", bot.PendingSteps());
        Assert.DoesNotContain(bot.PendingSteps(), s => s.StartsWith(GitHubStepKinds.Merge + ":"));
        var refused = Assert.Single(Refusals());
        Assert.Equal(("head moved", Head, NewHead), (refused.Data["reason"], refused.Data["shown_sha"], refused.Data["head_sha"]));
    }

    [Fact]
    public async Task WhenGitHubCannotSayTheHeadTheMergeIsStillPinnedToTheOneShown()
    {
        BypassOpen();
        github.Heads.Remove(Pr); // GitHub does not answer in time
        Assert.StartsWith(":twisted_rightwards_arrows: Merging acme/api#1347 at head `6dcb09b`", await bot.ReplyAsync("merge BG-1"));
        Assert.Contains($"{GitHubStepKinds.Merge}:{Pr}@{Head}", bot.PendingSteps());
    }

    [Fact]
    public async Task AMergeWithoutAKnownChangeSaysWhatToType()
    {
        Assert.Equal(":warning: Which change? Type `/breakglass merge BG-42`.", await bot.ReplyAsync("merge"));
        Assert.Equal(":warning: Which change? Type `/breakglass merge BG-42`.", await bot.ReplyAsync("merge revert broke checkout"));
        Assert.Equal(":warning: There is no BG-9. `/breakglass list mine` shows your changes.", await bot.ReplyAsync("merge BG-9"));
        Assert.Equal(1, bot.Store.Count()); // "merge ..." is the sub-command here, never a declaration
        Assert.Empty(bot.Audit(GitHubAuditTypes.MergeRequested));
    }

    [Fact]
    public async Task AChangeWithoutAPullRequestHasNothingToMerge()
    {
        await bot.ReplyAsync("Restart the workers");
        bot.Store.Update(2, c => { c.Bypass = new Bypass { Mode = "MergeByBot", GrantedAt = InProcessBot.Start, ExpiresAt = InProcessBot.Start.AddHours(1) }; return []; });
        Assert.Equal(":warning: BG-2 links no such pull request.", await bot.ReplyAsync("merge BG-2"));
    }

    [Fact]
    public async Task HelpNamesMergeInThisMode() =>
        Assert.Contains("`/breakglass merge BG-n`", await bot.ReplyAsync("help"));

    [Theory]
    [InlineData(null)]
    [InlineData("Team")]
    public async Task InOtherModesMergeIsNotASubCommandButADeclaration(string? mode)
    {
        var settings = new Dictionary<string, string?> { ["GitHub:Token"] = "ghp_in_process", ["GitHub:ApiBaseUrl"] = "http://127.0.0.1:9/" };
        if (mode is not null) { settings["GitHub:BypassMode"] = mode; settings["GitHub:BypassTeam"] = "acme/breakglass"; }
        await using var other = InProcessBot.Create(settings);
        Assert.StartsWith(":rotating_light: *BG-1* declared: merge revert broke checkout", await other.ReplyAsync("merge revert broke checkout"));
        Assert.Equal("merge revert broke checkout", other.Change().Summary);
        Assert.DoesNotContain("/breakglass merge", await other.ReplyAsync("help"));
    }

    /// <summary>GitHub as the merge request needs it: the live head of each PR. A PR not listed does not answer (a timeout).</summary>
    sealed class HeadsOnlyGitHub : GitHubGatewayStub
    {
        public Dictionary<string, string> Heads { get; } = [];
        public List<string> Read { get; } = [];
        public Dictionary<string, RepositoryPermission> Permissions { get; } = [];

        public override Task<RepositoryPermission> GetPermissionAsync(string owner, string repo, string login, CancellationToken ct = default) =>
            Task.FromResult(Permissions.GetValueOrDefault(login, RepositoryPermission.Write));

        public override Task<PullRequestInfo> GetPullRequestAsync(PullRequestRef pr, CancellationToken ct = default)
        {
            Read.Add(pr.ToString());
            return Heads.TryGetValue(pr.ToString(), out var head)
                ? Task.FromResult(new PullRequestInfo("Fix it", "octocat", 583231, head, "main", "open", false, null, null))
                : Task.FromException<PullRequestInfo>(new TimeoutException());
        }

    }
}
