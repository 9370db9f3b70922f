using System.Text.Json.Nodes;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BreakGlassBot.Tests.Detection;

/// <summary>Opens detected cases the way the detection engine does: one store write with the case, its steps and its event.</summary>
internal static class DetectedCases
{
    public const string Login = "octocat";
    public const string Reason = "merged without an approving review by someone other than its author";
    public const string Summary = "Undeclared bypass: acme/api#12 merged into main without review";

    /// <param name="responsible">The Slack user the merger's GitHub login maps to; "" when nobody is known.</param>
    /// <param name="number">The PR's number: each merge record opens one case (DeclareAsync keeps one change per source key).</param>
    public static async Task<EmergencyChange> OpenAsync(IServiceProvider services, string responsible, bool directPush = false, int number = 12)
    {
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var key = directPush ? "push:acme/api@0123456789abcdef" : $"pr:acme/api#{number}";
        var draft = new EmergencyChange
        {
            DeclaredBy = responsible,
            Summary = directPush ? "Undeclared bypass: 2 commits pushed to acme/api main without review" : Summary.Replace("#12", $"#{number}", StringComparison.Ordinal),
            Justification = null,
            DeclaredAt = now,
            DueAt = services.GetRequiredService<ReviewPolicy>().DueAt(now),
            SourceKey = "detected:" + key,
            Source = DetectedBypass.SourceName,
            Detected = new DetectedBypass
            {
                Key = key, Kind = directPush ? DetectedBypass.DirectPushKind : DetectedBypass.PullRequestKind, Repository = "acme/api", Branch = "main",
                Number = directPush ? null : number, Sha = "0123456789abcdef", Commits = directPush ? ["fedcba9876543210", "0123456789abcdef"] : [],
                Actor = Login, ActorId = 583231, MergedAt = now.AddMinutes(-30), Reason = Reason, FoundBy = ["webhook", "sweep"],
            },
            PullRequests = directPush ? [] : [new LinkedPullRequest { Owner = "acme", Repo = "api", Number = number, Merged = true }],
        };
        draft.Steps.Add(OutboxQueue.NewStep(StepKinds.Announce, now));
        draft.Steps.Add(OutboxQueue.NewStep(StepKinds.ThreadDetails, now));
        draft.Steps.Add(OutboxQueue.NewStep(StepKinds.Track, now));
        if (responsible.Length > 0)
            draft.Steps.Add(OutboxQueue.NewStep(StepKinds.DirectMessage, now, DirectMessageStep.Target(responsible, DetectionKeys.Responsible)));
        else
            foreach (var admin in services.GetRequiredService<IOptions<SlackOptions>>().Value.Admins)
                draft.Steps.Add(OutboxQueue.NewStep(StepKinds.DirectMessage, now, DirectMessageStep.Target(admin, DetectionKeys.Assign)));
        var (change, _) = await services.GetRequiredService<ChangeStore>().DeclareAsync(draft, c =>
        [
            new AuditEvent { ChangeNumber = c.Id, At = now, Actor = "bot", Type = AuditTypes.Declared, Data = new() { ["summary"] = c.Summary, ["source"] = c.SourceKey! } },
        ]);
        services.GetRequiredService<OutboxQueue>().Nudge();
        return change;
    }
}

/// <summary>The Slack side of a detected case, over the wire: announcement, direct messages, and the explanation form.</summary>
[Trait("Category", "EndToEnd")]
public class DetectedCaseSlackTests : BotTest
{
    const string Merger = "U0MERGER";
    const string Outsider = "U0OUTSIDER";

    async Task<EmergencyChange> OpenAsync(string responsible = Merger, bool directPush = false)
    {
        var change = await DetectedCases.OpenAsync(Bot.App.Services, responsible, directPush);
        await Eventually.Until(() => Change(change.Id).Announcement is not null && Change(change.Id).Steps.All(s => s.Kind == StepKinds.Track || s.State != StepState.Pending),
            "announced, details and direct messages sent");
        return Change(change.Id);
    }

