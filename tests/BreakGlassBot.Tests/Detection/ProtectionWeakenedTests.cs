using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Detection;

/// <summary>Branch protection or a ruleset weakened on a watched repository: an audit event and a note to the admins.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ProtectionWeakenedTests : DetectionTestBase
{
    static JsonObject Edited()
    {
        var payload = Fixtures.Object("github/webhook_branch_protection_rule_edited.json");
        payload["repository"]!["full_name"] = "acme/api";
        return payload;
    }

    [Fact]
    public async Task AProtectionRuleLoweredIsRecordedAndTheAdminsAreTold()
    {
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync("branch_protection_rule", Edited().ToJsonString(), delivery: "d-1")).StatusCode);

        var weakened = Assert.Single(Bot.Store.AuditTrail(0), e => e.Type == AuditTypes.ProtectionWeakened);
        Assert.Equal(("acme/api", "github:Codertocat", "d-1"), (weakened.Data["repository"], weakened.Actor, weakened.Data["delivery"]));
        // GitHub's example lowers some settings and raises others: only the lowered ones are named.
        var what = weakened.Data["what"];
        Assert.Contains("required_approving_review_count 2 → 1", what);
        Assert.Contains("require_code_owner_review true → false", what);
        Assert.Contains("linear_history_requirement_enforcement_level everyone → off", what);
        Assert.DoesNotContain("allow_force_pushes", what);          // everyone → off forbids force pushes: stronger
        Assert.DoesNotContain("required_status_checks_enforcement_level", what); // off → non_admins: stronger
        await Bot.Until(() => Slack.DirectMessages(TestBot.Admin).Any(m => m.Text.Contains("acme/api") && m.Text.Contains("weakened")), "the admins told");
    }

    [Theory]
    [InlineData("branch_protection_rule", """{"action":"created","rule":{"name":"main"},"repository":{"full_name":"acme/api"},"sender":{"login":"x"}}""")]
    [InlineData("branch_protection_rule", """{"action":"deleted","rule":{"name":"main"},"repository":{"full_name":"other/repo"},"sender":{"login":"x"}}""")]
    [InlineData("repository_ruleset", """{"action":"edited","repository_ruleset":{"name":"r","enforcement":"active"},"changes":{"enforcement":{"from":"evaluate"}},"repository":{"full_name":"acme/api"},"sender":{"login":"x"}}""")]
    [InlineData("branch_protection_configuration", """{"action":"enabled","repository":{"full_name":"acme/api"},"sender":{"login":"x"}}""")]
    public async Task ProtectionRaisedOrOnAnotherRepositoryIsNotReported(string @event, string body)
    {
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync(@event, body)).StatusCode);
        Assert.DoesNotContain(Bot.Store.AuditTrail(0), e => e.Type == AuditTypes.ProtectionWeakened);
    }

    [Theory]
    [InlineData("branch_protection_rule", """{"action":"deleted","rule":{"name":"main"},"repository":{"full_name":"acme/api"},"sender":{"login":"x"}}""", "branch protection rule 'main' was deleted")]
    [InlineData("branch_protection_configuration", """{"action":"disabled","repository":{"full_name":"acme/api"},"sender":{"login":"x"}}""", "all branch protections of the repository were disabled")]
    [InlineData("repository_ruleset", """{"action":"edited","repository_ruleset":{"name":"prod","enforcement":"disabled"},"changes":{"enforcement":{"from":"active"}},"repository":{"full_name":"acme/api"},"sender":{"login":"x"}}""", "ruleset 'prod' was changed: enforcement active → disabled")]
    [InlineData("repository_ruleset", """{"action":"deleted","repository_ruleset":{"name":"prod","enforcement":"active"},"organization":{"login":"acme"},"sender":{"login":"x"}}""", "ruleset 'prod' was deleted")]
    public async Task ProtectionSwitchedOffOrDeletedIsReported(string @event, string body, string expected)
    {
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync(@event, body)).StatusCode);
        var weakened = Assert.Single(Bot.Store.AuditTrail(0), e => e.Type == AuditTypes.ProtectionWeakened);
        Assert.Equal(expected, weakened.Data["what"]);
    }

    [Fact]
    public void TheWeakeningRulesReadGitHubsOwnExample()
    {
        using var doc = JsonDocument.Parse(Edited().ToJsonString());
        Assert.StartsWith("branch protection rule 'production' was weakened: ", DetectionWebhooks.Weakening("branch_protection_rule", doc.RootElement));
    }
}
