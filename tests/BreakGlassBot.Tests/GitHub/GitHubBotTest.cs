using System.Text.Json.Nodes;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.GitHub;

/// <summary>Per test: fake Slack, fake GitHub (with acme/api#1347 open) and the real bot pointed at both.</summary>
public abstract class GitHubBotTest(string pathPrefix = "") : BotTest(Fakes.GitHub, pathPrefix)
{
    public const string PrUrl = "https://github.com/acme/api/pull/1347";
    public const string Pr = "acme/api#1347";

    protected override void SeedFakes() => GitHub.AddPr("acme", "api", 1347);

    protected bool StepsSettled(int id = 1) =>
        Change(id).Steps.Where(s => s.Kind != GitHubStepKinds.BypassRevoke).All(s => s.State != StepState.Pending);

    /// <summary>Eventually.Until, failing with what the steps and the fake GitHub saw, so a timeout explains itself.</summary>
    protected async Task WaitUntil(Func<bool> condition, string what, double seconds = 10)
    {
        try { await Eventually.Until(condition, what, TimeSpan.FromSeconds(seconds)); }
        catch (Xunit.Sdk.FailException e) { Assert.Fail(e.Message + "\n" + Diagnostics()); }
    }

    protected string Diagnostics()
    {
        var steps = Bot.Store.Get(1)?.Steps.Select(s => $"  {s.Kind} {s.Target} {s.State} attempts={s.Attempts} error={s.LastError}") ?? [];
        var calls = GitHub.Calls.Select(c => $"  {c.Method} {c.Path}{c.Query} [{c.Key}]");
        var logs = Bot.Logs.Where(l => l.StartsWith("Warning") || l.StartsWith("Error")).TakeLast(10).Concat(Bot.Logs.Where(l => l.Contains("NullReference")).Take(1));
        return "steps:\n" + string.Join('\n', steps) + "\ngithub calls:\n" + string.Join('\n', calls) + "\nlogs:\n" + string.Join('\n', logs);
    }

    /// <summary>MergeByBot: the thread messages with a Merge now button.</summary>
    protected IReadOnlyList<PostedSlackMessage> MergeButtons() =>
        [.. Thread().Where(m => m.MetadataNote?.StartsWith("github-merge-button:") == true)];

    protected static JsonObject MergeButtonOf(PostedSlackMessage m) =>
        m.Blocks!.Select(b => b!["elements"]).OfType<JsonArray>().SelectMany(e => e).Single(e => e!["action_id"]!.GetValue<string>() == MergeButton.ActionId)!.AsObject();

    /// <summary>A click on Merge now, as Slack sends it.</summary>
    protected JsonObject MergeClick(string value, string user = TestBot.Declarer) => new()
    {
        ["type"] = "block_actions",
        ["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant() },
        ["api_app_id"] = "A0APP",
        ["response_url"] = Slack.ResponseUrl("merge"),
        ["container"] = new JsonObject { ["type"] = "message", ["channel_id"] = TestBot.Channel, ["message_ts"] = Change().Announcement!.Ts },
        ["channel"] = new JsonObject { ["id"] = TestBot.Channel },
        ["actions"] = new JsonArray(new JsonObject { ["action_id"] = MergeButton.ActionId, ["block_id"] = "github_merge", ["value"] = value, ["type"] = "button" }),
    };
}