    /// <summary>The case's announcement in the change channel (its direct messages carry the change's id too).</summary>
    PostedSlackMessage Announcement() => Assert.Single(Slack.TopLevel(TestBot.Channel), m => m.MetadataChangeId == "BG-1");

    static JsonObject Click(string user, string value)
    {
        var payload = Fixtures.Object("slack/block_actions.json");
        payload["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant(), ["team_id"] = "T0001" };
        payload["container"]!["channel_id"] = "D" + user;
        payload["channel"]!["id"] = "D" + user;
        payload["response_url"] = null;
        var action = payload["actions"]![0]!.AsObject();
        action["action_id"] = DetectionKeys.ExplainAction;
        action["block_id"] = "detected_explain";
        action["value"] = value;
        return payload;
    }

    JsonObject ClickWithAnswer(string user, string value)
    {
        var payload = Click(user, value);
        payload["response_url"] = Slack.ResponseUrl("explain");
        return payload;
    }

    static JsonObject Submission(string viewId, string user, string summary, string justification, string changeId = "BG-1")
    {
        var payload = Fixtures.Object("slack/view_submission.json");
        payload["user"] = new JsonObject { ["id"] = user, ["username"] = user.ToLowerInvariant() };
        var view = payload["view"]!.AsObject();
        view["id"] = viewId;
        view["callback_id"] = DetectionKeys.ExplainCallback;
        view["private_metadata"] = changeId;
        view["state"] = new JsonObject
        {
            ["values"] = new JsonObject
            {
                ["summary"] = new JsonObject { ["value"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = summary } },
                ["justification"] = new JsonObject { ["value"] = new JsonObject { ["type"] = "plain_text_input", ["value"] = justification } },
            },
        };
        return payload;
    }

    static List<JsonObject> Buttons(JsonNode? node)
    {
        var found = new List<JsonObject>();
        void Walk(JsonNode? n)
        {
            if (n is JsonObject o)
            {
                if (o["type"]?.GetValue<string>() == "button") found.Add(o);
                foreach (var (_, v) in o) Walk(v);
            }
            else if (n is JsonArray a) foreach (var v in a) Walk(v);
        }
        Walk(node);
        return found;
    }

    [Fact]
    public async Task TheAnnouncementNamesThePullRequestTheMergerAndWhyItCounts()
    {
        await OpenAsync();
        var announcement = Announcement();
        var all = announcement.Words();
        Assert.Contains(":mag: Undeclared bypass detected: BG-1", all);
        Assert.Contains("https://github.com/acme/api/pull/12", all);
        Assert.Contains("`octocat` on GitHub", all);
        Assert.Contains($"<@{Merger}>", all);
        Assert.Contains(DetectedCases.Reason, all);
        Assert.Contains("Found by webhook, sweep", all);
        Assert.Contains("`main`", all);
        Assert.DoesNotContain("Emergency change", all);
        // The same review as a declaration: the approve button is there.
        Assert.Contains(Buttons(announcement.Blocks), b => b["action_id"]!.GetValue<string>() == ReviewActions.Approve);
        var details = Assert.Single(Thread(), m => m.MetadataNote == "details");
        Assert.Contains("nobody declared it", details.Text);
        Assert.Contains("Why it counts: " + DetectedCases.Reason, details.Text);
    }

    [Fact]
    public async Task ADirectPushNamesItsCommitsAndWhoPushed()
    {
        await OpenAsync(directPush: true);
        var all = Announcement().Words();
        Assert.Contains("`fedcba9`, `0123456`", all);
        Assert.Contains("2 commits", all);
        Assert.Contains("Pushed by", all);
        Assert.DoesNotContain("/pull/", all);
    }

    [Fact]
    public async Task TheResponsiblePersonGetsADirectMessageWithTheExplainButton()
    {
        await OpenAsync();
        var dm = Assert.Single(Slack.DirectMessages(Merger));
        Assert.Contains("by you (`octocat`) without a review, and nobody declared it", dm.Text);
        Assert.Contains("https://github.com/acme/api/pull/12", dm.Text);
        var button = Assert.Single(Buttons(dm.Blocks));
        Assert.Equal(DetectionKeys.ExplainAction, button["action_id"]!.GetValue<string>());
        Assert.Equal("BG-1", button["value"]!.GetValue<string>());
        Assert.Equal("Add summary and justification", button["text"]!["text"]!.GetValue<string>());
        Assert.Empty(Slack.DirectMessages(TestBot.Admin));
        // Its own audit type: a reminder would count as review evidence.
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == DetectionDirectMessages.ResponsibleAskedType && e.Data["to"] == Merger);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.ReminderSent);
    }

    [Fact]
    public async Task WhenNobodyIsKnownTheAdminsAreAskedToAssignSomeone()
    {
        await OpenAsync(responsible: "");
        var dm = Assert.Single(Slack.DirectMessages(TestBot.Admin));
        Assert.Contains("`/breakglass assign BG-1 @person`", dm.Text);
        Assert.Contains("`octocat`", dm.Text);
        Assert.Empty(Buttons(dm.Blocks));
        Assert.Contains(Bot.Store.AuditTrail(1), e => e.Type == DetectionDirectMessages.AssignAskedType && e.Data["to"] == TestBot.Admin);
        Assert.Contains("nobody known — an admin assigns one with `/breakglass assign BG-1 @person`", Announcement().Words());
        Assert.DoesNotContain("<@>", Announcement().Words());
    }

    [Fact]
    public async Task TheButtonOpensTheDeclarationFormPrefilledWithTheCaseSummary()
    {
        await OpenAsync();
        var response = await Bot.InteractionAsync(Click(Merger, "BG-1"));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var view = JsonNode.Parse(Assert.Single(Slack.CallsTo("views.open")).Body)!["view"]!;
        Assert.Equal(DetectionKeys.ExplainCallback, view["callback_id"]!.GetValue<string>());
        Assert.Equal("BG-1", view["private_metadata"]!.GetValue<string>());
        var inputs = view["blocks"]!.AsArray().Where(b => b!["type"]!.GetValue<string>() == "input").ToList();
        Assert.Equal(["summary", "justification"], inputs.Select(b => b!["block_id"]!.GetValue<string>()));
        Assert.Equal(DetectedCases.Summary, inputs[0]!["element"]!["initial_value"]!.GetValue<string>());
        Assert.Null(inputs[1]!["element"]!["initial_value"]);
    }

    [Fact]
    public async Task ASubmissionRecordsTheExplanationOnceEvenWhenSubmittedTwice()
    {
        await OpenAsync();
        var payload = Submission("VEXPLAIN1", Merger, "Hotfix for the checkout outage", "Checkout was down for every EU customer");
        var first = JsonNode.Parse(await (await Bot.InteractionAsync(payload)).Content.ReadAsStringAsync())!;
        var second = JsonNode.Parse(await (await Bot.InteractionAsync(payload)).Content.ReadAsStringAsync())!;
        Assert.Equal("update", first["response_action"]!.GetValue<string>());
        Assert.Equal("update", second["response_action"]!.GetValue<string>());

        var change = Change();
        Assert.Equal("Hotfix for the checkout outage", change.Summary);
        Assert.Equal("Checkout was down for every EU customer", change.Justification);
        Assert.NotNull(change.Detected!.ExplainedAt);
        var explained = Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.DetectionExplained);
        Assert.Equal(Merger, explained.Actor);
        Assert.Equal("Hotfix for the checkout outage", explained.Data["summary"]);
        Assert.Equal("Checkout was down for every EU customer", explained.Data["justification"]);

        await Eventually.Until(() => Announcement().Words().Contains("Hotfix for the checkout outage"), "announcement refreshed");
        await Eventually.Until(() => Thread().Any(m => m.MetadataNote?.StartsWith(DetectionNotes.Explained, StringComparison.Ordinal) == true), "thread note");
        await Eventually.Until(() => Change().Steps.All(s => s.Kind == StepKinds.Track || s.State != StepState.Pending), "all steps done");
        var note = Assert.Single(Thread(), m => m.MetadataNote?.StartsWith(DetectionNotes.Explained, StringComparison.Ordinal) == true);
        Assert.Contains("Checkout was down for every EU customer", note.Text);
        Assert.Contains($"<@{Merger}>", note.Text);
    }

    [Fact]
    public async Task SomeoneElseIsRefusedTheFormAndTheSubmission()
    {
        await OpenAsync();
        await Bot.InteractionAsync(ClickWithAnswer(Outsider, "BG-1"));
        await Eventually.Until(() => Slack.Responses.Count > 0, "the refusal answered");
        Assert.Empty(Slack.CallsTo("views.open"));
        var answer = JsonNode.Parse(Slack.Responses.Single().Body)!;
        Assert.Contains(":no_entry: Only the person responsible for BG-1 or an admin", answer["text"]!.GetValue<string>());
        Assert.Equal("ephemeral", answer["response_type"]!.GetValue<string>());

        var reply = JsonNode.Parse(await (await Bot.InteractionAsync(Submission("VEXPLAIN2", Outsider, "Not mine to say", "I am guessing"))).Content.ReadAsStringAsync())!;
        Assert.Equal("errors", reply["response_action"]!.GetValue<string>());
        Assert.Equal(DetectedCases.Summary, Change().Summary);
        Assert.Null(Change().Detected!.ExplainedAt);
        Assert.DoesNotContain(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.DetectionExplained);
    }

    [Fact]
    public async Task AnAdminMayExplainForTheResponsiblePerson()
    {
        await OpenAsync();
        await Bot.InteractionAsync(Click(TestBot.Admin, "BG-1"));
        Assert.Single(Slack.CallsTo("views.open"));
        await Bot.InteractionAsync(Submission("VEXPLAIN3", TestBot.Admin, "Rolled back the payments deploy", "Payments were failing"));
        Assert.Equal(TestBot.Admin, Assert.Single(Bot.Store.AuditTrail(1), e => e.Type == AuditTypes.DetectionExplained).Actor);
        Assert.Equal(Merger, Change().DeclaredBy);
    }

    [Fact]
    public async Task AnAbsorbedCaseReadsDeclaredAsTheDeclaration()
    {
        await OpenAsync();
        var now = Bot.Service<TimeProvider>().GetUtcNow();
        Bot.Store.Update(1, c =>
        {
            c.Status = ChangeStatus.Closed;
            c.Detected!.AbsorbedBy = 2;
            c.Detected.AbsorbedAt = now;
            OutboxQueue.Enqueue(c, StepKinds.RefreshAnnouncement, now);
            return [];
        });
        Bot.Service<OutboxQueue>().Nudge();
        await Eventually.Until(() => Announcement().Words().Contains(":lock: Closed — declared as BG-2"), "announcement refreshed");
        Assert.DoesNotContain(Buttons(Announcement().Blocks), b => b["action_id"]!.GetValue<string>() == ReviewActions.Approve);
        // Nothing left to explain: the button answers that the declaration explains it.
        await Bot.InteractionAsync(ClickWithAnswer(Merger, "BG-1"));
        await Eventually.Until(() => Slack.Responses.Count > 0, "the answer");
        Assert.Contains("declared as BG-2", Slack.Responses.Single().Body);
        Assert.Empty(Slack.CallsTo("views.open"));
    }
}

internal static class PostedWords
{
    /// <summary>The message's fallback text and every text in its blocks, as Slack shows them (AllText is JSON, which escapes ` and —).</summary>
    public static string Words(this PostedSlackMessage message)
    {
        var texts = new List<string> { message.Text };
        void Walk(JsonNode? n)
        {
            if (n is JsonObject o) foreach (var (k, v) in o) { if (k == "text" && v is JsonValue t && t.TryGetValue<string>(out var s)) texts.Add(s); else Walk(v); }
            else if (n is JsonArray a) foreach (var v in a) Walk(v);
        }
        Walk(message.Blocks);
        return string.Join("\n", texts);
    }
}
