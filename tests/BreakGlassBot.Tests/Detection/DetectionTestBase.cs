using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.GitHub;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Detection;

/// <summary>
/// Detection switched on for acme/api's master branch, webhooks signed as GitHub signs them, a short grace period. The fake GitHub
/// holds acme/api#1347 (author octocat); a test merges it as it pleases.
/// </summary>
public abstract class DetectionTestBase : GitHubBotTest
{
    protected const string Secret = "detection-webhook-secret";
    protected const string Merger = "admin-merger";
    protected const long MergerId = 4242;
    protected const string MergeSha = "c4295bd74fb0f4fda03689c3df3f2803b658fd85";

    protected virtual TimeSpan Grace => TimeSpan.FromSeconds(1);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:WebhookSecret"] = Secret,
        ["GitHub:Repositories:0"] = "acme/api",
        ["Detection:Enabled"] = "true",
        ["Detection:Branches:0"] = "master",
        ["Detection:GracePeriod"] = Grace.ToString("c"),
        ["Detection:CheckInterval"] = "00:00:00.200",
        ["Detection:RuleSuitesInterval"] = "00:00:00",
    };

    protected MergeRecords Records => Bot.Service<MergeRecords>();

    protected MergeRecord? Record(string id = "pr:acme/api#1347") => Records.Get(id);

    /// <summary>The PR merged on the fake GitHub by <see cref="Merger"/>, at <paramref name="at"/> (now by default).</summary>
    protected DateTimeOffset MergeOnGitHub(DateTimeOffset? at = null, int number = 1347)
    {
        var when = at ?? DateTimeOffset.UtcNow;
        when = new DateTimeOffset(when.Ticks - when.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var pr = GitHub.PullRequest($"acme/api#{number}");
        (pr.Merged, pr.MergedAt, pr.MergedBy, pr.MergedSha) = (true, when, Merger, MergeSha);
        return when;
    }

    /// <summary>GitHub's pull_request closed event (its own example), made a merge of acme/api#1347 into master by <see cref="Merger"/>.</summary>
    protected static string MergedEvent(DateTimeOffset mergedAt, int number = 1347)
    {
        var payload = Fixtures.Object("github/webhook_pull_request_closed_not_merged.json");
        payload["repository"]!["full_name"] = "acme/api";
        payload["repository"]!["name"] = "api";
        var pr = payload["pull_request"]!;
        pr["number"] = number;
        pr["merged"] = true;
        pr["merged_at"] = mergedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        pr["merge_commit_sha"] = MergeSha;
        pr["merged_by"] = new JsonObject { ["login"] = Merger, ["id"] = MergerId, ["type"] = "User" };
        pr["user"]!["login"] = "octocat";
        pr["user"]!["id"] = 1;
        return payload.ToJsonString();
    }

    protected Task<HttpResponseMessage> PostWebhookAsync(string @event, string body, string? signature = null, string? delivery = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Bot.Url + "/github/webhooks") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-GitHub-Event", @event);
        request.Headers.Add("X-GitHub-Delivery", delivery ?? Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", signature ?? Sign(body));
        return Bot.Http.SendAsync(request);
    }

    protected static string Sign(string body, string secret = Secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    protected async Task MergedWebhookAsync(DateTimeOffset mergedAt, int number = 1347) =>
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("pull_request", MergedEvent(mergedAt, number))).StatusCode);

    /// <summary>The detected cases in the store.</summary>
    protected IReadOnlyList<EmergencyChange> DetectedCases() =>
        [.. Enumerable.Range(1, Bot.Store.Count()).Select(i => Bot.Store.Get(i)).OfType<EmergencyChange>().Where(c => c.Source == DetectedBypass.SourceName)];
}
