using System.Text.Json.Nodes;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Declaring;

/// <summary>The declaration form (bare /breakglass) and its submission.</summary>
internal sealed class DeclarationModal(Declarations declarations, ChangeMessages messages, DeclarerPolicy declarers, LinkHosts hosts) : IViewSubmissionHandler
{
    public const string CallbackId = "breakglass_declare";
    public const string SummaryBlock = "summary";
    public const string JustificationBlock = "justification";
    public const string ServiceBlock = "service";
    public const string PullRequestsBlock = "pull_requests";
    public const string JiraBlock = "jira_issues";
    public const string SeverityBlock = "severity";

    string IViewSubmissionHandler.CallbackId => CallbackId;

    public async Task<IResult> SubmitAsync(InteractionPayload payload, CancellationToken ct)
    {
        // Checked again here, not only when the form opened: Slack:Declarers may have changed since, or the submitter differ.
        var check = await declarers.CheckAsync(payload.User.Id, ct);
        if (check.Refusal is { } refusal)
            return Results.Json(new { response_action = "errors", errors = new Dictionary<string, string>
            {
                // A modal's error is plain text: the refusal's emoji code and mentions would show as typed.
                [SummaryBlock] = refusal.StartsWith(":no_entry: Only", StringComparison.Ordinal)
                    ? "Only the configured declarers (Slack:Declarers) may break the glass. Ask one of them, or an admin, to declare it."
                    : Plain(refusal),
            } });
        var (request, errors) = Read(payload, hosts);
        if (request is null)
            return Results.Json(new { response_action = "errors", errors });
        // A double-submitted modal carries the same view id: Declare returns the first change.
        var (change, _) = await declarations.DeclareAsync(request with { DeclarerUnconfirmed = check.Unconfirmed });
        var confirmation = messages.Confirmation(change);
        var view = new JsonObject
        {
            ["type"] = "modal",
            ["title"] = Blocks.PlainText(change.ChangeId.ToString() + " declared", 24),
            ["close"] = Blocks.PlainText("Done", 24),
            ["blocks"] = confirmation.Blocks!.DeepClone(),
        };
        return Results.Json(new JsonObject { ["response_action"] = "update", ["view"] = view });
    }

    /// <summary>The refusal without its emoji code and its list of mentions (a modal shows both as typed).</summary>
    static string Plain(string refusal) =>
        refusal[(refusal.IndexOf(' ') + 1)..].Split([" Ask one of:", ", or ask one of:"], StringSplitOptions.None)[0].TrimEnd('.')
        + ". Ask a declarer or an admin to declare it.";

    public JsonObject Build(string? channelId) => Blocks.Modal(CallbackId, "Break the glass", "Declare",
    [
        Blocks.Section("Declare an emergency change. The bypass is granted at once; the change must be reviewed retrospectively."),
        Blocks.Input(SummaryBlock, "What are you changing?", Blocks.TextInput("value", maxLength: DeclarationText.MaxSummaryLength, placeholder: "Roll back the payments deploy")),
        Blocks.Input(JustificationBlock, "Why can't it wait for review?", Blocks.TextInput("value", multiline: true, maxLength: 2900)),
        Blocks.Input(ServiceBlock, "Service / impact", Blocks.TextInput("value", maxLength: 200), optional: true),
        Blocks.Input(PullRequestsBlock, "Pull request URLs", Blocks.TextInput("value", multiline: true, maxLength: 2000), optional: true,
            hint: "One per line, e.g. https://github.com/acme/payments/pull/42"),
        Blocks.Input(JiraBlock, "Jira issue keys", Blocks.TextInput("value", maxLength: 500), optional: true, hint: "e.g. OPS-123, OPS-124"),
        Blocks.Input(SeverityBlock, "Severity", Blocks.StaticSelect("value", ("SEV1 · critical", "SEV1"), ("SEV2 · major", "SEV2"), ("SEV3 · minor", "SEV3"), ("SEV4 · low", "SEV4")), optional: true),
    ], privateMetadata: channelId);

    /// <summary>Validates the submitted form: errors keyed by block id, or a declaration request.</summary>
    public static (DeclarationRequest? Request, Dictionary<string, string> Errors) Read(InteractionPayload payload, LinkHosts hosts)
    {
        var view = payload.View!;
        var errors = new Dictionary<string, string>();
        var summary = view.Value(SummaryBlock)?.Trim() ?? "";
        var justification = view.Value(JustificationBlock)?.Trim() ?? "";
        if (summary.Length < 3) errors[SummaryBlock] = "Say in a few words what you are changing.";
        else if (summary.Length > DeclarationText.MaxSummaryLength) errors[SummaryBlock] = $"Keep the summary under {DeclarationText.MaxSummaryLength} characters; put the rest in the justification.";
        if (justification.Length == 0) errors[JustificationBlock] = "Say why this cannot wait for the normal review.";
        var (prs, badPrs) = DeclarationText.ParsePullRequests(view.Value(PullRequestsBlock), hosts);
        if (badPrs.Count > 0) errors[PullRequestsBlock] = $"Not a pull request URL: {string.Join(", ", badPrs)}. Use https://{hosts.GitHub}/<owner>/<repo>/pull/<number>.";
        var (keys, badKeys) = DeclarationText.ParseJiraKeys(view.Value(JiraBlock), hosts);
        if (badKeys.Count > 0) errors[JiraBlock] = $"Not a Jira key: {string.Join(", ", badKeys)}. Use keys like OPS-123.";
        var severity = view.Value(SeverityBlock);
        if (severity is not null and not ("SEV1" or "SEV2" or "SEV3" or "SEV4")) errors[SeverityBlock] = "Pick one of the listed severities.";
        if (errors.Count > 0) return (null, errors);
        var service = view.Value(ServiceBlock)?.Trim();
        return (new DeclarationRequest(payload.User.Id, payload.User.Username ?? payload.User.Name, summary, justification,
            string.IsNullOrEmpty(service) ? null : service, severity, prs, keys, SourceKey: $"modal:{view.Id}", view.PrivateMetadata), errors);
    }
}
