using System.Text.Json.Nodes;
using BreakGlassBot.Declaring;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Outbox;
using BreakGlassBot.Slack;
using BreakGlassBot.Tests.Support;
using static BreakGlassBot.Tests.Support.InProcessBot;

namespace BreakGlassBot.Tests.Declaring;

/// <summary>The declaration form's view_submission: validated field by field (errors keyed by block id), or declared once.</summary>
public class DeclarationModalDecisionTests
{
    static InteractionPayload Form(string viewId, string? summary, string? justification, string? prs = null, string? jira = null, string? severity = null,
        string? service = null, string user = Declarer)
    {
        var fields = new List<(string BlockId, JsonObject State)>();
        if (summary is not null) fields.Add(Typed(DeclarationModal.SummaryBlock, summary));
        if (justification is not null) fields.Add(Typed(DeclarationModal.JustificationBlock, justification));
        if (service is not null) fields.Add(Typed(DeclarationModal.ServiceBlock, service));
        if (prs is not null) fields.Add(Typed(DeclarationModal.PullRequestsBlock, prs));
        if (jira is not null) fields.Add(Typed(DeclarationModal.JiraBlock, jira));
        if (severity is not null) fields.Add(Picked(DeclarationModal.SeverityBlock, severity));
        return Submission(DeclarationModal.CallbackId, viewId, user, Values([.. fields]), privateMetadata: CommandChannel);
    }

    static async Task<JsonObject> SubmitAsync(InProcessBot bot, InteractionPayload form) =>
        await bot.SubmitAsync(form) ?? throw new Xunit.Sdk.XunitException("the form got an empty answer");

    static Dictionary<string, string> Errors(JsonObject answer)
    {
        Assert.Equal("errors", answer["response_action"]!.GetValue<string>());
        return answer["errors"]!.AsObject().ToDictionary(e => e.Key, e => e.Value!.GetValue<string>());
    }

    [Fact]
    public async Task AGoodSubmissionDeclaresAndReplacesTheFormWithTheConfirmation()
    {
        await using var bot = Create();
        var answer = await SubmitAsync(bot, Form("V1", " Disable feature flag ", "Checkout is failing for all EU users",
            prs: "https://github.com/acme/shop/pull/9\nhttps://github.com/acme/shop/pull/10", jira: "OPS-1, ops-2", severity: "SEV1", service: "checkout"));

        Assert.Equal("update", answer["response_action"]!.GetValue<string>());
        Assert.Equal("BG-1 declared", answer["view"]!["title"]!["text"]!.GetValue<string>());
        Assert.Contains("*BG-1* declared: Disable feature flag", TextOf(answer["view"]!["blocks"]));

        var change = bot.Change();
        Assert.Equal(("Disable feature flag", "Checkout is failing for all EU users", "checkout", "SEV1"),
            (change.Summary, change.Justification, change.Service, change.Severity));
        Assert.Equal(["acme/shop#9", "acme/shop#10"], change.PullRequests.Select(p => p.Ref.ToString()));
        Assert.Equal(["OPS-1", "OPS-2"], change.JiraIssues.Select(j => j.Key));
        Assert.Equal(("modal:V1", CommandChannel), (change.SourceKey, change.DeclaredInChannel));
        Assert.Equal("modal:V1", Assert.Single(bot.Audit(AuditTypes.Declared)).Data["source"]);
        Assert.Contains(StepKinds.Announce, bot.PendingSteps());
    }

    [Fact]
    public async Task BadFieldsComeBackAsErrorsKeyedByBlockIdAndNothingIsRecorded()
    {
        await using var bot = Create();
        var errors = Errors(await SubmitAsync(bot, Form("V2", summary: "", justification: "  ", prs: "https://github.com/acme/api/issues/1", jira: "ops 12")));
        Assert.Equal(new Dictionary<string, string>
        {
            [DeclarationModal.SummaryBlock] = "Say in a few words what you are changing.",
            [DeclarationModal.JustificationBlock] = "Say why this cannot wait for the normal review.",
            [DeclarationModal.PullRequestsBlock] = "Not a pull request URL: https://github.com/acme/api/issues/1. Use https://github.com/<owner>/<repo>/pull/<number>.",
            [DeclarationModal.JiraBlock] = "Not a Jira key: ops, 12. Use keys like OPS-123.",
        }, errors);
        Assert.Equal(0, bot.Store.Count());
        Assert.Equal(0, bot.Store.AuditCount());
    }

    [Fact]
    public async Task EachFieldIsCheckedOnItsOwn()
    {
        await using var bot = Create();
        foreach (var (summary, severity, block, error) in new[]
        {
            ("ab", null, DeclarationModal.SummaryBlock, "Say in a few words what you are changing."),
            (new string('x', 301), null, DeclarationModal.SummaryBlock, "Keep the summary under 300 characters; put the rest in the justification."),
            ("Rotate keys", "SEV9", DeclarationModal.SeverityBlock, "Pick one of the listed severities."),
        })
        {
            var errors = Errors(await SubmitAsync(bot, Form("V3", summary, "The key leaked", severity: severity)));
            Assert.Equal(new Dictionary<string, string> { [block] = error }, errors);
        }
        Assert.Equal(0, bot.Store.Count());
    }

    [Fact]
    public async Task ADoubleSubmittedFormDeclaresOnce()
    {
        await using var bot = Create();
        var form = Form("V4", "Rotate leaked key", "Key was posted publicly");
        var first = await SubmitAsync(bot, form);
        var second = await SubmitAsync(bot, form);
        Assert.Equal("BG-1 declared", first["view"]!["title"]!["text"]!.GetValue<string>());
        Assert.Equal("BG-1 declared", second["view"]!["title"]!["text"]!.GetValue<string>());
        Assert.Equal(1, bot.Store.Count());
        Assert.Single(bot.Audit(AuditTypes.Declared));
        Assert.Single(bot.PendingSteps(), s => s == StepKinds.Announce);
    }

    [Fact]
    public async Task ASubmissionFromSomeoneOutsideTheDeclarersIsRefused()
    {
        await using var bot = Create(new Dictionary<string, string?> { ["Slack:Declarers:0"] = "U0ONCALL" });
        var errors = Errors(await SubmitAsync(bot, Form("V5", "Disable feature flag", "Checkout is down", user: "U0INTERN")));
        Assert.StartsWith("Only the configured declarers (Slack:Declarers) may break the glass.", errors[DeclarationModal.SummaryBlock]);
        Assert.Equal(0, bot.Store.Count());

        var accepted = await SubmitAsync(bot, Form("V6", "Disable feature flag", "Checkout is down", user: "U0ONCALL"));
        Assert.Equal("update", accepted["response_action"]!.GetValue<string>());
        Assert.Equal("U0ONCALL", bot.Change().DeclaredBy);
    }

    [Fact]
    public async Task AFormWithAnotherCallbackIsAcknowledgedAndChangesNothing()
    {
        await using var bot = Create();
        Assert.Null(await bot.SubmitAsync(Submission("some_other_modal", "V7", Declarer, Values(Typed(DeclarationModal.SummaryBlock, "Fix")))));
        Assert.Equal(0, bot.Store.Count());
    }
}
